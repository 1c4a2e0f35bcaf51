package qelayer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/fle2"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/qerewrite"
	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// The server side of Queryable Encryption.
//
// A command that carries encryptionInformation (or, for bulkWrite, whose nsInfo entries do) is
// rewritten before anything else sees it: its payloads become stored values with their ESC and
// ECOC documents (insert, update, findAndModify), its find payloads become tag lookups on
// __safeContent__ (find, aggregate, count, distinct, delete, explain), and encryptionInformation
// is removed, since FerretDB knows nothing of it. The rewritten command then goes the way every
// command goes (the unique index enforcement included). Writes to one encrypted collection run
// under the lock of its ESC, so that the counts each insert reads are those the one before
// wrote; MongoDB runs each in a transaction, which FerretDB has not, so a write that fails after
// its payloads were processed leaves their ESC and ECOC documents behind (they only make later
// queries read a little more).
//
// Commands with payloads and no encryptionInformation are refused, and writes to a collection
// created with encryptedFields are checked with its implicit validator, so that nothing
// reaches FerretDB in plaintext where MongoDB would refuse it.

// qeCommands are the commands that take encryptionInformation, and where each reads a filter.
var qeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "find": true, "aggregate": true, "count": true,
	"distinct": true, "findAndModify": true, "findandmodify": true, "explain": true,
}

// codeQEPayloadWithoutEI is the layer's own code (BadValue) for a payload in a command that
// has no encryptionInformation.
const codeQEPayloadWithoutEI = codeBadValue

// qeRewrite handles the Queryable Encryption part of r. done reports that the command was
// answered (body or err); otherwise r may have been rewritten in place and goes on.
func (s *session) qeRewrite(ctx context.Context, r *request) (done bool, body bson.Raw, err error) {
	switch r.name {
	case "compactStructuredEncryptionData":
		body, err = s.compact(ctx, r, false)
		return true, body, qeError(err)
	case "cleanupStructuredEncryptionData":
		body, err = s.compact(ctx, r, true)
		return true, body, qeError(err)
	case "bulkWrite":
		// handleBulkWrite runs each operation as its own command, through this function.
		return false, nil, nil
	}
	eiv, hasEI := r.cmd.LookupErr("encryptionInformation")
	inner := r.cmd
	if r.name == "explain" {
		inner, _ = r.cmd.Lookup("explain").DocumentOK()
		if v, err := inner.LookupErr("encryptionInformation"); err == nil {
			eiv, hasEI = v, nil
		}
	}
	if hasEI != nil {
		return s.qeWithoutEI(ctx, r)
	}
	if !qeCommands[r.name] {
		return true, nil, errorf(codeBadValue, "encryptionInformation is not allowed in the command %s", r.name)
	}
	if s.ln.profile.major() > 0 && s.ln.profile.major() < 7 {
		return true, nil, errorf(codeIDLUnknownField, "BSON field '%s.encryptionInformation' is an unknown field.", r.name)
	}
	ei, ok := eiv.DocumentOK()
	if !ok {
		return true, nil, errorf(14, "BSON field '%s.encryptionInformation' is the wrong type '%s', expected type 'object'", r.name, eiv.Type)
	}
	name, cmd := r.name, r.cmd
	if name == "explain" {
		first, err := inner.IndexErr(0)
		if err != nil {
			return true, nil, errorf(codeFailedToParse, "explain's command is empty")
		}
		name, cmd = first.Key(), inner
	}
	coll, _ := cmd.Index(0).Value().StringValueOK()
	schema, err := qerewrite.ParseEncryptionInformation(ei, r.db+"."+coll)
	if err != nil {
		return true, nil, qeError(err)
	}
	c := &qeCrypto{s: s, db: r.db, schema: schema}
	switch name {
	case "update":
		if r.name == "explain" {
			break
		}
		body, err := s.qeUpdate(ctx, r, coll, c)
		return true, body, qeError(err)
	case "findAndModify", "findandmodify":
		if r.name == "explain" {
			break
		}
		body, err := s.qeFindAndModify(ctx, r, coll, c)
		return true, body, qeError(err)
	}
	if name == "insert" && r.name != "explain" {
		// Inserts write ESC entries: one at a time per encrypted collection.
		lk := s.layer.cat.lock(r.db + "." + schema.EscCollection)
		lk.Lock()
		defer lk.Unlock()
	}
	rewritten, err := c.rewrite(ctx, name, without(cmd, withoutEI))
	if err != nil {
		return true, nil, qeError(err)
	}
	if r.name == "explain" {
		rewritten = replaceDoc(without(r.cmd, withoutEI), "explain", rewritten)
	}
	if err := s.replaceCommand(r, rewritten); err != nil {
		return true, nil, err
	}
	return false, nil, nil
}

