package qerewrite

import (
	"bytes"
	"context"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// SafeContent is the field of an encrypted document that holds the tags of
// its indexed values.
const SafeContent = "__safeContent__"

// InsertDocument turns an insert's document into what is stored: each
// payload 11 is replaced by the stored value [Crypto.Insert] returns and its
// tags are appended to a new __safeContent__, an array of BinData 0
// (EDCServerCollection::finalizeForInsert); a document without payloads 11 is
// returned as it is, without __safeContent__.
//
// Before calling Crypto it checks the document as the server does, so that a
// refused document writes no ESC entry: no __safeContent__ (6666200), a
// payload 11 only in a field of the schema (6726300) with the field's key
// (6726301) and index kind, no placeholder (6373504) or version 1 insert
// payload (7291901), and the
// implicit validator of the encrypted collection (121: each encrypted field
// absent or an encrypted value of its bsonType, no array on its path, so no
// plaintext).
func (s *Schema) InsertDocument(ctx context.Context, doc bson.Raw, c Crypto) (bson.Raw, error) {
	d := bsoncore.Document(doc)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "document is not valid BSON")
	}
	if _, err := d.LookupErr(SafeContent); err == nil {
		return nil, newError(6666200, "Cannot modify %s field in document.", SafeContent)
	}
	if err := s.checkWrite(d, ""); err != nil {
		return nil, err
	}
	if err := s.validateDocument(d, ""); err != nil {
		return nil, err
	}
	var tags [][]byte
	out, err := s.transform(ctx, d, "", c, &tags)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		// No insert payload: MongoDB inserts the document as it is, without
		// __safeContent__ (processInsert in src/mongo/db/fle_crud.cpp).
		return bson.Raw(out), nil
	}
	return appendSafeContent(out, tags), nil
}

