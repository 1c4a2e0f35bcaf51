package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// textOperators maps the QE text search aggregation operators to the operand
// field holding the searched string.
var textOperators = map[string]string{
	"$encStrStartsWith":   "prefix",
	"$encStrEndsWith":     "suffix",
	"$encStrContains":     "substring",
	"$encStrNormalizedEq": "string",
}

func (a *analyzer) textOperator(n *node, op string, body bsoncore.Value) (bsoncore.Value, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, cmdErr("%s needs a document {input, %s}", op, textOperators[op])
	}
	operand := textOperators[op]
	in, ok := lookup(body.Data, "input")
	if !ok || in.Type != bsoncore.TypeString || !strings.HasPrefix(in.StringValue(), "$") || strings.HasPrefix(in.StringValue(), "$$") {
		return body, cmdErr("%s needs 'input' to be a field path", op)
	}
	path := in.StringValue()[1:]
	kind, f := n.resolve(path)
	if kind != pathEncrypted || f.qe == nil || !f.qe.text() {
		return body, refusef(path, "%s requires a Queryable Encryption field with text search queries", op)
	}
	q := f.qe
	var prefix, suffix, substr *textIndex
	contention := q.textContention()
	switch operand {
	case "prefix":
		prefix = q.prefix
		if prefix == nil {
			return body, refusef(path, "%s requires a prefix text search index on the field", op)
		}
		contention = prefix.contention
	case "suffix":
		suffix = q.suffix
		if suffix == nil {
			return body, refusef(path, "%s requires a suffix text search index on the field", op)
		}
		contention = suffix.contention
	case "substring":
		substr = q.substr
		if substr == nil {
			return body, refusef(path, "%s requires a substring text search index on the field", op)
		}
		contention = substr.contention
	}
	b := newDoc()
	found := false
	for _, e := range elements(body.Data) {
		k, v := e.Key(), e.Value()
		if k != operand {
			b.element(e)
			continue
		}
		found = true
		if isEncryptedBinary(v) {
			b.element(e)
			continue
		}
		if v.Type != bsoncore.TypeString {
			return body, refusef(path, "%s needs '%s' to be a string, got %s", op, operand, typeName(v.Type))
		}
		a.placeholders = true
		b.value(k, fle2Placeholder(q, fle2Find, fle2Text, textSpec(q, v, prefix, suffix, substr), contention))
	}
	if !found {
		return body, cmdErr("%s needs '%s'", op, operand)
	}
	return docValue(b.build()), nil
}

// explain analyzes the command inside explain.
func (a *analyzer) explain(cmd []byte, ei []byte) ([]byte, error) {
	if a.requires {
		if err := checkCommandFields("explain", cmd); err != nil {
			return nil, err
		}
	}
	els := elements(cmd)
	inner := els[0].Value().Data
	innerName := elements(inner)[0].Key()
	body, err := a.analyzeBody(innerName, inner)
	if err != nil {
		return nil, err
	}
	if ei != nil {
		body = appendElement(body, "encryptionInformation", docValue(ei), innerName)
	}
	b := newDoc().doc("explain", body)
	_, hasVerbosity := lookup(cmd, "verbosity")
	if a.placeholders && !hasVerbosity {
		b.str("verbosity", "allPlansExecution")
	}
	for _, e := range els[1:] {
		if e.Key() == "$db" {
			continue
		}
		b.element(e)
	}
	return b.build(), nil
}

// bulkWrite analyzes the ops of a bulkWrite on its single namespace and
// appends encryptionInformation to nsInfo.0.
func (a *analyzer) bulkWrite(cmd []byte, ei []byte) ([]byte, error) {
	var s *nsSchema
	for _, x := range a.schemas {
		s = x
	}
	if s != nil && s.csfle && s.requiresEncryption() {
		return nil, cmdErr("bulkWrite does not support CSFLE (JSON schema) encryption; use Queryable Encryption")
	}
	root := rootOf(s)
	qe := s != nil && s.qe
	if a.requires {
		if err := checkCommandFields("bulkWrite", cmd); err != nil {
			return nil, err
		}
	}
	vs, err := a.letVars(cmd, "let")
	if err != nil {
		return nil, err
	}
	m := &matcher{a: a, schema: root, vars: vs}
	b := newDoc()
	for _, e := range elements(cmd) {
		switch e.Key() {
		case "$db":
		case "ops":
			v := e.Value()
			if err := checkBulkOps(v); err != nil {
				return nil, err
			}
			if !a.requires {
				b.element(e)
				continue
			}
			if v.Type != bsoncore.TypeArray {
				return nil, cmdErr("'ops' must be an array")
			}
			arr := newArray()
			for _, oe := range elements(v.Data) {
				ov := oe.Value()
				if ov.Type != bsoncore.TypeEmbeddedDocument || len(elements(ov.Data)) == 0 {
					return nil, cmdErr("each bulkWrite op must be a non-empty document")
				}
				op, err := a.bulkOp(m, root, ov.Data, qe)
				if err != nil {
					return nil, err
				}
				arr.doc(op)
			}
			b.array("ops", arr.build())
		case "nsInfo":
			entry := elements(e.Value().Data)[0].Value()
			nd := newDoc()
			for _, ne := range elements(entry.Data) {
				nd.element(ne)
			}
			if ei != nil {
				nd.doc("encryptionInformation", ei)
			}
			b.array("nsInfo", newArray().doc(nd.build()).build())
		default:
			b.element(e)
		}
	}
	return b.build(), nil
}

