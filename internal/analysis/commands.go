package analysis

import (
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// command analyzes a (non-bypassed) command and builds mongocryptd's result.
// ei is the encryptionInformation to carry (QE and bulkWrite), nil otherwise.
func (a *analyzer) command(info *cmdInfo, cmd []byte, ei []byte, requires bool) ([]byte, error) {
	switch info.name {
	case "bulkWrite":
		return a.bulkWrite(cmd, ei)
	case "explain":
		return a.explain(cmd, ei)
	case "create", "collMod", "createIndexes", "compactStructuredEncryptionData", "cleanupStructuredEncryptionData":
		// Nothing to mark; mongocryptd returns the command as it was sent,
		// without the schema fields libmongocrypt added.
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
// delete and findAndModify, returning the command without $db.
func (a *analyzer) analyzeBody(name string, cmd []byte) ([]byte, error) {
	els := elements(cmd)
	coll := els[0].Value().StringValue()
	s := a.schemaOf(coll)
	if !a.anyRequires() {
		// No namespace of the command has an encrypted field: the command is
		// returned as sent.
		return copyWithout(cmd, "$db"), nil
	}
	root := rootOf(s)
	m := &matcher{a: a, schema: root}
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
		case name == "distinct" && k == "key":
			err = checkDistinctKey(root, v, qe)
		case name == "aggregate" && k == "pipeline":
			var p []byte
			p, err = a.pipeline(s, v, 0)
			nv, isNew = arrayValue(p), true
		case name == "findAndModify" && k == "update":
			nv, err = a.updateSpec(root, v, qe)
			isNew = true
		case name == "insert" && k == "documents":
			seq = e
			seqVal, err = a.insertDocuments(root, v, qe)
		case name == "update" && k == "updates":
			seq = e
			seqVal, err = a.updateStatements(m, root, v, qe)
		case name == "delete" && k == "deletes":
			seq = e
			seqVal, err = a.deleteStatements(m, v)
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
		return nil
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
		return nil
	}
	key := v.StringValue()
	kind, f := root.resolve(key)
	switch kind {
	case pathPrefix:
		return refusef(key, "The distinct key is not allowed to be an object containing encrypted fields")
	case pathBelowCipher:
		return refusef(key, "The distinct key is not allowed to be below an encrypted field")
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
	return a.markLevel(root, doc, doc, "", true, 0)
}

func (a *analyzer) markLevel(n *node, doc, rootDoc []byte, path string, top bool, depth int) ([]byte, error) {
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
		case c.enc != nil:
			nv, err := a.insertValue(c.enc, v, rootDoc, p, top)
			if err != nil {
				return nil, err
			}
			b.value(k, nv)
		case v.Type == bsoncore.TypeEmbeddedDocument:
			d, err := a.markLevel(c, v.Data, rootDoc, p, false, depth+1)
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

// checkEncryptable refuses the values libmongocrypt cannot encrypt.
func checkEncryptable(path string, v bsoncore.Value, deterministic bool) error {
	switch v.Type {
	case bsoncore.TypeNull, bsoncore.TypeUndefined, bsoncore.TypeMinKey, bsoncore.TypeMaxKey:
		return refusef(path, "Cannot encrypt element of type: %s", typeName(v.Type))
	case bsoncore.TypeDouble, bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray, bsoncore.TypeCodeWithScope,
		bsoncore.TypeBoolean, bsoncore.TypeDecimal128:
		if deterministic {
			return refusef(path, "Cannot encrypt element of type %s with deterministic encryption", typeName(v.Type))
		}
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
func (a *analyzer) insertValue(f *encField, v bsoncore.Value, rootDoc []byte, path string, top bool) (bsoncore.Value, error) {
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
			var err error
			if ka, err = resolvePointer(rootDoc, f.fle1.keyAltPointer, path); err != nil {
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

// resolvePointer follows a JSON pointer (RFC 6901) inside doc to the keyAltName.
func resolvePointer(doc []byte, pointer, path string) (bsoncore.Value, error) {
	cur := docValue(doc)
	for _, tok := range splitPointer(pointer) {
		if cur.Type != bsoncore.TypeEmbeddedDocument {
			return cur, refusef(path, "keyId JSON pointer '%s' does not resolve to a value in the document", pointer)
		}
		v, ok := lookup(cur.Data, tok)
		if !ok {
			return cur, refusef(path, "keyId JSON pointer '%s' does not resolve to a value in the document", pointer)
		}
		cur = v
	}
	if cur.Type != bsoncore.TypeString {
		return cur, refusef(path, "keyId JSON pointer '%s' must resolve to a string keyAltName, got %s", pointer, typeName(cur.Type))
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
			return v, refusef(f.path, "Cannot query on a field whose keyId is a JSON pointer")
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
		b := newDoc()
		for _, se := range elements(sv.Data) {
			if se.Key() == "q" {
				nv, _, err := a.filterValue(m, "q", se.Value())
				if err != nil {
					return nil, err
				}
				b.value("q", nv)
				continue
			}
			b.element(se)
		}
		arr.doc(b.build())
	}
	return arr.build(), nil
}

func (a *analyzer) updateStatements(m *matcher, root *node, v bsoncore.Value, qe bool) ([]byte, error) {
	if v.Type != bsoncore.TypeArray {
		return nil, cmdErr("'updates' must be an array")
	}
	arr := newArray()
	for _, e := range elements(v.Data) {
		sv := e.Value()
		if sv.Type != bsoncore.TypeEmbeddedDocument {
			return nil, cmdErr("each update statement must be an object")
		}
		b := newDoc()
		for _, se := range elements(sv.Data) {
			switch se.Key() {
			case "q":
				nv, _, err := a.filterValue(m, "q", se.Value())
				if err != nil {
					return nil, err
				}
				b.value("q", nv)
			case "u":
				nv, err := a.updateSpec(root, se.Value(), qe)
				if err != nil {
					return nil, err
				}
				b.value("u", nv)
			default:
				b.element(se)
			}
		}
		arr.doc(b.build())
	}
	return arr.build(), nil
}
