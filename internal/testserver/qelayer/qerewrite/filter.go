package qerewrite

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// rewriter holds what one rewriting needs.
type rewriter struct {
	s   *Schema
	ctx context.Context
	c   Crypto
}

// Filter rewrites a query filter; every find payload becomes a tag match
// {__safeContent__: {$in: [tags]}} (QueryRewriter::rewriteMatchExpression).
// Range payloads are validated first (validateRanges of range_validator.cpp).
// A filter with no payload is returned unchanged. A payload where none is
// allowed, or an operator the server refuses on an encrypted field, is an
// error.
func (s *Schema) Filter(ctx context.Context, filter bson.Raw, c Crypto) (bson.Raw, error) {
	d := bsoncore.Document(filter)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "filter is not valid BSON")
	}
	if !hasPayload(docValue(d)) {
		return filter, nil
	}
	r := &rewriter{s: s, ctx: ctx, c: c}
	out, err := r.filter(d)
	if err != nil {
		return nil, err
	}
	return bson.Raw(out), nil
}

// filter validates the ranges of d and rewrites it.
func (r *rewriter) filter(d bsoncore.Document) (bsoncore.Document, error) {
	if err := validateRanges(d); err != nil {
		return nil, err
	}
	out, _, err := r.filterDoc(d)
	if err != nil {
		return nil, err
	}
	if hasPayload(docValue(out)) {
		return nil, errPayloadHere("", "")
	}
	return out, nil
}

func docValue(d bsoncore.Document) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: d}
}

// errPayloadHere is the error of a client payload at a place no rewriting
// takes it: the server would compare the blob as a constant.
func errPayloadHere(path, op string) *Error {
	switch {
	case path == "" && op == "":
		return newError(CodeBadValue, "Queryable Encryption payloads may only be compared to an encrypted field with $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte or in $expr with $eq, $ne, $in, $gt, $gte, $lt, $lte and the $encStr operators")
	case op == "":
		return newError(CodeBadValue, "Queryable Encryption payload for field '%s' is not under an operator that supports it", path)
	}
	return newError(CodeBadValue, "Queryable Encryption payload for field '%s' is not supported under %s", path, op)
}

// filterDoc rewrites one match expression document. It returns d itself when
// nothing changed.
func (r *rewriter) filterDoc(d bsoncore.Document) (bsoncore.Document, bool, error) {
	elems, err := d.Elements()
	if err != nil {
		return nil, false, newError(CodeFailedToParse, "filter is not valid BSON")
	}
	var cls []bsoncore.Document
	changed := false
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		switch {
		case key == "$and" || key == "$or" || key == "$nor":
			arr, ok := v.ArrayOK()
			if !ok || !hasPayload(v) {
				cls = append(cls, elementDoc(key, v))
				continue
			}
			vals, _ := arr.Values()
			children := make([]bsoncore.Document, 0, len(vals))
			for _, cv := range vals {
				cd, ok := cv.DocumentOK()
				if !ok {
					return nil, false, newError(CodeBadValue, "%s/$or/$nor entries need to be full objects", key)
				}
				nd, _, err := r.filterDoc(cd)
				if err != nil {
					return nil, false, err
				}
				if key == "$and" && len(nd) == 5 {
					continue // always true (a range stub): drop it from the $and
				}
				children = append(children, nd)
			}
			if len(children) == 0 {
				continue // an $and of always true
			}
			cls = append(cls, arrayDoc(key, children))
			changed = true
		case key == "$expr":
			if !hasPayload(v) {
				cls = append(cls, elementDoc(key, v))
				continue
			}
			c, err := r.exprClause(v)
			if err != nil {
				return nil, false, err
			}
			cls = append(cls, c)
			changed = true
		case strings.HasPrefix(key, "$"):
			if hasPayload(v) {
				return nil, false, errPayloadHere("", "")
			}
			cls = append(cls, elementDoc(key, v))
		default:
			fc, ch, err := r.fieldPredicate(key, v)
			if err != nil {
				return nil, false, err
			}
			cls = append(cls, fc...)
			changed = changed || ch
		}
	}
	if !changed {
		return d, false, nil
	}
	return conjunction(cls), true, nil
}