// checkBulkOps refuses what mongocryptd refuses in any bulkWrite it
// analyzes: an update or delete next to other operations.
func checkBulkOps(v bsoncore.Value) error {
	if v.Type != bsoncore.TypeArray {
		return cmdErr("'ops' must be an array")
	}
	ops := elements(v.Data)
	if len(ops) < 2 {
		return nil
	}
	for _, oe := range ops {
		ov := oe.Value()
		if ov.Type != bsoncore.TypeEmbeddedDocument {
			return cmdErr("each bulkWrite op must be a non-empty document")
		}
		if els := elements(ov.Data); len(els) > 0 && els[0].Key() != "insert" {
			return cmdErr("Only insert is supported in BulkWrite with multiple operations and Queryable Encryption.")
		}
	}
	return nil
}

func (a *analyzer) bulkOp(m *matcher, root *node, op []byte, qe bool) ([]byte, error) {
	els := elements(op)
	kind := els[0].Key()
	table, ok := bulkOpFields[kind]
	if !ok {
		return nil, refusef(kind, "Unsupported bulkWrite operation for encryption")
	}
	if err := checkFields("a bulkWrite "+kind+" operation", op, table); err != nil {
		return nil, err
	}
	if af, ok := lookup(op, "arrayFilters"); ok {
		u, _ := lookup(op, "updateMods")
		if err := checkArrayFilters(root, u, af); err != nil {
			return nil, err
		}
	}
	if so, ok := lookup(op, "sort"); ok {
		if err := checkSort(root, so); err != nil {
			return nil, err
		}
	}
	b := newDoc()
	for _, e := range els {
		k, v := e.Key(), e.Value()
		switch {
		case kind == "insert" && k == "document":
			if v.Type != bsoncore.TypeEmbeddedDocument {
				return nil, cmdErr("bulkWrite insert 'document' must be an object")
			}
			if err := checkGeneratedID(root, v.Data); err != nil {
				return nil, err
			}
			d, err := a.markDocument(root, v.Data, qe)
			if err != nil {
				return nil, err
			}
			b.doc(k, d)
		case (kind == "update" || kind == "delete") && k == "filter":
			nv, _, err := a.filterValue(m, k, v)
			if err != nil {
				return nil, err
			}
			b.value(k, nv)
		case kind == "update" && k == "updateMods":
			nv, err := a.updateSpec(root, v, qe)
			if err != nil {
				return nil, err
			}
			b.value(k, nv)
		default:
			b.element(e)
		}
	}
	return b.build(), nil
}

// Aggregation expressions come back from mongocryptd as the server
// serializes its parsed expressions: a literal becomes {$const: literal}.
// The rewrite is done where the specification's tests show it ($group's _id
// and accumulator arguments); it keeps the meaning of the stage, since
// {$const: v} is the server's spelling of {$literal: v}.

// singleArgAccumulators are the $group accumulators whose argument is one
// expression.
var singleArgAccumulators = map[string]bool{
	"$sum": true, "$avg": true, "$min": true, "$max": true, "$first": true, "$last": true,
	"$push": true, "$addToSet": true, "$stdDevPop": true, "$stdDevSamp": true, "$mergeObjects": true,
}

// groupStage rewrites a $group body: _id and the arguments of the
// single-argument accumulators are serialized with constExpr. Accumulators
// with an argument document ($top, $bottomN, $accumulator, ...) are kept as
// written.
func groupStage(body bsoncore.Value) (bsoncore.Value, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, cmdErr("a group's fields must be specified in an object")
	}
	b := newDoc()
	for _, e := range elements(body.Data) {
		k, v := e.Key(), e.Value()
		if k == "_id" {
			b.value(k, constExpr(v, 0))
			continue
		}
		els := elements(v.Data)
		if v.Type == bsoncore.TypeEmbeddedDocument && len(els) == 1 && singleArgAccumulators[els[0].Key()] {
			b.doc(k, newDoc().value(els[0].Key(), constExpr(els[0].Value(), 0)).build())
			continue
		}
		b.element(e)
	}
	return docValue(b.build()), nil
}

// constExpr serializes an aggregation expression with its literals as
// {$const: v}: field paths and variables ("$a", "$$x") stay, object
// expressions and arrays are rewritten element by element, {$literal: v}
// becomes {$const: v}, and an operator's array of arguments is rewritten
// argument by argument. An operator whose argument is a document or a single
// value is kept as written: some of those hold names, not expressions ($map's
// "as", $let's variable names).
func constExpr(v bsoncore.Value, depth int) bsoncore.Value {
	if depth > maxDepth {
		return v
	}
	switch v.Type {
	case bsoncore.TypeString:
		if strings.HasPrefix(v.StringValue(), "$") {
			return v
		}
	case bsoncore.TypeArray:
		arr := newArray()
		for _, e := range elements(v.Data) {
			arr.value(constExpr(e.Value(), depth+1))
		}
		return arrayValue(arr.build())
	case bsoncore.TypeEmbeddedDocument:
		els := elements(v.Data)
		if len(els) > 0 && strings.HasPrefix(els[0].Key(), "$") {
			if len(els) != 1 {
				return v
			}
			op, arg := els[0].Key(), els[0].Value()
			switch {
			case op == "$literal" || op == "$const":
				return docValue(newDoc().value("$const", arg).build())
			case arg.Type == bsoncore.TypeArray:
				return docValue(newDoc().value(op, constExpr(arg, depth+1)).build())
			}
			return v
		}
		b := newDoc()
		for _, e := range els {
			b.value(e.Key(), constExpr(e.Value(), depth+1))
		}
		return docValue(b.build())
	}
	return docValue(newDoc().value("$const", v).build())
}
