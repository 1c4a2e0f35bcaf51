package fle2

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// tokenSet is one EdgeTokenSetV2 or TextSearchTokenSet: {d, s, l, p}, p absent in find
// payloads.
type tokenSet struct {
	edc, esc, server token
	encrypted        []byte
}

// insertPayload is a parsed FLE2InsertUpdatePayloadV2 (blob subtype 11), a BSON document:
//
//	d: EDCDerivedFromDataTokenAndContentionFactor (32)   s: ESC... (32)
//	p: EncryptCTR(ECOCToken, s [|| isLeaf (1) | msize (3)])   u: UUID, the index key id
//	t: int32 BSON type   v: K_KeyId (16) || FLE2v2AEAD(K_Key, value)
//	e: ServerDataEncryptionLevel1Token (32)   l: ServerDerivedFromDataToken (32)
//	k: int64 contention factor
//	g: [EdgeTokenSetV2 {d, s, l, p}] (range)   sp, pn, tf, mn, mx (range parameters)
//	b: {e: {d, s, l, p}, s: [...], u: [...], p: [...]} (text search)
type insertPayload struct {
	set        tokenSet // d, s, l, p
	indexKeyID []byte
	valueType  int32
	value      []byte
	serverEnc  token
	contention int64

	edges []tokenSet // g, nil when absent
	text  *textSets  // b
}

type textSets struct {
	exact                          tokenSet
	substrings, suffixes, prefixes []tokenSet
}

// all returns the text token sets in the server's order: exact, substrings, suffixes,
// prefixes.
func (t *textSets) all() []tokenSet {
	out := make([]tokenSet, 0, 1+len(t.substrings)+len(t.suffixes)+len(t.prefixes))
	out = append(out, t.exact)
	out = append(out, t.substrings...)
	out = append(out, t.suffixes...)
	return append(out, t.prefixes...)
}

const (
	insertPayloadName = "FLE2InsertUpdatePayloadV2"
	maxTokenSets      = 1 << 20 // refused beyond: no real payload comes near
)

// docReader reads the fields of one IDL-style document with the server's parse errors.
type docReader struct {
	name string
	seen map[string]bool
}

func newDocReader(name string) *docReader { return &docReader{name: name, seen: map[string]bool{}} }

// elements validates doc and returns its elements, refusing duplicate keys.
func (r *docReader) elements(doc bsoncore.Document) ([]bsoncore.Element, error) {
	if err := doc.Validate(); err != nil {
		return nil, errorf(codeInvalidBSON, "%s: invalid BSON", r.name)
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, errorf(codeInvalidBSON, "%s: invalid BSON", r.name)
	}
	for _, e := range elems {
		k := e.Key()
		if r.seen[k] {
			return nil, errorf(codeIDLFailedToParse, "BSON field '%s.%s' is a duplicate field", r.name, k)
		}
		r.seen[k] = true
	}
	return elems, nil
}

func (r *docReader) require(keys ...string) error {
	for _, k := range keys {
		if !r.seen[k] {
			return errorf(codeIDLFailedToParse, "BSON field '%s.%s' is missing but a required field", r.name, k)
		}
	}
	return nil
}

func (r *docReader) wrongType(key string, v bsoncore.Value, want string) error {
	return errorf(codeTypeMismatch, "BSON field '%s.%s' is the wrong type '%s', expected type '%s'", r.name, key, typeName(v.Type), want)
}

func (r *docReader) binary(key string, v bsoncore.Value, subtype byte) ([]byte, error) {
	st, data, ok := v.BinaryOK()
	if !ok {
		return nil, r.wrongType(key, v, "binData")
	}
	if st != subtype {
		return nil, errorf(codeBadValue, "BSON field '%s.%s' is the wrong binData subtype %d, expected %d", r.name, key, st, subtype)
	}
	return data, nil
}

