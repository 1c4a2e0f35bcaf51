package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Aggregation expressions are analysed for what their value can hold: each
// expression gets the schema of its result (nil: plain data). A field path,
// $$ROOT, $$CURRENT, a variable, $getField or an object expression may copy
// encrypted data, and the schema of the copy goes along (an unknown node
// where it cannot be followed precisely). Every other operator computes a new
// value from its arguments: an argument that is or may hold encrypted data
// is refused, since the server would compare or combine a ciphertext with the
// other arguments, literals included. An operator query analysis does not
// know is refused.

// vars are the variables in scope and the schemas of their values.
type vars map[string]*node

// with returns a copy of v with name bound to n.
func (v vars) with(name string, n *node) vars {
	out := make(vars, len(v)+1)
	for k, x := range v {
		out[k] = x
	}
	out[name] = n
	return out
}

// systemVars hold no document data.
var systemVars = map[string]bool{
	"NOW": true, "CLUSTER_TIME": true, "REMOVE": true, "DESCEND": true, "PRUNE": true,
	"KEEP": true, "SEARCH_META": true, "USER_ROLES": true,
}

// exprCtx is the context of an expression: the schema of $$ROOT and
// $$CURRENT, and the variables.
type exprCtx struct {
	a    *analyzer
	cur  *node
	vars vars
}

func (x *exprCtx) withVar(name string, n *node) *exprCtx {
	return &exprCtx{a: x.a, cur: x.cur, vars: x.vars.with(name, n)}
}

// pathNode returns the schema of the value at a dotted path below n: nil when
// plain, unknownNode below an encrypted field (the server reads a ciphertext
// there, which query analysis cannot follow).
func pathNode(n *node, path string) *node {
	if path == "" {
		return n
	}
	cur := n
	for _, p := range strings.Split(path, ".") {
		switch {
		case cur == nil:
			return nil
		case cur.unknown:
			return cur
		case cur.enc != nil:
			return unknownNode
		}
		cur = cur.child(p)
	}
	return cur
}

// isReference reports whether v is a field path or a variable: a copy of
// data, with no value of its own.
func isReference(v bsoncore.Value) bool {
	return v.Type == bsoncore.TypeString && strings.HasPrefix(v.StringValue(), "$")
}

// plainExpr analyses an expression whose value the server compares or
// computes with (a bucket's groupBy, a limit, a fill value...): it may not be
// or hold encrypted data. what names it in the refusal.
func (x *exprCtx) plainExpr(v bsoncore.Value, depth int, what string) error {
	_, n, err := x.expr(v, depth+1)
	if err == nil && hasEncOf(n) {
		err = refuseEncryptedArg(what)
	}
	return err
}

// reference returns the schema of a field path ("$a.b") or variable ("$$v.a").
func (x *exprCtx) reference(s string) (*node, error) {
	if !strings.HasPrefix(s, "$$") {
		return pathNode(x.cur, s[1:]), nil
	}
	name, rest, _ := strings.Cut(s[2:], ".")
	switch {
	case name == "ROOT" || name == "CURRENT":
		return pathNode(x.cur, rest), nil
	case systemVars[name]:
		return nil, nil
	}
	n, ok := x.vars[name]
	if !ok {
		return nil, cmdErr("Use of undefined variable: %s (query analysis refuses variables it cannot follow)", name)
	}
	return pathNode(n, rest), nil
}

// refuseEncryptedArg is the refusal of an operator given encrypted data.
func refuseEncryptedArg(op string) error {
	return &Error{Reason: "Aggregation expression " + op + " on an encrypted field (or on data that holds or may hold one) is not supported"}
}

// refuseArg is refuseEncryptedArg naming the field path or variable at fault.
func refuseArg(op, culprit string) error {
	e := refuseEncryptedArg(op).(*Error)
	e.Field = strings.TrimLeft(culprit, "$")
	return e
}

