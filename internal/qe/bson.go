package qe

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// maxNesting bounds the depth of documents accepted from untrusted input.
const maxNesting = 200

// BSON binary subtypes used by the payloads.
const (
	binaryGeneric   byte = 0x00
	binaryUUID      byte = 0x04
	binaryEncrypted byte = 0x06
)

// validateDocument checks that b is exactly one well-formed BSON document, nested documents,
// arrays and code-with-scope included, as libbson's bson_validate does.
func validateDocument(b []byte) error {
	doc, rem, ok := bsoncore.ReadDocument(b)
	if !ok {
		return errors.New("invalid BSON: truncated document")
	}
	if len(rem) != 0 {
		return fmt.Errorf("invalid BSON: %d trailing bytes after the document", len(rem))
	}
	return validateDocumentDepth(doc, 0)
}

func validateDocumentDepth(doc bsoncore.Document, depth int) error {
	if depth > maxNesting {
		return errors.New("invalid BSON: nested too deeply")
	}
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("invalid BSON: %w", err)
	}
	elems, err := doc.Elements()
	if err != nil {
		return fmt.Errorf("invalid BSON: %w", err)
	}
	for _, e := range elems {
		v, err := e.ValueErr()
		if err != nil {
			return fmt.Errorf("invalid BSON: %w", err)
		}
		if err := validateValue(v, depth); err != nil {
			return err
		}
	}
	return nil
}

func validateValue(v bsoncore.Value, depth int) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("invalid BSON value: %w", err)
	}
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		return validateDocumentDepth(v.Data, depth+1)
	case bsoncore.TypeString, bsoncore.TypeJavaScript, bsoncore.TypeSymbol, bsoncore.TypeDBPointer:
		if !terminatedString(v.Data) {
			return errors.New("invalid BSON: malformed string")
		}
	case bsoncore.TypeCodeWithScope:
		if len(v.Data) < 4 || !terminatedString(v.Data[4:]) {
			return errors.New("invalid BSON: malformed code with scope")
		}
		_, scope, ok := v.CodeWithScopeOK()
		if !ok {
			return errors.New("invalid BSON: malformed code with scope")
		}
		return validateDocumentDepth(scope, depth+1)
	case bsoncore.TypeBinary:
		if _, _, ok := v.BinaryOK(); !ok {
			return errors.New("invalid BSON: malformed binary")
		}
	}
	return nil
}

// terminatedString reports whether b starts with a BSON string: int32 length l >= 1, then l
// bytes ending with a zero byte.
func terminatedString(b []byte) bool {
	l, rest, ok := bsoncore.ReadLength(b)
	return ok && l >= 1 && int(l) <= len(rest) && rest[l-1] == 0
}

// docElements returns the elements of a document already validated.
func docElements(doc bsoncore.Document) ([]bsoncore.Element, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, fmt.Errorf("invalid BSON: %w", err)
	}
	return elems, nil
}

// subDocument returns v as a document, or an error naming field.
func subDocument(v bsoncore.Value, field string) (bsoncore.Document, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return nil, fmt.Errorf("'%s' must be a document, got %s", field, v.Type)
	}
	return d, nil
}

// fieldSet records the fields seen while parsing one document, to refuse duplicates.
type fieldSet map[string]bool

func (s fieldSet) add(what, key string) error {
	if s[key] {
		return fmt.Errorf("%s: duplicate field '%s'", what, key)
	}
	s[key] = true
	return nil
}

// int32Field, int64Field and boolField read a typed value or name the mismatch.
func int32Field(v bsoncore.Value, what, key string) (int32, error) {
	n, ok := v.Int32OK()
	if !ok {
		return 0, fmt.Errorf("%s: '%s' must be an int32, got %s", what, key, v.Type)
	}
	return n, nil
}

func int64Field(v bsoncore.Value, what, key string) (int64, error) {
	n, ok := v.Int64OK()
	if !ok {
		return 0, fmt.Errorf("%s: '%s' must be an int64, got %s", what, key, v.Type)
	}
	return n, nil
}

func boolField(v bsoncore.Value, what, key string) (bool, error) {
	b, ok := v.BooleanOK()
	if !ok {
		return false, fmt.Errorf("%s: '%s' must be a bool, got %s", what, key, v.Type)
	}
	return b, nil
}

// binaryField reads a BSON binary of the given subtype.
func binaryField(v bsoncore.Value, subtype byte, what, key string) ([]byte, error) {
	st, data, ok := v.BinaryOK()
	if !ok {
		return nil, fmt.Errorf("%s: field '%s' must be bindata, got %s", what, key, v.Type)
	}
	if st != subtype {
		return nil, fmt.Errorf("%s: field '%s' must be bindata subtype %d, got %d", what, key, subtype, st)
	}
	return data, nil
}

// uuidField reads a BSON binary of subtype 4 and length 16.
func uuidField(v bsoncore.Value, what, key string) (KeyID, error) {
	data, err := binaryField(v, binaryUUID, what, key)
	if err != nil {
		return KeyID{}, err
	}
	if len(data) != len(KeyID{}) {
		return KeyID{}, fmt.Errorf("%s: '%s' must be a 16-byte UUID, got %d bytes", what, key, len(data))
	}
	return KeyID(data), nil
}

// typeName names a BSON type as libmongocrypt's mc_bson_type_to_string does in messages.
func typeName(t bsoncore.Type) string { return t.String() }