func (r *docReader) token(key string, v bsoncore.Value) (token, error) {
	var t token
	data, err := r.binary(key, v, 0)
	if err != nil {
		return t, err
	}
	if len(data) != tokenLen {
		return t, errorf(codeBadValue, "BSON field '%s.%s': invalid token length %d, expected %d", r.name, key, len(data), tokenLen)
	}
	copy(t[:], data)
	return t, nil
}

func (r *docReader) int32(key string, v bsoncore.Value) (int32, error) {
	n, ok := v.Int32OK()
	if !ok {
		return 0, r.wrongType(key, v, "int")
	}
	return n, nil
}

func (r *docReader) int64(key string, v bsoncore.Value) (int64, error) {
	n, ok := v.Int64OK()
	if !ok {
		return 0, r.wrongType(key, v, "long")
	}
	return n, nil
}

func (r *docReader) document(key string, v bsoncore.Value) (bsoncore.Document, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return nil, r.wrongType(key, v, "object")
	}
	return d, nil
}

func (r *docReader) array(key string, v bsoncore.Value) ([]bsoncore.Value, error) {
	a, ok := v.ArrayOK()
	if !ok {
		return nil, r.wrongType(key, v, "array")
	}
	vals, err := a.Values()
	if err != nil {
		return nil, errorf(codeInvalidBSON, "%s.%s: invalid BSON array", r.name, key)
	}
	return vals, nil
}

// parseTokenSet reads {d, s, l, p}; withP says whether p is required (insert) or absent
// (find, where it is ignored).
func parseTokenSet(name string, doc bsoncore.Document, withP bool) (tokenSet, error) {
	r := newDocReader(name)
	elems, err := r.elements(doc)
	if err != nil {
		return tokenSet{}, err
	}
	var s tokenSet
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "d":
			s.edc, err = r.token(k, v)
		case "s":
			s.esc, err = r.token(k, v)
		case "l":
			s.server, err = r.token(k, v)
		case "p":
			if withP {
				s.encrypted, err = r.binary(k, v, 0)
			}
		}
		if err != nil {
			return tokenSet{}, err
		}
	}
	req := []string{"d", "s", "l"}
	if withP {
		req = append(req, "p")
	}
	return s, r.require(req...)
}

