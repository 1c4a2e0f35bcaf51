package analysis

import (
	"regexp"
	"sort"
	"strings"

	"github.com/mongocrypt-go/mongocrypt/internal/qe"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FLE1 algorithm names and their placeholder codes ('a' in the FLE1 placeholder).
const (
	algDeterministicName = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	algRandomName        = "AEAD_AES_256_CBC_HMAC_SHA_512-Random"

	fle1Deterministic int32 = 1
	fle1Random        int32 = 2
)

// uuidSubtype is the BSON binary subtype of a UUID (key ids).
const uuidSubtype = 4

// fle1Field is the encryption metadata of a CSFLE (JSON schema) field.
type fle1Field struct {
	algorithm     int32    // fle1Deterministic or fle1Random
	keyID         []byte   // 16 bytes, or nil when keyAltPointer is set
	keyAltPointer string   // JSON pointer to the keyAltName inside the document
	bsonTypes     []string // allowed types, empty = any
}

// encField is an encrypted field: exactly one of fle1 and qe is set.
type encField struct {
	path string
	fle1 *fle1Field
	qe   *qeField
}

// sameMetadata reports whether two encrypted fields encrypt alike ($rename).
func sameMetadata(a, b *encField) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.fle1 == nil || b.fle1 == nil {
		return false
	}
	x, y := a.fle1, b.fle1
	if x.algorithm != y.algorithm || string(x.keyID) != string(y.keyID) || x.keyAltPointer != y.keyAltPointer {
		return false
	}
	if len(x.bsonTypes) != len(y.bsonTypes) {
		return false
	}
	for i := range x.bsonTypes {
		if x.bsonTypes[i] != y.bsonTypes[i] {
			return false
		}
	}
	return true
}

// node is one level of an encryption schema: either an encrypted field (enc)
// or an object whose sub-fields may be encrypted. An unknown node stands for
// data whose encryption query analysis cannot know (a pipeline stage copied
// whole documents into it, or the JSON schema describes a field in two ways
// that disagree): every field at or below it may be encrypted, so comparing it
// with a value is refused.
type node struct {
	enc        *encField
	props      map[string]*node
	patterns   []patternNode
	additional *node
	// hasEnc is true when enc is set or a descendant is (or may be) encrypted.
	hasEnc bool
	// unknown marks data that may hold encrypted fields anywhere below it.
	unknown bool
	// conflict marks an unknown node made by two disagreeing subschemas.
	conflict bool
}

type patternNode struct {
	re   *regexp.Regexp
	node *node
}

// unknownNode is the schema of data whose encryption is not known.
var unknownNode = &node{unknown: true, hasEnc: true}

// conflictNode is the schema of a field that properties and
// patternProperties (or several patterns) describe differently.
var conflictNode = &node{unknown: true, hasEnc: true, conflict: true}

// child returns the schema of the sub-field name, nil when it is
// unconstrained. As JSON Schema says, properties and every matching
// patternProperties pattern apply together, and additionalProperties applies
// only to names that neither names; when the subschemas that apply disagree
// on encryption, the child is conflictNode.
func (n *node) child(name string) *node {
	if n == nil || n.enc != nil {
		return nil
	}
	if n.unknown {
		return n
	}
	var found *node
	matched := false
	if c, ok := n.props[name]; ok {
		found, matched = c, true
	}
	for _, p := range n.patterns {
		if !p.re.MatchString(name) {
			continue
		}
		if matched && !agree(found, p.node) {
			return conflictNode
		}
		if !matched {
			found, matched = p.node, true
		}
	}
	if !matched {
		return n.additional
	}
	return found
}

func hasEncOf(n *node) bool { return n != nil && n.hasEnc }

// agree reports whether two subschemas that apply to the same field encrypt
// it, and everything below it, alike.
func agree(a, b *node) bool {
	if a == b {
		// Pipelines share subtrees (a copy of $$ROOT holds the root itself):
		// a shared node agrees with itself without a walk.
		return true
	}
	if !hasEncOf(a) && !hasEncOf(b) {
		return true
	}
	if !hasEncOf(a) || !hasEncOf(b) || a.unknown || b.unknown {
		return false
	}
	if a.enc != nil || b.enc != nil {
		return a.enc != nil && b.enc != nil && sameMetadata(a.enc, b.enc)
	}
	if len(a.props) != len(b.props) || len(a.patterns) != len(b.patterns) {
		return false
	}
	for k, v := range a.props {
		w, ok := b.props[k]
		if !ok || !agree(v, w) {
			return false
		}
	}
	for i := range a.patterns {
		if a.patterns[i].re.String() != b.patterns[i].re.String() || !agree(a.patterns[i].node, b.patterns[i].node) {
			return false
		}
	}
	return agree(a.additional, b.additional)
}

