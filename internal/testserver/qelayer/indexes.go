package qelayer

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// layerIndex is an index the layer keeps instead of FerretDB: one with a
// partialFilterExpression, which FerretDB refuses.
type layerIndex struct {
	name   string
	spec   bson.D   // as listIndexes shows it: v, key, name, then the other options
	field  string   // the key's one field (a dotted path)
	unique bool     // enforced by the layer
	filter bson.Raw // the partialFilterExpression
	exists []existsCond
}

// existsCond is one condition {path: {$exists: want}} of a partialFilterExpression made only
// of them (nil exists in layerIndex means the filter has other conditions).
type existsCond struct {
	path string
	want bool
}

// parseExists returns the conditions of a filter made only of {path: {$exists: bool}}, or
// false.
func parseExists(filter bson.Raw) ([]existsCond, bool) {
	elems, err := filter.Elements()
	if err != nil {
		return nil, false
	}
	var out []existsCond
	for _, e := range elems {
		if strings.HasPrefix(e.Key(), "$") {
			return nil, false
		}
		d, ok := e.Value().DocumentOK()
		if !ok {
			return nil, false
		}
		ops, _ := d.Elements()
		if len(ops) != 1 || ops[0].Key() != "$exists" {
			return nil, false
		}
		out = append(out, existsCond{path: e.Key(), want: truthy(ops[0].Value())})
	}
	return out, true
}

func truthy(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeInt32:
		return v.Int32() != 0
	case bson.TypeInt64:
		return v.Int64() != 0
	case bson.TypeDouble:
		return v.Double() != 0
	case bson.TypeNull, bson.TypeUndefined:
		return false
	}
	return true
}

func lookupPath(doc bson.Raw, path string) (bson.RawValue, bool) {
	v, err := doc.LookupErr(strings.Split(path, ".")...)
	return v, err == nil
}

