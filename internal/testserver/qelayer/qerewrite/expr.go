package qerewrite

import (
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// The rewriting of aggregation expressions: $expr of a filter and
// $graphLookup's startWith (the aggregate rewrites of equality_predicate.cpp,
// range_predicate.cpp, text_search_predicate.cpp and
// QueryRewriter::_rewriteExprMatchExpression of query_rewriter.cpp).

// textOps are the text search operators and the argument holding the payload.
var textOps = map[string]string{
	"$encStrStartsWith":   "prefix",
	"$encStrEndsWith":     "suffix",
	"$encStrContains":     "substring",
	"$encStrNormalizedEq": "string",
}

// operands returns the arguments of an operator: the elements of an array, or
// the value itself.
func operands(v bsoncore.Value) []bsoncore.Value {
	if arr, ok := v.ArrayOK(); ok {
		vals, _ := arr.Values()
		return vals
	}
	return []bsoncore.Value{v}
}

// singleOp returns the operator and arguments of {op: args}.
func singleOp(v bsoncore.Value) (string, bsoncore.Value, bool) {
	d, ok := v.DocumentOK()
	if !ok {
		return "", bsoncore.Value{}, false
	}
	elems, err := d.Elements()
	if err != nil || len(elems) != 1 || !strings.HasPrefix(elems[0].Key(), "$") {
		return "", bsoncore.Value{}, false
	}
	return elems[0].Key(), elems[0].Value(), true
}

// fieldPathOf returns the path of a field path expression "$a.b" (not a
// variable "$$x").
func fieldPathOf(v bsoncore.Value) (string, bool) {
	s, ok := v.StringValueOK()
	if !ok || len(s) < 2 || s[0] != '$' || s[1] == '$' {
		return "", false
	}
	return s[1:], true
}

// constantOf returns the value of a constant that may be a payload: a binary,
// or {$literal: binary}.
func constantOf(v bsoncore.Value) (bsoncore.Value, bool) {
	if v.Type == bsoncore.TypeBinary {
		return v, true
	}
	if op, arg, ok := singleOp(v); ok && op == "$literal" && arg.Type == bsoncore.TypeBinary {
		return arg, true
	}
	return bsoncore.Value{}, false
}

// payloadConst returns the blob of a constant that is a client payload.
func payloadConst(v bsoncore.Value) (fleblob.Subtype, []byte, bool) {
	c, ok := constantOf(v)
	if !ok {
		return 0, nil, false
	}
	st, data, ok := blobOf(c)
	if !ok || !isClientPayload(st) {
		return 0, nil, false
	}
	return st, data, true
}

// exprClause rewrites {$expr: v} into a match expression: encrypted
// predicates, alone or under $and, $or and $not, are lifted to tag matches;
// the rest keeps the aggregation form.
func (r *rewriter) exprClause(v bsoncore.Value) (bsoncore.Document, error) {
	if d, ok, err := r.lift(v); err != nil || ok {
		return d, err
	}
	nv, err := r.aggRewrite(v)
	if err != nil {
		return nil, err
	}
	return elementDoc("$expr", nv), nil
}

// lift returns the match expression equal to {$expr: v} when v is an
// encrypted predicate or an $and/$or/$not over expressions holding one.
func (r *rewriter) lift(v bsoncore.Value) (bsoncore.Document, bool, error) {
	op, args, ok := singleOp(v)
	if !ok {
		return nil, false, nil
	}
	switch op {
	case "$and", "$or", "$not":
		var children []bsoncore.Document
		for _, child := range operands(args) {
			if !hasPayload(child) {
				children = append(children, elementDoc("$expr", child))
				continue
			}
			c, err := r.exprClause(child)
			if err != nil {
				return nil, false, err
			}
			if op == "$and" && len(c) == 5 {
				continue // always true (a range stub): drop it from the $and
			}
			children = append(children, c)
		}
		switch op {
		case "$and":
			if len(children) == 0 {
				return bsoncore.NewDocumentBuilder().Build(), true, nil
			}
			return arrayDoc("$and", children), true, nil
		case "$or":
			if len(children) == 0 {
				return nil, false, nil
			}
			return arrayDoc("$or", children), true, nil
		}
		if len(children) != 1 {
			return nil, false, newError(16020, "Expression $not takes exactly 1 arguments. %d were passed in.", len(children))
		}
		return nor(children[0]), true, nil
	}
	l, ok, err := r.exprLeaf(op, args)
	if err != nil || !ok {
		return nil, false, err
	}
	return l.match(), true, nil
}

// exprLeaf rewrites one encrypted predicate of an aggregation expression,
// {op: args}; ok is false when it is none.
func (r *rewriter) exprLeaf(op string, args bsoncore.Value) (*leaf, bool, error) {
	switch op {
	case "$eq", "$ne":
		ops := operands(args)
		if len(ops) != 2 {
			return nil, false, nil
		}
		_, _, p0 := payloadConst(ops[0])
		_, _, p1 := payloadConst(ops[1])
		if p0 && p1 {
			return nil, false, newError(6334100, "Cannot compare two encrypted constants to each other")
		}
		if !p0 && !p1 {
			return nil, false, nil
		}
		pi := 0
		if p1 {
			pi = 1
		}
		path, ok := fieldPathOf(ops[1-pi])
		if !ok {
			return nil, false, newError(6672413, "Queryable Encryption only supports comparisons between a field path and a constant")
		}
		st, data, _ := payloadConst(ops[pi])
		if st != fleblob.FLE2FindEqualityPayloadV2 && st != fleblob.FLE2FindEqualityPayload {
			return nil, false, errPayloadHere(path, op)
		}
		t, err := r.tags(path, st, data)
		if err != nil {
			return nil, false, err
		}
		return &leaf{tags: t, negate: op == "$ne"}, true, nil
	case "$in":
		ops := operands(args)
		if len(ops) != 2 {
			return nil, false, nil
		}
		arr, ok := ops[1].ArrayOK()
		if !ok {
			return nil, false, nil
		}
		vals, _ := arr.Values()
		n := 0
		for _, x := range vals {
			if _, _, ok := payloadConst(x); ok {
				n++
			}
		}
		if n == 0 {
			return nil, false, nil
		}
		if n != len(vals) {
			return nil, false, newError(6334102, "If any elements in an comparison expression are encrypted, then all elements should be encrypted.")
		}
		path, ok := fieldPathOf(ops[0])
		if !ok {
			return nil, false, newError(6672417, "$in is only supported with Queryable Encryption when the first argument is a field path")
		}
		var all [][]byte
		for _, x := range vals {
			st, data, _ := payloadConst(x)
			if st != fleblob.FLE2FindEqualityPayloadV2 && st != fleblob.FLE2FindEqualityPayload {
				return nil, false, errPayloadHere(path, op)
			}
			t, err := r.tags(path, st, data)
			if err != nil {
				return nil, false, err
			}
			all = append(all, t...)
		}
		return &leaf{tags: all}, true, nil
	case "$gt", "$gte", "$lt", "$lte":
		ops := operands(args)
		if len(ops) != 2 {
			return nil, false, nil
		}
		_, _, p0 := payloadConst(ops[0])
		_, _, p1 := payloadConst(ops[1])
		if !p0 && !p1 {
			return nil, false, nil
		}
		path, ok := fieldPathOf(ops[0])
		if !ok {
			return nil, false, newError(6720903, "first argument should be a fieldpath")
		}
		if !p1 {
			return nil, false, newError(6720904, "second argument should be a constant")
		}
		st, data, _ := payloadConst(ops[1])
		if st != fleblob.FLE2FindRangePayloadV2 && st != fleblob.FLE2FindRangePayload {
			return nil, false, errPayloadHere(path, op)
		}
		if st == fleblob.FLE2FindRangePayloadV2 {
			rf, err := parseRangeFind(data)
			if err != nil {
				return nil, false, err
			}
			if rf.stub {
				return &leaf{always: true}, true, nil
			}
		}
		t, err := r.tags(path, st, data)
		if err != nil {
			return nil, false, err
		}
		return &leaf{tags: t}, true, nil
	}
	arg, isText := textOps[op]
	if !isText {
		return nil, false, nil
	}
	d, ok := args.DocumentOK()
	if !ok {
		return nil, false, newError(CodeFailedToParse, "%s requires a document argument with 'input' and '%s'", op, arg)
	}
	in, err1 := d.LookupErr("input")
	pv, err2 := d.LookupErr(arg)
	if err1 != nil || err2 != nil {
		return nil, false, newError(CodeFailedToParse, "%s requires a document argument with 'input' and '%s'", op, arg)
	}
	path, ok := fieldPathOf(in)
	if !ok {
		return nil, false, newError(CodeBadValue, "%s requires 'input' to be a field path of a text search encrypted field", op)
	}
	st, data, ok := payloadConst(pv)
	if !ok || st != fleblob.FLE2FindTextPayload {
		return nil, false, newError(CodeBadValue, "%s on field '%s' requires '%s' to be a Queryable Encryption text search payload", op, path, arg)
	}
	t, err := r.tags(path, st, data)
	if err != nil {
		return nil, false, err
	}
	return &leaf{tags: t}, true, nil
}

// aggRewrite rewrites the encrypted predicates of an aggregation expression
// in the aggregation form: {$or: [{$in: [tag, "$__safeContent__"]}, ...]},
// negated with $not, or true for a stub.
func (r *rewriter) aggRewrite(v bsoncore.Value) (bsoncore.Value, error) {
	if !hasPayload(v) {
		return v, nil
	}
	if op, args, ok := singleOp(v); ok {
		if _, isText := textOps[op]; isText || op == "$eq" || op == "$ne" || op == "$in" || rangeOps[op] != 0 {
			l, ok, err := r.exprLeaf(op, args)
			if err != nil {
				return v, err
			}
			if ok {
				return l.agg(), nil
			}
		}
		if op == "$literal" {
			return v, nil
		}
	}
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		elems, _ := bsoncore.Document(v.Data).Elements()
		idx, out := bsoncore.AppendDocumentStart(nil)
		for _, e := range elems {
			nv, err := r.aggRewrite(e.Value())
			if err != nil {
				return v, err
			}
			out = bsoncore.AppendValueElement(out, e.Key(), nv)
		}
		out, _ = bsoncore.AppendDocumentEnd(out, idx)
		return bsoncore.Value{Type: v.Type, Data: out}, nil
	}
	return v, nil
}

// agg is the aggregation expression of l (makeTagDisjunction for expressions).
func (l *leaf) agg() bsoncore.Value {
	if l.always {
		return bsoncore.Value{Type: bsoncore.TypeBoolean, Data: []byte{1}}
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	aidx, out := bsoncore.AppendArrayElementStart(out, "$or")
	for i, t := range l.tags {
		iidx, o := bsoncore.AppendDocumentElementStart(out, strconv.Itoa(i))
		a2, o := bsoncore.AppendArrayElementStart(o, "$in")
		o = bsoncore.AppendBinaryElement(o, "0", 0, t)
		o = bsoncore.AppendStringElement(o, "1", "$"+SafeContent)
		o, _ = bsoncore.AppendArrayEnd(o, a2)
		out, _ = bsoncore.AppendDocumentEnd(o, iidx)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	if !l.negate {
		return docValue(out)
	}
	nidx, n := bsoncore.AppendDocumentStart(nil)
	naidx, n := bsoncore.AppendArrayElementStart(n, "$not")
	n = bsoncore.AppendDocumentElement(n, "0", out)
	n, _ = bsoncore.AppendArrayEnd(n, naidx)
	n, _ = bsoncore.AppendDocumentEnd(n, nidx)
	return docValue(n)
}
