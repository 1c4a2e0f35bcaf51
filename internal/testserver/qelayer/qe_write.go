package qelayer

import (
	"bytes"
	"context"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/qerewrite"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// modified is the outcome of one encrypted update: the images before and after.
type modified struct {
	pre, post bson.Raw      // nil pre: an upsert inserted post; nil post: nothing matched
	upserted  bson.RawValue // the _id of an upserted document
}

// modifyOne runs one update of an encrypted collection as MongoDB does it
// (processUpdate and processFindAndModify in src/mongo/db/fle_crud.cpp): the filter and the
// update rewritten, the write done as a findAndModify that returns the image before, the
// result checked with the implicit validator (and undone when it fails), then the tags of the
// values the update removed pulled from __safeContent__. The caller holds the ESC lock.
func (c *qeCrypto) modifyOne(ctx context.Context, coll string, query bson.Raw, update bson.RawValue, upsert bool, opts bson.D) (*modified, error) {
	q, err := c.schema.Filter(ctx, query, c)
	if err != nil {
		return nil, err
	}
	u, err := c.schema.UpdateValue(ctx, update, c)
	if err != nil {
		return nil, err
	}
	cmd := bson.D{{Key: "findAndModify", Value: coll}, {Key: "query", Value: q}, {Key: "update", Value: u}, {Key: "upsert", Value: upsert}, {Key: "new", Value: false}}
	cmd = append(cmd, opts...)
	rep, err := c.s.command(c.db, cmd)
	if err != nil {
		return nil, err
	}
	m := &modified{}
	if d, ok := rep.Lookup("value").DocumentOK(); ok {
		m.pre = d
	}
	var id bson.RawValue
	if m.pre != nil {
		id = m.pre.Lookup("_id")
	} else if v, err := rep.LookupErr("lastErrorObject", "upserted"); err == nil {
		id, m.upserted = v, v
	} else {
		return m, nil
	}
	docs, err := c.s.findAll(c.db, coll, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return m, nil
	}
	m.post = docs[0]
	if verr := c.schema.Validate(m.post); verr != nil {
		if m.pre != nil {
			_, err = c.s.command(c.db, bson.D{{Key: "update", Value: coll}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "u", Value: m.pre}}}}})
		} else {
			_, err = c.s.command(c.db, bson.D{{Key: "delete", Value: coll}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "limit", Value: 1}}}}})
		}
		if err != nil {
			return nil, err
		}
		return nil, verr
	}
	if m.pre == nil {
		return m, nil
	}
	tags, err := c.schema.RemovedTags(m.pre, m.post, c)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return m, nil
	}
	in := bson.A{}
	for _, t := range tags {
		in = append(in, bson.Binary{Data: t})
	}
	// MongoDB runs {$pull: {__safeContent__: {$in: tags}}}; FerretDB's $pull takes no
	// condition, and $pullAll removes the same values.
	pull := bson.D{{Key: "$pullAll", Value: bson.D{{Key: qerewrite.SafeContent, Value: in}}}}
	if _, err := c.s.command(c.db, bson.D{{Key: "update", Value: coll}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "u", Value: pull}}}}}); err != nil {
		return nil, err
	}
	docs, err = c.s.findAll(c.db, coll, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return nil, err
	}
	if len(docs) > 0 {
		m.post = docs[0]
	}
	return m, nil
}

// optionsOf returns the fields of d named in keys, in d's order.
func optionsOf(d bson.Raw, keys ...string) bson.D {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out bson.D
	elems, _ := d.Elements()
	for _, e := range elems {
		if want[e.Key()] {
			out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return out
}

// qeUpdate answers an update of an encrypted collection, one statement at a time.
func (s *session) qeUpdate(ctx context.Context, r *request, coll string, c *qeCrypto) (bson.Raw, error) {
	lk := s.layer.cat.lock(r.db + "." + c.schema.EscCollection)
	lk.Lock()
	defer lk.Unlock()
	arr, _ := r.cmd.Lookup("updates").ArrayOK()
	vals, _ := arr.Values()
	ordered := orderedOf(r.cmd)
	var n, nModified int32
	var werrs, upserted bson.A
	for i, v := range vals {
		st, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "BSON field 'update.updates' holds a %s, expected type 'object'", v.Type)
		}
		if multi, _ := st.Lookup("multi").BooleanOK(); multi {
			return nil, errorf(6371502, "Multi-document updates are not allowed with Queryable Encryption")
		}
		q, _ := st.Lookup("q").DocumentOK()
		if q == nil {
			q = rawDoc(bson.D{})
		}
		upsert, _ := st.Lookup("upsert").BooleanOK()
		m, err := c.modifyOne(ctx, coll, q, st.Lookup("u"), upsert, optionsOf(st, "arrayFilters", "collation", "hint", "sort"))
		if err != nil {
			e, ok := qeError(err).(*cmdError)
			if !ok {
				return nil, err
			}
			werrs = append(werrs, writeError(i, e))
			if ordered {
				break
			}
			continue
		}
		switch {
		case m.upserted.Type != 0:
			n++
			upserted = append(upserted, bson.D{{Key: "index", Value: int32(i)}, {Key: "_id", Value: m.upserted}})
		case m.pre != nil:
			n++
			if m.post != nil && !bytes.Equal(m.pre, m.post) {
				nModified++
			}
		}
	}
	return updateReply(n, nModified, upserted, werrs), nil
}

// qeFindAndModify answers a findAndModify of an encrypted collection.
func (s *session) qeFindAndModify(ctx context.Context, r *request, coll string, c *qeCrypto) (bson.Raw, error) {
	q, _ := r.cmd.Lookup("query").DocumentOK()
	if q == nil {
		q = rawDoc(bson.D{})
	}
	if rm, _ := r.cmd.Lookup("remove").BooleanOK(); rm {
		fq, err := c.schema.Filter(ctx, q, c)
		if err != nil {
			return nil, err
		}
		cmd := replaceDoc(without(r.cmd, withoutEI), "query", fq)
		return s.forward(r, cmd)
	}
	uv, err := r.cmd.LookupErr("update")
	if err != nil {
		return nil, errorf(codeFailedToParse, "Either an update or remove=true must be specified")
	}
	lk := s.layer.cat.lock(r.db + "." + c.schema.EscCollection)
	lk.Lock()
	defer lk.Unlock()
	upsert, _ := r.cmd.Lookup("upsert").BooleanOK()
	m, err := c.modifyOne(ctx, coll, q, uv, upsert, optionsOf(r.cmd, "sort", "arrayFilters", "collation", "hint"))
	if err != nil {
		return nil, err
	}
	newImage, _ := r.cmd.Lookup("new").BooleanOK()
	leo := bson.D{{Key: "n", Value: int32(0)}, {Key: "updatedExisting", Value: m.pre != nil}}
	if m.pre != nil || m.upserted.Type != 0 {
		leo[0].Value = int32(1)
	}
	if m.upserted.Type != 0 {
		leo = append(leo, bson.E{Key: "upserted", Value: m.upserted})
	}
	var value any
	switch {
	case newImage && m.post != nil:
		value = m.post
	case !newImage && m.pre != nil:
		value = m.pre
	}
	return rawDoc(bson.D{{Key: "lastErrorObject", Value: leo}, {Key: "value", Value: value}, {Key: "ok", Value: 1.0}}), nil
}