// parseIndex returns the layerIndex of an index specification with a partialFilterExpression.
func parseIndex(spec bson.Raw) (layerIndex, *cmdError) {
	var ix layerIndex
	key, ok := spec.Lookup("key").DocumentOK()
	if !ok {
		return ix, errorf(codeFailedToParse, "the index specification has no key document")
	}
	keys, _ := key.Elements()
	if len(keys) != 1 {
		return ix, errorf(codeNotImplemented, "qelayer: a partial index with a compound key is not supported by the embedded test server")
	}
	ix.field = keys[0].Key()
	ix.name, _ = spec.Lookup("name").StringValueOK()
	if ix.name == "" {
		ix.name = fmt.Sprintf("%s_%v", ix.field, keys[0].Value())
	}
	ix.unique, _ = spec.Lookup("unique").BooleanOK()
	ix.filter, _ = spec.Lookup("partialFilterExpression").DocumentOK()
	if ix.filter == nil {
		return ix, errorf(codeFailedToParse, "partialFilterExpression must be a document")
	}
	if c, ok := parseExists(ix.filter); ok {
		ix.exists = c
	}
	ix.spec = bson.D{{Key: "v", Value: int32(2)}, {Key: "key", Value: key}, {Key: "name", Value: ix.name}}
	elems, _ := spec.Elements()
	for _, e := range elems {
		switch e.Key() {
		case "key", "name", "v", "ns":
		default:
			ix.spec = append(ix.spec, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return ix, nil
}

// handleCreateIndexes keeps the indexes with a partialFilterExpression and gives FerretDB the
// others.
func handleCreateIndexes(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("createIndexes").StringValueOK()
	arr, ok := r.cmd.Lookup("indexes").ArrayOK()
	if !ok {
		return nil, errPassThrough
	}
	specs, _ := arr.Values()
	var rest bson.A
	var mine []layerIndex
	for _, sv := range specs {
		spec, ok := sv.DocumentOK()
		if !ok {
			return nil, errPassThrough
		}
		if _, err := spec.LookupErr("partialFilterExpression"); err != nil {
			rest = append(rest, spec)
			continue
		}
		ix, e := parseIndex(spec)
		if e != nil {
			return nil, e
		}
		mine = append(mine, ix)
	}
	if len(mine) == 0 {
		return nil, errPassThrough
	}
	ns := r.db + "." + coll
	lk := s.layer.cat.lock(ns)
	lk.Lock()
	defer lk.Unlock()

	meta := s.layer.cat.get(ns)
	var add []layerIndex
	for _, ix := range mine {
		dup := false
		if meta != nil {
			for _, have := range meta.indexes {
				if have.name == ix.name {
					if !bytes.Equal(rawDoc(have.spec), rawDoc(ix.spec)) {
						return nil, errorf(codeIndexOptionsConflict, "An existing index has the same name as the requested index. Requested index: %s, existing index: %s", ix.name, have.name)
					}
					dup = true
				}
			}
		}
		if !dup {
			add = append(add, ix)
		}
	}
	before, existed, err := s.countIndexes(r.db, coll)
	if err != nil {
		return nil, err
	}
	var rep bson.Raw
	if len(rest) > 0 {
		var d bson.D
		_ = bson.Unmarshal(r.cmd, &d)
		rep, err = s.forward(r, rawDoc(setField(d, "indexes", rest)))
		if err != nil {
			return nil, err
		}
		if !okValue(rep) {
			return rep, nil
		}
	} else if !existed {
		if _, err := s.command(r.db, bson.D{{Key: "create", Value: coll}}); err != nil {
			if ce, ok := err.(*cmdError); !ok || ce.code != codeNamespaceExists {
				return nil, err
			}
		}
	}
	for _, ix := range add {
		if ix.unique {
			if e, err := s.existingDuplicate(r.db, coll, ix); err != nil || e != nil {
				if err != nil {
					return nil, err
				}
				return nil, e
			}
		}
	}
	s.layer.cat.update(ns, func(m *collMeta) { m.indexes = append(m.indexes, add...) })
	after := before + int32(len(rest)) + int32(len(add))
	if meta != nil {
		before += int32(len(meta.indexes))
		after += int32(len(meta.indexes))
	}
	return rawDoc(bson.D{
		{Key: "numIndexesBefore", Value: before},
		{Key: "numIndexesAfter", Value: after},
		{Key: "createdCollectionAutomatically", Value: !existed},
		{Key: "ok", Value: 1.0},
	}), nil
}

// countIndexes returns the number of FerretDB's indexes on db.coll and whether it exists.
func (s *session) countIndexes(db, coll string) (int32, bool, error) {
	rep, err := s.command(db, bson.D{{Key: "listIndexes", Value: coll}})
	if err != nil {
		if ce, ok := err.(*cmdError); ok && ce.code == codeNamespaceNotFound {
			return 0, false, nil
		}
		return 0, false, err
	}
	batch, _ := rep.Lookup("cursor", "firstBatch").ArrayOK()
	vals, _ := batch.Values()
	return int32(len(vals)), true, nil
}

// existingDuplicate returns the duplicate key error of a unique index ix that the documents
// already in db.coll break.
func (s *session) existingDuplicate(db, coll string, ix layerIndex) (*cmdError, error) {
	docs, err := s.findAll(db, coll, ix.filter)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range docs {
		for _, v := range keyValues(d, ix.field) {
			k := string(rawDoc(bson.D{{Key: "v", Value: v}}))
			if seen[k] {
				return dupKeyError(db, coll, ix, v), nil
			}
			seen[k] = true
		}
	}
	return nil, nil
}

// keyValues returns the index keys of doc for field: each distinct element of an array, the
// value itself otherwise, null when it is missing.
func keyValues(doc bson.Raw, field string) []bson.RawValue {
	v, ok := lookupPath(doc, field)
	if !ok {
		return []bson.RawValue{{Type: bson.TypeNull}}
	}
	if v.Type != bson.TypeArray {
		return []bson.RawValue{v}
	}
	vals, _ := v.Array().Values()
	var out []bson.RawValue
	seen := map[string]bool{}
	for _, e := range vals {
		k := string(rawDoc(bson.D{{Key: "v", Value: e}}))
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// dupKeyError is MongoDB's E11000 error for the key v of index ix.
func dupKeyError(db, coll string, ix layerIndex, v bson.RawValue) *cmdError {
	return &cmdError{
		code: codeDuplicateKey,
		msg:  fmt.Sprintf("E11000 duplicate key error collection: %s.%s index: %s dup key: { %s: %s }", db, coll, ix.name, ix.field, v.String()),
		extra: bson.D{
			{Key: "keyPattern", Value: bson.D{{Key: ix.field, Value: int32(1)}}},
			{Key: "keyValue", Value: bson.D{{Key: ix.field, Value: v}}},
		},
	}
}

// handleListIndexes adds the layer's indexes to FerretDB's reply.
func handleListIndexes(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("listIndexes").StringValueOK()
	meta := s.layer.cat.get(r.db + "." + coll)
	if meta == nil || len(meta.indexes) == 0 {
		return nil, errPassThrough
	}
	return s.editReply(r, func(d bson.D) bson.D {
		for i, e := range d {
			cur, ok := e.Value.(bson.D)
			if e.Key != "cursor" || !ok {
				continue
			}
			for j, ce := range cur {
				if batch, ok := ce.Value.(bson.A); ok && ce.Key == "firstBatch" {
					for _, ix := range meta.indexes {
						batch = append(batch, ix.spec)
					}
					cur[j].Value = batch
				}
			}
			d[i].Value = cur
		}
		return d
	})
}

// handleDropIndexes drops the layer's indexes it names and gives FerretDB the others.
func handleDropIndexes(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("dropIndexes").StringValueOK()
	ns := r.db + "." + coll
	meta := s.layer.cat.get(ns)
	if meta == nil || len(meta.indexes) == 0 {
		return nil, errPassThrough
	}
	idx := r.cmd.Lookup("index")
	match := func(ix layerIndex) bool {
		switch idx.Type {
		case bson.TypeString:
			return idx.StringValue() == "*" || idx.StringValue() == ix.name
		case bson.TypeEmbeddedDocument:
			k, _ := bson.Raw(rawDoc(ix.spec)).Lookup("key").DocumentOK()
			return bytes.Equal(k, idx.Document())
		case bson.TypeArray:
			vals, _ := idx.Array().Values()
			for _, v := range vals {
				if n, _ := v.StringValueOK(); n == ix.name {
					return true
				}
			}
		}
		return false
	}
	var keep []layerIndex
	for _, ix := range meta.indexes {
		if !match(ix) {
			keep = append(keep, ix)
		}
	}
	dropped := len(keep) < len(meta.indexes)
	if !dropped {
		return nil, errPassThrough
	}
	s.layer.cat.update(ns, func(m *collMeta) { m.indexes = keep })
	if idx.Type == bson.TypeString && idx.StringValue() == "*" {
		return s.forward(r, nil)
	}
	if idx.Type == bson.TypeArray {
		var rest bson.A
		vals, _ := idx.Array().Values()
		for _, v := range vals {
			n, _ := v.StringValueOK()
			mine := false
			for _, ix := range meta.indexes {
				mine = mine || ix.name == n
			}
			if !mine {
				rest = append(rest, v)
			}
		}
		if len(rest) > 0 {
			var d bson.D
			_ = bson.Unmarshal(r.cmd, &d)
			d = setField(d, "index", rest)
			return s.forward(r, rawDoc(d))
		}
	}
	n, _, err := s.countIndexes(r.db, coll)
	if err != nil {
		return nil, err
	}
	return rawDoc(bson.D{{Key: "nIndexesWas", Value: n + int32(len(meta.indexes))}, {Key: "ok", Value: 1.0}}), nil
}

// findAll returns every document of db.coll matching filter.
func (s *session) findAll(db, coll string, filter any) ([]bson.Raw, error) {
	rep, err := s.command(db, bson.D{{Key: "find", Value: coll}, {Key: "filter", Value: filter}})
	if err != nil {
		return nil, err
	}
	var out []bson.Raw
	batchKey := "firstBatch"
	for {
		batch, _ := rep.Lookup("cursor", batchKey).ArrayOK()
		vals, _ := batch.Values()
		for _, v := range vals {
			if d, ok := v.DocumentOK(); ok {
				out = append(out, append(bson.Raw(nil), d...))
			}
		}
		id, _ := rep.Lookup("cursor", "id").Int64OK()
		if id == 0 {
			return out, nil
		}
		rep, err = s.command(db, bson.D{{Key: "getMore", Value: id}, {Key: "collection", Value: coll}})
		if err != nil {
			return nil, err
		}
		batchKey = "nextBatch"
	}
}

// uniqueIndexes returns the layer's unique indexes on ns.
func (c *catalog) uniqueIndexes(ns string) []layerIndex {
	m := c.get(ns)
	if m == nil {
		return nil
	}
	var out []layerIndex
	for _, ix := range m.indexes {
		if ix.unique {
			out = append(out, ix)
		}
	}
	return out
}

// matches tells whether doc, stored in db.coll when stored is true, matches the filter of ix.
func (s *session) matches(db, coll string, ix layerIndex, doc bson.Raw, stored bool) (bool, error) {
	if ix.exists != nil {
		for _, c := range ix.exists {
			if _, ok := lookupPath(doc, c.path); ok != c.want {
				return false, nil
			}
		}
		return true, nil
	}
	if !stored {
		return false, fmt.Errorf("qelayer: a filter that is not made of $exists needs the stored document")
	}
	id := doc.Lookup("_id")
	docs, err := s.findAll(db, coll, bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "_id", Value: id}}, ix.filter}}})
	return len(docs) > 0, err
}

