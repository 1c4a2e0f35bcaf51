package text

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// IndexOptions are the options of one text index kind (libmongocrypt's
// mc_TextOptsPerIndex_t). Lengths count UTF-8 code points.
type IndexOptions struct {
	// StrMaxLength is the longest string that may be inserted. It is set
	// (> 0) for substring and 0 (absent) for prefix and suffix.
	StrMaxLength int32
	// StrMinQueryLength and StrMaxQueryLength bound the query string length.
	// libmongocrypt's TextOpts parser lets them be absent (0); the spec built
	// from them is then refused (see [TextOptions.InsertSpec]).
	StrMinQueryLength int32
	StrMaxQueryLength int32
}

// TextOptions are the text search options of explicit encryption with the
// "String" algorithm (libmongocrypt's mc_TextOpts_t, set with
// mongocrypt_ctx_setopt_algorithm_text; the driver's options.StringOptions).
// As parsed, at least one of Prefix, Suffix and Substring is set, and
// Substring never with Prefix or Suffix.
type TextOptions struct {
	CaseSensitive      bool
	DiacriticSensitive bool
	Substring          *IndexOptions
	Prefix             *IndexOptions
	Suffix             *IndexOptions
}

const textOptsPrefix = "Error parsing TextOpts: "

// ParseTextOptions parses a TextOpts document, as
// {caseSensitive: bool, diacriticSensitive: bool,
// substring?: {strMaxLength, strMinQueryLength, strMaxQueryLength},
// prefix?: {strMinQueryLength, strMaxQueryLength},
// suffix?: {strMinQueryLength, strMaxQueryLength}}, with libmongocrypt's
// rules and messages: the two booleans are required; lengths are int32 > 0;
// strMaxLength is required in substring and refused in prefix and suffix;
// unknown or duplicate fields are refused; at least one of
// prefix/suffix/substring, and substring not with prefix or suffix. Errors
// wrap [ErrInvalidOptions].
func ParseTextOptions(doc []byte) (TextOptions, error) {
	var o TextOptions
	elems, err := documentElements(doc)
	if err != nil {
		return o, newError(ErrInvalidOptions, textOptsPrefix+"Invalid BSON")
	}
	seen := map[string]bool{}
	for _, e := range elems {
		key := e.Key()
		switch key {
		case "caseSensitive", "diacriticSensitive", "substring", "prefix", "suffix":
		default:
			return o, newError(ErrInvalidOptions, fmt.Sprintf(textOptsPrefix+"Unrecognized field: '%s'", key))
		}
		if seen[key] {
			return o, newError(ErrInvalidOptions, textOptsPrefix+"Unexpected duplicate field '"+key+"'")
		}
		seen[key] = true
		v := e.Value()
		switch key {
		case "caseSensitive", "diacriticSensitive":
			b, ok := v.BooleanOK()
			if !ok {
				return o, newError(ErrInvalidOptions, fmt.Sprintf(textOptsPrefix+"Expected bool for %s, got: %s", key, bsonTypeName(v.Type)))
			}
			if key == "caseSensitive" {
				o.CaseSensitive = b
			} else {
				o.DiacriticSensitive = b
			}
		default:
			sub, ok := v.DocumentOK()
			if !ok {
				return o, newError(ErrInvalidOptions, fmt.Sprintf(textOptsPrefix+"Expected document for %s, got: %s", key, bsonTypeName(v.Type)))
			}
			io, hasMax, err := parseIndexOptions(sub)
			if err != nil {
				return o, err
			}
			switch key {
			case "substring":
				if !hasMax {
					return o, newError(ErrInvalidOptions, textOptsPrefix+"'strMaxLength' must be set for substring")
				}
				o.Substring = io
			case "prefix":
				if hasMax {
					return o, newError(ErrInvalidOptions, textOptsPrefix+"'strMaxLength' is not allowed in 'prefix'")
				}
				o.Prefix = io
			case "suffix":
				if hasMax {
					return o, newError(ErrInvalidOptions, textOptsPrefix+"'strMaxLength' is not allowed in 'suffix'")
				}
				o.Suffix = io
			}
		}
	}
	if !seen["caseSensitive"] {
		return o, newError(ErrInvalidOptions, textOptsPrefix+"'caseSensitive' is required")
	}
	if !seen["diacriticSensitive"] {
		return o, newError(ErrInvalidOptions, textOptsPrefix+"'diacriticSensitive' is required")
	}
	if seen["substring"] && (seen["prefix"] || seen["suffix"]) {
		return o, newError(ErrInvalidOptions, textOptsPrefix+"Cannot specify 'substring' with 'prefix' or 'suffix'")
	}
	if !seen["substring"] && !seen["prefix"] && !seen["suffix"] {
		return o, newError(ErrInvalidOptions, textOptsPrefix+"One of 'prefix', 'suffix', or 'substring' is required")
	}
	return o, nil
}

