package qerewrite

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// Crypto is what the rewriting needs from the server-side crypto; the layer
// implements it. Its errors must not hold values or secrets: they are passed on.
type Crypto interface {
	// Insert turns a payload 11 for field f into the stored value and its tags
	// (the layer writes the ESC/ECOC entries).
	Insert(ctx context.Context, f *Field, payload []byte) (stored []byte, tags [][]byte, err error)
	// FindTags returns the tags a find payload (12, 13, 18) matches.
	FindTags(ctx context.Context, f *Field, payload []byte) ([][]byte, error)
	// StoredTags returns the tags in a stored value 14/15/17.
	StoredTags(stored []byte) ([][]byte, error)
}

// binaryEncrypted is BSON binary subtype 6, which holds FLE blobs.
const binaryEncrypted = 6

// blobOf returns the FLE blob subtype and the data (subtype byte first) of a
// BSON binary of subtype 6.
func blobOf(v bsoncore.Value) (fleblob.Subtype, []byte, bool) {
	if v.Type != bsoncore.TypeBinary {
		return 0, nil, false
	}
	st, data, ok := v.BinaryOK()
	if !ok || st != binaryEncrypted || len(data) == 0 {
		return 0, nil, false
	}
	return fleblob.Subtype(data[0]), data, true
}

// isClientPayload reports whether a blob subtype is one a client sends for the
// server to process: a placeholder, an insert/update payload or a find
// payload, of any version. Stored values and FLE1 ciphertexts are not.
func isClientPayload(s fleblob.Subtype) bool {
	switch s {
	case fleblob.FLE2EncryptionPlaceholder, fleblob.FLE2InsertUpdatePayload, fleblob.FLE2FindEqualityPayload,
		fleblob.FLE2FindRangePayload, fleblob.FLE2InsertUpdatePayloadV2, fleblob.FLE2FindEqualityPayloadV2,
		fleblob.FLE2FindRangePayloadV2, fleblob.FLE2FindTextPayload:
		return true
	}
	return false
}

// isFLE2Value reports whether a blob subtype is a stored QE value, which the
// implicit validator accepts in an encrypted field
// ($_internalSchemaBinDataFLE2EncryptedType).
func isFLE2Value(s fleblob.Subtype) bool {
	switch s {
	case fleblob.FLE2UnindexedEncryptedValue, fleblob.FLE2IndexedEqualityEncryptedValue,
		fleblob.FLE2IndexedRangeEncryptedValue, fleblob.FLE2IndexedEqualityEncryptedValueV2,
		fleblob.FLE2IndexedRangeEncryptedValueV2, fleblob.FLE2UnindexedEncryptedValueV2,
		fleblob.FLE2IndexedTextEncryptedValue:
		return true
	}
	return false
}

// isIndexedValue reports whether a blob subtype is a stored indexed value
// with tags in __safeContent__.
func isIndexedValue(s fleblob.Subtype) bool {
	return s == fleblob.FLE2IndexedEqualityEncryptedValueV2 || s == fleblob.FLE2IndexedRangeEncryptedValueV2 ||
		s == fleblob.FLE2IndexedTextEncryptedValue
}

// HasPayload reports whether a value tree contains any BinData 6 QE payload a
// client sends for the server to process (subtypes 3, 4, 5, 10, 11, 12, 13,
// 18); stored values and FLE1 ciphertexts are not payloads. The layer refuses
// commands carrying payloads without encryptionInformation.
func HasPayload(v bson.RawValue) bool {
	return hasPayload(bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value})
}

func hasPayload(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeBinary:
		s, _, ok := blobOf(v)
		return ok && isClientPayload(s)
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		d := bsoncore.Document(v.Data)
		if len(d) < 5 {
			return false
		}
		elems, err := d.Elements()
		if err != nil {
			return false
		}
		for _, e := range elems {
			if hasPayload(e.Value()) {
				return true
			}
		}
	case bsoncore.TypeCodeWithScope:
		if _, scope, ok := v.CodeWithScopeOK(); ok {
			return hasPayload(bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: scope})
		}
	}
	return false
}

// blobDoc returns the BSON document after the subtype byte of a blob whose
// rest is BSON (payloads 11, 12, 13, 18).
func blobDoc(data []byte, what string) (bsoncore.Document, error) {
	d := bsoncore.Document(data[1:])
	if err := d.Validate(); err != nil {
		return nil, newError(CodeBadValue, "Invalid %s: not a BSON document", what)
	}
	return d, nil
}

// insertPayload is what the rewriting reads of an FLE2InsertUpdatePayloadV2
// (blob subtype 11):
//
//	11 || BSON {d, s, p, u: UUID (index key id), t: int32 (BSON type), v, e, l,
//	            k, g: [edges] (range), sp, pn, tf, mn, mx, b: {...} (text)}
type insertPayload struct {
	indexKeyID []byte
	bsonType   bsoncore.Type
	kind       kind
}

