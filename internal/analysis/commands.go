package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// command analyzes a (non-bypassed) command and builds mongocryptd's result.
// ei is the encryptionInformation to carry (QE and bulkWrite), nil otherwise.
func (a *analyzer) command(info *cmdInfo, cmd []byte, ei []byte) ([]byte, error) {
	switch info.name {
	case "bulkWrite":
		return a.bulkWrite(cmd, ei)
	case "explain":
		return a.explain(cmd, ei)
	case "create", "collMod":
		return a.validatorCommand(info, cmd)
	case "createIndexes":
		return a.createIndexes(info, cmd)
	case "compactStructuredEncryptionData", "cleanupStructuredEncryptionData":
		// Nothing to mark; mongocryptd returns the command as it was sent,
		// without the schema fields libmongocrypt added.
		if err := checkCommandFields(info.name, cmd); err != nil {
			return nil, err
		}
		return copyWithout(cmd, "$db"), nil
	}
	body, err := a.analyzeBody(info.name, cmd)
	if err != nil {
		return nil, err
	}
	if ei != nil {
		body = appendElement(body, "encryptionInformation", docValue(ei), info.name)
	}
	return body, nil
}

// appendElement adds key: v to doc; for write commands it goes before the
// document sequence (documents/updates/deletes), as mongocryptd serializes them.
func appendElement(doc []byte, key string, v bsoncore.Value, cmdName string) []byte {
	seq := sequenceField(cmdName)
	b := newDoc()
	var seqElem bsoncore.Element
	for _, e := range elements(doc) {
		if seq != "" && e.Key() == seq {
			seqElem = e
			continue
		}
		b.element(e)
	}
	b.value(key, v)
	if seqElem != nil {
		b.element(seqElem)
	}
	return b.build()
}

func sequenceField(cmdName string) string {
	switch cmdName {
	case "insert":
		return "documents"
	case "update":
		return "updates"
	case "delete":
		return "deletes"
	}
	return ""
}

// copyWithout copies doc without the given keys.
func copyWithout(doc []byte, keys ...string) []byte {
	b := newDoc()
outer:
	for _, e := range elements(doc) {
		for _, k := range keys {
			if e.Key() == k {
				continue outer
			}
		}
		b.element(e)
	}
	return b.build()
}

// analyzeBody analyzes find, aggregate, count, distinct, insert, update,
// delete and findAndModify, returning the command without $db. Every field of
// the command is analysed, passed (it carries no value of a document: see
// commandFields) or refused.
func (a *analyzer) analyzeBody(name string, cmd []byte) ([]byte, error) {
	els := elements(cmd)
	coll := els[0].Value().StringValue()
	s := a.schemaOf(coll)
	if !a.requires {
		// No namespace of the command has an encrypted field: the command is
		// returned as sent.
		return copyWithout(cmd, "$db"), nil
	}
	if err := checkCommandFields(name, cmd); err != nil {
		return nil, err
	}
	root := rootOf(s)
	vs, err := a.letVars(cmd, "let")
	if err != nil {
		return nil, err
	}
	m := &matcher{a: a, schema: root, vars: vs}
	qe := s != nil && s.qe
	b := newDoc()
	var seq bsoncore.Element
	var seqVal []byte
	for _, e := range els {
		k, v := e.Key(), e.Value()
		if k == "$db" {
			continue
		}
		var (
			nv    bsoncore.Value
			isNew bool
			err   error
		)
		switch {
		case (name == "find" && k == "filter") || ((name == "count" || name == "distinct" || name == "findAndModify") && k == "query"):
			nv, isNew, err = a.filterValue(m, k, v)
		case name == "find" && k == "sort", name == "findAndModify" && k == "sort":
			err = checkSort(root, v)
		case (name == "find" && k == "projection") || (name == "findAndModify" && k == "fields"):
			err = a.findProjection(root, vs, k, v)
		case name == "find" && (k == "min" || k == "max"):
			err = checkIndexBounds(root, k, v)
		case name == "distinct" && k == "key":
			err = checkDistinctKey(root, v, qe)
		case name == "aggregate" && k == "pipeline":
			var p []byte
			p, _, err = a.pipeline(root, vs, v, 0)
			nv, isNew = arrayValue(p), true
		case name == "findAndModify" && k == "update":
			if isTrue(cmd, "upsert") {
				err = checkUpsert(root, v)
			}
			if err == nil {
				nv, err = a.updateSpec(root, v, qe)
			}
			isNew = true
		case name == "findAndModify" && k == "arrayFilters":
			u, _ := lookup(cmd, "update")
			err = checkArrayFilters(root, u, v)
		case name == "insert" && k == "documents":
			seq = e
			seqVal, err = a.insertDocuments(root, v, qe)
		case name == "update" && k == "updates":
			seq = e
			seqVal, err = a.updateStatements(m, root, v, qe)
		case name == "delete" && k == "deletes":
			seq = e
			seqVal, err = a.deleteStatements(m, v)
		case fieldClassOf(name, k) == fieldAnalysed && k != "let":
			err = cmdErr("internal error: field '%s' of %s is listed as analysed but has no analysis", k, name)
		}
		if err != nil {
			return nil, err
		}
		if seq != nil && seq.Key() == k {
			continue
		}
		if isNew {
			b.value(k, nv)
		} else {
			b.element(e)
		}
	}
	if seq != nil {
		b.array(seq.Key(), seqVal)
	}
	return b.build(), nil
}

