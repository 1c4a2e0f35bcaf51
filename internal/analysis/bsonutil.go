package analysis

import (
	"strconv"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// maxDepth bounds the nesting of documents and arrays accepted from callers,
// so that recursion on untrusted input cannot exhaust the stack.
const maxDepth = 180

// validateDoc checks that doc is well-formed BSON, recursively, up to maxDepth
// levels. After it succeeds the bsoncore accessors used in this package cannot
// panic on doc or on any value inside it.
func validateDoc(doc []byte, depth int) error { return validate(doc, depth, false) }

// validateCommand is validateDoc for a caller's command, which may not hold
// an encryption placeholder (see isPlaceholder): query analysis encrypts every
// placeholder of its result, so one of the caller's would have a value of the
// caller's choice encrypted under any key of the key vault. The check rides
// on the validation walk, so it costs no pass of its own.
func validateCommand(doc []byte) error { return validate(doc, 0, true) }

// isPlaceholder reports whether v is an encryption placeholder. Its BSON
// value is int32 length || 0x06 (encrypted binary) || blob, and the blob's
// first byte is 0 for an FLE1 placeholder or 3 for an FLE2 one (the layouts
// follow in the package documentation); 1, 2 and the other FLE2 blob
// subtypes are ciphertexts and payloads.
func isPlaceholder(v bsoncore.Value) bool {
	st, data, ok := v.BinaryOK()
	return ok && st == binSubtypeEncrypted && len(data) > 0 &&
		(fleblob.Subtype(data[0]) == fleblob.FLE1EncryptionPlaceholder || fleblob.Subtype(data[0]) == fleblob.FLE2EncryptionPlaceholder)
}

func validate(doc []byte, depth int, noPlaceholders bool) error {
	if depth > maxDepth {
		return cmdErr("document nested more than %d levels", maxDepth)
	}
	if err := bsoncore.Document(doc).Validate(); err != nil {
		return cmdErr("malformed BSON: %v", err)
	}
	d := bsoncore.Document(doc)
	length := int(int32(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24))
	if length != len(doc) {
		return cmdErr("malformed BSON: document length %d but %d bytes given", length, len(doc))
	}
	elems, err := d.Elements()
	if err != nil {
		return cmdErr("malformed BSON: %v", err)
	}
	for _, e := range elems {
		if err := e.Validate(); err != nil {
			return cmdErr("malformed BSON: %v", err)
		}
		v := e.Value()
		switch v.Type {
		case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
			if err := validate(v.Data, depth+1, noPlaceholders); err != nil {
				return err
			}
		case bsoncore.TypeBinary:
			if noPlaceholders && isPlaceholder(v) {
				return refusef(e.Key(), "the command holds an encryption placeholder (binary subtype 6 of blob subtype %d): automatic encryption refuses commands that carry placeholders of their own", v.Data[5])
			}
		case bsoncore.TypeCodeWithScope:
			_, scope, ok := v.CodeWithScopeOK()
			if !ok {
				return cmdErr("malformed BSON: bad code with scope")
			}
			if err := validate(scope, depth+1, noPlaceholders); err != nil {
				return err
			}
		}
	}
	return nil
}

// elements returns the elements of a validated document or array.
func elements(doc []byte) []bsoncore.Element {
	els, err := bsoncore.Document(doc).Elements()
	if err != nil {
		return nil
	}
	return els
}

// lookup returns the value of key in a validated document, and whether it is present.
func lookup(doc []byte, key string) (bsoncore.Value, bool) {
	for _, e := range elements(doc) {
		if e.Key() == key {
			return e.Value(), true
		}
	}
	return bsoncore.Value{}, false
}

// docBuilder builds a BSON document by appending elements.
type docBuilder struct {
	idx int32
	buf []byte
}

func newDoc() *docBuilder {
	b := &docBuilder{}
	b.idx, b.buf = bsoncore.AppendDocumentStart(nil)
	return b
}

func (b *docBuilder) value(key string, v bsoncore.Value) *docBuilder {
	b.buf = bsoncore.AppendValueElement(b.buf, key, v)
	return b
}

func (b *docBuilder) doc(key string, d []byte) *docBuilder {
	b.buf = bsoncore.AppendDocumentElement(b.buf, key, d)
	return b
}

func (b *docBuilder) array(key string, a []byte) *docBuilder {
	b.buf = bsoncore.AppendArrayElement(b.buf, key, a)
	return b
}

func (b *docBuilder) int32(key string, i int32) *docBuilder {
	b.buf = bsoncore.AppendInt32Element(b.buf, key, i)
	return b
}

func (b *docBuilder) int64(key string, i int64) *docBuilder {
	b.buf = bsoncore.AppendInt64Element(b.buf, key, i)
	return b
}

func (b *docBuilder) boolean(key string, v bool) *docBuilder {
	b.buf = bsoncore.AppendBooleanElement(b.buf, key, v)
	return b
}

func (b *docBuilder) str(key, s string) *docBuilder {
	b.buf = bsoncore.AppendStringElement(b.buf, key, s)
	return b
}

func (b *docBuilder) binary(key string, subtype byte, data []byte) *docBuilder {
	b.buf = bsoncore.AppendBinaryElement(b.buf, key, subtype, data)
	return b
}

func (b *docBuilder) element(e bsoncore.Element) *docBuilder {
	b.buf = append(b.buf, e...)
	return b
}

func (b *docBuilder) build() []byte {
	out, _ := bsoncore.AppendDocumentEnd(b.buf, b.idx)
	return out
}

// arrayBuilder builds a BSON array.
type arrayBuilder struct {
	idx int32
	n   int
	buf []byte
}

func newArray() *arrayBuilder {
	a := &arrayBuilder{}
	a.idx, a.buf = bsoncore.AppendArrayStart(nil)
	return a
}

func (a *arrayBuilder) value(v bsoncore.Value) *arrayBuilder {
	a.buf = bsoncore.AppendValueElement(a.buf, strconv.Itoa(a.n), v)
	a.n++
	return a
}

func (a *arrayBuilder) doc(d []byte) *arrayBuilder {
	return a.value(docValue(d))
}

func (a *arrayBuilder) build() []byte {
	out, _ := bsoncore.AppendArrayEnd(a.buf, a.idx)
	return out
}

func docValue(d []byte) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: d}
}

