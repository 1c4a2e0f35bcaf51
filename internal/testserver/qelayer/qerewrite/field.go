package qerewrite

import (
	"bytes"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// bsonTypes maps the server's type names (typeName in src/mongo/bson/bsontypes.cpp)
// to BSON type bytes.
var bsonTypes = map[string]bsoncore.Type{
	"double": bsoncore.TypeDouble, "string": bsoncore.TypeString, "object": bsoncore.TypeEmbeddedDocument,
	"array": bsoncore.TypeArray, "binData": bsoncore.TypeBinary, "undefined": bsoncore.TypeUndefined,
	"objectId": bsoncore.TypeObjectID, "bool": bsoncore.TypeBoolean, "date": bsoncore.TypeDateTime,
	"null": bsoncore.TypeNull, "regex": bsoncore.TypeRegex, "dbPointer": bsoncore.TypeDBPointer,
	"javascript": bsoncore.TypeJavaScript, "symbol": bsoncore.TypeSymbol,
	"javascriptWithScope": bsoncore.TypeCodeWithScope, "int": bsoncore.TypeInt32,
	"timestamp": bsoncore.TypeTimestamp, "long": bsoncore.TypeInt64, "decimal": bsoncore.TypeDecimal128,
	"minKey": bsoncore.TypeMinKey, "maxKey": bsoncore.TypeMaxKey,
}

// typeName is the server's name of a BSON type, for messages.
func typeName(t bsoncore.Type) string {
	for n, tt := range bsonTypes {
		if tt == t {
			return n
		}
	}
	if t == 0 {
		return "missing"
	}
	return "unknown"
}

// The types each index kind allows (isFLE2EqualityIndexedSupportedType,
// isFLE2RangeIndexedSupportedType, isFLE2UnindexedSupportedType and the text
// search check in src/mongo/crypto/encryption_fields_util.h).
var (
	equalityTypes = typeSet("string", "binData", "objectId", "bool", "date", "regex", "dbPointer",
		"javascript", "symbol", "int", "timestamp", "long")
	rangeTypes     = typeSet("int", "long", "double", "decimal", "date")
	unindexedTypes = typeSet("string", "binData", "objectId", "bool", "date", "regex", "dbPointer",
		"javascript", "symbol", "int", "timestamp", "long", "double", "decimal", "object", "array",
		"javascriptWithScope")
)

func typeSet(names ...string) map[bsoncore.Type]bool {
	m := map[bsoncore.Type]bool{}
	for _, n := range names {
		m[bsonTypes[n]] = true
	}
	return m
}

func isTextQuery(q string) bool {
	switch q {
	case QuerySubstring, QuerySuffix, QueryPrefix, QuerySubstringPreview, QuerySuffixPreview, QueryPrefixPreview:
		return true
	}
	return false
}

func knownQuery(q string) bool {
	return q == QueryEquality || q == QueryRange || q == QueryRangePreview || isTextQuery(q)
}

// parseField parses one document of encryptedFields.fields (EncryptedField
// and QueryTypeConfig of encryption_fields.idl) and, when validate is set,
// checks it as validateEncryptedField does.
func parseField(fd bsoncore.Document, validate bool) (Field, error) {
	f := Field{Raw: bson.Raw(fd)}
	var havePath, haveKey bool
	var queries []bsoncore.Document
	elems, _ := fd.Elements()
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "path":
			s, ok := v.StringValueOK()
			if !ok {
				return f, wrongType("EncryptedField.path", v.Type, "string")
			}
			f.Path, havePath = s, true
		case "keyId":
			st, data, ok := v.BinaryOK()
			if !ok || st != 4 || len(data) != 16 {
				if !ok {
					return f, wrongType("EncryptedField.keyId", v.Type, "binData")
				}
				return f, newError(CodeBadValue, "BSON field 'EncryptedField.keyId' must be a UUID (binData subtype 4 of 16 bytes)")
			}
			f.KeyID, haveKey = bytes.Clone(data), true
		case "bsonType":
			s, ok := v.StringValueOK()
			if !ok {
				return f, wrongType("EncryptedField.bsonType", v.Type, "string")
			}
			if _, known := bsonTypes[s]; !known && validate {
				return f, newError(CodeBadValue, "Unknown type name: %s", s)
			}
			f.BSONType = s
		case "queries":
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument:
				queries = append(queries, v.Document())
			case bsoncore.TypeArray:
				vals, _ := v.Array().Values()
				if len(vals) == 0 && validate {
					return f, newError(6338404, "At least one query type should be specified per field")
				}
				for _, q := range vals {
					qd, ok := q.DocumentOK()
					if !ok {
						return f, wrongType("EncryptedField.queries", q.Type, "object")
					}
					queries = append(queries, qd)
				}
			default:
				return f, newError(CodeTypeMismatch, "BSON field 'EncryptedField.queries' is the wrong type '%s', expected types '[array, object]'", typeName(v.Type))
			}
		}
	}
	if !havePath {
		return f, newError(CodeIDLFailedToParse, "BSON field 'EncryptedField.path' is missing but a required field")
	}
	if !haveKey {
		return f, newError(CodeIDLFailedToParse, "BSON field 'EncryptedField.keyId' is missing but a required field")
	}
	for i, q := range queries {
		qt, err := q.LookupErr("queryType")
		if err != nil {
			return f, newError(CodeIDLFailedToParse, "BSON field 'QueryTypeConfig.queryType' is missing but a required field")
		}
		name, ok := qt.StringValueOK()
		if !ok {
			return f, wrongType("QueryTypeConfig.queryType", qt.Type, "string")
		}
		if !knownQuery(name) {
			return f, newError(CodeBadValue, "Enumeration value '%s' for field 'QueryTypeConfig.queryType' is not a valid value.", name)
		}
		f.QueryTypes = append(f.QueryTypes, name)
		if i == 0 {
			f.QueryType = name
			f.Contention = DefaultContention
			if c, err := q.LookupErr("contention"); err == nil {
				n, ok := c.AsInt64OK()
				if !ok {
					return f, wrongType("QueryTypeConfig.contention", c.Type, "long")
				}
				f.Contention = n
			}
		}
	}
	if validate {
		if err := validateField(&f, queries); err != nil {
			return f, err
		}
	}
	return f, nil
}