// pathKind classifies a dotted path against a schema.
type pathKind int

const (
	pathPlain       pathKind = iota // no encrypted field at, above or below the path
	pathEncrypted                   // the path is an encrypted field
	pathPrefix                      // the path is an object containing encrypted fields
	pathBelowCipher                 // the path goes through an encrypted field
	pathUnknown                     // the path may be, hold or be below an encrypted field
)

// resolve classifies path against the schema rooted at n. For pathEncrypted
// and pathBelowCipher it also returns the encrypted field.
func (n *node) resolve(path string) (pathKind, *encField) {
	parts := strings.Split(path, ".")
	cur := n
	for i := 0; ; i++ {
		last := i == len(parts)
		switch {
		case cur == nil:
			return pathPlain, nil
		case cur.unknown:
			return pathUnknown, nil
		case cur.enc != nil && last:
			return pathEncrypted, cur.enc
		case cur.enc != nil:
			return pathBelowCipher, cur.enc
		case last && cur.hasEnc:
			return pathPrefix, nil
		case last:
			return pathPlain, nil
		}
		cur = cur.child(parts[i])
	}
}

// errUnknownEncryption is the refusal of a value compared with, or written to,
// a field whose encryption query analysis cannot know.
const errUnknownEncryption = "Cannot use a value with a field whose encryption is not known here (an earlier stage copied documents that hold encrypted fields, or the schema describes the field in more than one way)"

// nsSchema is the parsed schema of one namespace.
type nsSchema struct {
	ns     string
	root   *node // nil when the namespace has no encrypted field
	qe     bool  // schema came from encryptedFields
	csfle  bool  // schema came from a JSON schema
	efRaw  []byte
	strEnc int32 // strEncodeVersion to append to encryptedFields, 0 = none
}

func (s *nsSchema) requiresEncryption() bool { return s != nil && s.root != nil && s.root.hasEnc }

// --- CSFLE JSON schema --------------------------------------------------------

// inherited is the encryptMetadata in force at a schema level.
type inherited struct {
	algorithm     int32
	keyID         []byte
	keyAltPointer string
	hasKey        bool
}

// JSON schema keywords, as query analysis sorts them. A local schema (the
// schemaMap) may use only localSchemaKeywords: they are the ones that bear on
// encryption. A remote schema (a collection validator read with
// listCollections) may also use remoteOnlySchemaKeywords, which the server
// enforces and query analysis ignores. Any other keyword is refused.
var (
	localSchemaKeywords = map[string]bool{
		"additionalItems": true, "additionalProperties": true, "allOf": true, "anyOf": true,
		"bsonType": true, "description": true, "encrypt": true, "encryptMetadata": true,
		"items": true, "not": true, "oneOf": true, "patternProperties": true,
		"properties": true, "title": true, "type": true,
	}
	remoteOnlySchemaKeywords = map[string]bool{
		"enum": true, "exclusiveMaximum": true, "exclusiveMinimum": true, "maxItems": true,
		"maxLength": true, "maxProperties": true, "maximum": true, "minItems": true,
		"minLength": true, "minProperties": true, "minimum": true, "multipleOf": true,
		"pattern": true, "required": true, "uniqueItems": true,
	}
)

// mongocryptd's refusals of a misplaced encrypt or encryptMetadata keyword.
const (
	errEncryptKeyword         = "Invalid schema containing the 'encrypt' keyword."
	errEncryptMetadataKeyword = "Invalid schema containing the 'encryptMetadata' keyword."
)

// encryptScope says whether a subschema may hold the encrypt keyword.
type encryptScope struct {
	// forbidden is why no encrypt may appear here, empty when it may.
	forbidden string
	// noRandom forbids the random algorithm (the top-level _id, which the
	// server may generate and must match by equality).
	noRandom bool
}

// parseJSONSchema parses a CSFLE JSON schema into a node tree. remote tells
// whether the schema came from the server (see [Schema.Remote]).
func parseJSONSchema(doc []byte, remote bool) (*node, error) {
	if err := checkEncryptSiblingTypes(doc, "", 0); err != nil {
		return nil, err
	}
	p := schemaParser{remote: remote}
	return p.level(doc, inherited{}, "", true, encryptScope{})
}

