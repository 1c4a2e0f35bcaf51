package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// passThroughStages never look at field values.
var passThroughStages = map[string]bool{
	"$limit": true, "$skip": true, "$sample": true, "$out": true, "$merge": true,
	"$unset": true, "$project": false, "$collStats": true, "$indexStats": true,
	"$planCacheStats": true, "$currentOp": true, "$listSessions": true,
}

// pipeline analyzes an aggregation pipeline run on the collection of schema s.
func (a *analyzer) pipeline(s *nsSchema, v bsoncore.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, cmdErr("pipeline nested too deeply")
	}
	if v.Type != bsoncore.TypeArray {
		return nil, cmdErr("'pipeline' must be an array")
	}
	cur := rootOf(s)
	qeMode := a.usesQE()
	out := newArray()
	for _, se := range elements(v.Data) {
		sv := se.Value()
		sels := elements(sv.Data)
		if sv.Type != bsoncore.TypeEmbeddedDocument || len(sels) != 1 {
			return nil, cmdErr("each pipeline stage must be a document with one field")
		}
		stage, body := sels[0].Key(), sels[0].Value()
		var (
			nb  bsoncore.Value
			err error
		)
		nb = body
		switch stage {
		case "$match":
			if body.Type != bsoncore.TypeEmbeddedDocument {
				return nil, cmdErr("$match must be a document")
			}
			m := &matcher{a: a, schema: cur}
			var f []byte
			if f, err = m.filter(body.Data); err == nil {
				nb = docValue(f)
			}
		case "$lookup":
			nb, cur, err = a.lookupStage(cur, body, qeMode, depth)
		case "$sort":
			err = checkSort(cur, body)
		case "$unwind":
			path := ""
			switch body.Type {
			case bsoncore.TypeString:
				path = body.StringValue()
			case bsoncore.TypeEmbeddedDocument:
				if p, ok := lookup(body.Data, "path"); ok && p.Type == bsoncore.TypeString {
					path = p.StringValue()
				}
			}
			if strings.HasPrefix(path, "$") {
				if kind, _ := cur.resolve(path[1:]); kind != pathPlain {
					err = refusef(path[1:], "$unwind on an encrypted field (or a field containing or below one) is not supported")
				}
			}
		case "$group":
			if _, err = a.expr(cur, body, depth); err == nil {
				cur = nil
				nb, err = groupStage(body)
			}
		case "$count":
			cur = nil
		case "$project", "$addFields", "$set":
			err = a.projectStage(cur, stage, body, depth)
		default:
			if !passThroughStages[stage] && (cur.hasEncAnywhere() || a.stageTouchesEncryption(stage, body)) {
				err = cmdErr("Aggregation stage %s is not supported by query analysis on a collection with encrypted fields", stage)
			}
		}
		if err != nil {
			return nil, err
		}
		out.doc(newDoc().value(stage, nb).build())
	}
	return out.build(), nil
}

func (a *analyzer) usesQE() bool {
	for _, s := range a.schemas {
		if s.qe {
			return true
		}
	}
	return false
}

// stageTouchesEncryption reports whether a stage reads another collection
// that has encrypted fields.
func (a *analyzer) stageTouchesEncryption(stage string, body bsoncore.Value) bool {
	key := ""
	switch stage {
	case "$unionWith":
		if body.Type == bsoncore.TypeString {
			return a.schemaOf(body.StringValue()).requiresEncryption()
		}
		key = "coll"
	case "$graphLookup":
		key = "from"
	default:
		return false
	}
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return false
	}
	if c, ok := lookup(body.Data, key); ok && c.Type == bsoncore.TypeString {
		return a.schemaOf(c.StringValue()).requiresEncryption()
	}
	return false
}

// projectStage checks $project, $addFields and $set: computed values may not
// read encrypted fields, and $addFields/$set may not overwrite them.
func (a *analyzer) projectStage(cur *node, stage string, body bsoncore.Value, depth int) error {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return cmdErr("%s must be a document", stage)
	}
	for _, e := range elements(body.Data) {
		k, v := e.Key(), e.Value()
		if stage == "$project" {
			switch v.Type {
			case bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDouble, bsoncore.TypeBoolean, bsoncore.TypeDecimal128:
				continue // inclusion or exclusion
			}
		} else if kind, _ := cur.resolve(k); kind != pathPlain {
			return refusef(k, "%s cannot overwrite an encrypted field (or a field containing or below one)", stage)
		}
		if _, err := a.expr(cur, v, depth); err != nil {
			return err
		}
	}
	return nil
}