// expr analyses an expression. It returns the expression (rewritten where the
// QE text search operators get placeholders) and the schema of its result.
func (x *exprCtx) expr(v bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	if depth > maxDepth {
		return v, nil, cmdErr("expression nested too deeply")
	}
	switch v.Type {
	case bsoncore.TypeString:
		if !strings.HasPrefix(v.StringValue(), "$") {
			return v, nil, nil
		}
		n, err := x.reference(v.StringValue())
		return v, n, err
	case bsoncore.TypeArray:
		arr := newArray()
		var out *node
		for _, e := range elements(v.Data) {
			nv, n, err := x.expr(e.Value(), depth+1)
			if err != nil {
				return v, nil, err
			}
			if hasEncOf(n) {
				out = unknownNode
			}
			arr.value(nv)
		}
		return arrayValue(arr.build()), out, nil
	case bsoncore.TypeEmbeddedDocument:
	default:
		return v, nil, nil
	}
	els := elements(v.Data)
	if len(els) == 0 {
		return v, nil, nil
	}
	if !strings.HasPrefix(els[0].Key(), "$") {
		// An object expression: each field is an expression.
		b := newDoc()
		obj := &node{props: map[string]*node{}}
		for _, e := range els {
			if strings.HasPrefix(e.Key(), "$") {
				return v, nil, cmdErr("an object expression cannot mix fields and operators ('%s')", e.Key())
			}
			nv, n, err := x.expr(e.Value(), depth+1)
			if err != nil {
				return v, nil, err
			}
			b.value(e.Key(), nv)
			if hasEncOf(n) {
				if strings.Contains(e.Key(), ".") {
					return v, nil, refusef(e.Key(), "an object expression field with a dot cannot hold encrypted data")
				}
				obj.props[e.Key()] = n
				obj.hasEnc = true
			}
		}
		if !obj.hasEnc {
			obj = nil
		}
		return docValue(b.build()), obj, nil
	}
	if len(els) != 1 {
		return v, nil, cmdErr("an expression specification must contain exactly one field, the name of the expression: found %d fields starting with '%s'", len(els), els[0].Key())
	}
	op, arg := els[0].Key(), els[0].Value()
	nv, n, err := x.operator(op, arg, depth)
	if err != nil {
		return v, nil, err
	}
	return docValue(newDoc().value(op, nv).build()), n, nil
}

func (x *exprCtx) operator(op string, arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	switch op {
	case "$literal", "$const":
		return arg, nil, nil
	case "$encStrStartsWith", "$encStrEndsWith", "$encStrContains", "$encStrNormalizedEq":
		nb, err := x.a.textOperator(x.cur, op, arg)
		return nb, nil, err
	case "$let":
		return x.let(arg, depth)
	case "$map", "$filter", "$reduce":
		return x.iterate(op, arg, depth)
	case "$getField":
		return x.getField(arg, depth)
	case "$mergeObjects":
		return x.mergeObjects(arg, depth)
	case "$objectToArray", "$arrayToObject":
		// A reshaped copy: the result may hold the encrypted values.
		nv, n, err := x.expr(arg, depth+1)
		if err != nil {
			return arg, nil, err
		}
		if hasEncOf(n) {
			if !isReference(arg) && !isReferenceArray(arg) {
				return arg, nil, refuseEncryptedArg(op)
			}
			n = unknownNode
		}
		return nv, n, nil
	case "$setField", "$unsetField":
		return x.setField(op, arg, depth)
	}
	if !expressionOperators[op] {
		return arg, nil, &Error{Reason: "Unsupported aggregation expression operator for encryption: " + op}
	}
	nv, culprit, anyEnc, err := x.argsCulprit(arg, depth)
	if err != nil {
		return arg, nil, err
	}
	if anyEnc {
		return arg, nil, refuseArg(op, culprit)
	}
	return nv, nil, nil
}

func isReferenceArray(v bsoncore.Value) bool {
	if v.Type != bsoncore.TypeArray {
		return false
	}
	els := elements(v.Data)
	return len(els) == 1 && isReference(els[0].Value())
}

