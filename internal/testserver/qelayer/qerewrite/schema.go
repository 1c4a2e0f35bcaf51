package qerewrite

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Schema is one encrypted collection's encryptedFields.
type Schema struct {
	// Fields are the encrypted fields in the order of encryptedFields.fields.
	Fields []Field
	// EscCollection and EcocCollection name the state collections; empty when absent.
	EscCollection, EcocCollection string
	// Raw is the encryptedFields document.
	Raw bson.Raw

	byPath map[string]*Field
}

// Query types of an encrypted field (encryptedFields.fields.queries.queryType).
const (
	QueryEquality         = "equality"
	QueryRange            = "range"
	QueryRangePreview     = "rangePreview"
	QuerySubstring        = "substring"
	QuerySuffix           = "suffix"
	QueryPrefix           = "prefix"
	QuerySubstringPreview = "substringPreview"
	QuerySuffixPreview    = "suffixPreview"
	QueryPrefixPreview    = "prefixPreview"
)

// DefaultContention is the contention factor of a query that names none
// (QueryTypeConfig.contention's default in src/mongo/crypto/encryption_fields.idl).
const DefaultContention = 8

// Field is one encrypted field of a Schema.
type Field struct {
	// Path is the dotted path of the field.
	Path string
	// BSONType is the bsonType name ("string", "int", ...); empty when absent
	// (allowed for an unindexed field only).
	BSONType string
	// KeyID is the UUID of the field's data key (16 bytes).
	KeyID []byte
	// QueryType is the first query type, or "" for an unindexed field.
	QueryType string
	// QueryTypes are all the query types (prefix and suffix may go together).
	QueryTypes []string
	// Contention is the contention factor of the first query (DefaultContention when absent).
	Contention int64
	// Raw is the field's document.
	Raw bson.Raw
}

// Indexed reports whether the field has queries.
func (f *Field) Indexed() bool { return f.QueryType != "" }

// kind is the index kind of a field: which payloads and stored values belong to it.
type kind int

const (
	kindUnindexed kind = iota
	kindEquality
	kindRange
	kindText
)

func (f *Field) kind() kind {
	switch f.QueryType {
	case "":
		return kindUnindexed
	case QueryEquality:
		return kindEquality
	case QueryRange, QueryRangePreview:
		return kindRange
	}
	return kindText
}

func (k kind) String() string {
	return [...]string{"unindexed", "equality", "range", "text search"}[k]
}

// Field returns the encrypted field at path, or nil.
func (s *Schema) Field(path string) *Field {
	if s == nil {
		return nil
	}
	return s.byPath[path]
}

// prefixOfField reports whether path is a strict prefix ("a" of "a.b") of an
// encrypted field's path.
func (s *Schema) prefixOfField(path string) bool {
	for i := range s.Fields {
		if strings.HasPrefix(s.Fields[i].Path, path+".") {
			return true
		}
	}
	return false
}

// underField returns the encrypted field that is path or a prefix of path
// ("a" for "a.b"), or nil.
func (s *Schema) underField(path string) *Field {
	for i := range s.Fields {
		p := s.Fields[i].Path
		if path == p || strings.HasPrefix(path, p+".") {
			return &s.Fields[i]
		}
	}
	return nil
}

// ParseEncryptionInformation reads a command's encryptionInformation
// {type: 1, schema: {"db.coll": encryptedFields}} and returns the schema of ns
// (EncryptionInformationHelpers::getAndValidateSchema in
// src/mongo/crypto/fle_crypto.cpp). The encryptedFields are parsed, not
// validated again as at create.
func ParseEncryptionInformation(ei bson.Raw, ns string) (*Schema, error) {
	d := bsoncore.Document(ei)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "encryptionInformation is not a valid BSON document")
	}
	if t, err := d.LookupErr("type"); err == nil {
		n, ok := t.AsInt64OK()
		if !ok || n != 1 {
			return nil, newError(CodeBadValue, "Unsupported encryptionInformation type; expected 1")
		}
	}
	sv, err := d.LookupErr("schema")
	if err != nil {
		return nil, newError(CodeIDLFailedToParse, "BSON field 'EncryptionInformation.schema' is missing but a required field")
	}
	sd, ok := sv.DocumentOK()
	if !ok {
		return nil, newError(CodeTypeMismatch, "BSON field 'EncryptionInformation.schema' is the wrong type '%s', expected type 'object'", typeName(sv.Type))
	}
	ef, err := sd.LookupErr(ns)
	if err != nil || ef.Type != bsoncore.TypeEmbeddedDocument {
		return nil, newError(6371205, "Expected an object for schema in EncryptionInformation")
	}
	s, err := parseEncryptedFields(ef.Document(), false)
	if err != nil {
		return nil, err
	}
	if s.EscCollection == "" {
		return nil, newError(6371207, "Expected a value for escCollection")
	}
	if s.EcocCollection == "" {
		return nil, newError(6371208, "Expected a value for ecocCollection")
	}
	return s, nil
}