// parseIndexOptions parses one {strMaxLength?, strMinQueryLength?,
// strMaxQueryLength?} document (mc_TextOptsPerIndex_parse).
func parseIndexOptions(doc bsoncore.Document) (*IndexOptions, bool, error) {
	elems, err := documentElements(doc)
	if err != nil {
		return nil, false, newError(ErrInvalidOptions, textOptsPrefix+"Invalid BSON")
	}
	io := &IndexOptions{}
	seen := map[string]bool{}
	for _, e := range elems {
		key := e.Key()
		var dst *int32
		switch key {
		case "strMaxLength":
			dst = &io.StrMaxLength
		case "strMinQueryLength":
			dst = &io.StrMinQueryLength
		case "strMaxQueryLength":
			dst = &io.StrMaxQueryLength
		default:
			return nil, false, newError(ErrInvalidOptions, fmt.Sprintf(textOptsPrefix+"Unrecognized field: '%s'", key))
		}
		if seen[key] {
			return nil, false, newError(ErrInvalidOptions, textOptsPrefix+"Unexpected duplicate field '"+key+"'")
		}
		seen[key] = true
		n, ok := e.Value().Int32OK()
		if !ok {
			return nil, false, newError(ErrInvalidOptions, textOptsPrefix+"'"+key+"' must be an int32")
		}
		if n <= 0 {
			return nil, false, newError(ErrInvalidOptions, textOptsPrefix+"'"+key+"' must be greater than zero")
		}
		*dst = n
	}
	return io, seen["strMaxLength"], nil
}

// StringOptionsDocument returns the TextOpts document the Go driver v2.10
// builds from options.StringOptions and hands to libmongocrypt: substring
// {strMaxLength, strMinQueryLength, strMaxQueryLength}, prefix and suffix
// {strMinQueryLength, strMaxQueryLength} when set (zero values included),
// then caseSensitive and diacriticSensitive.
func StringOptionsDocument(so *options.StringOptions) bson.Raw {
	idx, doc := bsoncore.AppendDocumentStart(nil)
	if so.Substring != nil {
		i, sub := bsoncore.AppendDocumentElementStart(doc, "substring")
		sub = bsoncore.AppendInt32Element(sub, "strMaxLength", so.Substring.StrMaxLength)
		sub = bsoncore.AppendInt32Element(sub, "strMinQueryLength", so.Substring.StrMinQueryLength)
		sub = bsoncore.AppendInt32Element(sub, "strMaxQueryLength", so.Substring.StrMaxQueryLength)
		doc, _ = bsoncore.AppendDocumentEnd(sub, i)
	}
	affix := func(doc []byte, key string, min, max int32) []byte {
		i, sub := bsoncore.AppendDocumentElementStart(doc, key)
		sub = bsoncore.AppendInt32Element(sub, "strMinQueryLength", min)
		sub = bsoncore.AppendInt32Element(sub, "strMaxQueryLength", max)
		out, _ := bsoncore.AppendDocumentEnd(sub, i)
		return out
	}
	if so.Prefix != nil {
		doc = affix(doc, "prefix", so.Prefix.StrMinQueryLength, so.Prefix.StrMaxQueryLength)
	}
	if so.Suffix != nil {
		doc = affix(doc, "suffix", so.Suffix.StrMinQueryLength, so.Suffix.StrMaxQueryLength)
	}
	doc = bsoncore.AppendBooleanElement(doc, "caseSensitive", so.CaseSensitive)
	doc = bsoncore.AppendBooleanElement(doc, "diacriticSensitive", so.DiacriticSensitive)
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return bson.Raw(doc)
}

// FromStringOptions converts the driver's options.StringOptions the way the
// driver and libmongocrypt do together: [StringOptionsDocument], then
// [ParseTextOptions]. So a StringOptions the cgo driver would refuse is
// refused with the same message.
func FromStringOptions(so *options.StringOptions) (TextOptions, error) {
	if so == nil {
		return TextOptions{}, newError(ErrInvalidOptions, textOptsPrefix+"no string options given")
	}
	return ParseTextOptions(StringOptionsDocument(so))
}