// argsCulprit analyses the arguments of an operator (one expression, an
// array of them or a document of named ones), reports whether any may hold
// encrypted data and returns the first field path or variable argument that
// does.
func (x *exprCtx) argsCulprit(arg bsoncore.Value, depth int) (bsoncore.Value, string, bool, error) {
	culprit := ""
	note := func(v bsoncore.Value, n *node) {
		if hasEncOf(n) && culprit == "" && isReference(v) {
			culprit = v.StringValue()
		}
	}
	switch arg.Type {
	case bsoncore.TypeArray:
		arr := newArray()
		anyEnc := false
		for _, e := range elements(arg.Data) {
			nv, n, err := x.expr(e.Value(), depth+1)
			if err != nil {
				return arg, "", false, err
			}
			note(e.Value(), n)
			anyEnc = anyEnc || hasEncOf(n)
			arr.value(nv)
		}
		return arrayValue(arr.build()), culprit, anyEnc, nil
	case bsoncore.TypeEmbeddedDocument:
		els := elements(arg.Data)
		if len(els) > 0 && strings.HasPrefix(els[0].Key(), "$") {
			nv, n, err := x.expr(arg, depth+1)
			return nv, "", hasEncOf(n), err
		}
		// Named arguments ($dateToString {date, format}, $switch {branches,
		// default}, ...): each value is an expression.
		b := newDoc()
		anyEnc := false
		for _, e := range els {
			nv, n, err := x.expr(e.Value(), depth+1)
			if err != nil {
				return arg, "", false, err
			}
			note(e.Value(), n)
			anyEnc = anyEnc || hasEncOf(n)
			b.value(e.Key(), nv)
		}
		return docValue(b.build()), culprit, anyEnc, nil
	}
	nv, n, err := x.expr(arg, depth+1)
	note(arg, n)
	return nv, culprit, hasEncOf(n), err
}

// namedArgs checks that arg is a document of the given argument names.
func namedArgs(op string, arg bsoncore.Value, allowed ...string) (map[string]bsoncore.Value, error) {
	if arg.Type != bsoncore.TypeEmbeddedDocument {
		return nil, cmdErr("%s requires an object as an argument, found: %s", op, typeName(arg.Type))
	}
	out := map[string]bsoncore.Value{}
outer:
	for _, e := range elements(arg.Data) {
		for _, k := range allowed {
			if e.Key() == k {
				out[k] = e.Value()
				continue outer
			}
		}
		return nil, cmdErr("Unrecognized parameter to %s: %s", op, e.Key())
	}
	return out, nil
}

func (x *exprCtx) let(arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	a, err := namedArgs("$let", arg, "vars", "in")
	if err != nil {
		return arg, nil, err
	}
	vs, ok := a["vars"]
	in, ok2 := a["in"]
	if !ok || !ok2 || vs.Type != bsoncore.TypeEmbeddedDocument {
		return arg, nil, cmdErr("$let requires 'vars' (an object) and 'in'")
	}
	inner := &exprCtx{a: x.a, cur: x.cur, vars: x.vars}
	nvars := newDoc()
	for _, e := range elements(vs.Data) {
		nv, n, err := x.expr(e.Value(), depth+1)
		if err != nil {
			return arg, nil, err
		}
		nvars.value(e.Key(), nv)
		inner = inner.withVar(e.Key(), n)
	}
	nin, n, err := inner.expr(in, depth+1)
	if err != nil {
		return arg, nil, err
	}
	b := newDoc()
	for _, e := range elements(arg.Data) {
		if e.Key() == "vars" {
			b.doc("vars", nvars.build())
		} else {
			b.value("in", nin)
		}
	}
	return docValue(b.build()), n, nil
}

