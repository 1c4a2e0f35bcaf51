package analysis

import (
	"math"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// A filter is parsed into match nodes, the encrypted values are replaced by
// placeholders, and the result is serialized the way mongocryptd serializes its
// parsed MatchExpression: {a: 1} becomes {a: {$eq: 1}}, a document with several
// predicates becomes {$and: [...]}, $ne becomes {$not: {$eq: ...}}, $nin
// becomes {$not: {$in: [...]}}, $in values are sorted and de-duplicated.

// mnode is a parsed match expression node.
type mnode interface {
	// serialize returns the node as a one-predicate filter document.
	serialize() []byte
}

// logicalNode is $and / $or / $nor.
type logicalNode struct {
	op       string
	children []mnode
}

func (n *logicalNode) serialize() []byte {
	arr := newArray()
	for _, c := range n.children {
		arr.doc(c.serialize())
	}
	return newDoc().array(n.op, arr.build()).build()
}

// leafNode is {path: {op: value}}.
type leafNode struct {
	path string
	op   string
	val  bsoncore.Value
}

func (n *leafNode) operand() []byte { return newDoc().value(n.op, n.val).build() }

func (n *leafNode) serialize() []byte { return newDoc().doc(n.path, n.operand()).build() }

// inNode is {path: {$in: [values]}}.
type inNode struct {
	path string
	vals []bsoncore.Value
}

func (n *inNode) operand() []byte {
	arr := newArray()
	for _, v := range n.vals {
		arr.value(v)
	}
	return newDoc().array("$in", arr.build()).build()
}

func (n *inNode) serialize() []byte { return newDoc().doc(n.path, n.operand()).build() }

// regexNode is {path: {$regex: pattern [, $options: flags]}}.
type regexNode struct {
	path, pattern, options string
}

func (n *regexNode) operand() []byte {
	d := newDoc().str("$regex", n.pattern)
	if n.options != "" {
		d.str("$options", n.options)
	}
	return d.build()
}

func (n *regexNode) serialize() []byte { return newDoc().doc(n.path, n.operand()).build() }

// operandNode is a path predicate that can sit under $not.
type operandNode interface {
	mnode
	operand() []byte
}

// notNode is {path: {$not: operand}}.
type notNode struct {
	path  string
	inner operandNode
}

func (n *notNode) serialize() []byte {
	return newDoc().doc(n.path, newDoc().doc("$not", n.inner.operand()).build()).build()
}

// rawNode is a predicate kept as written: {key: value}.
type rawNode struct {
	key string
	val bsoncore.Value
}

func (n *rawNode) serialize() []byte { return newDoc().value(n.key, n.val).build() }

// rangeNode is a range predicate on a QE range field, before pairing.
type rangeNode struct {
	path  string
	op    int32 // rangeOpGt...
	val   bsoncore.Value
	field *encField
	out   bsoncore.Value // placeholder, set by pairRanges
}

func (n *rangeNode) serialize() []byte {
	return newDoc().doc(n.path, newDoc().value(rangeOpName(n.op), n.out).build()).build()
}

func rangeOpName(op int32) string {
	switch op {
	case rangeOpGt:
		return "$gt"
	case rangeOpGte:
		return "$gte"
	case rangeOpLt:
		return "$lt"
	}
	return "$lte"
}

// serializeChildren serializes the children of an implicit $and (a filter
// document): one child stands alone, several are wrapped in $and.
func serializeChildren(children []mnode) []byte {
	switch len(children) {
	case 0:
		return newDoc().build()
	case 1:
		return children[0].serialize()
	}
	return (&logicalNode{op: "$and", children: children}).serialize()
}

// matcher analyzes filters against one namespace schema.
type matcher struct {
	a      *analyzer
	schema *node
	vars   vars // the variables $expr may use
}

// filter analyzes a filter document and returns it re-serialized with placeholders.
func (m *matcher) filter(doc []byte) ([]byte, error) {
	children, err := m.parseDoc(doc, 0)
	if err != nil {
		return nil, err
	}
	m.pairRanges(children)
	return serializeChildren(children), nil
}

// parseDoc parses a filter document into the children of an implicit $and.
func (m *matcher) parseDoc(doc []byte, depth int) ([]mnode, error) {
	if depth > maxDepth {
		return nil, cmdErr("filter nested too deeply")
	}
	var out []mnode
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		if strings.HasPrefix(k, "$") {
			n, err := m.parseTopOperator(k, v, depth)
			if err != nil {
				return nil, err
			}
			if n != nil {
				out = append(out, n)
			}
			continue
		}
		nodes, err := m.parsePath(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

func (m *matcher) parseTopOperator(k string, v bsoncore.Value, depth int) (mnode, error) {
	switch k {
	case "$and", "$or", "$nor":
		if v.Type != bsoncore.TypeArray {
			return nil, cmdErr("%s must be an array", k)
		}
		ln := &logicalNode{op: k}
		for _, e := range elements(v.Data) {
			ev := e.Value()
			if ev.Type != bsoncore.TypeEmbeddedDocument {
				return nil, cmdErr("%s entries must be objects", k)
			}
			children, err := m.parseDoc(ev.Data, depth+1)
			if err != nil {
				return nil, err
			}
			if k != "$and" || len(children) != 1 {
				// The element is an implicit $and of its own.
				m.pairRanges(children)
			}
			if len(children) == 1 {
				ln.children = append(ln.children, children[0])
			} else {
				ln.children = append(ln.children, &logicalNode{op: "$and", children: children})
			}
		}
		if k == "$and" {
			// Range bounds given as separate $and entries pair up, as in the
			// {$and: [{f: {$gt: a}}, {f: {$lt: b}}]} form drivers send.
			m.pairRanges(ln.children)
		}
		return ln, nil
	case "$expr":
		nv, _, err := (&exprCtx{a: m.a, cur: m.schema, vars: m.vars}).expr(v, depth+1)
		if err != nil {
			return nil, err
		}
		return &rawNode{key: k, val: nv}, nil
	case "$comment":
		return nil, nil
	case "$where", "$text":
		if m.schema.hasEncAnywhere() {
			return nil, &Error{Reason: "Unsupported match expression operator for encryption: " + k}
		}
		return &rawNode{key: k, val: v}, nil
	}
	if k == "$jsonSchema" && m.schema.hasEncAnywhere() {
		if v.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("$jsonSchema must be an object")
		}
		if err := checkQuerySchema(m.schema, v.Data, "", 0); err != nil {
			return nil, err
		}
		return &rawNode{key: k, val: v}, nil
	}
	if !topOperators[k] {
		return nil, &Error{Reason: "Unsupported match expression operator for encryption: " + k}
	}
	if m.schema.hasEncAnywhere() && k != "$alwaysTrue" && k != "$alwaysFalse" && k != "$sampleRate" {
		return nil, &Error{Reason: "Unsupported match expression operator for encryption: " + k}
	}
	return &rawNode{key: k, val: v}, nil
}

// pathOperators are the match operators on a path that parsePath passes to
// otherOperator: refused on encrypted data, kept on plain data (the path
// holds nothing encrypted at or below it).
var pathOperators = setOf("$elemMatch", "$all", "$size", "$type", "$mod", "$bitsAllSet",
	"$bitsAllClear", "$bitsAnySet", "$bitsAnyClear", "$geoWithin", "$geoIntersects", "$near",
	"$nearSphere", "$within", "$maxDistance", "$minDistance", "$geometry", "$box", "$center",
	"$centerSphere", "$polygon", "$uniqueDocs")

// valueOperators compare with a value: their arguments are literals.
var valueOperators = setOf("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists",
	"$regex", "$options", "$comment")

// checkKnownOperators refuses an unknown operator anywhere in a filter kept as
// written (the body of $elemMatch on a plain path): query analysis refuses
// what it does not know even where no encrypted data is in reach.
func checkKnownOperators(v bsoncore.Value, depth int) error {
	if depth > maxDepth {
		return cmdErr("filter nested too deeply")
	}
	switch v.Type {
	case bsoncore.TypeArray:
		for _, e := range elements(v.Data) {
			if err := checkKnownOperators(e.Value(), depth+1); err != nil {
				return err
			}
		}
	case bsoncore.TypeEmbeddedDocument:
		for _, e := range elements(v.Data) {
			k := e.Key()
			switch {
			case valueOperators[k] || (pathOperators[k] && k != "$elemMatch"):
				continue
			case k == "$and" || k == "$or" || k == "$nor" || k == "$not" || k == "$elemMatch" || !strings.HasPrefix(k, "$"):
				if err := checkKnownOperators(e.Value(), depth+1); err != nil {
					return err
				}
			default:
				return &Error{Reason: "Unknown match expression operator " + k + " inside $elemMatch: query analysis refuses operators it does not know"}
			}
		}
	}
	return nil
}

// topOperators are the top-level match operators kept as written on data
// without encrypted fields.
var topOperators = setOf("$where", "$text", "$jsonSchema", "$alwaysTrue", "$alwaysFalse", "$sampleRate")

func (n *node) hasEncAnywhere() bool { return n != nil && n.hasEnc }

// isOperatorDoc reports whether v is a document of query operators.
func isOperatorDoc(v bsoncore.Value) bool {
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return false
	}
	els := elements(v.Data)
	return len(els) > 0 && strings.HasPrefix(els[0].Key(), "$")
}

// parsePath parses {path: value}.
func (m *matcher) parsePath(path string, v bsoncore.Value) ([]mnode, error) {
	if !isOperatorDoc(v) {
		if v.Type == bsoncore.TypeRegex {
			p, o := v.Regex()
			return m.checkRegex(path, &regexNode{path: path, pattern: p, options: o})
		}
		n, err := m.equality(path, "$eq", v)
		if err != nil {
			return nil, err
		}
		return []mnode{n}, nil
	}
	var out []mnode
	els := elements(v.Data)
	var regexSeen bool
	for _, e := range els {
		op, ov := e.Key(), e.Value()
		switch op {
		case "$eq":
			n, err := m.equality(path, op, ov)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case "$ne":
			n, err := m.equality(path, "$eq", ov)
			if err != nil {
				return nil, err
			}
			on, ok := n.(operandNode)
			if !ok {
				return nil, refusef(path, "$ne on a range-indexed encrypted field is not supported")
			}
			out = append(out, &notNode{path: path, inner: on})
		case "$in", "$nin":
			if n, ok, err := m.rangeIn(path, op, ov); ok || err != nil {
				if err != nil {
					return nil, err
				}
				out = append(out, n)
				continue
			}
			n, err := m.in(path, ov)
			if err != nil {
				return nil, err
			}
			if op == "$nin" {
				out = append(out, &notNode{path: path, inner: n})
			} else {
				out = append(out, n)
			}
		case "$gt", "$gte", "$lt", "$lte":
			n, err := m.comparison(path, op, ov)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case "$exists":
			out = append(out, &leafNode{path: path, op: op, val: ov})
		case "$regex", "$options":
			if regexSeen {
				continue
			}
			regexSeen = true
			rn, err := regexFromOperators(path, v.Data)
			if err != nil {
				return nil, err
			}
			nodes, err := m.checkRegex(path, rn)
			if err != nil {
				return nil, err
			}
			out = append(out, nodes...)
		case "$not":
			n, err := m.not(path, ov)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		default:
			if !pathOperators[op] {
				return nil, refusef(path, "Unknown match expression operator %s: query analysis refuses operators it does not know", op)
			}
			if err := m.otherOperator(path, op); err != nil {
				return nil, err
			}
			if op == "$elemMatch" {
				if err := checkKnownOperators(ov, 0); err != nil {
					return nil, err
				}
			}
			out = append(out, &rawNode{key: path, val: docValue(newDoc().value(op, ov).build())})
		}
	}
	return out, nil
}

func regexFromOperators(path string, doc []byte) (*regexNode, error) {
	rn := &regexNode{path: path}
	for _, e := range elements(doc) {
		v := e.Value()
		switch e.Key() {
		case "$regex":
			switch v.Type {
			case bsoncore.TypeString:
				rn.pattern = v.StringValue()
			case bsoncore.TypeRegex:
				p, o := v.Regex()
				rn.pattern = p
				if rn.options == "" {
					rn.options = o
				}
			default:
				return nil, cmdErr("$regex has to be a string")
			}
		case "$options":
			if v.Type != bsoncore.TypeString {
				return nil, cmdErr("$options has to be a string")
			}
			rn.options = v.StringValue()
		}
	}
	return rn, nil
}

// errInvalidOperator is mongocryptd's refusal of an operator on an encrypted field.
const errInvalidOperator = "Invalid match expression operator on encrypted field"

// errRandomQuery is mongocryptd's refusal of a query on a randomized field.
const errRandomQuery = "Cannot query on fields encrypted with the randomized encryption algorithm"

func (m *matcher) checkRegex(path string, rn *regexNode) ([]mnode, error) {
	if kind, _ := m.schema.resolve(path); kind != pathPlain {
		return nil, refusef(path, errInvalidOperator+" ($regex)")
	}
	return []mnode{rn}, nil
}

func (m *matcher) otherOperator(path, op string) error {
	kind, _ := m.schema.resolve(path)
	switch kind {
	case pathEncrypted, pathPrefix:
		if op == "$type" && kind == pathPrefix {
			return nil
		}
		return refusef(path, errInvalidOperator+" (%s)", op)
	case pathBelowCipher:
		return refusef(path, "Invalid operation on a path below an encrypted field (%s)", op)
	case pathUnknown:
		if op == "$type" {
			return nil
		}
		return refusef(path, errUnknownEncryption)
	}
	return nil
}

// equality handles $eq and implicit equality.
func (m *matcher) equality(path, op string, v bsoncore.Value) (mnode, error) {
	kind, f := m.schema.resolve(path)
	switch kind {
	case pathPlain:
		return &leafNode{path: path, op: op, val: v}, nil
	case pathBelowCipher:
		return nil, refusef(path, "Invalid operation on a path below an encrypted field")
	case pathPrefix:
		if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeArray {
			return nil, refusef(path, "Cannot compare to an object or array that contains encrypted fields")
		}
		return &leafNode{path: path, op: op, val: v}, nil
	case pathUnknown:
		return nil, refusef(path, errUnknownEncryption)
	}
	if v.Type == bsoncore.TypeNull {
		return nil, refusef(path, "Illegal equality to null predicate for encrypted field")
	}
	if isEncryptedBinary(v) {
		return &leafNode{path: path, op: op, val: v}, nil
	}
	if f.qe != nil && f.qe.rng != nil && !f.qe.equality {
		// Equality on a range field is a closed range [v, v].
		v, err := rangeValue(f, v)
		if err != nil {
			return nil, err
		}
		lo := &rangeNode{path: path, op: rangeOpGte, val: v, field: f}
		hi := &rangeNode{path: path, op: rangeOpLte, val: v, field: f}
		ph1, ph2 := rangeFindPlaceholders(f.qe, rangeBound{set: true, value: v, included: true},
			rangeBound{set: true, value: v, included: true}, rangeOpGte, rangeOpLte, m.a.nextPayloadID())
		lo.out, hi.out = ph1, ph2
		m.a.placeholders = true
		return &logicalNode{op: "$and", children: []mnode{lo, hi}}, nil
	}
	p, err := m.a.queryValue(f, v)
	if err != nil {
		return nil, err
	}
	return &leafNode{path: path, op: op, val: p}, nil
}

// rangeIn handles $in and $nin on a range-indexed field (ok true): each value becomes an
// equality, the closed range [v, v] of two range find payloads, and the list their $or ($nor
// for $nin), as MongoDB's query analysis turns a disjunction of equalities on a range field.
// An encrypted value or a regex stays refused by in.
func (m *matcher) rangeIn(path, op string, v bsoncore.Value) (mnode, bool, error) {
	kind, f := m.schema.resolve(path)
	if kind != pathEncrypted || f.qe == nil || f.qe.rng == nil || f.qe.equality || v.Type != bsoncore.TypeArray {
		return nil, false, nil
	}
	var children []mnode
	for _, e := range elements(v.Data) {
		ev := e.Value()
		switch {
		case ev.Type == bsoncore.TypeNull:
			return nil, true, refusef(path, "Illegal equality to null inside %s against an encrypted field", op)
		case ev.Type == bsoncore.TypeRegex:
			return nil, true, refusef(path, errInvalidOperator+" (regex inside %s)", op)
		case isEncryptedBinary(ev):
			return nil, true, refusef(path, "an encrypted value inside %s on a range-indexed encrypted field is not supported", op)
		}
		n, err := m.equality(path, "$eq", ev)
		if err != nil {
			return nil, true, err
		}
		children = append(children, n)
	}
	switch {
	case op == "$in" && len(children) == 0:
		// Matches nothing, as {$in: []} does.
		return &leafNode{path: path, op: "$in", val: bsoncore.Value{Type: bsoncore.TypeArray, Data: newArray().build()}}, true, nil
	case op == "$nin" && len(children) == 0:
		return &leafNode{path: path, op: "$nin", val: bsoncore.Value{Type: bsoncore.TypeArray, Data: newArray().build()}}, true, nil
	case op == "$in" && len(children) == 1:
		return children[0], true, nil
	case op == "$in":
		return &logicalNode{op: "$or", children: children}, true, nil
	}
	return &logicalNode{op: "$nor", children: children}, true, nil
}

func (m *matcher) in(path string, v bsoncore.Value) (*inNode, error) {
	if v.Type != bsoncore.TypeArray {
		return nil, refusef(path, "$in needs an array")
	}
	kind, f := m.schema.resolve(path)
	n := &inNode{path: path}
	for _, e := range elements(v.Data) {
		ev := e.Value()
		switch kind {
		case pathBelowCipher:
			return nil, refusef(path, "Invalid operation on a path below an encrypted field")
		case pathUnknown:
			return nil, refusef(path, errUnknownEncryption)
		case pathPrefix:
			if ev.Type == bsoncore.TypeEmbeddedDocument || ev.Type == bsoncore.TypeArray {
				return nil, refusef(path, "Cannot compare to an object or array that contains encrypted fields")
			}
		case pathEncrypted:
			if ev.Type == bsoncore.TypeNull {
				return nil, refusef(path, "Illegal equality to null inside $in against an encrypted field")
			}
			if ev.Type == bsoncore.TypeRegex {
				return nil, refusef(path, errInvalidOperator+" (regex inside $in)")
			}
			if f.qe != nil && f.qe.rng != nil && !f.qe.equality {
				return nil, refusef(path, "$in on a range-indexed encrypted field is not supported")
			}
			if !isEncryptedBinary(ev) {
				p, err := m.a.queryValue(f, ev)
				if err != nil {
					return nil, err
				}
				ev = p
			}
		}
		n.vals = append(n.vals, ev)
	}
	n.vals = sortUnique(n.vals)
	return n, nil
}

// sortUnique sorts values in BSON order and removes duplicates, as the server's
// $in does.
func sortUnique(vals []bsoncore.Value) []bsoncore.Value {
	sort.SliceStable(vals, func(i, j int) bool { return compareValues(vals[i], vals[j], 0) < 0 })
	out := vals[:0]
	for i, v := range vals {
		if i > 0 && compareValues(vals[i-1], v, 0) == 0 {
			continue
		}
		out = append(out, v)
	}
	return out
}

func (m *matcher) comparison(path, op string, v bsoncore.Value) (mnode, error) {
	kind, f := m.schema.resolve(path)
	switch kind {
	case pathPlain:
		return &leafNode{path: path, op: op, val: v}, nil
	case pathBelowCipher:
		return nil, refusef(path, "Invalid operation on a path below an encrypted field (%s)", op)
	case pathPrefix:
		return nil, refusef(path, errInvalidOperator+" (%s)", op)
	case pathUnknown:
		return nil, refusef(path, errUnknownEncryption)
	}
	if f.fle1 != nil {
		if f.fle1.algorithm == fle1Random {
			return nil, refusef(path, errRandomQuery)
		}
		return nil, refusef(path, errInvalidOperator+" (%s)", op)
	}
	if f.qe.rng == nil {
		return nil, refusef(path, errInvalidOperator+" (%s on a field without range queries)", op)
	}
	v, err := rangeValue(f, v)
	if err != nil {
		return nil, err
	}
	code := map[string]int32{"$gt": rangeOpGt, "$gte": rangeOpGte, "$lt": rangeOpLt, "$lte": rangeOpLte}[op]
	return &rangeNode{path: path, op: code, val: v, field: f}, nil
}

// rangeValue checks a bound of a range query against the type of the range
// field, as mongocryptd does: a date only meets a date, other values must be
// numbers, and an int or long bound is converted to the field's type (int or
// long); no conversion involves a double or a decimal.
func rangeValue(f *encField, v bsoncore.Value) (bsoncore.Value, error) {
	field, value := f.qe.bsonType, typeName(v.Type)
	switch {
	case value == field:
		return v, nil
	case value == "date" || field == "date":
		return v, refusef(f.path, "If the value type is a date, the type of the index must also be date (and vice versa). The field is of type %s, the value of type %s", field, value)
	case v.Type != bsoncore.TypeInt32 && v.Type != bsoncore.TypeInt64 && v.Type != bsoncore.TypeDouble && v.Type != bsoncore.TypeDecimal128:
		return v, refusef(f.path, "type %s type isn't supported for the range encrypted index.", value)
	case value == "double" || value == "decimal" || field == "double" || field == "decimal":
		return v, refusef(f.path, "If the value type and the field type are not the same type and one or both of them is a double or a decimal, coercion of the value to field type is not supported, due to possible loss of precision. The field is of type %s, the value of type %s", field, value)
	case field == "long": // the value is an int
		return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, int64(v.Int32()))}, nil
	}
	// An int field and a long value.
	l := v.Int64()
	if l < math.MinInt32 || l > math.MaxInt32 {
		return v, refusef(f.path, "Can't coerce out of range value to int: the long bound does not fit the int field")
	}
	return bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, int32(l))}, nil
}