// ParseEncryptedFields parses and validates encryptedFields as the server does
// at create (the IDL parser of src/mongo/crypto/encryption_fields.idl, then
// validateEncryptedFieldConfig and validateEncryptedField of
// src/mongo/crypto/encryption_fields_validation.cpp). Errors are *Error with
// the server's code and message.
func ParseEncryptedFields(ef bson.Raw) (*Schema, error) {
	return parseEncryptedFields(bsoncore.Document(ef), true)
}

func parseEncryptedFields(d bsoncore.Document, validate bool) (*Schema, error) {
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "encryptedFields is not a valid BSON document")
	}
	s := &Schema{Raw: bson.Raw(d), byPath: map[string]*Field{}}
	elems, _ := d.Elements()
	var fields bsoncore.Value
	haveFields := false
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "fields":
			fields, haveFields = v, true
		case "escCollection", "ecocCollection", "eccCollection":
			str, ok := v.StringValueOK()
			if !ok {
				return nil, newError(CodeTypeMismatch, "BSON field 'EncryptedFieldConfig.%s' is the wrong type '%s', expected type 'string'", e.Key(), typeName(v.Type))
			}
			switch e.Key() {
			case "escCollection":
				s.EscCollection = str
			case "ecocCollection":
				s.EcocCollection = str
			}
		case "strEncodeVersion":
			if _, ok := v.AsInt64OK(); !ok {
				return nil, newError(CodeTypeMismatch, "BSON field 'EncryptedFieldConfig.strEncodeVersion' is the wrong type '%s', expected type 'int'", typeName(v.Type))
			}
		}
	}
	if !haveFields {
		return nil, newError(CodeIDLFailedToParse, "BSON field 'EncryptedFieldConfig.fields' is missing but a required field")
	}
	arr, ok := fields.ArrayOK()
	if !ok {
		return nil, newError(CodeTypeMismatch, "BSON field 'EncryptedFieldConfig.fields' is the wrong type '%s', expected type 'array'", typeName(fields.Type))
	}
	vals, _ := arr.Values()
	for _, v := range vals {
		fd, ok := v.DocumentOK()
		if !ok {
			return nil, newError(CodeTypeMismatch, "BSON field 'EncryptedFieldConfig.fields' is the wrong type '%s', expected type 'object'", typeName(v.Type))
		}
		f, err := parseField(fd, validate)
		if err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, f)
	}
	if validate {
		if err := validateConfig(s); err != nil {
			return nil, err
		}
	}
	for i := range s.Fields {
		if _, dup := s.byPath[s.Fields[i].Path]; !dup {
			s.byPath[s.Fields[i].Path] = &s.Fields[i]
		}
	}
	return s, nil
}

// validateConfig is validateEncryptedFieldConfig: state collection names,
// unique key ids, paths not empty, not _id, not duplicated, not prefixes of
// one another.
func validateConfig(s *Schema) error {
	if s.EscCollection != "" && !isStateCollection(s.EscCollection) {
		return newError(7406900, "Encrypted State Collection name should follow enxcol_.<collection>.esc naming pattern")
	}
	if s.EcocCollection != "" && !isStateCollection(s.EcocCollection) {
		return newError(7406902, "Encrypted Compaction Collection name should follow enxcol_.<collection>.ecoc naming pattern")
	}
	keys := map[string]bool{}
	for i, f := range s.Fields {
		if keys[string(f.KeyID)] {
			return newError(6338401, "Duplicate key ids are not allowed")
		}
		keys[string(f.KeyID)] = true
		if f.Path == "" {
			return newError(6316402, "Encrypted field must have a non-empty path")
		}
		if strings.Split(f.Path, ".")[0] == "_id" {
			return newError(6316403, "Cannot encrypt _id or its subfields")
		}
		for _, g := range s.Fields[:i] {
			if g.Path == f.Path {
				return newError(6338402, "Duplicate paths are not allowed")
			}
			if strings.HasPrefix(f.Path, g.Path+".") || strings.HasPrefix(g.Path, f.Path+".") {
				return newError(6338403, "Conflicting index paths found as one is a prefix of another '%s' and '%s'", f.Path, g.Path)
			}
		}
	}
	return nil
}

// isStateCollection is NamespaceString::isFLE2StateCollection: "enxcol_." then
// a name, then ".esc", ".ecc" or ".ecoc".
func isStateCollection(name string) bool {
	if !strings.HasPrefix(name, "enxcol_.") {
		return false
	}
	for _, suf := range []string{".esc", ".ecc", ".ecoc"} {
		if strings.HasSuffix(name, suf) && len(name) > len("enxcol_.")+len(suf) {
			return true
		}
	}
	return false
}