// iterate analyses $map, $filter and $reduce: the element variable holds the
// elements of the input; a result that may hold encrypted data is unknown.
func (x *exprCtx) iterate(op string, arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	names := map[string][]string{
		"$map":    {"input", "as", "in"},
		"$filter": {"input", "as", "cond", "limit"},
		"$reduce": {"input", "initialValue", "in"},
	}[op]
	a, err := namedArgs(op, arg, names...)
	if err != nil {
		return arg, nil, err
	}
	input, ok := a["input"]
	if !ok {
		return arg, nil, cmdErr("Missing 'input' parameter to %s", op)
	}
	_, in, err := x.expr(input, depth+1)
	if err != nil {
		return arg, nil, err
	}
	var elem *node
	if hasEncOf(in) {
		elem = unknownNode
	}
	inner := x
	result := elem
	switch op {
	case "$reduce":
		_, iv, err := x.expr(a["initialValue"], depth+1)
		if err != nil {
			return arg, nil, err
		}
		acc := elem
		if hasEncOf(iv) {
			acc = unknownNode
		}
		inner = x.withVar("this", elem).withVar("value", acc)
		result = acc
	default:
		name := "this"
		if as, ok := a["as"]; ok {
			if as.Type != bsoncore.TypeString {
				return arg, nil, cmdErr("%s 'as' must be a string", op)
			}
			name = as.StringValue()
		}
		inner = x.withVar(name, elem)
	}
	body := "in"
	if op == "$filter" {
		body = "cond"
		if l, ok := a["limit"]; ok {
			if err := x.plainExpr(l, depth, op); err != nil {
				return arg, nil, err
			}
		}
	}
	bv, ok := a[body]
	if !ok {
		return arg, nil, cmdErr("Missing '%s' parameter to %s", body, op)
	}
	nb, n, err := inner.expr(bv, depth+1)
	if err != nil {
		return arg, nil, err
	}
	if op != "$filter" && hasEncOf(n) {
		result = unknownNode
	}
	b := newDoc()
	for _, e := range elements(arg.Data) {
		if e.Key() == body {
			b.value(body, nb)
		} else {
			b.element(e)
		}
	}
	return docValue(b.build()), result, nil
}

// getField reads a field of its input ($$CURRENT when none): the result is
// the schema of that field. The field name is taken literally (a dot is part
// of the name).
func (x *exprCtx) getField(arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	field := arg
	input := x.cur
	if arg.Type == bsoncore.TypeEmbeddedDocument && !isOperatorDoc(arg) {
		a, err := namedArgs("$getField", arg, "field", "input")
		if err != nil {
			return arg, nil, err
		}
		f, ok := a["field"]
		if !ok {
			return arg, nil, cmdErr("$getField requires 'field' to be specified")
		}
		field = f
		if in, ok := a["input"]; ok {
			var err error
			if _, input, err = x.expr(in, depth+1); err != nil {
				return arg, nil, err
			}
		}
	}
	if field.Type == bsoncore.TypeEmbeddedDocument {
		if els := elements(field.Data); len(els) == 1 && (els[0].Key() == "$literal" || els[0].Key() == "$const") {
			field = els[0].Value()
		}
	}
	if field.Type != bsoncore.TypeString || strings.HasPrefix(field.StringValue(), "$") {
		if hasEncOf(input) {
			return arg, nil, refuseEncryptedArg("$getField with a computed field name")
		}
		if _, _, err := x.expr(field, depth+1); err != nil {
			return arg, nil, err
		}
		return arg, nil, nil
	}
	switch {
	case input == nil:
		return arg, nil, nil
	case input.unknown:
		return arg, input, nil
	case input.enc != nil:
		return arg, unknownNode, nil
	}
	return arg, input.child(field.StringValue()), nil
}