// pairRanges turns the range predicates of one implicit $and into
// placeholders: on each path, the first lower bound and the first upper bound
// form one two-sided query; any other bound is one-sided.
func (m *matcher) pairRanges(nodes []mnode) {
	used := map[*rangeNode]bool{}
	for i, n := range nodes {
		r, ok := n.(*rangeNode)
		if !ok || used[r] || r.out.Type != 0 {
			continue
		}
		used[r] = true
		var partner *rangeNode
		for _, n2 := range nodes[i+1:] {
			r2, ok := n2.(*rangeNode)
			if !ok || used[r2] || r2.out.Type != 0 || r2.path != r.path || isLower(r2.op) == isLower(r.op) {
				continue
			}
			partner = r2
			break
		}
		var lower, upper rangeBound
		set := func(x *rangeNode) {
			b := rangeBound{set: true, value: x.val, included: x.op == rangeOpGte || x.op == rangeOpLte}
			if isLower(x.op) {
				lower = b
			} else {
				upper = b
			}
		}
		set(r)
		second := int32(0)
		if partner != nil {
			used[partner] = true
			set(partner)
			second = partner.op
		}
		p1, p2 := rangeFindPlaceholders(r.field.qe, lower, upper, r.op, second, m.a.nextPayloadID())
		r.out = p1
		if partner != nil {
			partner.out = p2
		}
		m.a.placeholders = true
	}
}