// InsertSpec builds the FLE2TextSearchInsertSpec of an explicit "String"
// insert (mc_TextOpts_to_FLE2TextSearchInsertSpec, then the placeholder
// parse): casef = !CaseSensitive, diacf = !DiacriticSensitive, every index
// kind set, lb/ub/mlen from strMinQueryLength/strMaxQueryLength/strMaxLength.
// v must be a BSON string; the spec must pass [Spec.Validate] (an absent
// strMinQueryLength, for example, fails here as in libmongocrypt).
func (o *TextOptions) InsertSpec(v bson.RawValue) (Spec, error) {
	return o.spec(v, true, true, true)
}

// QuerySpec builds the FLE2TextSearchInsertSpec of an explicit "String"
// query of type qt (mc_TextOpts_to_FLE2TextSearchInsertSpec_for_query): only
// the index kind matching qt is copied. As in libmongocrypt, if the options
// lack that kind the spec has no index and describes an exact-match query.
func (o *TextOptions) QuerySpec(v bson.RawValue, qt QueryType) (Spec, error) {
	switch qt.Base() {
	case QueryPrefix:
		return o.spec(v, true, false, false)
	case QuerySuffix:
		return o.spec(v, false, true, false)
	case QuerySubstring:
		return o.spec(v, false, false, true)
	}
	return Spec{}, newError(ErrInvalidOptions, "Unexpected query type: "+qt.String())
}

func (o *TextOptions) spec(v bson.RawValue, prefix, suffix, substring bool) (Spec, error) {
	s, ok := v.StringValueOK()
	if !ok {
		return Spec{}, newError(ErrInvalidSpec, fmt.Sprintf(specPrefix+"unsupported BSON type: %s for text search", bsonTypeName(bsoncore.Type(v.Type))))
	}
	spec := Spec{Value: s, CaseFold: !o.CaseSensitive, DiacriticFold: !o.DiacriticSensitive}
	if prefix && o.Prefix != nil {
		spec.Prefix = &AffixSpec{LB: o.Prefix.StrMinQueryLength, UB: o.Prefix.StrMaxQueryLength}
	}
	if suffix && o.Suffix != nil {
		spec.Suffix = &AffixSpec{LB: o.Suffix.StrMinQueryLength, UB: o.Suffix.StrMaxQueryLength}
	}
	if substring && o.Substring != nil {
		spec.Substring = &SubstringSpec{MLen: o.Substring.StrMaxLength, LB: o.Substring.StrMinQueryLength, UB: o.Substring.StrMaxQueryLength}
	}
	if err := spec.Validate(); err != nil {
		return Spec{}, err
	}
	return spec, nil
}

// documentElements validates doc and returns its elements.
func documentElements(doc []byte) ([]bsoncore.Element, error) {
	d := bsoncore.Document(doc)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d.Elements()
}

// bsonTypeName names a BSON type as libmongocrypt's mc_bson_type_to_string.
func bsonTypeName(t bsoncore.Type) string {
	switch t {
	case bsoncore.TypeDouble:
		return "DOUBLE"
	case bsoncore.TypeString:
		return "UTF8"
	case bsoncore.TypeEmbeddedDocument:
		return "DOCUMENT"
	case bsoncore.TypeArray:
		return "ARRAY"
	case bsoncore.TypeBinary:
		return "BINARY"
	case bsoncore.TypeUndefined:
		return "UNDEFINED"
	case bsoncore.TypeObjectID:
		return "OID"
	case bsoncore.TypeBoolean:
		return "BOOL"
	case bsoncore.TypeDateTime:
		return "DATE_TIME"
	case bsoncore.TypeNull:
		return "NULL"
	case bsoncore.TypeRegex:
		return "REGEX"
	case bsoncore.TypeDBPointer:
		return "DBPOINTER"
	case bsoncore.TypeJavaScript:
		return "CODE"
	case bsoncore.TypeSymbol:
		return "SYMBOL"
	case bsoncore.TypeCodeWithScope:
		return "CODEWSCOPE"
	case bsoncore.TypeInt32:
		return "INT32"
	case bsoncore.TypeTimestamp:
		return "TIMESTAMP"
	case bsoncore.TypeInt64:
		return "INT64"
	case bsoncore.TypeMaxKey:
		return "MAXKEY"
	case bsoncore.TypeMinKey:
		return "MINKEY"
	case bsoncore.TypeDecimal128:
		return "DECIMAL128"
	case 0:
		return "EOD"
	}
	return "Unknown"
}