func (a *analyzer) filterValue(m *matcher, key string, v bsoncore.Value) (bsoncore.Value, bool, error) {
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return v, false, cmdErr("'%s' must be a document", key)
	}
	f, err := m.filter(v.Data)
	if err != nil {
		return v, false, err
	}
	return docValue(f), true, nil
}

// checkSort refuses sorting on encrypted fields.
func checkSort(root *node, v bsoncore.Value) error {
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return cmdErr("the sort specification must be a document, got %s", typeName(v.Type))
	}
	for _, e := range elements(v.Data) {
		if kind, _ := root.resolve(e.Key()); kind != pathPlain {
			return refusef(e.Key(), "Sorting on an encrypted field (or a field containing or below one) is not supported")
		}
	}
	return nil
}

func checkDistinctKey(root *node, v bsoncore.Value, qe bool) error {
	if v.Type != bsoncore.TypeString {
		return cmdErr("the distinct key must be a string, got %s", typeName(v.Type))
	}
	key := v.StringValue()
	kind, f := root.resolve(key)
	switch kind {
	case pathPrefix:
		return refusef(key, "The distinct key is not allowed to be an object containing encrypted fields")
	case pathBelowCipher:
		return refusef(key, "The distinct key is not allowed to be below an encrypted field")
	case pathUnknown:
		return refusef(key, errUnknownEncryption)
	case pathEncrypted:
		if qe || f.fle1 == nil {
			return refusef(key, "The distinct key is not allowed to be a Queryable Encryption field")
		}
		if f.fle1.keyAltPointer != "" {
			return refusef(key, "The distinct key is not allowed to be marked for encryption with a non-UUID keyId")
		}
		if f.fle1.algorithm == fle1Random {
			return refusef(key, "The distinct key is not allowed to be marked for randomized encryption")
		}
	}
	return nil
}

func (a *analyzer) insertDocuments(root *node, v bsoncore.Value, qe bool) ([]byte, error) {
	if v.Type != bsoncore.TypeArray {
		return nil, cmdErr("'documents' must be an array")
	}
	arr := newArray()
	for _, e := range elements(v.Data) {
		dv := e.Value()
		if dv.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("each inserted document must be an object")
		}
		if err := checkGeneratedID(root, dv.Data); err != nil {
			return nil, err
		}
		d, err := a.markDocument(root, dv.Data, qe)
		if err != nil {
			return nil, err
		}
		arr.doc(d)
	}
	return arr.build(), nil
}

// markDocument replaces the encrypted fields of a whole document (insert,
// replacement) with insert placeholders.
func (a *analyzer) markDocument(root *node, doc []byte, qe bool) ([]byte, error) {
	if qe {
		if _, ok := lookup(doc, "__safeContent__"); ok {
			return nil, refusef("__safeContent__", "Cannot modify the reserved field __safeContent__ of a Queryable Encryption collection")
		}
	}
	return a.markLevel(root, doc, &origDoc{doc: doc, schema: root}, "", true, 0)
}

// origDoc is the whole document being written (insert, replacement), in
// which a keyId JSON pointer is resolved, with its schema. It is nil for the
// values of update operators: there is no whole document to point into.
type origDoc struct {
	doc    []byte
	schema *node
}