// withoutEI drops encryptionInformation (see without).
var withoutEI = map[string]bool{"encryptionInformation": true}

// adaptForFerretDB rewrites what MongoDB takes and FerretDB does not, before any handler: the
// {$const: v} that query analysis writes in aggregate pipelines. It has nothing to do with
// Queryable Encryption and runs for every aggregate.
func (s *session) adaptForFerretDB(r *request) error {
	if r.name == "aggregate" && bytes.Contains(r.cmd, []byte("$const\x00")) {
		return s.replaceCommand(r, bson.Raw(unconst(bsoncore.Document(r.cmd))))
	}
	return nil
}

// replaceCommand makes cmd the command of r, as if the client had sent it.
func (s *session) replaceCommand(r *request, cmd bson.Raw) error {
	m, err := (&wire.Msg{Flags: r.msg.Flags &^ wire.ChecksumPresent, Body: cmd}).Append(nil, r.hdr.RequestID, 0)
	if err != nil {
		return errorf(codeBadValue, "qelayer: %v", err)
	}
	r.raw, r.cmd = m, cmd
	return nil
}

// qeWithoutEI refuses payloads in a command without encryptionInformation and checks the
// writes to an encrypted collection with its implicit validator.
func (s *session) qeWithoutEI(ctx context.Context, r *request) (bool, bson.Raw, error) {
	if qerewrite.HasPayload(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: r.cmd}) {
		return true, nil, errorf(codeQEPayloadWithoutEI, "The command %s holds a Queryable Encryption payload but no encryptionInformation: the server cannot process it (is automatic encryption configured for this collection?)", r.name)
	}
	switch r.name {
	case "insert", "update", "findAndModify", "findandmodify":
	default:
		return false, nil, nil
	}
	coll, _ := r.cmd.Index(0).Value().StringValueOK()
	schema := s.catalogSchema(r.db, coll)
	if schema == nil {
		return false, nil, nil
	}
	c := &qeCrypto{s: s, db: r.db, schema: schema, noPayloads: true}
	switch r.name {
	case "insert":
		arr, _ := r.cmd.Lookup("documents").ArrayOK()
		vals, _ := arr.Values()
		for _, v := range vals {
			if d, ok := v.DocumentOK(); ok {
				if err := schema.Validate(d); err != nil {
					return true, nil, qeError(err)
				}
			}
		}
		return false, nil, nil
	case "update":
		body, err := s.qeUpdate(ctx, r, coll, c)
		return true, body, qeError(err)
	default:
		body, err := s.qeFindAndModify(ctx, r, coll, c)
		return true, body, qeError(err)
	}
}

// catalogSchema returns the schema of the encryptedFields db.coll was created with (parsed
// once, at create), nil when it has none.
func (s *session) catalogSchema(db, coll string) *qerewrite.Schema {
	if m := s.layer.cat.get(db + "." + coll); m != nil {
		return m.schema
	}
	return nil
}

// qeError turns the errors of qerewrite and fle2 into the server's error replies; a
// *cmdError stays, and any other error (the connection to FerretDB) closes the connection.
func qeError(err error) error {
	if err == nil {
		return nil
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		return ce
	}
	var re *qerewrite.Error
	if errors.As(err, &re) {
		return &cmdError{code: re.Code, msg: re.Msg}
	}
	var fe *fle2.Error
	if errors.As(err, &fe) {
		return &cmdError{code: fe.Code, msg: fe.Msg}
	}
	return err
}