// parseTokenSets reads an array of token sets.
func parseTokenSets(r *docReader, key string, v bsoncore.Value, name string, withP bool, budget *int) ([]tokenSet, error) {
	vals, err := r.array(key, v)
	if err != nil {
		return nil, err
	}
	if *budget -= len(vals); *budget < 0 {
		return nil, errorf(codeBadValue, "%s: too many token sets", r.name)
	}
	out := make([]tokenSet, len(vals))
	for i, ev := range vals {
		d, ok := ev.DocumentOK()
		if !ok {
			return nil, r.wrongType(fmt.Sprintf("%s.%d", key, i), ev, "object")
		}
		if out[i], err = parseTokenSet(name, d, withP); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseInsertPayload parses the BSON document after the subtype byte. Unknown fields are
// ignored, so that a newer client's additions do not break it.
func parseInsertPayload(doc bsoncore.Document) (*insertPayload, error) {
	r := newDocReader(insertPayloadName)
	elems, err := r.elements(doc)
	if err != nil {
		return nil, err
	}
	p := &insertPayload{}
	budget := maxTokenSets
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "d":
			p.set.edc, err = r.token(k, v)
		case "s":
			p.set.esc, err = r.token(k, v)
		case "p":
			p.set.encrypted, err = r.binary(k, v, 0)
		case "u":
			p.indexKeyID, err = r.binary(k, v, 4)
			if err == nil && len(p.indexKeyID) != 16 {
				err = errorf(codeBadValue, "BSON field '%s.u': UUID must be 16 bytes", insertPayloadName)
			}
		case "t":
			p.valueType, err = r.int32(k, v)
		case "v":
			p.value, err = r.binary(k, v, 0)
		case "e":
			p.serverEnc, err = r.token(k, v)
		case "l":
			p.set.server, err = r.token(k, v)
		case "k":
			p.contention, err = r.int64(k, v)
		case "g":
			p.edges, err = parseTokenSets(r, k, v, "EdgeTokenSetV2", true, &budget)
			if err == nil && p.edges == nil {
				p.edges = []tokenSet{}
			}
		case "sp":
			_, err = r.int64(k, v)
		case "pn", "tf":
			_, err = r.int32(k, v)
		case "mn", "mx":
			// any type
		case "b":
			p.text, err = parseTextSets(r, v, &budget)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := r.require("d", "s", "p", "u", "t", "v", "e", "l", "k"); err != nil {
		return nil, err
	}
	return p, nil
}

func parseTextSets(parent *docReader, v bsoncore.Value, budget *int) (*textSets, error) {
	const name = "TextSearchTokenSets"
	doc, err := parent.document("b", v)
	if err != nil {
		return nil, err
	}
	r := newDocReader(name)
	elems, err := r.elements(doc)
	if err != nil {
		return nil, err
	}
	t := &textSets{}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "e":
			var d bsoncore.Document
			if d, err = r.document(k, v); err == nil {
				t.exact, err = parseTokenSet("TextExactTokenSet", d, true)
			}
		case "s":
			t.substrings, err = parseTokenSets(r, k, v, "TextSubstringTokenSet", true, budget)
		case "u":
			t.suffixes, err = parseTokenSets(r, k, v, "TextSuffixTokenSet", true, budget)
		case "p":
			t.prefixes, err = parseTokenSets(r, k, v, "TextPrefixTokenSet", true, budget)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, r.require("e", "s", "u", "p")
}

// typeName is the server's typeName of a BSON type.
func typeName(t bsoncore.Type) string {
	switch t {
	case bsoncore.TypeDouble:
		return "double"
	case bsoncore.TypeString:
		return "string"
	case bsoncore.TypeEmbeddedDocument:
		return "object"
	case bsoncore.TypeArray:
		return "array"
	case bsoncore.TypeBinary:
		return "binData"
	case bsoncore.TypeUndefined:
		return "undefined"
	case bsoncore.TypeObjectID:
		return "objectId"
	case bsoncore.TypeBoolean:
		return "bool"
	case bsoncore.TypeDateTime:
		return "date"
	case bsoncore.TypeNull:
		return "null"
	case bsoncore.TypeRegex:
		return "regex"
	case bsoncore.TypeDBPointer:
		return "dbPointer"
	case bsoncore.TypeJavaScript:
		return "javascript"
	case bsoncore.TypeSymbol:
		return "symbol"
	case bsoncore.TypeCodeWithScope:
		return "javascriptWithScope"
	case bsoncore.TypeInt32:
		return "int"
	case bsoncore.TypeTimestamp:
		return "timestamp"
	case bsoncore.TypeInt64:
		return "long"
	case bsoncore.TypeDecimal128:
		return "decimal"
	case bsoncore.TypeMinKey:
		return "minKey"
	case bsoncore.TypeMaxKey:
		return "maxKey"
	case 0:
		return "missing"
	}
	return fmt.Sprintf("<unknown type %d>", byte(t))
}

// equalitySupported is isFLE2EqualityIndexedSupportedType (encryption_fields_util.h).
func equalitySupported(t bsoncore.Type) bool {
	switch t {
	case bsoncore.TypeBinary, bsoncore.TypeJavaScript, bsoncore.TypeRegex, bsoncore.TypeString,
		bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeBoolean, bsoncore.TypeTimestamp,
		bsoncore.TypeDateTime, bsoncore.TypeObjectID, bsoncore.TypeSymbol, bsoncore.TypeDBPointer:
		return true
	}
	return false
}

// rangeSupported is isFLE2RangeIndexedSupportedType.
func rangeSupported(t bsoncore.Type) bool {
	switch t {
	case bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDecimal128, bsoncore.TypeDouble, bsoncore.TypeDateTime:
		return true
	}
	return false
}