func (a *analyzer) markLevel(n *node, doc []byte, orig *origDoc, path string, top bool, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, cmdErr("document nested too deeply")
	}
	b := newDoc()
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		c := n.child(k)
		p := join(path, k)
		switch {
		case c == nil || !c.hasEnc:
			b.element(e)
		case c.unknown:
			return nil, refusef(p, errUnknownEncryption)
		case c.enc != nil:
			nv, err := a.insertValue(c.enc, v, orig, p, top)
			if err != nil {
				return nil, err
			}
			b.value(k, nv)
		case v.Type == bsoncore.TypeEmbeddedDocument:
			d, err := a.markLevel(c, v.Data, orig, p, false, depth+1)
			if err != nil {
				return nil, err
			}
			b.doc(k, d)
		case v.Type == bsoncore.TypeArray:
			return nil, refusef(p, "Cannot encrypt fields below an array: the schema has encrypted fields under this path")
		default:
			b.element(e)
		}
	}
	return b.build(), nil
}

// checkEncryptable refuses the values no algorithm can encrypt and those
// deterministic encryption cannot (mongocryptd's wording: "Cannot encrypt
// element of type: <type>").
func checkEncryptable(path string, v bsoncore.Value, deterministic bool) error {
	name := typeName(v.Type)
	switch {
	case unencryptable[name]:
		return refusef(path, "Cannot encrypt element of type: %s", name)
	case deterministic && detForbidden[name]:
		return refusef(path, "Cannot encrypt element of type: %s with deterministic encryption", name)
	}
	return nil
}

func checkBSONType(path string, v bsoncore.Value, types []string) error {
	if len(types) == 0 {
		return nil
	}
	for _, t := range types {
		if typeMatches(t, v.Type) {
			return nil
		}
	}
	list := ""
	for i, t := range types {
		if i > 0 {
			list += ", "
		}
		list += t
	}
	return refusef(path, "Cannot encrypt element of type %s because schema requires that type is one of: [ %s ]", typeName(v.Type), list)
}

// insertValue returns the placeholder that encrypts v as a stored value.
func (a *analyzer) insertValue(f *encField, v bsoncore.Value, orig *origDoc, path string, top bool) (bsoncore.Value, error) {
	if isEncryptedBinary(v) {
		return v, nil
	}
	if top && v.Type == bsoncore.TypeTimestamp {
		if t, i := v.Timestamp(); t == 0 && i == 0 {
			return v, refusef(path, "A command that inserts cannot supply Timestamp(0, 0) for an encrypted top-level field")
		}
	}
	if f.fle1 != nil {
		if err := checkEncryptable(path, v, f.fle1.algorithm == fle1Deterministic); err != nil {
			return v, err
		}
		if err := checkBSONType(path, v, f.fle1.bsonTypes); err != nil {
			return v, err
		}
		var ka bsoncore.Value
		if f.fle1.keyAltPointer != "" {
			if orig == nil {
				return v, refusef(path, errNonStaticKeyID+" A field whose keyId is a JSON pointer can only be written in a whole document (insert or replacement), not by an update operator")
			}
			var err error
			if ka, err = resolvePointer(orig, f.fle1.keyAltPointer, path); err != nil {
				return v, err
			}
		}
		a.placeholders = true
		return fle1Placeholder(f.fle1, v, ka), nil
	}
	q := f.qe
	if err := checkEncryptable(path, v, false); err != nil {
		return v, err
	}
	if typeName(v.Type) != q.bsonType {
		return v, refusef(path, "Cannot encrypt element of type %s because schema requires that type is one of: [ %s ]", typeName(v.Type), q.bsonType)
	}
	a.placeholders = true
	switch {
	case q.rng != nil:
		return fle2Placeholder(q, fle2Insert, fle2Range, rangeInsertSpec(q, v), q.contention), nil
	case q.equality:
		return fle2Placeholder(q, fle2Insert, fle2Equality, v, q.contention), nil
	case q.text():
		return fle2Placeholder(q, fle2Insert, fle2Text, textSpec(q, v, q.prefix, q.suffix, q.substr), q.textContention()), nil
	}
	return fle2Placeholder(q, fle2Insert, fle2Unindexed, v, 0), nil
}

// errNonStaticKeyID is mongocryptd's refusal of a keyId JSON pointer where no
// whole document is at hand to resolve it.
const errNonStaticKeyID = "A non-static (JSONPointer) keyId is not supported."