// violation returns the duplicate key error of the first of the unique indexes that doc
// (stored or about to be) breaks against the other documents of db.coll.
func (s *session) violation(db, coll string, uniques []layerIndex, doc bson.Raw, stored bool) (*cmdError, error) {
	id := doc.Lookup("_id")
	for _, ix := range uniques {
		ok, err := s.matches(db, coll, ix, doc, stored)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		for _, v := range keyValues(doc, ix.field) {
			q := bson.D{{Key: "$and", Value: bson.A{
				bson.D{{Key: ix.field, Value: v}},
				ix.filter,
				bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}},
			}}}
			others, err := s.findAll(db, coll, q)
			if err != nil {
				return nil, err
			}
			if len(others) > 0 {
				return dupKeyError(db, coll, ix, v), nil
			}
		}
	}
	return nil, nil
}

// baseOf returns the fields of cmd other than $db and those in drop, to build the
// layer's own commands from a client's.
func baseOf(cmd bson.Raw, drop ...string) bson.D {
	skip := map[string]bool{"$db": true}
	for _, k := range drop {
		skip[k] = true
	}
	var d bson.D
	elems, _ := cmd.Elements()
	for _, e := range elems {
		if !skip[e.Key()] {
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return d
}

func orderedOf(cmd bson.Raw) bool {
	if b, ok := cmd.Lookup("ordered").BooleanOK(); ok {
		return b
	}
	return true
}

// writeError is one entry of a write command's writeErrors.
func writeError(index int, e *cmdError) bson.D {
	d := bson.D{{Key: "index", Value: int32(index)}, {Key: "code", Value: e.code}, {Key: "errmsg", Value: e.msg}}
	return append(d, e.extra...)
}

// remapWriteErrors returns the writeErrors of a reply to a one-statement command as entries
// of statement index.
func remapWriteErrors(rep bson.Raw, index int) bson.A {
	arr, ok := rep.Lookup("writeErrors").ArrayOK()
	if !ok {
		return nil
	}
	vals, _ := arr.Values()
	var out bson.A
	for _, v := range vals {
		var d bson.D
		if err := bson.Unmarshal(v.Document(), &d); err != nil {
			continue
		}
		out = append(out, setField(d, "index", int32(index)))
	}
	return out
}

func intOf(rep bson.Raw, key string) int32 {
	v, _ := asInt32(rep.Lookup(key))
	return v
}

// ensureID returns doc with an _id, a new ObjectID first when it has none, as the server adds.
func ensureID(doc bson.Raw) bson.Raw {
	if _, err := doc.LookupErr("_id"); err == nil {
		return doc
	}
	var d bson.D
	_ = bson.Unmarshal(doc, &d)
	return rawDoc(append(bson.D{{Key: "_id", Value: bson.NewObjectID()}}, d...))
}

// handleInsert enforces the layer's unique indexes of the namespace, one document at a time
// under the namespace's lock.
func handleInsert(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("insert").StringValueOK()
	ns := r.db + "." + coll
	if len(s.layer.cat.uniqueIndexes(ns)) == 0 {
		return nil, errPassThrough
	}
	lk := s.layer.cat.lock(ns)
	lk.Lock()
	defer lk.Unlock()
	uniques := s.layer.cat.uniqueIndexes(ns)
	arr, _ := r.cmd.Lookup("documents").ArrayOK()
	vals, _ := arr.Values()
	ordered := orderedOf(r.cmd)
	base := baseOf(r.cmd, "documents", "ordered")
	var n int32
	var werrs bson.A
	for i, v := range vals {
		doc, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "BSON field 'insert.documents' holds a %s, expected type 'object'", v.Type)
		}
		doc = ensureID(doc)
		simple := true
		for _, ix := range uniques {
			simple = simple && ix.exists != nil
		}
		if simple {
			e, err := s.violation(r.db, coll, uniques, doc, false)
			if err != nil {
				return nil, err
			}
			if e != nil {
				werrs = append(werrs, writeError(i, e))
				if ordered {
					break
				}
				continue
			}
		}
		cmd := append(append(bson.D{}, base...), bson.E{Key: "documents", Value: bson.A{doc}})
		rep, err := s.command(r.db, cmd)
		if err != nil {
			return rep, err
		}
		if we := remapWriteErrors(rep, i); len(we) > 0 {
			werrs = append(werrs, we...)
			if ordered {
				break
			}
			continue
		}
		if !simple {
			e, err := s.violation(r.db, coll, uniques, doc, true)
			if err != nil {
				return nil, err
			}
			if e != nil {
				if _, err := s.command(r.db, bson.D{{Key: "delete", Value: coll}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: doc.Lookup("_id")}}}, {Key: "limit", Value: 1}}}}}); err != nil {
					return nil, err
				}
				werrs = append(werrs, writeError(i, e))
				if ordered {
					break
				}
				continue
			}
		}
		n += intOf(rep, "n")
	}
	out := bson.D{{Key: "n", Value: n}}
	if len(werrs) > 0 {
		out = append(out, bson.E{Key: "writeErrors", Value: werrs})
	}
	return rawDoc(append(out, bson.E{Key: "ok", Value: 1.0})), nil
}