// rewrite returns the command name (insert, delete, find, aggregate, count, distinct) with its
// payloads processed.
func (c *qeCrypto) rewrite(ctx context.Context, name string, cmd bson.Raw) (bson.Raw, error) {
	switch name {
	case "insert":
		return c.mapArray(cmd, "documents", func(v bson.RawValue) (bson.Raw, error) {
			d, ok := v.DocumentOK()
			if !ok {
				return nil, errorf(14, "BSON field 'insert.documents' holds a %s, expected type 'object'", v.Type)
			}
			return c.schema.InsertDocument(ctx, ensureID(d), c)
		})
	case "delete":
		return c.mapArray(cmd, "deletes", func(v bson.RawValue) (bson.Raw, error) {
			d, ok := v.DocumentOK()
			if !ok {
				return nil, errorf(14, "BSON field 'delete.deletes' holds a %s, expected type 'object'", v.Type)
			}
			return c.filterField(ctx, d, "q")
		})
	case "find":
		return c.filterField(ctx, cmd, "filter")
	case "count", "distinct":
		return c.filterField(ctx, cmd, "query")
	case "aggregate":
		p, err := cmd.LookupErr("pipeline")
		if err != nil {
			return cmd, nil
		}
		arr, ok := p.ArrayOK()
		if !ok {
			return nil, errorf(14, "BSON field 'aggregate.pipeline' is the wrong type '%s', expected type 'array'", p.Type)
		}
		out, err := c.schema.Pipeline(ctx, bson.Raw(arr), c)
		if err != nil {
			return nil, err
		}
		return replaceValue(cmd, "pipeline", bsoncore.Value{Type: bsoncore.TypeArray, Data: out}), nil
	}
	return nil, errorf(codeBadValue, "encryptionInformation is not allowed in the command %s", name)
}

// filterField rewrites the filter at key of doc, when there is one.
func (c *qeCrypto) filterField(ctx context.Context, doc bson.Raw, key string) (bson.Raw, error) {
	v, err := doc.LookupErr(key)
	if err != nil {
		return doc, nil
	}
	f, ok := v.DocumentOK()
	if !ok {
		return nil, errorf(14, "BSON field '%s' is the wrong type '%s', expected type 'object'", key, v.Type)
	}
	out, err := c.schema.Filter(ctx, f, c)
	if err != nil {
		return nil, err
	}
	return replaceDoc(doc, key, out), nil
}

// mapArray replaces each element of the array at key of doc with fn's document.
func (c *qeCrypto) mapArray(doc bson.Raw, key string, fn func(bson.RawValue) (bson.Raw, error)) (bson.Raw, error) {
	v, err := doc.LookupErr(key)
	if err != nil {
		return doc, nil
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, errorf(14, "BSON field '%s' is the wrong type '%s', expected type 'array'", key, v.Type)
	}
	vals, _ := arr.Values()
	aidx, out := bsoncore.AppendArrayStart(nil)
	for i, ev := range vals {
		d, err := fn(ev)
		if err != nil {
			return nil, err
		}
		out = bsoncore.AppendDocumentElement(out, fmt.Sprint(i), d)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	return replaceValue(doc, key, bsoncore.Value{Type: bsoncore.TypeArray, Data: out}), nil
}

// replaceDoc returns doc with the value of key replaced by the document v.
func replaceDoc(doc bson.Raw, key string, v bson.Raw) bson.Raw {
	return replaceValue(doc, key, bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: v})
}