// mergeObjects merges documents: the result of merging data that may hold
// encrypted fields is unknown, and such data may only be merged with other
// references (a literal would take an encrypted field's place).
func (x *exprCtx) mergeObjects(arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	items := []bsoncore.Value{arg}
	if arg.Type == bsoncore.TypeArray {
		items = nil
		for _, e := range elements(arg.Data) {
			items = append(items, e.Value())
		}
	}
	anyEnc, allRefs := false, true
	for _, it := range items {
		_, n, err := x.expr(it, depth+1)
		if err != nil {
			return arg, nil, err
		}
		anyEnc = anyEnc || hasEncOf(n)
		if !isReference(it) {
			allRefs = false
		}
	}
	if !anyEnc {
		return arg, nil, nil
	}
	if !allRefs {
		return arg, nil, refuseEncryptedArg("$mergeObjects of data with encrypted fields and a value")
	}
	return arg, unknownNode, nil
}

func (x *exprCtx) setField(op string, arg bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	names := []string{"field", "input", "value"}
	if op == "$unsetField" {
		names = names[:2]
	}
	a, err := namedArgs(op, arg, names...)
	if err != nil {
		return arg, nil, err
	}
	var out *node
	for _, k := range names {
		v, ok := a[k]
		if !ok {
			continue
		}
		_, n, err := x.expr(v, depth+1)
		if err != nil {
			return arg, nil, err
		}
		if hasEncOf(n) {
			if k == "input" {
				return arg, nil, refuseEncryptedArg(op + " on a document with encrypted fields")
			}
			out = unknownNode
		}
	}
	return arg, out, nil
}

// expressionOperators are the aggregation expression operators whose
// arguments are all expressions and whose result is a new value.
var expressionOperators = setOf(
	// arithmetic
	"$abs", "$add", "$ceil", "$divide", "$exp", "$floor", "$ln", "$log", "$log10", "$mod",
	"$multiply", "$pow", "$round", "$sqrt", "$subtract", "$trunc",
	// array
	"$arrayElemAt", "$concatArrays", "$first", "$firstN", "$in", "$indexOfArray", "$isArray",
	"$last", "$lastN", "$maxN", "$minN", "$range", "$reverseArray", "$size", "$slice",
	"$sortArray", "$zip",
	// bitwise, boolean, comparison, conditional
	"$bitAnd", "$bitNot", "$bitOr", "$bitXor", "$and", "$not", "$or",
	"$cmp", "$eq", "$gt", "$gte", "$lt", "$lte", "$ne", "$cond", "$ifNull", "$switch",
	// custom, size
	"$function", "$binarySize", "$bsonSize",
	// date
	"$dateAdd", "$dateDiff", "$dateFromParts", "$dateFromString", "$dateSubtract", "$dateToParts",
	"$dateToString", "$dateTrunc", "$dayOfMonth", "$dayOfWeek", "$dayOfYear", "$hour",
	"$isoDayOfWeek", "$isoWeek", "$isoWeekYear", "$millisecond", "$minute", "$month", "$second",
	"$toDate", "$week", "$year",
	// misc
	"$rand", "$sampleRate", "$toHashedIndexKey", "$meta",
	// set
	"$allElementsTrue", "$anyElementTrue", "$setDifference", "$setEquals", "$setIntersection",
	"$setIsSubset", "$setUnion",
	// string
	"$concat", "$indexOfBytes", "$indexOfCP", "$ltrim", "$regexFind", "$regexFindAll",
	"$regexMatch", "$replaceOne", "$replaceAll", "$rtrim", "$split", "$strLenBytes", "$strLenCP",
	"$strcasecmp", "$substr", "$substrBytes", "$substrCP", "$toLower", "$toString", "$trim",
	"$toUpper",
	// timestamp, trigonometry
	"$tsIncrement", "$tsSecond", "$sin", "$cos", "$tan", "$asin", "$acos", "$atan", "$atan2",
	"$asinh", "$acosh", "$atanh", "$sinh", "$cosh", "$tanh", "$degreesToRadians", "$radiansToDegrees",
	// type
	"$convert", "$isNumber", "$toBool", "$toDecimal", "$toDouble", "$toInt", "$toLong",
	"$toObjectId", "$type", "$toUUID",
	// accumulators usable as expressions
	"$avg", "$max", "$min", "$sum", "$stdDevPop", "$stdDevSamp", "$median", "$percentile",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