// lookupStage analyzes $lookup and returns the schema of the documents after it
// (the foreign documents appear under the `as` field).
func (a *analyzer) lookupStage(cur *node, body bsoncore.Value, qeMode bool, depth int) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, cur, cmdErr("$lookup must be a document")
	}
	var from, as, localField, foreignField string
	var pipelineVal, letVal bsoncore.Value
	for _, e := range elements(body.Data) {
		v := e.Value()
		switch e.Key() {
		case "from":
			if v.Type == bsoncore.TypeString {
				from = v.StringValue()
			}
		case "as":
			if v.Type == bsoncore.TypeString {
				as = v.StringValue()
			}
		case "localField":
			if v.Type == bsoncore.TypeString {
				localField = v.StringValue()
			}
		case "foreignField":
			if v.Type == bsoncore.TypeString {
				foreignField = v.StringValue()
			}
		case "pipeline":
			pipelineVal = v
		case "let":
			letVal = v
		}
	}
	foreign := a.schemaOf(from)
	froot := rootOf(foreign)
	if localField != "" {
		if kind, _ := cur.resolve(localField); kind != pathPlain {
			return body, cur, refusef(localField, "$lookup with a localField that is encrypted (or contains or is below an encrypted field) is not supported")
		}
	}
	if foreignField != "" {
		if kind, _ := froot.resolve(foreignField); kind != pathPlain {
			return body, cur, refusef(foreignField, "$lookup with a foreignField that is encrypted (or contains or is below an encrypted field) is not supported")
		}
	}
	if letVal.Type != 0 {
		if _, err := a.expr(cur, letVal, depth); err != nil {
			return body, cur, err
		}
	}
	var newPipeline []byte
	if pipelineVal.Type != 0 {
		p, err := a.pipeline(foreign, pipelineVal, depth+1)
		if err != nil {
			return body, cur, err
		}
		newPipeline = p
	}
	// Serialize: QE query analysis writes from, as, localField, foreignField,
	// let, pipeline first; CSFLE keeps the order as written.
	b := newDoc()
	put := func(e bsoncore.Element) {
		if e.Key() == "pipeline" && newPipeline != nil {
			b.array("pipeline", newPipeline)
			return
		}
		b.element(e)
	}
	els := elements(body.Data)
	if qeMode {
		for _, k := range []string{"from", "as", "localField", "foreignField", "let", "pipeline"} {
			for _, e := range els {
				if e.Key() == k {
					put(e)
				}
			}
		}
		for _, e := range els {
			switch e.Key() {
			case "from", "as", "localField", "foreignField", "let", "pipeline":
			default:
				put(e)
			}
		}
	} else {
		for _, e := range els {
			put(e)
		}
	}
	// The documents after the stage: cur, with the foreign schema under `as`.
	next := cur
	if as != "" && (froot.hasEncAnywhere() || cur.hasEncAnywhere()) {
		next = withChild(cur, as, froot)
	}
	return docValue(b.build()), next, nil
}

// withChild returns a copy of n where the dotted path as holds sub.
func withChild(n *node, as string, sub *node) *node {
	parts := strings.SplitN(as, ".", 2)
	c := &node{props: map[string]*node{}}
	if n != nil {
		for k, v := range n.props {
			c.props[k] = v
		}
		c.patterns, c.additional = n.patterns, n.additional
	}
	if len(parts) == 2 {
		var existing *node
		if n != nil {
			existing = n.child(parts[0])
		}
		c.props[parts[0]] = withChild(existing, parts[1], sub)
	} else if sub != nil {
		c.props[parts[0]] = sub
	} else {
		c.props[parts[0]] = &node{}
	}
	for _, v := range c.props {
		c.hasEnc = c.hasEnc || v.hasEnc
	}
	for _, p := range c.patterns {
		c.hasEnc = c.hasEnc || p.node.hasEnc
	}
	if c.additional != nil {
		c.hasEnc = c.hasEnc || c.additional.hasEnc
	}
	return c
}

// textOperators maps the QE text search aggregation operators to the operand
// field holding the searched string.
var textOperators = map[string]string{
	"$encStrStartsWith":   "prefix",
	"$encStrEndsWith":     "suffix",
	"$encStrContains":     "substring",
	"$encStrNormalizedEq": "string",
}

// expr analyzes an aggregation expression: the QE text search operators get
// find placeholders; any other reference to an encrypted field is refused
// (this covers comparing two encrypted fields).
func (a *analyzer) expr(n *node, v bsoncore.Value, depth int) (bsoncore.Value, error) {
	if depth > maxDepth {
		return v, cmdErr("expression nested too deeply")
	}
	switch v.Type {
	case bsoncore.TypeString:
		s := v.StringValue()
		if strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "$$") {
			if kind, _ := n.resolve(s[1:]); kind != pathPlain {
				return v, refusef(s[1:], "Aggregation expressions referencing an encrypted field (or a field containing or below one) are not supported")
			}
		}
		return v, nil
	case bsoncore.TypeArray:
		arr := newArray()
		for _, e := range elements(v.Data) {
			nv, err := a.expr(n, e.Value(), depth+1)
			if err != nil {
				return v, err
			}
			arr.value(nv)
		}
		return arrayValue(arr.build()), nil
	case bsoncore.TypeEmbeddedDocument:
		els := elements(v.Data)
		if len(els) == 1 {
			switch k := els[0].Key(); {
			case k == "$literal":
				return v, nil
			case textOperators[k] != "":
				nb, err := a.textOperator(n, k, els[0].Value())
				if err != nil {
					return v, err
				}
				return docValue(newDoc().value(k, nb).build()), nil
			}
		}
		b := newDoc()
		for _, e := range els {
			nv, err := a.expr(n, e.Value(), depth+1)
			if err != nil {
				return v, err
			}
			b.value(e.Key(), nv)
		}
		return docValue(b.build()), nil
	}
	return v, nil
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
	m := &matcher{a: a, schema: root}
	b := newDoc()
	for _, e := range elements(cmd) {
		switch e.Key() {
		case "$db":
		case "ops":
			v := e.Value()
			if err := checkBulkOps(v); err != nil {
				return nil, err
			}
			if !a.anyRequires() {
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