// byID indexes documents by the bytes of their _id.
func byID(docs []bson.Raw) map[string]bson.Raw {
	m := map[string]bson.Raw{}
	for _, d := range docs {
		m[idKey(d.Lookup("_id"))] = d
	}
	return m
}

func idKey(v bson.RawValue) string { return string(rawDoc(bson.D{{Key: "_id", Value: v}})) }

// changedSince returns the documents of db.coll with the _ids of pre (and extra) as they are
// now, when they differ from pre.
func (s *session) changedSince(db, coll string, pre []bson.Raw, extra ...bson.RawValue) ([]bson.Raw, error) {
	ids := bson.A{}
	for _, d := range pre {
		ids = append(ids, d.Lookup("_id"))
	}
	for _, v := range extra {
		ids = append(ids, v)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	post, err := s.findAll(db, coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, err
	}
	before := byID(pre)
	var out []bson.Raw
	for _, d := range post {
		if b, ok := before[idKey(d.Lookup("_id"))]; !ok || !bytes.Equal(b, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// restore puts back the documents changed since pre: those of pre as they were, and the
// others (upserted) removed.
func (s *session) restore(db, coll string, pre []bson.Raw, changed []bson.Raw) error {
	before := byID(pre)
	for _, d := range changed {
		id := d.Lookup("_id")
		if b, ok := before[idKey(id)]; ok {
			if _, err := s.command(db, bson.D{{Key: "update", Value: coll}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "u", Value: b}}}}}); err != nil {
				return err
			}
			continue
		}
		if _, err := s.command(db, bson.D{{Key: "delete", Value: coll}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "limit", Value: 1}}}}}); err != nil {
			return err
		}
	}
	return nil
}