// resolvePointer follows a JSON pointer (RFC 6901) inside the original
// document to the keyAltName: it must name an existing, unencrypted string.
func resolvePointer(orig *origDoc, pointer, path string) (bsoncore.Value, error) {
	cur := docValue(orig.doc)
	tokens := splitPointer(pointer)
	for _, tok := range tokens {
		if cur.Type != bsoncore.TypeEmbeddedDocument {
			return cur, refusef(path, "keyId pointer '%s' must point to a field that exists", pointer)
		}
		v, ok := lookup(cur.Data, tok)
		if !ok {
			return cur, refusef(path, "keyId pointer '%s' must point to a field that exists", pointer)
		}
		cur = v
	}
	if kind, _ := orig.schema.resolve(strings.Join(tokens, ".")); kind == pathEncrypted {
		return cur, refusef(path, "keyId pointer '%s' cannot point to an encrypted field", pointer)
	}
	if cur.Type != bsoncore.TypeString {
		return cur, refusef(path, "keyId pointer '%s' must point to a string, got %s", pointer, typeName(cur.Type))
	}
	return cur, nil
}

func splitPointer(p string) []string {
	var out []string
	cur := []byte{}
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			s := string(cur)
			out = append(out, unescapePointer(s))
			cur = cur[:0]
			continue
		}
		cur = append(cur, p[i])
	}
	return out
}

func unescapePointer(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && i+1 < len(s) {
			switch s[i+1] {
			case '0':
				out = append(out, '~')
				i++
				continue
			case '1':
				out = append(out, '/')
				i++
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}

// queryValue returns the placeholder for an equality comparison value.
func (a *analyzer) queryValue(f *encField, v bsoncore.Value) (bsoncore.Value, error) {
	if f.fle1 != nil {
		if f.fle1.algorithm == fle1Random {
			return v, refusef(f.path, errRandomQuery)
		}
		if f.fle1.keyAltPointer != "" {
			return v, refusef(f.path, errNonStaticKeyID+" A field whose keyId is a JSON pointer cannot be queried")
		}
		if err := checkEncryptable(f.path, v, true); err != nil {
			return v, err
		}
		if err := checkBSONType(f.path, v, f.fle1.bsonTypes); err != nil {
			return v, err
		}
		a.placeholders = true
		return fle1Placeholder(f.fle1, v, bsoncore.Value{}), nil
	}
	q := f.qe
	switch {
	case q.equality:
	case q.text():
		return v, refusef(f.path, "A text search encrypted field can only be queried with $encStrStartsWith, $encStrEndsWith, $encStrContains or $encStrNormalizedEq")
	default:
		return v, refusef(f.path, "Cannot query on an unindexed Queryable Encryption field")
	}
	if typeName(v.Type) != q.bsonType {
		return v, refusef(f.path, "Cannot encrypt element of type %s because schema requires that type is one of: [ %s ]", typeName(v.Type), q.bsonType)
	}
	a.placeholders = true
	return fle2Placeholder(q, fle2Find, fle2Equality, v, q.contention), nil
}

// Statement fields in the order mongocryptd writes them: it parses each
// statement and serializes it again, as the server's write command parser
// defines them. Fields it does not know are kept after them.
var (
	updateStatementOrder = []string{"q", "u", "c", "arrayFilters", "hint", "multi", "upsert",
		"upsertSupplied", "collation", "sampleId", "$_allowShardKeyUpdatesWithoutFullShardKeyInQuery", "sort"}
	deleteStatementOrder = []string{"q", "limit", "hint", "collation", "sampleId"}
)

// reorder writes the fields of a statement in the given order, then the
// fields the order does not name, as they were. rewritten holds the values
// that replace the statement's own; defaults those written when absent.
func reorder(stmt []byte, order []string, rewritten, defaults map[string]bsoncore.Value) []byte {
	b := newDoc()
	known := map[string]bool{}
	for _, k := range order {
		known[k] = true
		if v, ok := rewritten[k]; ok {
			b.value(k, v)
			continue
		}
		if v, ok := lookup(stmt, k); ok {
			b.value(k, v)
			continue
		}
		if v, ok := defaults[k]; ok {
			b.value(k, v)
		}
	}
	for _, e := range elements(stmt) {
		if !known[e.Key()] {
			b.element(e)
		}
	}
	return b.build()
}

func boolValue(v bool) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeBoolean, Data: bsoncore.AppendBoolean(nil, v)}
}

// isTrue reports whether a statement flag (multi, upsert) is set.
func isTrue(stmt []byte, key string) bool {
	v, ok := lookup(stmt, key)
	return ok && v.Type == bsoncore.TypeBoolean && v.Boolean()
}

