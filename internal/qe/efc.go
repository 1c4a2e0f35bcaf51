package qe

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// QueryTypes is the set of query types a field of encryptedFields supports.
type QueryTypes uint16

// Query type flags, as libmongocrypt's supported_query_type_flags. "substring" and its alias
// "substringPreview" both set QuerySubstring.
const (
	QueryEquality QueryTypes = 1 << iota
	QueryRange
	QueryRangePreview // refused by ParseEncryptedFields
	QuerySubstring
	QuerySuffix
	QueryPrefix
	QuerySuffixPreview
	QueryPrefixPreview
	QuerySubstringPreview // never set: substringPreview parses as QuerySubstring

	// queryTextAny is every text search query type.
	queryTextAny = QuerySubstring | QuerySuffix | QueryPrefix | QuerySuffixPreview | QueryPrefixPreview | QuerySubstringPreview
)

// Versions of the string encoding of text search (strEncodeVersion).
const (
	LatestStrEncodeVersion = 1
	MinStrEncodeVersion    = 1
)

var queryTypeFlags = []struct {
	name string
	flag QueryTypes
}{
	{"equality", QueryEquality},
	{"range", QueryRange},
	{"rangePreview", QueryRangePreview},
	{"substringPreview", QuerySubstring},
	{"substring", QuerySubstring},
	{"suffix", QuerySuffix},
	{"prefix", QueryPrefix},
	{"suffixPreview", QuerySuffixPreview},
	{"prefixPreview", QueryPrefixPreview},
}

// EncryptedField is one entry of the "fields" of an encryptedFields document.
type EncryptedField struct {
	// Path is the dotted path of the field.
	Path string
	// KeyID is the data key of the field; nil when the field names a KeyAltName instead (the
	// caller may fill it in once the name is resolved).
	KeyID *KeyID
	// KeyAltName is the key alt name of the field, "" when it has a KeyID.
	KeyAltName string
	// Queries is the set of query types of the field.
	Queries QueryTypes
	// QueryDocs are the field's query documents in order, each with its query type. The
	// client reads no more of them; query analysis reads their options (contention, range
	// and text search parameters).
	QueryDocs []QueryDoc
	// Doc is the field's document as given; query analysis reads its bsonType.
	Doc bsoncore.Document
}

// QueryDoc is one query document of an encrypted field.
type QueryDoc struct {
	// Type is the document's query type, one flag.
	Type QueryTypes
	// Doc is the query document as given.
	Doc bsoncore.Document
}

// EncryptedFields is a parsed encryptedFields document (libmongocrypt's
// mc_EncryptedFieldConfig_t): the subset of fields the client needs. Unknown fields are
// ignored for forward compatibility.
type EncryptedFields struct {
	// Fields in document order.
	Fields []EncryptedField
	// StrEncodeVersion is the strEncodeVersion given, or LatestStrEncodeVersion when absent
	// and some field has a text search query type, or 0.
	StrEncodeVersion int32
}

// ParseEncryptedFields parses and checks an encryptedFields document as libmongocrypt does
// for auto encryption, compaction and create: every field has a path and exactly one of
// keyId (a UUID) and keyAltName (a string); query types are known ("rangePreview" is refused);
// key alt names are distinct; strEncodeVersion, when present, is a supported int32. Query
// analysis checks the rest of each field (bsonType, query options) from its Doc and QueryDocs.
func ParseEncryptedFields(doc bson.Raw) (*EncryptedFields, error) {
	if err := validateDocument(doc); err != nil {
		return nil, fmt.Errorf("qe: encryptedFields: %w", err)
	}
	fieldsVal, err := bsoncore.Document(doc).LookupErr("fields")
	if err != nil {
		return nil, errors.New("qe: unable to find 'fields' in encrypted_field_config")
	}
	arr, ok := fieldsVal.ArrayOK()
	if !ok {
		return nil, fmt.Errorf("qe: expected 'fields' to be type array, got: %s", typeName(fieldsVal.Type))
	}
	vals, err := bsoncore.Document(arr).Values()
	if err != nil {
		return nil, fmt.Errorf("qe: encryptedFields.fields: %w", err)
	}
	efc := &EncryptedFields{}
	var all QueryTypes
	altNames := map[string]bool{}
	for _, v := range vals {
		fd, ok := v.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("qe: expected each of encryptedFields.fields to be a document, got: %s", typeName(v.Type))
		}
		f, err := parseEncryptedField(fd)
		if err != nil {
			return nil, err
		}
		if f.KeyID == nil {
			if altNames[f.KeyAltName] {
				return nil, fmt.Errorf("qe: duplicate keyAltName '%s' found in encrypted field config", f.KeyAltName)
			}
			altNames[f.KeyAltName] = true
		}
		all |= f.Queries
		efc.Fields = append(efc.Fields, f)
	}
	sev, err := bsoncore.Document(doc).LookupErr("strEncodeVersion")
	switch {
	case err != nil && all&queryTextAny != 0:
		efc.StrEncodeVersion = LatestStrEncodeVersion
	case err != nil:
	default:
		n, ok := sev.Int32OK()
		if !ok {
			return nil, fmt.Errorf("qe: expected 'strEncodeVersion' to be type int32, got: %s", typeName(sev.Type))
		}
		if n > LatestStrEncodeVersion || n < MinStrEncodeVersion {
			return nil, fmt.Errorf("qe: 'strEncodeVersion' of %d is not supported", n)
		}
		efc.StrEncodeVersion = n
	}
	return efc, nil
}