// checkChanged returns the first duplicate key error among the changed documents.
func (s *session) checkChanged(db, coll string, uniques []layerIndex, changed []bson.Raw) (*cmdError, error) {
	for _, d := range changed {
		e, err := s.violation(db, coll, uniques, d, true)
		if err != nil || e != nil {
			return e, err
		}
	}
	return nil, nil
}

// handleUpdate enforces the layer's unique indexes of the namespace: each statement runs alone
// under the namespace's lock, and is undone when a document it changed breaks one.
func handleUpdate(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("update").StringValueOK()
	ns := r.db + "." + coll
	if len(s.layer.cat.uniqueIndexes(ns)) == 0 {
		return nil, errPassThrough
	}
	lk := s.layer.cat.lock(ns)
	lk.Lock()
	defer lk.Unlock()
	uniques := s.layer.cat.uniqueIndexes(ns)
	arr, _ := r.cmd.Lookup("updates").ArrayOK()
	vals, _ := arr.Values()
	ordered := orderedOf(r.cmd)
	base := baseOf(r.cmd, "updates", "ordered")
	var n, nModified int32
	var werrs, upserted bson.A
	for i, v := range vals {
		st, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "BSON field 'update.updates' holds a %s, expected type 'object'", v.Type)
		}
		q, _ := st.Lookup("q").DocumentOK()
		if q == nil {
			q = rawDoc(bson.D{})
		}
		pre, err := s.findAll(r.db, coll, q)
		if err != nil {
			return nil, err
		}
		cmd := append(append(bson.D{}, base...), bson.E{Key: "updates", Value: bson.A{st}})
		rep, err := s.command(r.db, cmd)
		if err != nil {
			return rep, err
		}
		if we := remapWriteErrors(rep, i); len(we) > 0 {
			werrs = append(werrs, we...)
			if ordered {
				break
			}
			continue
		}
		var ups []bson.RawValue
		if ua, ok := rep.Lookup("upserted").ArrayOK(); ok {
			uv, _ := ua.Values()
			for _, u := range uv {
				if ud, ok := u.DocumentOK(); ok {
					ups = append(ups, ud.Lookup("_id"))
				}
			}
		}
		changed, err := s.changedSince(r.db, coll, pre, ups...)
		if err != nil {
			return nil, err
		}
		e, err := s.checkChanged(r.db, coll, uniques, changed)
		if err != nil {
			return nil, err
		}
		if e != nil {
			if err := s.restore(r.db, coll, pre, changed); err != nil {
				return nil, err
			}
			werrs = append(werrs, writeError(i, e))
			if ordered {
				break
			}
			continue
		}
		n += intOf(rep, "n")
		nModified += intOf(rep, "nModified")
		for _, id := range ups {
			upserted = append(upserted, bson.D{{Key: "index", Value: int32(i)}, {Key: "_id", Value: id}})
		}
	}
	return updateReply(n, nModified, upserted, werrs), nil
}