func (a *analyzer) deleteStatements(m *matcher, v bsoncore.Value) ([]byte, error) {
	if v.Type != bsoncore.TypeArray {
		return nil, cmdErr("'deletes' must be an array")
	}
	arr := newArray()
	for _, e := range elements(v.Data) {
		sv := e.Value()
		if sv.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("each delete statement must be an object")
		}
		if err := checkFields("a delete statement", sv.Data, deleteStatementFields); err != nil {
			return nil, err
		}
		rewritten := map[string]bsoncore.Value{}
		if q, ok := lookup(sv.Data, "q"); ok {
			nv, _, err := a.filterValue(m, "q", q)
			if err != nil {
				return nil, err
			}
			rewritten["q"] = nv
		}
		arr.doc(reorder(sv.Data, deleteStatementOrder, rewritten, nil))
	}
	return arr.build(), nil
}

// updateStatements analyzes the statements of an update command. Every
// statement is written back in mongocryptd's field order with multi and
// upsert spelled out (false when the driver left them out), as mongocryptd
// and crypt_shared do.
func (a *analyzer) updateStatements(m *matcher, root *node, v bsoncore.Value, qe bool) ([]byte, error) {
	if v.Type != bsoncore.TypeArray {
		return nil, cmdErr("'updates' must be an array")
	}
	defaults := map[string]bsoncore.Value{"multi": boolValue(false), "upsert": boolValue(false)}
	arr := newArray()
	for _, e := range elements(v.Data) {
		sv := e.Value()
		if sv.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("each update statement must be an object")
		}
		if qe && isTrue(sv.Data, "multi") {
			return nil, cmdErr("Multi-document updates are not allowed with Queryable Encryption")
		}
		if err := checkFields("an update statement", sv.Data, updateStatementFields); err != nil {
			return nil, err
		}
		if _, err := a.letVars(sv.Data, "c"); err != nil {
			return nil, err
		}
		u, _ := lookup(sv.Data, "u")
		if af, ok := lookup(sv.Data, "arrayFilters"); ok {
			if err := checkArrayFilters(root, u, af); err != nil {
				return nil, err
			}
		}
		if so, ok := lookup(sv.Data, "sort"); ok {
			if err := checkSort(root, so); err != nil {
				return nil, err
			}
		}
		rewritten := map[string]bsoncore.Value{}
		if q, ok := lookup(sv.Data, "q"); ok {
			nv, _, err := a.filterValue(m, "q", q)
			if err != nil {
				return nil, err
			}
			rewritten["q"] = nv
		}
		if u, ok := lookup(sv.Data, "u"); ok {
			if isTrue(sv.Data, "upsert") {
				if err := checkUpsert(root, u); err != nil {
					return nil, err
				}
			}
			nv, err := a.updateSpec(root, u, qe)
			if err != nil {
				return nil, err
			}
			rewritten["u"] = nv
		}
		arr.doc(reorder(sv.Data, updateStatementOrder, rewritten, defaults))
	}
	return arr.build(), nil
}

// checkUpsert refuses an upsert that would let the server generate the value
// of an encrypted field: an encrypted _id missing from the replacement or
// update document.
func checkUpsert(root *node, u bsoncore.Value) error {
	if u.Type != bsoncore.TypeEmbeddedDocument {
		return nil
	}
	return checkGeneratedID(root, u.Data)
}

// checkGeneratedID refuses a document that leaves out an encrypted _id: the
// server would generate one, which could not be encrypted.
func checkGeneratedID(root *node, doc []byte) error {
	if kind, _ := root.resolve("_id"); kind != pathEncrypted {
		return nil
	}
	if _, ok := lookup(doc, "_id"); !ok {
		return refusef("_id", "_id must be explicitly provided when configured as encrypted")
	}
	return nil
}

// Commands that store a filter (a collection validator, an index's
// partialFilterExpression) cannot compare an encrypted field to a value: the
// server would evaluate the stored filter against ciphertexts.
const (
	errValidatorComparison     = "Comparison to encrypted fields not supported in collection validator."
	errPartialFilterComparison = "Comparison to encrypted fields not supported in a partialFilterExpression."
)