// appendSafeContent returns doc with __safeContent__: [tags as BinData 0]
// appended as its last field.
func appendSafeContent(doc bsoncore.Document, tags [][]byte) bson.Raw {
	out := bytes.Clone(doc[:len(doc)-1]) // without the terminating 0
	aidx, out := bsoncore.AppendArrayElementStart(out, SafeContent)
	for i, t := range tags {
		out = bsoncore.AppendBinaryElement(out, strconv.Itoa(i), 0, t)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	out = append(out, 0)
	return bson.Raw(bsoncore.UpdateLength(out, 0, int32(len(out))))
}

// checkWrite checks the payloads of a document (or a $set's values) written at
// prefix: a payload 11 only in an indexed field of the schema, with its key
// and kind; a payload 16 or stored value anywhere the validator allows; no
// placeholder or version 1 insert payload; key ids unique in the document
// (6371407).
func (s *Schema) checkWrite(d bsoncore.Document, prefix string) error {
	seen := map[string]bool{}
	return s.walkBlobs(d, prefix, func(path string, st fleblob.Subtype, data []byte) error {
		switch st {
		case fleblob.FLE2InsertUpdatePayloadV2:
			f := s.Field(path)
			if f == nil {
				return newError(6726300, "Field '%s' is unexpectedly encrypted", path)
			}
			if !f.Indexed() {
				return newError(6373601, "Field '%s' is encrypted, but absent from schema", path)
			}
			p, err := parseInsertPayload(data)
			if err != nil {
				return err
			}
			if !bytes.Equal(p.indexKeyID, f.KeyID) {
				return newError(6726301, "Mismatched keyId for field '%s' expected %s, found %s", path, uuidString(f.KeyID), uuidString(p.indexKeyID))
			}
			// Edge tokens (g) belong to range fields only, text tokens (b) to
			// text fields only; a payload with neither is accepted for any
			// indexed field (libmongocrypt's fle2-insert-text-search sample
			// sends one for a text field) and Crypto.Insert decides.
			if p.kind != kindEquality && p.kind != f.kind() {
				return newError(CodeBadValue, "Field '%s' has a %s insert payload but is a %s encrypted field", path, p.kind, f.kind())
			}
			if seen[string(p.indexKeyID)] {
				return newError(6371407, "Index key ids must be unique across fields in a document")
			}
			seen[string(p.indexKeyID)] = true
			return nil
		case fleblob.FLE2EncryptionPlaceholder:
			return newError(6373504, "Unexpected encrypted payload type: %d", int(st))
		case fleblob.FLE2InsertUpdatePayload:
			return newError(7291901, "Encountered a Queryable Encryption insert/update payload type that is no longer supported")
		}
		// Other blobs are opaque data to the server (the specification's
		// fle2v2-EncryptedFieldsMap-defaults inserts a payload 5 in a plain
		// field); in an encrypted field the validator judges them.
		return nil
	})
}

// walkBlobs calls fn for every BinData 6 in d (through documents and
// arrays), with its dotted path below prefix; array elements are named by
// their index.
func (s *Schema) walkBlobs(d bsoncore.Document, prefix string, fn func(path string, st fleblob.Subtype, data []byte) error) error {
	elems, err := d.Elements()
	if err != nil {
		return newError(CodeFailedToParse, "document is not valid BSON")
	}
	for _, e := range elems {
		path := join(prefix, e.Key())
		v := e.Value()
		if st, data, ok := blobOf(v); ok {
			if err := fn(path, st, data); err != nil {
				return err
			}
			continue
		}
		if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeArray {
			if err := s.walkBlobs(v.Data, path, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// validateDocument is the implicit validator of an encrypted collection
// (generateMatchExpressionFromEncryptedFields in
// src/mongo/db/query/fle/implicit_validator.cpp) on d written at prefix: an
// encrypted field, when present, is an encrypted value of the field's
// bsonType (a payload 11 counts with the type it carries); a prefix of an
// encrypted path is not an array. It returns 121 "Document failed
// validation".
func (s *Schema) validateDocument(d bsoncore.Document, prefix string) error {
	elems, err := d.Elements()
	if err != nil {
		return newError(CodeFailedToParse, "document is not valid BSON")
	}
	for _, e := range elems {
		if err := s.validateValue(join(prefix, e.Key()), e.Value()); err != nil {
			return err
		}
	}
	return nil
}

// validateValue is validateDocument for one value written at path.
func (s *Schema) validateValue(path string, v bsoncore.Value) error {
	if f := s.Field(path); f != nil {
		if !encryptedOfType(v, f) {
			return errValidation()
		}
		return nil
	}
	if !s.prefixOfField(path) {
		return nil
	}
	switch v.Type {
	case bsoncore.TypeArray:
		return errValidation()
	case bsoncore.TypeEmbeddedDocument:
		return s.validateDocument(v.Data, path)
	}
	return nil
}

// encryptedOfType reports whether v is an encrypted value (or payload 11) of
// f's bsonType: the layout of every FLE2 value starts with
// subtype(1) || key UUID(16) || original BSON type(1).
func encryptedOfType(v bsoncore.Value, f *Field) bool {
	st, data, ok := blobOf(v)
	if !ok {
		return false
	}
	var t bsoncore.Type
	switch {
	case st == fleblob.FLE2InsertUpdatePayloadV2:
		p, err := parseInsertPayload(data)
		if err != nil {
			return false
		}
		t = p.bsonType
	case isFLE2Value(st):
		if len(data) < 18 {
			return false
		}
		t = bsoncore.Type(data[17])
	default:
		return false
	}
	return f.BSONType == "" || bsonTypes[f.BSONType] == t
}

// transform copies d with every payload 11 replaced by its stored value and
// its tags appended to tags. Payloads are known to be in fields of the schema
// (checkWrite ran). In an update's $set, prefix is the path of the value.
func (s *Schema) transform(ctx context.Context, d bsoncore.Document, prefix string, c Crypto, tags *[][]byte) (bsoncore.Document, error) {
	elems, err := d.Elements()
	if err != nil {
		return nil, newError(CodeFailedToParse, "document is not valid BSON")
	}
	idx, out := bsoncore.AppendDocumentStart(make([]byte, 0, len(d)+64))
	for _, e := range elems {
		path := join(prefix, e.Key())
		v := e.Value()
		nv, err := s.transformValue(ctx, path, v, c, tags)
		if err != nil {
			return nil, err
		}
		out = bsoncore.AppendValueElement(out, e.Key(), nv)
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out, nil
}

// transformValue is transform for one value at path.
func (s *Schema) transformValue(ctx context.Context, path string, v bsoncore.Value, c Crypto, tags *[][]byte) (bsoncore.Value, error) {
	if st, data, ok := blobOf(v); ok && st == fleblob.FLE2InsertUpdatePayloadV2 {
		f := s.Field(path)
		if f == nil {
			return v, newError(6726300, "Field '%s' is unexpectedly encrypted", path)
		}
		stored, t, err := c.Insert(ctx, f, bytes.Clone(data))
		if err != nil {
			return v, asError(err, "insert payload of field '"+path+"'")
		}
		if len(stored) == 0 || !isIndexedValue(fleblob.Subtype(stored[0])) {
			return v, newError(CodeBadValue, "the stored value of field '%s' is not an indexed encrypted value", path)
		}
		*tags = append(*tags, t...)
		return bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, binaryEncrypted, stored)}, nil
	}
	if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeArray {
		if !hasPayload(v) {
			return v, nil
		}
		nd, err := s.transform(ctx, v.Data, path, c, tags)
		if err != nil {
			return v, err
		}
		return bsoncore.Value{Type: v.Type, Data: nd}, nil
	}
	return v, nil
}