// handleFindAndModify enforces the layer's unique indexes of the namespace: the command runs
// under the namespace's lock and is undone when the document it changed breaks one.
func handleFindAndModify(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Index(0).Value().StringValueOK()
	ns := r.db + "." + coll
	if len(s.layer.cat.uniqueIndexes(ns)) == 0 {
		return nil, errPassThrough
	}
	if rm, _ := r.cmd.Lookup("remove").BooleanOK(); rm {
		return nil, errPassThrough
	}
	lk := s.layer.cat.lock(ns)
	lk.Lock()
	defer lk.Unlock()
	uniques := s.layer.cat.uniqueIndexes(ns)
	q, _ := r.cmd.Lookup("query").DocumentOK()
	if q == nil {
		q = rawDoc(bson.D{})
	}
	pre, err := s.findAll(r.db, coll, q)
	if err != nil {
		return nil, err
	}
	rep, err := s.forward(r, r.cmd)
	if err != nil || !okValue(rep) {
		return rep, err
	}
	var ups []bson.RawValue
	if u, err := rep.LookupErr("lastErrorObject", "upserted"); err == nil {
		ups = append(ups, u)
	}
	changed, err := s.changedSince(r.db, coll, pre, ups...)
	if err != nil {
		return nil, err
	}
	e, err := s.checkChanged(r.db, coll, uniques, changed)
	if err != nil {
		return nil, err
	}
	if e != nil {
		if err := s.restore(r.db, coll, pre, changed); err != nil {
			return nil, err
		}
		return nil, e
	}
	return rep, nil
}

// updateReply is the server's reply to an update command: the counts, the upserted ids and
// the write errors, each list only when not empty.
func updateReply(n, nModified int32, upserted, werrs bson.A) bson.Raw {
	out := bson.D{{Key: "n", Value: n}, {Key: "nModified", Value: nModified}}
	if len(upserted) > 0 {
		out = append(out, bson.E{Key: "upserted", Value: upserted})
	}
	if len(werrs) > 0 {
		out = append(out, bson.E{Key: "writeErrors", Value: werrs})
	}
	return rawDoc(append(out, bson.E{Key: "ok", Value: 1.0}))
}