func isLower(op int32) bool { return op == rangeOpGt || op == rangeOpGte }

// not parses {path: {$not: operand}}.
func (m *matcher) not(path string, v bsoncore.Value) (mnode, error) {
	if v.Type == bsoncore.TypeRegex {
		p, o := v.Regex()
		if _, err := m.checkRegex(path, &regexNode{path: path, pattern: p, options: o}); err != nil {
			return nil, err
		}
		return &notNode{path: path, inner: &regexNode{path: path, pattern: p, options: o}}, nil
	}
	if v.Type != bsoncore.TypeEmbeddedDocument || !isOperatorDoc(v) {
		return nil, cmdErr("$not needs a regex or a document of operators")
	}
	nodes, err := m.parsePath(path, v)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 1 {
		if on, ok := nodes[0].(operandNode); ok {
			return &notNode{path: path, inner: on}, nil
		}
		if _, ok := nodes[0].(*rangeNode); ok {
			return nil, refusef(path, "$not of a range predicate on an encrypted field is not supported")
		}
	}
	for _, n := range nodes {
		if _, ok := n.(*rangeNode); ok {
			return nil, refusef(path, "$not of a range predicate on an encrypted field is not supported")
		}
	}
	// Several operators under $not: keep the operand as written (it held no
	// encrypted value, or parsePath would have refused or replaced it).
	if kind, _ := m.schema.resolve(path); kind != pathPlain {
		return nil, refusef(path, errInvalidOperator+" ($not with several operators)")
	}
	return &rawNode{key: path, val: docValue(newDoc().value("$not", v).build())}, nil
}