func parseEncryptedField(fd bsoncore.Document) (EncryptedField, error) {
	f := EncryptedField{Doc: fd}
	keyID, errID := fd.LookupErr("keyId")
	alt, errAlt := fd.LookupErr("keyAltName")
	hasID, hasAlt := errID == nil, errAlt == nil
	if !hasID && !hasAlt {
		return f, errors.New("qe: unable to find 'keyId' or 'keyAltName' in 'field' document")
	}
	if hasID && hasAlt {
		return f, errors.New("qe: only one of 'keyId' or 'keyAltName may be in 'field' document")
	}
	if hasID {
		if keyID.Type != bsoncore.TypeBinary {
			return f, fmt.Errorf("qe: expected 'fields.keyId' to be type binary, got: %s", typeName(keyID.Type))
		}
		id, err := uuidField(keyID, "encryptedFields", "fields.keyId")
		if err != nil {
			return f, fmt.Errorf("qe: unable to parse uuid key from 'fields.keyId': %w", err)
		}
		f.KeyID = &id
	}
	if hasAlt {
		s, ok := alt.StringValueOK()
		if !ok {
			return f, fmt.Errorf("qe: expected 'fields.keyAltName' to be type UTF-8, got: %s", typeName(alt.Type))
		}
		f.KeyAltName = s
	}
	path, err := fd.LookupErr("path")
	if err != nil {
		return f, errors.New("qe: unable to find 'path' in 'field' document")
	}
	if f.Path, err = stringOf(path, "fields.path"); err != nil {
		return f, err
	}
	if q, err := fd.LookupErr("queries"); err == nil {
		if arr, ok := q.ArrayOK(); ok {
			qs, err := bsoncore.Document(arr).Values()
			if err != nil {
				return f, fmt.Errorf("qe: failed to parse 'queries' field: %w", err)
			}
			for _, one := range qs {
				qd, err := parseQueryType(one)
				if err != nil {
					return f, err
				}
				f.Queries |= qd.Type
				f.QueryDocs = append(f.QueryDocs, qd)
			}
		} else {
			qd, err := parseQueryType(q)
			if err != nil {
				return f, err
			}
			f.Queries |= qd.Type
			f.QueryDocs = append(f.QueryDocs, qd)
		}
	}
	if f.Queries&QueryRangePreview != 0 {
		return f, fmt.Errorf("qe: Cannot use field '%s' with 'rangePreview' queries. 'rangePreview' is unsupported. "+
			"Use 'range' instead. 'range' is not compatible with 'rangePreview' and requires recreating the collection", f.Path)
	}
	return f, nil
}

func stringOf(v bsoncore.Value, name string) (string, error) {
	s, ok := v.StringValueOK()
	if !ok {
		return "", fmt.Errorf("qe: expected '%s' to be type UTF-8, got: %s", name, typeName(v.Type))
	}
	return s, nil
}

// parseQueryType reads the queryType of one query document.
func parseQueryType(v bsoncore.Value) (QueryDoc, error) {
	doc, ok := v.DocumentOK()
	if !ok {
		return QueryDoc{}, fmt.Errorf("qe: When parsing supported query types: Expected type document, got: %s", typeName(v.Type))
	}
	qt, err := doc.LookupErr("queryType")
	if err != nil {
		return QueryDoc{}, errors.New("qe: When parsing supported query types: Unable to find 'queryType' in query document")
	}
	name, ok := qt.StringValueOK()
	if !ok {
		return QueryDoc{}, fmt.Errorf("qe: When parsing supported query types: Expected 'queryType' to be type UTF-8, got: %s", typeName(qt.Type))
	}
	for _, q := range queryTypeFlags {
		if strings.EqualFold(asciiOnly(name), q.name) {
			return QueryDoc{Type: q.flag, Doc: doc}, nil
		}
	}
	return QueryDoc{}, fmt.Errorf("qe: When parsing supported query types: Did not recognize query type '%s'", name)
}