func parseInsertPayload(data []byte) (*insertPayload, error) {
	const what = "FLE2InsertUpdatePayloadV2"
	d, err := blobDoc(data, what)
	if err != nil {
		return nil, err
	}
	p := &insertPayload{kind: kindEquality}
	u, err := d.LookupErr("u")
	if err != nil {
		return nil, newError(CodeIDLFailedToParse, "BSON field 'FLE2InsertUpdatePayloadV2.u' is missing but a required field")
	}
	if st, id, ok := u.BinaryOK(); !ok || st != 4 || len(id) != 16 {
		return nil, newError(CodeBadValue, "Invalid %s: 'u' is not a UUID", what)
	} else {
		p.indexKeyID = id
	}
	t, err := d.LookupErr("t")
	if err != nil {
		return nil, newError(CodeIDLFailedToParse, "BSON field 'FLE2InsertUpdatePayloadV2.t' is missing but a required field")
	}
	n, ok := t.Int32OK()
	if !ok || n < 0 || n > 0x7f {
		return nil, newError(CodeBadValue, "Invalid %s: 't' is not a BSON type", what)
	}
	p.bsonType = bsoncore.Type(n)
	if _, err := d.LookupErr("g"); err == nil {
		p.kind = kindRange
	}
	if _, err := d.LookupErr("b"); err == nil {
		p.kind = kindText
	}
	return p, nil
}

// Range operators of a find range payload (Fle2RangeOperator in
// src/mongo/crypto/fle_field_schema.idl).
const (
	rangeGt  int32 = 1
	rangeGte int32 = 2
	rangeLt  int32 = 3
	rangeLte int32 = 4
)

var rangeOps = map[string]int32{"$gt": rangeGt, "$gte": rangeGte, "$lt": rangeLt, "$lte": rangeLte}

// rangeFind is what the validation reads of an FLE2FindRangePayloadV2 (blob
// subtype 13):
//
//	13 || BSON {payload: {g, cm} (absent in the stub, the second of a pair),
//	            payloadId: int32, firstOperator: int32, secondOperator: int32 (optional),
//	            sp, pn, tf, mn, mx}
type rangeFind struct {
	stub           bool
	payloadID      int32
	firstOperator  int32
	secondOperator int32 // 0: none
}

func parseRangeFind(data []byte) (*rangeFind, error) {
	const what = "FLE2FindRangePayloadV2"
	d, err := blobDoc(data, what)
	if err != nil {
		return nil, err
	}
	r := &rangeFind{stub: true}
	if p, err := d.LookupErr("payload"); err == nil {
		if p.Type != bsoncore.TypeEmbeddedDocument {
			return nil, newError(CodeBadValue, "Invalid %s: 'payload' is not a document", what)
		}
		r.stub = false
	}
	for _, k := range []struct {
		name     string
		dst      *int32
		optional bool
	}{{"payloadId", &r.payloadID, false}, {"firstOperator", &r.firstOperator, false}, {"secondOperator", &r.secondOperator, true}} {
		v, err := d.LookupErr(k.name)
		if err != nil {
			if k.optional {
				continue
			}
			return nil, newError(CodeIDLFailedToParse, "BSON field 'FLE2FindRangePayloadV2.%s' is missing but a required field", k.name)
		}
		n, ok := v.Int32OK()
		if !ok {
			return nil, newError(CodeTypeMismatch, "BSON field 'FLE2FindRangePayloadV2.%s' is the wrong type '%s', expected type 'int'", k.name, typeName(v.Type))
		}
		if k.name != "payloadId" && (n < rangeGt || n > rangeLte) {
			return nil, newError(CodeBadValue, "Enumeration value '%d' for field '%s' is not a valid value.", n, k.name)
		}
		*k.dst = n
	}
	return r, nil
}

// findKind is the index kind a find payload subtype queries.
func findKind(s fleblob.Subtype) (kind, bool) {
	switch s {
	case fleblob.FLE2FindEqualityPayloadV2:
		return kindEquality, true
	case fleblob.FLE2FindRangePayloadV2:
		return kindRange, true
	case fleblob.FLE2FindTextPayload:
		return kindText, true
	}
	return 0, false
}

// errDeprecated is the error of a QE version 1 payload
// (EncryptedPredicate::validateType).
func errDeprecated() *Error {
	return newError(7292602, "Encountered a Queryable Encryption find payload type that is no longer supported")
}

// uuidString formats a 16-byte UUID as the server prints it in messages.
func uuidString(b []byte) string {
	if len(b) != 16 {
		return "UUID(?)"
	}
	return fmt.Sprintf("UUID(\"%x-%x-%x-%x-%x\")", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
