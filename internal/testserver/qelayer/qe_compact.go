package qelayer

import (
	"context"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/fle2"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/qerewrite"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// compact answers compactStructuredEncryptionData (cleanup false) and
// cleanupStructuredEncryptionData (cleanup true) as MongoDB 8.x does (fle2_compact.cpp): the
// ECOC documents are read and grouped by field, each field with a token is compacted (or
// cleaned up) from its ECOC values, and the ECOC documents read are deleted. MongoDB renames
// the ECOC aside first so that inserts go on meanwhile; the layer holds the ESC lock instead.
func (s *session) compact(ctx context.Context, r *request, cleanup bool) (bson.Raw, error) {
	coll, ok := r.cmd.Index(0).Value().StringValueOK()
	if !ok {
		return nil, errorf(codeFailedToParse, "%s takes a collection name", r.name)
	}
	tokensKey := "compactionTokens"
	if cleanup {
		tokensKey = "cleanupTokens"
	}
	tv, err := r.cmd.LookupErr(tokensKey)
	if err != nil {
		return nil, errorf(40414, "BSON field '%s.%s' is missing but a required field", r.name, tokensKey)
	}
	tokens, ok := tv.DocumentOK()
	if !ok {
		return nil, errorf(14, "BSON field '%s.%s' is the wrong type '%s', expected type 'object'", r.name, tokensKey, tv.Type)
	}
	var factor *float64
	if v, err := r.cmd.LookupErr("anchorPaddingFactor"); err == nil {
		f, ok := v.AsFloat64OK()
		if !ok {
			return nil, errorf(14, "BSON field '%s.anchorPaddingFactor' is the wrong type '%s', expected type 'double'", r.name, v.Type)
		}
		if f < 0 || f > 1 {
			return nil, errorf(51024, "BSON field 'anchorPaddingFactor' value must be >= 0 and <= 1, actual value '%v'", f)
		}
		factor = &f
	}
	schema := s.catalogSchema(r.db, coll)
	if schema == nil {
		return nil, errorf(6346807, "Target namespace is not an encrypted collection")
	}
	lk := s.layer.cat.lock(r.db + "." + schema.EscCollection)
	lk.Lock()
	defer lk.Unlock()
	ecoc, err := s.findAll(r.db, schema.EcocCollection, bson.D{})
	if err != nil {
		return nil, err
	}
	byField := map[string][][]byte{}
	ids := bson.A{}
	for _, d := range ecoc {
		ids = append(ids, d.Lookup("_id"))
		name, _ := d.Lookup("fieldName").StringValueOK()
		if _, v, ok := d.Lookup("value").BinaryOK(); ok {
			byField[name] = append(byField[name], v)
		}
	}
	var total fle2.Stats
	total.ECOCRead = int64(len(ecoc))
	esc := &escView{s: s, db: r.db, coll: schema.EscCollection}
	for i := range schema.Fields {
		f := &schema.Fields[i]
		values := byField[f.Path]
		if !f.Indexed() || len(values) == 0 {
			continue
		}
		tok, err := compactionToken(tokens, f, factor)
		if err != nil {
			return nil, err
		}
		run := fle2.Compact
		if cleanup {
			run = fle2.Cleanup
		}
		st, err := run(ctx, fle2Field(f), tok, values, esc)
		if err != nil {
			return nil, qeError(err)
		}
		total.ESCRead += st.ESCRead
		total.ESCInserted += st.ESCInserted
		total.ESCUpdated += st.ESCUpdated
		total.ESCDeleted += st.ESCDeleted
	}
	var deleted int64
	if len(ids) > 0 {
		rep, err := s.command(r.db, bson.D{{Key: "delete", Value: schema.EcocCollection}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}}, {Key: "limit", Value: 0}}}}})
		if err != nil {
			return nil, err
		}
		deleted = int64(intOf(rep, "n"))
	}
	stats := bson.D{
		{Key: "ecoc", Value: bson.D{{Key: "read", Value: total.ECOCRead}, {Key: "deleted", Value: deleted}}},
		{Key: "esc", Value: bson.D{{Key: "read", Value: total.ESCRead}, {Key: "inserted", Value: total.ESCInserted}, {Key: "updated", Value: total.ESCUpdated}, {Key: "deleted", Value: total.ESCDeleted}}},
	}
	return rawDoc(bson.D{{Key: "stats", Value: stats}, {Key: "ok", Value: 1.0}}), nil
}

// compactionToken reads the token of field f: BinData 0 (the ECOCToken), or for range and
// text search fields {ecoc: BinData, anchorPaddingToken: BinData}.
func compactionToken(tokens bson.Raw, f *qerewrite.Field, factor *float64) (fle2.CompactionToken, error) {
	tok := fle2.CompactionToken{AnchorPaddingFactor: factor}
	v, err := tokens.LookupErr(f.Path)
	if err != nil {
		return tok, errorf(7294900, "Compaction token for field '%s' is missing", f.Path)
	}
	if _, b, ok := v.BinaryOK(); ok {
		tok.ECOC = b
		return tok, nil
	}
	d, ok := v.DocumentOK()
	if !ok {
		return tok, errorf(6346801, "Field '%s' of compaction tokens must be a BinData(General) or Object", f.Path)
	}
	_, e, ok1 := d.Lookup("ecoc").BinaryOK()
	_, p, ok2 := d.Lookup("anchorPaddingToken").BinaryOK()
	if !ok1 || !ok2 {
		return tok, errorf(6346801, "Field '%s' of compaction tokens must hold ecoc and anchorPaddingToken as BinData", f.Path)
	}
	tok.ECOC, tok.AnchorPadding = e, p
	return tok, nil
}