// replaceValue returns doc with the value of key replaced by v.
func replaceValue(doc bson.Raw, key string, v bsoncore.Value) bson.Raw {
	elems, _ := doc.Elements()
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		if e.Key() == key {
			out = bsoncore.AppendValueElement(out, key, v)
			continue
		}
		out = append(out, e...)
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// qeCrypto is qerewrite.Crypto over fle2, with the ESC and ECOC of one encrypted collection
// read and written through the session's connection to FerretDB.
type qeCrypto struct {
	s          *session
	db         string
	schema     *qerewrite.Schema
	noPayloads bool // a command without encryptionInformation: payloads are refused
	escv       *escView
}

// Insert processes an insert/update payload and writes its ESC and ECOC documents.
func (c *qeCrypto) Insert(ctx context.Context, f *qerewrite.Field, payload []byte) ([]byte, [][]byte, error) {
	if c.noPayloads {
		return nil, nil, errorf(codeQEPayloadWithoutEI, "a Queryable Encryption payload for field '%s' in a command without encryptionInformation", f.Path)
	}
	w, err := fle2.ProcessInsert(ctx, payload, fle2Field(f), c.esc(), nil)
	if err != nil {
		return nil, nil, err
	}
	if err := c.esc().insertIDs(w.ESCIDs); err != nil {
		return nil, nil, err
	}
	if len(w.ECOC) > 0 {
		docs := bson.A{}
		for _, v := range w.ECOC {
			docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "fieldName", Value: f.Path}, {Key: "value", Value: bson.Binary{Data: v}}})
		}
		if _, err := c.s.command(c.db, bson.D{{Key: "insert", Value: c.schema.EcocCollection}, {Key: "documents", Value: docs}}); err != nil {
			return nil, nil, err
		}
	}
	return w.Stored, w.Tags, nil
}

// FindTags returns the tags a find payload matches.
func (c *qeCrypto) FindTags(ctx context.Context, _ *qerewrite.Field, payload []byte) ([][]byte, error) {
	if c.noPayloads {
		return nil, errorf(codeQEPayloadWithoutEI, "a Queryable Encryption find payload in a command without encryptionInformation")
	}
	return fle2.FindTags(ctx, payload, c.esc())
}

// StoredTags returns the tags of a stored value.
func (c *qeCrypto) StoredTags(stored []byte) ([][]byte, error) { return fle2.StoredTags(stored) }

// esc returns the ESC view of the command, one for all its payloads.
func (c *qeCrypto) esc() *escView {
	if c.escv == nil {
		c.escv = &escView{s: c.s, db: c.db, coll: c.schema.EscCollection}
	}
	return c.escv
}

// fle2Field is the fle2 view of a schema's field, range options included.
func fle2Field(f *qerewrite.Field) fle2.Field {
	out := fle2.Field{Path: f.Path, BSONType: f.BSONType, KeyID: f.KeyID, QueryType: f.QueryType, Contention: f.Contention}
	if f.QueryType != qerewrite.QueryRange && f.QueryType != qerewrite.QueryRangePreview {
		return out
	}
	q := firstQuery(f.Raw)
	ro := &fle2.RangeOptions{Min: q.Lookup("min"), Max: q.Lookup("max")}
	if n, ok := asInt32(q.Lookup("precision")); ok {
		ro.Precision = &n
	}
	if n, ok := q.Lookup("sparsity").AsInt64OK(); ok {
		ro.Sparsity = n
	}
	if n, ok := asInt32(q.Lookup("trimFactor")); ok {
		ro.TrimFactor = &n
	}
	out.Range = ro
	return out
}

// firstQuery returns the field's queries document (or the first of its array).
func firstQuery(field bson.Raw) bson.Raw {
	v := field.Lookup("queries")
	if d, ok := v.DocumentOK(); ok {
		return d
	}
	if a, ok := v.ArrayOK(); ok {
		vals, _ := a.Values()
		if len(vals) > 0 {
			if d, ok := vals[0].DocumentOK(); ok {
				return d
			}
		}
	}
	return bson.Raw(bsoncore.NewDocumentBuilder().Build())
}

// escView is fle2.ESCWriter over one ESC collection in FerretDB, for one command. Its first
// read loads the whole collection (the server's binary searches over the ESC make many point
// reads, each a round trip to FerretDB otherwise); its writes go to FerretDB and to the copy.
// Writes hold the ESC lock for the whole command, so the copy stays what FerretDB holds; a
// find, which takes no lock, reads the ESC as it was at its first read, as a server's snapshot.
type escView struct {
	s        *session
	db, coll string
	docs     map[string][]byte // _id bytes -> value (nil: none); nil until loaded
}

