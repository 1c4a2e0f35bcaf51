package fle2

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Field is one encrypted field of the collection's encryptedFields, as far as the
// algorithms need it.
type Field struct {
	// Path is the dotted path of the field.
	Path string
	// BSONType is the declared bsonType ("string", "int", ...); empty skips the check.
	BSONType string
	// KeyID is the field's keyId (16 bytes); nil skips the check.
	KeyID []byte
	// QueryType is the declared query type: "" (unindexed), "equality", "range",
	// "rangePreview", "substringPreview", "suffixPreview", "prefixPreview" (or the same
	// without "Preview").
	QueryType string
	// Contention is the declared contention factor (queries.contention, default 8).
	Contention int64
	// Range holds the range options of a range field, for the anchor padding of compaction.
	Range *RangeOptions
}

// RangeOptions are the range query options of a field: min, max, precision, sparsity,
// trimFactor.
type RangeOptions struct {
	Min, Max   bson.RawValue
	Precision  *int32 // nil when absent
	Sparsity   int64  // 0 means the default, 2
	TrimFactor *int32 // nil when absent
}

// Write is what the server stores for one insert/update payload (subtype 11).
type Write struct {
	// Stored is the BinData 6 data to store in the field: subtype 14 (equality), 15 (range)
	// or 17 (text), subtype byte first.
	Stored []byte
	// Tags are the 32-byte tags to append to the document's __safeContent__ array
	// (BinData 0).
	Tags [][]byte
	// ESCIDs are the _id of each new ESC document to insert (documents {_id: BinData 0}).
	ESCIDs [][]byte
	// ECOC are the "value" of each new ECOC document
	// {_id: ObjectId, fieldName: <path>, value: BinData 0}.
	ECOC [][]byte
}

// payloadKind is the index kind a payload 11 is for.
type payloadKind int

const (
	kindEquality payloadKind = iota
	kindRange
	kindText
)

func (k payloadKind) String() string {
	return [...]string{"equality", "range", "text search"}[k]
}

// fieldKind returns the index kind of a declared query type; ok is false for an unindexed
// field or an unknown query type.
func fieldKind(queryType string) (payloadKind, bool) {
	switch queryType {
	case "equality":
		return kindEquality, true
	case "range", "rangePreview":
		return kindRange, true
	case "substring", "suffix", "prefix", "substringPreview", "suffixPreview", "prefixPreview":
		return kindText, true
	}
	return 0, false
}

const (
	// maxRangeTags is kFLE2RangeFieldMaxTags: 128 edges of a decimal128 and the root.
	maxRangeTags = 129
	uuidLen      = 16
)

// ProcessInsert checks a payload 11 (blob = BinData 6 data, subtype byte first) and computes
// its Write, reading the ESC to find each token's next count (the server's emuBinary over the
// ESC, anchors included). f is the field the payload was found at; the payload must match
// its key, query type, type and contention. A token set that occurs more than once in the
// payload (text search padding) gets successive counts. The caller inserts the Write's ESC
// documents before it processes another payload of the same ESC. rng supplies the IVs; nil
// means crypto/rand.
//
// Errors are *Error with the server's codes where the server has one.
func ProcessInsert(ctx context.Context, blob []byte, f Field, esc ESC, rng io.Reader) (*Write, error) {
	if esc == nil {
		return nil, errNilESC
	}
	if len(blob) == 0 {
		return nil, errorf(codeBadValue, "Empty encrypted payload for field '%s'", f.Path)
	}
	switch st := fleblob.Subtype(blob[0]); st {
	case fleblob.FLE2InsertUpdatePayloadV2:
	case fleblob.FLE2InsertUpdatePayload:
		return nil, errorf(7291901, "Encountered a Queryable Encryption insert/update payload type that is no longer supported")
	default:
		return nil, errorf(6373503, "Unexpected encrypted payload type: %d", st)
	}
	p, err := parseInsertPayload(blob[1:])
	if err != nil {
		return nil, err
	}
	kind, err := checkPayload(p, &f)
	if err != nil {
		return nil, err
	}
	var sets []tokenSet
	switch kind {
	case kindEquality:
		sets = []tokenSet{p.set}
	case kindRange:
		sets = p.edges
	case kindText:
		sets = p.text.all()
	}
	w := &Write{Tags: make([][]byte, len(sets)), ESCIDs: make([][]byte, len(sets)), ECOC: make([][]byte, len(sets))}
	counts := make([]uint64, len(sets))
	assigned := map[token]uint64{} // ESC token -> last count given in this payload
	for i := range sets {
		s := &sets[i]
		count, ok := assigned[s.esc]
		if ok {
			count++
		} else {
			t := escTokensOf(s.esc)
			n, err := nextCount(ctx, esc, &t)
			if err != nil {
				return nil, err
			}
			count = n + 1
		}
		assigned[s.esc] = count
		counts[i] = count
		t := escTokensOf(s.esc)
		id := nonAnchorID(&t, count)
		tag := tagFor(s.edc, count)
		w.ESCIDs[i], w.Tags[i] = id[:], tag[:]
		w.ECOC[i] = bytes.Clone(s.encrypted)
	}
	if w.Stored, err = buildStored(rng, p, kind, sets, counts); err != nil {
		return nil, err
	}
	return w, nil
}