// asciiOnly keeps strings.EqualFold from matching non-ASCII folds (K and KELVIN SIGN), as
// libmongocrypt compares names ignoring ASCII case only: names with non-ASCII bytes are
// replaced by one that matches nothing.
func asciiOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "\x00"
		}
	}
	return s
}

// KeyIDs returns the key ids of the fields that have one, each once, in document order.
func (e *EncryptedFields) KeyIDs() []KeyID {
	var ids []KeyID
	for _, f := range e.Fields {
		if f.KeyID != nil {
			ids = appendUnique(ids, *f.KeyID)
		}
	}
	return ids
}

// CompactionTokens returns the document libmongocrypt appends as "compactionTokens" to
// compactStructuredEncryptionData and as "cleanupTokens" to cleanupStructuredEncryptionData
// (the same document):
//
//	{<path>: ECOCToken, ...}                                          equality and unindexed fields
//	{<path>: {ecoc: ECOCToken, anchorPaddingToken: AnchorPaddingTokenRoot}, ...}  range and text fields
//
// Fields come in reverse document order, as libmongocrypt writes them. Every field must have
// a KeyID (resolve key alt names first); keys returns its material.
func (e *EncryptedFields) CompactionTokens(keys KeyFunc) (bson.Raw, error) {
	idx, doc := bsoncore.AppendDocumentStart(nil)
	for i := len(e.Fields) - 1; i >= 0; i-- {
		f := &e.Fields[i]
		if f.KeyID == nil {
			return nil, fmt.Errorf("qe: field '%s' has no keyId (key alt name %q not resolved)", f.Path, f.KeyAltName)
		}
		k, err := dataKey(keys, *f.KeyID)
		if err != nil {
			return nil, err
		}
		root := deriveRootTokens(tokenKeyOf(k))
		if f.Queries&(QueryRange|queryTextAny) != 0 {
			pad := root.anchorPaddingRoot()
			fidx, d := bsoncore.AppendDocumentElementStart(doc, f.Path)
			d = bsoncore.AppendBinaryElement(d, "ecoc", binaryGeneric, root.ecoc[:])
			d = bsoncore.AppendBinaryElement(d, "anchorPaddingToken", binaryGeneric, pad[:])
			doc, _ = bsoncore.AppendDocumentEnd(d, fidx)
		} else {
			doc = bsoncore.AppendBinaryElement(doc, f.Path, binaryGeneric, root.ecoc[:])
		}
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return bson.Raw(doc), nil
}

// WithStrEncodeVersion returns the encryptedFields document of a create command as
// libmongocrypt sends it (_fle2_fixup_encryptedFields_strEncodeVersion): when it has no
// strEncodeVersion and e (the collection's parsed encryptedFields) has a non-zero one,
// strEncodeVersion: e.StrEncodeVersion (int32) is appended; when it has one, it must be an
// int32 equal to e's. Otherwise doc is returned unchanged.
func (e *EncryptedFields) WithStrEncodeVersion(doc bson.Raw) (bson.Raw, error) {
	if err := validateDocument(doc); err != nil {
		return nil, fmt.Errorf("qe: encryptedFields: %w", err)
	}
	v, err := bsoncore.Document(doc).LookupErr("strEncodeVersion")
	if err == nil {
		n, ok := v.Int32OK()
		if !ok {
			return nil, fmt.Errorf("qe: expected 'strEncodeVersion' to be type int32, got: %s", typeName(v.Type))
		}
		if n != e.StrEncodeVersion {
			return nil, fmt.Errorf("qe: 'strEncodeVersion' of %d does not match the encryptedFields strEncodeVersion of %d", n, e.StrEncodeVersion)
		}
		return doc, nil
	}
	if e.StrEncodeVersion == 0 {
		return doc, nil
	}
	out := make([]byte, 0, len(doc)+len("strEncodeVersion")+6)
	out = append(out, doc[:len(doc)-1]...)
	out = bsoncore.AppendInt32Element(out, "strEncodeVersion", e.StrEncodeVersion)
	out = append(out, 0)
	bsoncore.UpdateLength(out, 0, int32(len(out)))
	return bson.Raw(out), nil
}