func (e *escView) load() error {
	if e.docs != nil {
		return nil
	}
	all, err := e.s.findAll(e.db, e.coll, bson.D{})
	if err != nil {
		return err
	}
	e.docs = make(map[string][]byte, len(all))
	for _, d := range all {
		_, id, ok := d.Lookup("_id").BinaryOK()
		if !ok {
			continue
		}
		var v []byte
		if _, data, ok := d.Lookup("value").BinaryOK(); ok {
			v = bytes.Clone(data)
		}
		e.docs[string(id)] = v
	}
	return nil
}

func (e *escView) Get(_ context.Context, id []byte) ([]byte, bool, error) {
	if err := e.load(); err != nil {
		return nil, false, err
	}
	v, ok := e.docs[string(id)]
	return v, ok, nil
}

// insertIDs inserts the non-anchor documents {_id} of ids.
func (e *escView) insertIDs(ids [][]byte) error {
	if len(ids) == 0 {
		return nil
	}
	docs := bson.A{}
	for _, id := range ids {
		docs = append(docs, bson.D{{Key: "_id", Value: bson.Binary{Data: id}}})
	}
	if err := e.insertDocs(docs); err != nil {
		return err
	}
	if e.docs != nil {
		for _, id := range ids {
			e.docs[string(id)] = nil
		}
	}
	return nil
}

func (e *escView) insertDocs(docs bson.A) error {
	rep, err := e.s.command(e.db, bson.D{{Key: "insert", Value: e.coll}, {Key: "documents", Value: docs}})
	if err != nil {
		return err
	}
	if we := remapWriteErrors(rep, 0); len(we) > 0 {
		return errorf(codeBadValue, "qelayer: writing an ESC document failed: %v", we)
	}
	return nil
}

func (e *escView) Insert(_ context.Context, id, value []byte) error {
	doc := bson.D{{Key: "_id", Value: bson.Binary{Data: id}}}
	if value != nil {
		doc = append(doc, bson.E{Key: "value", Value: bson.Binary{Data: value}})
	}
	if err := e.insertDocs(bson.A{doc}); err != nil {
		return err
	}
	if e.docs != nil {
		e.docs[string(id)] = bytes.Clone(value)
	}
	return nil
}

func (e *escView) Delete(_ context.Context, ids [][]byte) error {
	in := bson.A{}
	for _, id := range ids {
		in = append(in, bson.Binary{Data: id})
	}
	_, err := e.s.command(e.db, bson.D{{Key: "delete", Value: e.coll}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}}}, {Key: "limit", Value: 0}}}}})
	if err != nil {
		return err
	}
	if e.docs != nil {
		for _, id := range ids {
			delete(e.docs, string(id))
		}
	}
	return nil
}

// unconst returns d with each {$const: v} inside it replaced: by v itself where v means the
// same as an expression (a number, a boolean, null, a date, a binary), else by {$literal: v}.
// MongoDB's query analysis writes the constants of aggregation expressions as {$const: v},
// which MongoDB takes and FerretDB does not; FerretDB's $group takes no $literal either.
func unconst(d bsoncore.Document) bsoncore.Document {
	elems, err := d.Elements()
	if err != nil {
		return d
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		v := e.Value()
		switch v.Type {
		case bsoncore.TypeEmbeddedDocument:
			v = unconstValue(v)
		case bsoncore.TypeArray:
			v.Data = unconst(v.Data)
		}
		out = bsoncore.AppendValueElement(out, e.Key(), v)
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

func unconstValue(v bsoncore.Value) bsoncore.Value {
	d := bsoncore.Document(v.Data)
	elems, err := d.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "$const" {
		v.Data = unconst(d)
		return v
	}
	c := elems[0].Value()
	switch c.Type {
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
	case bsoncore.TypeString:
		if !strings.HasPrefix(c.StringValue(), "$") {
			return c
		}
	default:
		return c
	}
	return bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: bsoncore.NewDocumentBuilder().AppendValue("$literal", c).Build()}
}