// conjunction is the match expression of all clauses: one document when their
// keys differ, {$and: [...]} when not; empty clauses (always true) drop out.
func conjunction(cls []bsoncore.Document) bsoncore.Document {
	keys := map[string]bool{}
	merge := true
	kept := cls[:0:0]
	for _, c := range cls {
		elems, _ := c.Elements()
		if len(elems) == 0 {
			continue
		}
		kept = append(kept, c)
		for _, e := range elems {
			if keys[e.Key()] {
				merge = false
			}
			keys[e.Key()] = true
		}
	}
	if !merge {
		return arrayDoc("$and", kept)
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, c := range kept {
		out = append(out, c[4:len(c)-1]...)
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// elementDoc is {key: v}.
func elementDoc(key string, v bsoncore.Value) bsoncore.Document {
	return bsoncore.NewDocumentBuilder().AppendValue(key, v).Build()
}

// arrayDoc is {key: [docs...]}.
func arrayDoc(key string, docs []bsoncore.Document) bsoncore.Document {
	idx, out := bsoncore.AppendDocumentStart(nil)
	aidx, out := bsoncore.AppendArrayElementStart(out, key)
	for i, d := range docs {
		out = bsoncore.AppendDocumentElement(out, strconv.Itoa(i), d)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// tagClause is {__safeContent__: {$in: [tags as BinData 0]}}
// (makeTagDisjunction of encrypted_predicate.cpp).
func tagClause(tags [][]byte) bsoncore.Document {
	idx, out := bsoncore.AppendDocumentStart(nil)
	sidx, out := bsoncore.AppendDocumentElementStart(out, SafeContent)
	aidx, out := bsoncore.AppendArrayElementStart(out, "$in")
	for i, t := range tags {
		out = bsoncore.AppendBinaryElement(out, strconv.Itoa(i), 0, t)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	out, _ = bsoncore.AppendDocumentEnd(out, sidx)
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// nor is {$nor: [d]}, the negation of d.
func nor(d bsoncore.Document) bsoncore.Document { return arrayDoc("$nor", []bsoncore.Document{d}) }

// leaf is the result of one encrypted predicate: its tags, negated ($ne,
// $nin), or always true (the stub of a two-sided range).
type leaf struct {
	tags   [][]byte
	negate bool
	always bool
}

// match is the match expression of l.
func (l *leaf) match() bsoncore.Document {
	if l.always {
		return bsoncore.NewDocumentBuilder().Build()
	}
	c := tagClause(l.tags)
	if l.negate {
		return nor(c)
	}
	return c
}

// tags returns the tags of a find payload for the encrypted field at path,
// which must be a field of the kind the payload queries.
func (r *rewriter) tags(path string, st fleblob.Subtype, data []byte) ([][]byte, error) {
	switch st {
	case fleblob.FLE2FindEqualityPayload, fleblob.FLE2FindRangePayload, fleblob.FLE2InsertUpdatePayload:
		return nil, errDeprecated()
	}
	k, ok := findKind(st)
	if !ok {
		return nil, newError(CodeBadValue, "Queryable Encryption payload of type %d for field '%s' is not a find payload", int(st), path)
	}
	f := r.s.Field(path)
	if f == nil {
		return nil, newError(CodeBadValue, "Field '%s' is not an encrypted field of the collection but is compared to a Queryable Encryption payload", path)
	}
	if f.kind() != k {
		return nil, newError(CodeBadValue, "Field '%s' is a %s encrypted field but is compared to a %s find payload", path, f.kind(), k)
	}
	t, err := r.c.FindTags(r.ctx, f, bytes.Clone(data))
	if err != nil {
		return nil, asError(err, "find payload of field '"+path+"'")
	}
	return t, nil
}

// fieldPredicate rewrites {path: v}: the encrypted comparisons become
// clauses, the others stay under path in one clause.
func (r *rewriter) fieldPredicate(path string, v bsoncore.Value) ([]bsoncore.Document, bool, error) {
	if !hasPayload(v) {
		return []bsoncore.Document{elementDoc(path, v)}, false, nil
	}
	if st, data, ok := blobOf(v); ok {
		// {path: P} is {path: {$eq: P}}.
		l, err := r.matchLeaf(path, "$eq", st, data)
		if err != nil {
			return nil, false, err
		}
		return []bsoncore.Document{l.match()}, true, nil
	}
	ops, ok := v.DocumentOK()
	if !ok || !isOperatorDoc(ops) {
		return nil, false, errPayloadHere(path, "")
	}
	elems, _ := ops.Elements()
	var cls []bsoncore.Document
	rb := bsoncore.NewDocumentBuilder()
	residual := 0
	for _, e := range elems {
		op, ov := e.Key(), e.Value()
		if !hasPayload(ov) {
			rb.AppendValue(op, ov)
			residual++
			continue
		}
		switch op {
		case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte":
			st, data, ok := blobOf(ov)
			if !ok {
				return nil, false, errPayloadHere(path, op)
			}
			l, err := r.matchLeaf(path, op, st, data)
			if err != nil {
				return nil, false, err
			}
			cls = append(cls, l.match())
		case "$in", "$nin":
			l, err := r.matchIn(path, op, ov)
			if err != nil {
				return nil, false, err
			}
			cls = append(cls, l.match())
		case "$not":
			inner, _, err := r.fieldPredicate(path, ov)
			if err != nil {
				return nil, false, err
			}
			cls = append(cls, nor(conjunction(inner)))
		default:
			return nil, false, errPayloadHere(path, op)
		}
	}
	if residual > 0 {
		cls = append([]bsoncore.Document{elementDoc(path, docValue(rb.Build()))}, cls...)
	}
	return cls, true, nil
}

// isOperatorDoc reports whether a field's value is a document of operators
// (its first key starts with $).
func isOperatorDoc(d bsoncore.Document) bool {
	elems, err := d.Elements()
	return err == nil && len(elems) > 0 && strings.HasPrefix(elems[0].Key(), "$")
}

// matchLeaf rewrites {path: {op: P}} (EqualityPredicate and RangePredicate
// rewriteToTagDisjunction).
func (r *rewriter) matchLeaf(path, op string, st fleblob.Subtype, data []byte) (*leaf, error) {
	if !isClientPayload(st) {
		return nil, errPayloadHere(path, op)
	}
	switch op {
	case "$eq", "$ne":
		if st != fleblob.FLE2FindEqualityPayloadV2 && st != fleblob.FLE2FindEqualityPayload {
			return nil, errPayloadHere(path, op)
		}
		t, err := r.tags(path, st, data)
		if err != nil {
			return nil, err
		}
		return &leaf{tags: t, negate: op == "$ne"}, nil
	}
	// $gt, $gte, $lt, $lte
	if st != fleblob.FLE2FindRangePayloadV2 && st != fleblob.FLE2FindRangePayload {
		return nil, errPayloadHere(path, op)
	}
	if st == fleblob.FLE2FindRangePayloadV2 {
		rf, err := parseRangeFind(data)
		if err != nil {
			return nil, err
		}
		if rf.stub {
			return &leaf{always: true}, nil
		}
	}
	t, err := r.tags(path, st, data)
	if err != nil {
		return nil, err
	}
	return &leaf{tags: t}, nil
}

// matchIn rewrites {path: {$in|$nin: [P, ...]}}: every element must be a
// payload (6329400) and the tags are their union.
func (r *rewriter) matchIn(path, op string, v bsoncore.Value) (*leaf, error) {
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, errPayloadHere(path, op)
	}
	vals, _ := arr.Values()
	var all [][]byte
	for _, ev := range vals {
		st, data, ok := blobOf(ev)
		if !ok || !isClientPayload(st) {
			return nil, newError(6329400, "If any elements in a $in expression are encrypted, then all elements should be encrypted.")
		}
		if st != fleblob.FLE2FindEqualityPayloadV2 && st != fleblob.FLE2FindEqualityPayload {
			return nil, errPayloadHere(path, op)
		}
		t, err := r.tags(path, st, data)
		if err != nil {
			return nil, err
		}
		all = append(all, t...)
	}
	return &leaf{tags: all, negate: op == "$nin"}, nil
}