func arrayValue(a []byte) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeArray, Data: a}
}

func binaryValue(subtype byte, data []byte) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, subtype, data)}
}

func doubleValue(f float64) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, f)}
}

// typeName is the BSON type alias used by $type and by bsonType in schemas.
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
	}
	return "unknown"
}

// knownTypeNames are the bsonType aliases a schema may use.
var knownTypeNames = map[string]bool{
	"double": true, "string": true, "object": true, "array": true, "binData": true,
	"undefined": true, "objectId": true, "bool": true, "date": true, "null": true,
	"regex": true, "dbPointer": true, "javascript": true, "symbol": true,
	"javascriptWithScope": true, "int": true, "timestamp": true, "long": true,
	"decimal": true, "minKey": true, "maxKey": true, "number": true,
}

// typeMatches reports whether a value of type t satisfies the bsonType alias name.
func typeMatches(name string, t bsoncore.Type) bool {
	if name == "number" {
		return t == bsoncore.TypeInt32 || t == bsoncore.TypeInt64 || t == bsoncore.TypeDouble || t == bsoncore.TypeDecimal128
	}
	return typeName(t) == name
}

// isEncryptedBinary reports whether v is BinData subtype 6 (already encrypted
// or a placeholder): such values are passed through unchanged.
func isEncryptedBinary(v bsoncore.Value) bool {
	if v.Type != bsoncore.TypeBinary {
		return false
	}
	st, _, ok := v.BinaryOK()
	return ok && st == 6
}