// checkPayload does the server's checks of a payload 11 (parseAndVerifyInsertUpdatePayload,
// fromUnencrypted, validateInsertUpdatePayloads) and the checks against the field.
func checkPayload(p *insertPayload, f *Field) (payloadKind, error) {
	kind := kindEquality
	switch {
	case p.edges != nil && p.text != nil:
		return 0, errorf(9783801, "Queryable Encryption insert/update payload cannot have token sets for both range and text search types")
	case p.edges != nil:
		kind = kindRange
	case p.text != nil:
		kind = kindText
	}
	t := bsoncore.Type(p.valueType)
	valid := p.valueType > 0 && p.valueType <= 0xff && typeName(t)[0] != '<'
	switch kind {
	case kindRange:
		if !valid || !rangeSupported(t) {
			return 0, errorf(6775305, "Type '%s' is not a valid type for Queryable Encryption Range", typeName(t))
		}
	case kindText:
		if !valid || t != bsoncore.TypeString {
			return 0, errorf(9783802, "Type '%s' is not a valid type for Queryable Encryption Text Search", typeName(t))
		}
	default:
		if !valid || !equalitySupported(t) {
			return 0, errorf(6373504, "Type '%s' is not a valid type for Queryable Encryption Equality", typeName(t))
		}
	}
	if f.KeyID != nil && !bytes.Equal(f.KeyID, p.indexKeyID) {
		return 0, errorf(6726301, "Mismatched keyId for field '%s' expected %s, found %s", f.Path, uuidString(f.KeyID), uuidString(p.indexKeyID))
	}
	declared, indexed := fieldKind(f.QueryType)
	if !indexed {
		return 0, errorf(6726300, "Field '%s' is unexpectedly encrypted", f.Path)
	}
	if declared != kind {
		return 0, errorf(codeBadValue, "Queryable Encryption %s payload for field '%s', which is declared with query type '%s'", kind, f.Path, f.QueryType)
	}
	if f.BSONType != "" && f.BSONType != typeName(t) {
		return 0, errorf(codeBadValue, "Queryable Encryption payload of type '%s' for field '%s', which is declared with bsonType '%s'", typeName(t), f.Path, f.BSONType)
	}
	if p.contention < 0 || p.contention > f.Contention {
		return 0, errorf(codeBadValue, "Queryable Encryption payload for field '%s' has contention factor %d, outside [0, %d]", f.Path, p.contention, f.Contention)
	}
	if len(p.value) == 0 {
		what := map[payloadKind]string{kindEquality: "FLE2IndexedEqualityEncryptedValueV2", kindRange: "FLE2IndexedRangeEncryptedValueV2", kindText: "FLE2IndexedTextEncryptedValue"}[kind]
		code := map[payloadKind]int32{kindEquality: 9697302, kindRange: 9588705, kindText: 9784108}[kind]
		return 0, errorf(code, "Invalid client encrypted value length for %s", what)
	}
	if len(p.value) <= uuidLen {
		return 0, errorf(codeBadValue, "Invalid client encrypted value length %d for field '%s'", len(p.value), f.Path)
	}
	switch kind {
	case kindEquality:
		if len(p.set.encrypted) == 0 {
			return 0, errorf(codeBadValue, "Empty encrypted tokens for field '%s'", f.Path)
		}
	case kindRange:
		if len(p.edges) > maxRangeTags {
			return 0, errorf(9588702, "InsertUpdatePayload for range-indexed field has an edge token set that is too large")
		}
		if len(p.edges) == 0 {
			return 0, errorf(codeBadValue, "InsertUpdatePayload for range-indexed field '%s' has no edges", f.Path)
		}
	}
	return kind, nil
}

// uuidString formats 16 bytes as 8-4-4-4-12 hexadecimal digits.
func uuidString(b []byte) string {
	if len(b) != uuidLen {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