// validatorCommand analyzes create and collMod: a create may not define a
// view, and the validator is analyzed as a filter that may not compare an
// encrypted field. A validator that is a lone $jsonSchema is the collection's
// JSON schema itself (see validatorSchema): query analysis reads it as a
// local schema, so it may only use the keywords a schemaMap may use. Nothing
// is marked; the command is returned as sent, without $db.
func (a *analyzer) validatorCommand(info *cmdInfo, cmd []byte) ([]byte, error) {
	if a.requires {
		if err := checkCommandFields(info.name, cmd); err != nil {
			return nil, err
		}
	}
	if info.name == "create" || a.requires {
		for _, k := range []string{"viewOn", "pipeline"} {
			if _, ok := lookup(cmd, k); ok {
				return nil, cmdErr("Creating a view is not supported with automatic encryption")
			}
		}
	}
	validator, ok := lookup(cmd, "validator")
	if !ok {
		return copyWithout(cmd, "$db"), nil
	}
	if validator.Type != bsoncore.TypeEmbeddedDocument {
		return nil, cmdErr("'validator' must be a document, got %s", typeName(validator.Type))
	}
	s := a.schemaOf(info.target)
	if els := elements(validator.Data); (s == nil || !s.qe) && len(els) == 1 && els[0].Key() == "$jsonSchema" {
		js := els[0].Value()
		if js.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("'validator.$jsonSchema' must be a document, got %s", typeName(js.Type))
		}
		root, err := parseJSONSchema(js.Data, false)
		if err != nil {
			return nil, err
		}
		// It may describe the encrypted fields (of itself, and of the schema
		// the collection had) but not constrain their values.
		for _, n := range []*node{root, a.before} {
			if err := checkQuerySchema(n, js.Data, "", 0); err != nil {
				return nil, err
			}
		}
		return copyWithout(cmd, "$db"), nil
	}
	for _, n := range []*node{rootOf(s), a.before} {
		if err := a.storedFilter(n, validator.Data, errValidatorComparison); err != nil {
			return nil, err
		}
	}
	return copyWithout(cmd, "$db"), nil
}

// createIndexes analyzes the partialFilterExpression of every index.
func (a *analyzer) createIndexes(info *cmdInfo, cmd []byte) ([]byte, error) {
	if a.requires {
		if err := checkCommandFields(info.name, cmd); err != nil {
			return nil, err
		}
	}
	indexes, ok := lookup(cmd, "indexes")
	if ok && indexes.Type != bsoncore.TypeArray {
		return nil, cmdErr("'indexes' must be an array")
	}
	if ok {
		root := rootOf(a.schemaOf(info.target))
		for _, ie := range elements(indexes.Data) {
			iv := ie.Value()
			if iv.Type != bsoncore.TypeEmbeddedDocument {
				return nil, cmdErr("each index specification must be a document")
			}
			if a.requires {
				if err := checkFields("an index specification", iv.Data, indexSpecFields); err != nil {
					return nil, err
				}
			}
			pf, ok := lookup(iv.Data, "partialFilterExpression")
			if !ok {
				continue
			}
			if pf.Type != bsoncore.TypeEmbeddedDocument {
				return nil, cmdErr("'partialFilterExpression' must be a document, got %s", typeName(pf.Type))
			}
			if err := a.storedFilter(root, pf.Data, errPartialFilterComparison); err != nil {
				return nil, err
			}
		}
	}
	return copyWithout(cmd, "$db"), nil
}

// storedFilter analyzes a filter the server stores: any refusal a query
// filter gets applies, and a comparison that would need a placeholder is
// refused with refusal.
func (a *analyzer) storedFilter(root *node, filter []byte, refusal string) error {
	saved := a.placeholders
	a.placeholders = false
	m := &matcher{a: a, schema: root}
	_, err := m.filter(filter)
	compared := a.placeholders
	a.placeholders = saved
	if err != nil {
		return err
	}
	if compared {
		return cmdErr("%s", refusal)
	}
	return nil
}

// validatorSchema returns schemas with the JSON schema of a create or collMod
// command's validator ($jsonSchema) as the target collection's remote schema,
// as libmongocrypt chooses it: it takes precedence over the schemaMap and the
// server's collection options, but not over an encryptedFields document.
func validatorSchema(info *cmdInfo, cmd []byte, schemas map[string]Schema) map[string]Schema {
	if info.name != "create" && info.name != "collMod" {
		return schemas
	}
	ns := info.db + "." + info.target
	if schemas[ns].EncryptedFields != nil {
		return schemas
	}
	validator, ok := lookup(cmd, "validator")
	if !ok || validator.Type != bsoncore.TypeEmbeddedDocument {
		return schemas
	}
	js, ok := lookup(validator.Data, "$jsonSchema")
	if !ok || js.Type != bsoncore.TypeEmbeddedDocument {
		return schemas
	}
	out := make(map[string]Schema, len(schemas)+1)
	for k, v := range schemas {
		out[k] = v
	}
	out[ns] = Schema{JSONSchema: js.Data, Remote: true}
	return out
}