// checkEncryptSiblingTypes refuses, anywhere in the schema, an encrypt keyword
// next to type or bsonType: encrypt implies type binData. The server's JSON
// schema parser checks this before query analysis looks at the schema, so it
// is checked first here too.
func checkEncryptSiblingTypes(doc []byte, path string, depth int) error {
	if depth > maxDepth {
		return refusef(path, "Invalid schema: nested too deeply")
	}
	if _, ok := lookup(doc, "encrypt"); ok {
		for _, k := range []string{"type", "bsonType"} {
			if _, ok := lookup(doc, k); ok {
				return refusef(path, "Invalid schema: 'encrypt' cannot be used in conjunction with '%s', 'encrypt' implies type 'binData'", k)
			}
		}
	}
	for _, e := range elements(doc) {
		v := e.Value()
		var subs []bsoncore.Value
		switch e.Key() {
		case "properties", "patternProperties", "dependencies":
			if v.Type == bsoncore.TypeEmbeddedDocument {
				for _, se := range elements(v.Data) {
					subs = append(subs, se.Value())
				}
			}
		case "additionalProperties", "additionalItems", "items", "not":
			subs = []bsoncore.Value{v}
			if v.Type == bsoncore.TypeArray {
				subs = nil
				for _, se := range elements(v.Data) {
					subs = append(subs, se.Value())
				}
			}
		case "allOf", "anyOf", "oneOf":
			if v.Type == bsoncore.TypeArray {
				for _, se := range elements(v.Data) {
					subs = append(subs, se.Value())
				}
			}
		}
		for _, s := range subs {
			if s.Type != bsoncore.TypeEmbeddedDocument {
				continue
			}
			if err := checkEncryptSiblingTypes(s.Data, path, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// schemaParser turns a JSON schema into the encryption schema tree.
type schemaParser struct {
	remote bool
}

// level parses one (sub)schema. scope says whether encrypt may appear in it.
func (p *schemaParser) level(doc []byte, inh inherited, path string, root bool, scope encryptScope) (*node, error) {
	n := &node{}
	var (
		encrypt, meta     bsoncore.Value
		hasEncr, hasMeta  bool
		typeVal, bsonType bsoncore.Value
		hasType, hasBSON  bool
		keys              int
	)
	for _, e := range elements(doc) {
		k := e.Key()
		keys++
		if !localSchemaKeywords[k] {
			if !remoteOnlySchemaKeywords[k] {
				return nil, refusef(path, "Invalid schema: JSON schema keyword '%s' is not supported for client-side encryption", k)
			}
			if !p.remote {
				return nil, refusef(path, "Invalid schema: JSON schema keyword '%s' is only allowed with a remote schema; a schemaMap schema may only use keywords that bear on encryption", k)
			}
		}
		switch k {
		case "encrypt":
			encrypt, hasEncr = e.Value(), true
		case "encryptMetadata":
			meta, hasMeta = e.Value(), true
		case "type":
			typeVal, hasType = e.Value(), true
		case "bsonType":
			bsonType, hasBSON = e.Value(), true
		}
	}
	if err := p.noEncryptBelow(doc, inh, path); err != nil {
		return nil, err
	}
	if hasEncr {
		switch {
		case root:
			return nil, refusef(path, "%s The top-level schema cannot be encrypted", errEncryptKeyword)
		case scope.forbidden != "":
			return nil, refusef(path, "%s %s", errEncryptKeyword, scope.forbidden)
		case keys != 1:
			return nil, refusef(path, "Invalid schema containing the 'encrypt' keyword, sibling keywords are not allowed as such restrictions cannot work on an encrypted field.")
		case encrypt.Type != bsoncore.TypeEmbeddedDocument:
			return nil, refusef(path, "Invalid schema: 'encrypt' must be a document")
		}
		f, err := parseEncrypt(encrypt.Data, inh, path)
		if err != nil {
			return nil, err
		}
		if scope.noRandom && f.algorithm == fle1Random {
			return nil, refusef(path, "Invalid schema containing the 'encrypt' keyword, %s encryption algorithm not allowed. The top-level _id (which this subschema describes or may describe) can only be encrypted deterministically", algRandomName)
		}
		n.enc = &encField{path: path, fle1: f}
		n.hasEnc = true
		return n, nil
	}
	if hasMeta {
		if scope.forbidden != "" {
			return nil, refusef(path, "%s %s", errEncryptMetadataKeyword, scope.forbidden)
		}
		if meta.Type != bsoncore.TypeEmbeddedDocument {
			return nil, refusef(path, "Invalid schema: 'encryptMetadata' must be a document")
		}
		if err := parseMetadata(meta.Data, &inh, path); err != nil {
			return nil, err
		}
	}
	// Sub-fields may be encrypted only where the schema says the value is an
	// object, so that no array can stand on an encrypted path.
	child := scope
	child.noRandom = false
	tv, hasTV := typeVal, hasType
	if !hasTV {
		tv, hasTV = bsonType, hasBSON
	}
	switch {
	case !hasTV:
		child.forbidden = "Encrypted fields are only allowed below a schema that restricts its type to 'object' (add bsonType: 'object')"
		if path != "" {
			child.forbidden += " at '" + path + "'"
		}
	case !isObjectType(tv):
		child.forbidden = "Encrypted fields are only allowed below a schema whose type is 'object' alone"
		if path != "" {
			child.forbidden += " (not at '" + path + "')"
		}
	}
	idInProperties := false
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		switch k {
		case "properties":
			if v.Type != bsoncore.TypeEmbeddedDocument {
				return nil, refusef(path, "Invalid schema: 'properties' must be a document")
			}
			n.props = map[string]*node{}
			for _, pe := range elements(v.Data) {
				name := pe.Key()
				pv := pe.Value()
				if pv.Type != bsoncore.TypeEmbeddedDocument {
					return nil, refusef(join(path, name), "Invalid schema: a property's schema must be a document")
				}
				s := child
				if strings.Contains(name, ".") && s.forbidden == "" {
					s.forbidden = "A property name containing a dot cannot hold encrypted fields"
				}
				if root && name == "_id" {
					idInProperties = true
					s.noRandom = true
				}
				c, err := p.level(pv.Data, inh, join(path, name), false, s)
				if err != nil {
					return nil, err
				}
				n.props[name] = c
				n.hasEnc = n.hasEnc || c.hasEnc
			}
		case "patternProperties":
			if v.Type != bsoncore.TypeEmbeddedDocument {
				return nil, refusef(path, "Invalid schema: 'patternProperties' must be a document")
			}
			for _, pe := range elements(v.Data) {
				pv := pe.Value()
				if pv.Type != bsoncore.TypeEmbeddedDocument {
					return nil, refusef(path, "Invalid schema: a patternProperties schema must be a document")
				}
				re, err := regexp.Compile(pe.Key())
				if err != nil {
					return nil, refusef(path, "Invalid schema: patternProperties regex %q does not compile", pe.Key())
				}
				s := child
				s.noRandom = root && re.MatchString("_id")
				c, err := p.level(pv.Data, inh, join(path, pe.Key()), false, s)
				if err != nil {
					return nil, err
				}
				n.patterns = append(n.patterns, patternNode{re: re, node: c})
				n.hasEnc = n.hasEnc || c.hasEnc
			}
		}
	}
	if v, ok := lookup(doc, "additionalProperties"); ok {
		switch v.Type {
		case bsoncore.TypeEmbeddedDocument:
			s := child
			s.noRandom = root && !idInProperties
			c, err := p.level(v.Data, inh, join(path, "*"), false, s)
			if err != nil {
				return nil, err
			}
			n.additional = c
			n.hasEnc = n.hasEnc || c.hasEnc
		case bsoncore.TypeBoolean:
		default:
			return nil, refusef(path, "Invalid schema: 'additionalProperties' must be a boolean or a document")
		}
	}
	return n, nil
}

// noEncryptBelow parses the subschemas of the array keywords (items,
// additionalItems) and of the logical keywords (allOf, anyOf, oneOf, not):
// they are checked like any subschema, and may not hold encrypt.
func (p *schemaParser) noEncryptBelow(doc []byte, inh inherited, path string) error {
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		var subs []bsoncore.Value
		switch k {
		case "items":
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument:
				subs = []bsoncore.Value{v}
			case bsoncore.TypeArray:
				for _, se := range elements(v.Data) {
					subs = append(subs, se.Value())
				}
			default:
				return refusef(path, "Invalid schema: 'items' must be a document or an array of documents")
			}
		case "additionalItems":
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument:
				subs = []bsoncore.Value{v}
			case bsoncore.TypeBoolean:
			default:
				return refusef(path, "Invalid schema: 'additionalItems' must be a boolean or a document")
			}
		case "allOf", "anyOf", "oneOf":
			if v.Type != bsoncore.TypeArray {
				return refusef(path, "Invalid schema: '%s' must be an array of documents", k)
			}
			for _, se := range elements(v.Data) {
				subs = append(subs, se.Value())
			}
		case "not":
			subs = []bsoncore.Value{v}
		default:
			continue
		}
		scope := encryptScope{forbidden: "Encrypted fields cannot be inside '" + k + "'"}
		if k == "items" || k == "additionalItems" {
			scope.forbidden = "An encrypted field cannot be inside an array ('" + k + "')"
		}
		for _, s := range subs {
			if s.Type != bsoncore.TypeEmbeddedDocument {
				return refusef(path, "Invalid schema: the subschemas of '%s' must be documents", k)
			}
			if _, err := p.level(s.Data, inh, path, false, scope); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// isObjectType reports whether a type or bsonType value restricts the type to
// object alone.
func isObjectType(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeString:
		return v.StringValue() == "object"
	case bsoncore.TypeArray:
		els := elements(v.Data)
		if len(els) == 0 {
			return false
		}
		for _, e := range els {
			ev := e.Value()
			if ev.Type != bsoncore.TypeString || ev.StringValue() != "object" {
				return false
			}
		}
		return true
	}
	return false
}

func parseAlgorithm(v bsoncore.Value, path string) (int32, error) {
	if v.Type != bsoncore.TypeString {
		return 0, refusef(path, "Invalid schema: 'algorithm' must be a string")
	}
	switch v.StringValue() {
	case algDeterministicName:
		return fle1Deterministic, nil
	case algRandomName:
		return fle1Random, nil
	}
	return 0, refusef(path, "Invalid schema: unknown encryption algorithm %q", v.StringValue())
}

// parseKeyID reads keyId: an array of exactly one UUID, or a JSON pointer string.
func parseKeyID(v bsoncore.Value, inh *inherited, path string) error {
	switch v.Type {
	case bsoncore.TypeString:
		p := v.StringValue()
		if !strings.HasPrefix(p, "/") {
			return refusef(path, "Invalid schema: keyId JSON pointer %q must start with '/'", p)
		}
		inh.keyAltPointer, inh.keyID, inh.hasKey = p, nil, true
		return nil
	case bsoncore.TypeArray:
		els := elements(v.Data)
		if len(els) != 1 {
			return refusef(path, "Invalid schema: keyId must be an array of exactly one UUID, got %d elements", len(els))
		}
		st, data, ok := els[0].Value().BinaryOK()
		if !ok || st != uuidSubtype || len(data) != 16 {
			return refusef(path, "Invalid schema: keyId must hold a UUID (BinData subtype 4, 16 bytes)")
		}
		inh.keyID, inh.keyAltPointer, inh.hasKey = append([]byte(nil), data...), "", true
		return nil
	}
	return refusef(path, "Invalid schema: keyId must be an array of UUIDs or a JSON pointer string, got %s", typeName(v.Type))
}

func parseMetadata(doc []byte, inh *inherited, path string) error {
	for _, e := range elements(doc) {
		switch e.Key() {
		case "algorithm":
			a, err := parseAlgorithm(e.Value(), path)
			if err != nil {
				return err
			}
			inh.algorithm = a
		case "keyId":
			if err := parseKeyID(e.Value(), inh, path); err != nil {
				return err
			}
		default:
			return refusef(path, "Invalid schema: unknown field '%s' in encryptMetadata", e.Key())
		}
	}
	return nil
}

// detForbidden are the types deterministic encryption refuses: values whose
// equality is not byte equality (double, decimal, object, array, code with
// scope) and bool, whose two ciphertexts would give the value away.
var detForbidden = map[string]bool{
	"double": true, "decimal": true, "bool": true, "object": true, "array": true,
	"javascriptWithScope": true,
}

// unencryptable are the types that carry nothing but their type: encrypting
// them would hide nothing, so no algorithm accepts them.
var unencryptable = map[string]bool{"null": true, "undefined": true, "minKey": true, "maxKey": true}

func parseEncrypt(doc []byte, inh inherited, path string) (*fle1Field, error) {
	f := &fle1Field{}
	for _, e := range elements(doc) {
		v := e.Value()
		switch e.Key() {
		case "algorithm":
			a, err := parseAlgorithm(v, path)
			if err != nil {
				return nil, err
			}
			inh.algorithm = a
		case "keyId":
			if err := parseKeyID(v, &inh, path); err != nil {
				return nil, err
			}
		case "bsonType":
			switch v.Type {
			case bsoncore.TypeString:
				f.bsonTypes = []string{v.StringValue()}
			case bsoncore.TypeArray:
				for _, te := range elements(v.Data) {
					tv := te.Value()
					if tv.Type != bsoncore.TypeString {
						return nil, refusef(path, "Invalid schema: bsonType must be a string or an array of strings")
					}
					f.bsonTypes = append(f.bsonTypes, tv.StringValue())
				}
			default:
				return nil, refusef(path, "Invalid schema: bsonType must be a string or an array of strings")
			}
			for _, t := range f.bsonTypes {
				if !knownTypeNames[t] {
					return nil, refusef(path, "Invalid schema: unknown bsonType '%s'", t)
				}
			}
		default:
			return nil, refusef(path, "Invalid schema: unknown field '%s' in encrypt", e.Key())
		}
	}
	if inh.algorithm == 0 {
		return nil, refusef(path, "Invalid schema: encrypt has no algorithm (directly or through encryptMetadata)")
	}
	if !inh.hasKey {
		return nil, refusef(path, "Invalid schema: encrypt has no keyId (directly or through encryptMetadata)")
	}
	f.algorithm, f.keyID, f.keyAltPointer = inh.algorithm, inh.keyID, inh.keyAltPointer
	if f.algorithm == fle1Deterministic {
		if f.keyAltPointer != "" {
			return nil, refusef(path, "Invalid schema: deterministic encryption requires a UUID keyId, not a JSON pointer")
		}
		if len(f.bsonTypes) != 1 || f.bsonTypes[0] == "number" {
			return nil, refusef(path, "Invalid schema: A deterministically encrypted field must have exactly one specified type.")
		}
		if detForbidden[f.bsonTypes[0]] {
			return nil, refusef(path, "Invalid schema: Cannot use deterministic encryption for element of type: %s", f.bsonTypes[0])
		}
	}
	for _, t := range f.bsonTypes {
		if unencryptable[t] {
			return nil, refusef(path, "Invalid schema: Cannot encrypt element of type: %s", t)
		}
	}
	return f, nil
}

// --- QE encryptedFields --------------------------------------------------------

// FLE2 placeholder algorithm codes ('a') and types ('t').
const (
	fle2Unindexed int32 = 1
	fle2Equality  int32 = 2
	fle2Range     int32 = 3
	fle2Text      int32 = 4

	fle2Insert int32 = 1
	fle2Find   int32 = 2
)

// Defaults mongocryptd applies to QE query configurations.
const (
	defaultContention int64 = 8
	defaultSparsity   int64 = 2
	defaultTrimFactor int32 = 6
)

// textIndex is one text query configuration (prefix, suffix or substring).
type textIndex struct {
	contention int64
	lb, ub     int32 // strMinQueryLength, strMaxQueryLength
	mlen       int32 // strMaxLength (substring only)
	hasMlen    bool
}

// qeField is the encryption metadata of a QE field.
type qeField struct {
	keyID      []byte
	bsonType   string
	equality   bool
	contention int64 // of the equality or range query
	rng        *rangeConfig
	// text search: any of prefix, suffix, substring; casef/diacf are shared.
	prefix, suffix, substr *textIndex
	casef, diacf           bool
}

func (q *qeField) text() bool { return q.prefix != nil || q.suffix != nil || q.substr != nil }

// rangeConfig is a range query configuration.
type rangeConfig struct {
	min, max     bsoncore.Value // zero Type when absent
	sparsity     int64
	hasSparsity  bool
	precision    int32
	hasPrecision bool
	trimFactor   int32
	hasTrim      bool
}

// parseEncryptedFields parses an encryptedFields document into a node tree.
// The document is read by the client's parser, [qe.ParseEncryptedFields] (as
// libmongocrypt parses it before query analysis sees it): fields, paths, keys,
// query types and strEncodeVersion. What mongocryptd checks beyond that
// (bsonType, query options, overlapping paths) is checked here.
func parseEncryptedFields(doc []byte) (*node, int32, error) {
	ef, err := qe.ParseEncryptedFields(doc)
	if err != nil {
		return nil, 0, cmdErr("invalid encryptedFields: %s", strings.TrimPrefix(err.Error(), "qe: "))
	}
	root := &node{props: map[string]*node{}}
	var paths []string
	for i := range ef.Fields {
		f, err := parseQEField(&ef.Fields[i])
		if err != nil {
			return nil, 0, err
		}
		paths = append(paths, f.path)
		if err := insertPath(root, f); err != nil {
			return nil, 0, err
		}
	}
	// The strEncodeVersion to append: none when the document gives one.
	strEnc := ef.StrEncodeVersion
	if _, ok := lookup(doc, "strEncodeVersion"); ok {
		strEnc = 0
	}
	sort.Strings(paths)
	for i := 1; i < len(paths); i++ {
		if paths[i] == paths[i-1] || strings.HasPrefix(paths[i], paths[i-1]+".") {
			return nil, 0, refusef(paths[i], "invalid encryptedFields: encrypted field paths overlap ('%s')", paths[i-1])
		}
	}
	return root, strEnc, nil
}

func insertPath(root *node, f *encField) error {
	parts := strings.Split(f.path, ".")
	cur := root
	for i, p := range parts {
		if p == "" {
			return refusef(f.path, "invalid encryptedFields: empty path component")
		}
		cur.hasEnc = true
		c, ok := cur.props[p]
		if !ok {
			c = &node{props: map[string]*node{}}
			cur.props[p] = c
		}
		if c.enc != nil {
			return refusef(f.path, "invalid encryptedFields: encrypted field paths overlap ('%s')", c.enc.path)
		}
		if i == len(parts)-1 {
			if len(c.props) > 0 {
				return refusef(f.path, "invalid encryptedFields: encrypted field paths overlap")
			}
			c.enc, c.hasEnc, c.props = f, true, nil
		}
		cur = c
	}
	return nil
}

// intOption reads an integral number option (int32, int64 or integral double).
func intOption(v bsoncore.Value, name, path string) (int64, error) {
	switch v.Type {
	case bsoncore.TypeInt32:
		return int64(v.Int32()), nil
	case bsoncore.TypeInt64:
		return v.Int64(), nil
	case bsoncore.TypeDouble:
		f := v.Double()
		if f == float64(int64(f)) {
			return int64(f), nil
		}
	}
	return 0, refusef(path, "invalid encryptedFields: '%s' must be an integer", name)
}

// parseQEField checks one field of a parsed encryptedFields as mongocryptd
// does and returns its encryption metadata.
func parseQEField(f *qe.EncryptedField) (*encField, error) {
	path := f.Path
	if f.KeyID == nil {
		return nil, refusef(path, "invalid encryptedFields: the field names a keyAltName; translate it to keyId before analysis")
	}
	q := &qeField{keyID: append([]byte(nil), f.KeyID[:]...)}
	for _, e := range elements(f.Doc) {
		if e.Key() != "bsonType" {
			continue
		}
		v := e.Value()
		if v.Type != bsoncore.TypeString {
			return nil, cmdErr("invalid encryptedFields: 'fields.bsonType' must be a string")
		}
		q.bsonType = v.StringValue()
	}
	if q.bsonType == "" {
		return nil, refusef(path, "invalid encryptedFields: 'bsonType' is required")
	}
	if !knownTypeNames[q.bsonType] || q.bsonType == "number" {
		return nil, refusef(path, "invalid encryptedFields: unknown bsonType '%s'", q.bsonType)
	}
	for _, qd := range f.QueryDocs {
		if err := parseQuery(qd, q, path); err != nil {
			return nil, err
		}
	}
	if err := checkQETypes(q, path); err != nil {
		return nil, err
	}
	return &encField{path: path, qe: q}, nil
}

// parseQuery reads the options of one query document of a field, whose query
// type the client's parser has read.
func parseQuery(qd qe.QueryDoc, q *qeField, path string) error {
	doc := qd.Doc
	contention := defaultContention
	if v, ok := lookup(doc, "contention"); ok {
		c, err := intOption(v, "contention", path)
		if err != nil {
			return err
		}
		if c < 0 {
			return refusef(path, "invalid encryptedFields: contention must be non-negative")
		}
		contention = c
	}
	switch qd.Type {
	case qe.QueryEquality:
		q.equality, q.contention = true, contention
	case qe.QueryRange:
		r := &rangeConfig{}
		for _, e := range elements(doc) {
			v := e.Value()
			switch e.Key() {
			case "min":
				r.min = v
			case "max":
				r.max = v
			case "sparsity":
				s, err := intOption(v, "sparsity", path)
				if err != nil {
					return err
				}
				if s < 1 || s > 4 {
					return refusef(path, "invalid encryptedFields: sparsity must be between 1 and 4")
				}
				r.sparsity, r.hasSparsity = s, true
			case "precision":
				p, err := intOption(v, "precision", path)
				if err != nil {
					return err
				}
				if p < 0 || p > 1<<31-1 {
					return refusef(path, "invalid encryptedFields: precision must be non-negative")
				}
				r.precision, r.hasPrecision = int32(p), true
			case "trimFactor":
				t, err := intOption(v, "trimFactor", path)
				if err != nil {
					return err
				}
				if t < 0 || t > 1<<31-1 {
					return refusef(path, "invalid encryptedFields: trimFactor must be non-negative")
				}
				r.trimFactor, r.hasTrim = int32(t), true
			}
		}
		if (r.min.Type == 0) != (r.max.Type == 0) {
			return refusef(path, "invalid encryptedFields: range min and max must be given together")
		}
		q.rng, q.contention = r, contention
	case qe.QueryPrefix, qe.QueryPrefixPreview, qe.QuerySuffix, qe.QuerySuffixPreview, qe.QuerySubstring:
		t := &textIndex{contention: contention}
		var hasCase, hasDiac, hasLB, hasUB bool
		for _, e := range elements(doc) {
			v := e.Value()
			switch e.Key() {
			case "strMinQueryLength":
				n, err := intOption(v, "strMinQueryLength", path)
				if err != nil {
					return err
				}
				t.lb, hasLB = int32(n), true
			case "strMaxQueryLength":
				n, err := intOption(v, "strMaxQueryLength", path)
				if err != nil {
					return err
				}
				t.ub, hasUB = int32(n), true
			case "strMaxLength":
				n, err := intOption(v, "strMaxLength", path)
				if err != nil {
					return err
				}
				t.mlen, t.hasMlen = int32(n), true
			case "caseSensitive":
				if v.Type != bsoncore.TypeBoolean {
					return refusef(path, "invalid encryptedFields: 'caseSensitive' must be a boolean")
				}
				q.casef, hasCase = !v.Boolean(), true
			case "diacriticSensitive":
				if v.Type != bsoncore.TypeBoolean {
					return refusef(path, "invalid encryptedFields: 'diacriticSensitive' must be a boolean")
				}
				q.diacf, hasDiac = !v.Boolean(), true
			}
		}
		if !hasCase || !hasDiac {
			return refusef(path, "invalid encryptedFields: text queries require 'caseSensitive' and 'diacriticSensitive'")
		}
		if !hasLB || !hasUB {
			return refusef(path, "invalid encryptedFields: text queries require 'strMinQueryLength' and 'strMaxQueryLength'")
		}
		if t.lb <= 0 || t.ub < t.lb {
			return refusef(path, "invalid encryptedFields: text query lengths must satisfy 0 < strMinQueryLength <= strMaxQueryLength")
		}
		switch qd.Type {
		case qe.QueryPrefix, qe.QueryPrefixPreview:
			q.prefix = t
		case qe.QuerySuffix, qe.QuerySuffixPreview:
			q.suffix = t
		default:
			if !t.hasMlen {
				return refusef(path, "invalid encryptedFields: substring queries require 'strMaxLength'")
			}
			q.substr = t
		}
	default:
		// qe.ParseEncryptedFields refuses rangePreview and names no other type.
		return refusef(path, "invalid encryptedFields: unsupported query type")
	}
	return nil
}

// rangeTypes are the types a QE range index supports.
var rangeTypes = map[string]bool{"int": true, "long": true, "date": true, "double": true, "decimal": true}

// equalityForbidden are the types a QE equality index refuses.
var equalityForbidden = map[string]bool{
	"double": true, "decimal": true, "object": true, "array": true, "bool": true,
	"javascriptWithScope": true, "null": true, "undefined": true, "minKey": true, "maxKey": true,
}

func checkQETypes(q *qeField, path string) error {
	kinds := 0
	if q.equality {
		kinds++
		if equalityForbidden[q.bsonType] {
			return refusef(path, "invalid encryptedFields: type '%s' is not supported for equality queries", q.bsonType)
		}
	}
	if q.rng != nil {
		kinds++
		if !rangeTypes[q.bsonType] {
			return refusef(path, "invalid encryptedFields: type '%s' is not supported for range queries", q.bsonType)
		}
		for _, b := range []bsoncore.Value{q.rng.min, q.rng.max} {
			if b.Type != 0 && typeName(b.Type) != q.bsonType {
				return refusef(path, "invalid encryptedFields: range min/max of type %s do not match bsonType '%s'", typeName(b.Type), q.bsonType)
			}
		}
		if (q.bsonType == "int" || q.bsonType == "long" || q.bsonType == "date") && q.rng.min.Type == 0 {
			// mongocryptd fills the full domain of the type.
			q.rng.min, q.rng.max = typeDomain(q.bsonType)
		}
		if q.rng.hasPrecision && q.bsonType != "double" && q.bsonType != "decimal" {
			return refusef(path, "invalid encryptedFields: precision is only allowed for double and decimal")
		}
	}
	if q.text() {
		kinds++
		if q.bsonType != "string" {
			return refusef(path, "invalid encryptedFields: text search queries require bsonType 'string'")
		}
	}
	if kinds > 1 {
		return refusef(path, "invalid encryptedFields: a field may combine text search queries only with each other")
	}
	return nil
}