func wrongType(field string, got bsoncore.Type, want string) *Error {
	return newError(CodeTypeMismatch, "BSON field '%s' is the wrong type '%s', expected type '%s'", field, typeName(got), want)
}

// validateField is validateEncryptedField of encryption_fields_validation.cpp.
func validateField(f *Field, queries []bsoncore.Document) error {
	if len(queries) == 0 {
		if f.BSONType != "" && !unindexedTypes[bsonTypes[f.BSONType]] {
			return newError(6338406, "Type '%s' is not a supported unindexed type", f.BSONType)
		}
		return nil
	}
	if f.BSONType == "" {
		return newError(6412601, "Bson type needs to be specified for an indexed field")
	}
	if len(queries) > 2 {
		return newError(CodeBadValue, "At most 2 query types may be specified per field")
	}
	if len(queries) == 2 {
		a, b := f.QueryTypes[0], f.QueryTypes[1]
		prefixSuffix := (a == QueryPrefix || a == QueryPrefixPreview) && (b == QuerySuffix || b == QuerySuffixPreview) ||
			(b == QueryPrefix || b == QueryPrefixPreview) && (a == QuerySuffix || a == QuerySuffixPreview)
		if !prefixSuffix {
			return newError(CodeBadValue, "Multiple query types may only include the prefix and suffix query types together")
		}
	}
	t := bsonTypes[f.BSONType]
	for i, q := range queries {
		if c, err := q.LookupErr("contention"); err == nil {
			if n, _ := c.AsInt64OK(); n < 0 {
				return newError(CodeBadValue, "Contention factor must be between 0 and %d", int64(1<<63-1))
			}
		}
		switch name := f.QueryTypes[i]; {
		case name == QueryEquality:
			if !equalityTypes[t] {
				return newError(6338405, "Type '%s' is not a supported equality indexed type", f.BSONType)
			}
			for _, k := range []struct {
				name string
				code int32
			}{{"sparsity", 6775205}, {"min", 6775206}, {"max", 6775207}} {
				if _, err := q.LookupErr(k.name); err == nil {
					return newError(k.code, "The field '%s' is not allowed for equality index but is present", k.name)
				}
			}
		case name == QueryRange || name == QueryRangePreview:
			if err := validateRange(f, t, q); err != nil {
				return err
			}
		default:
			if err := validateText(f, t, name, q); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateRange is validateRangeIndex: a range type, sparsity 1 to 4,
// precision with min and max for floating point, min and max of the field's
// type with min < max.
func validateRange(f *Field, t bsoncore.Type, q bsoncore.Document) error {
	if !rangeTypes[t] {
		return newError(6775201, "Type '%s' is not a supported range indexed type", f.BSONType)
	}
	if sp, err := q.LookupErr("sparsity"); err == nil {
		n, ok := sp.AsInt64OK()
		if !ok {
			return wrongType("QueryTypeConfig.sparsity", sp.Type, "long")
		}
		if n < 1 || n > 4 {
			return newError(6775214, "The field 'sparsity' must be between 1 and 4")
		}
	}
	if tf, err := q.LookupErr("trimFactor"); err == nil {
		n, ok := tf.AsInt64OK()
		if !ok {
			return wrongType("QueryTypeConfig.trimFactor", tf.Type, "int")
		}
		if n < 0 {
			return newError(8574000, "trimFactor must be >= 0")
		}
	}
	mn, errMin := q.LookupErr("min")
	mx, errMax := q.LookupErr("max")
	_, errPrec := q.LookupErr("precision")
	hasMin, hasMax, hasPrec := errMin == nil, errMax == nil, errPrec == nil
	if t == bsoncore.TypeDouble || t == bsoncore.TypeDecimal128 {
		if hasPrec && !(hasMin && hasMax) {
			return newError(6967100, "Precision, min, and max must all be specified together for floating point fields")
		}
	} else if hasPrec {
		return newError(6967102, "Precision can only be set if type is floating point")
	}
	if hasMin && mn.Type != t {
		return newError(7018200, "Min should have the same type as the field.")
	}
	if hasMax && mx.Type != t {
		return newError(7018201, "Max should have the same type as the field.")
	}
	if hasMin && hasMax && compareSame(mn, mx) >= 0 {
		return newError(6720005, "Min must be less than max.")
	}
	return nil
}

// compareSame compares two numbers or dates of the same BSON type (decimals
// compare as their float values, enough to check min < max).
func compareSame(a, b bsoncore.Value) int {
	switch a.Type {
	case bsoncore.TypeInt32:
		return cmp3(int64(a.Int32()), int64(b.Int32()))
	case bsoncore.TypeInt64:
		return cmp3(a.Int64(), b.Int64())
	case bsoncore.TypeDateTime:
		return cmp3(a.DateTime(), b.DateTime())
	case bsoncore.TypeDouble:
		return cmpF(a.Double(), b.Double())
	case bsoncore.TypeDecimal128:
		return cmpF(decimalFloat(a), decimalFloat(b))
	}
	return 0
}

func decimalFloat(v bsoncore.Value) float64 {
	h, l := v.Decimal128()
	f, _ := strconv.ParseFloat(bson.NewDecimal128(h, l).String(), 64)
	return f
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validateText checks a text search query: a string field, the lengths
// present, positive and ordered, case and diacritic sensitivity given as bool.
func validateText(f *Field, t bsoncore.Type, name string, q bsoncore.Document) error {
	if t != bsoncore.TypeString {
		return newError(CodeBadValue, "Type '%s' is not a supported type for %s queries; the type must be 'string'", f.BSONType, name)
	}
	lengths := []string{"strMinQueryLength", "strMaxQueryLength"}
	if name == QuerySubstring || name == QuerySubstringPreview {
		lengths = append(lengths, "strMaxLength")
	}
	n := map[string]int64{}
	for _, k := range lengths {
		v, err := q.LookupErr(k)
		if err != nil {
			return newError(CodeBadValue, "%s query type requires %s to be set", name, k)
		}
		x, ok := v.AsInt64OK()
		if !ok {
			return wrongType("QueryTypeConfig."+k, v.Type, "long")
		}
		if x <= 0 {
			return newError(CodeBadValue, "%s must be > 0", k)
		}
		n[k] = x
	}
	if n["strMinQueryLength"] > n["strMaxQueryLength"] {
		return newError(CodeBadValue, "strMinQueryLength cannot be greater than strMaxQueryLength")
	}
	if m, ok := n["strMaxLength"]; ok && n["strMaxQueryLength"] > m {
		return newError(CodeBadValue, "strMaxQueryLength cannot be greater than strMaxLength")
	}
	for _, k := range []string{"caseSensitive", "diacriticSensitive"} {
		v, err := q.LookupErr(k)
		if err != nil {
			return newError(CodeBadValue, "%s query type requires %s to be set", name, k)
		}
		if v.Type != bsoncore.TypeBoolean {
			return wrongType("QueryTypeConfig."+k, v.Type, "bool")
		}
	}
	return nil
}
