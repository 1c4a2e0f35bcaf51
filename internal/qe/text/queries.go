package text

import (
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FieldQueries is the text search configuration of one field of
// encryptedFields, from its "queries": what query analysis needs to write a
// text search placeholder for the field.
type FieldQueries struct {
	// Options holds caseSensitive, diacriticSensitive and one IndexOptions
	// per query type listed (Substring alone, or Prefix and/or Suffix).
	Options TextOptions
	// QueryTypes lists the query types in the order given.
	QueryTypes []QueryType
	// Contention is the "contention" given (the same for every query), and
	// ContentionSet whether one was given; when absent the server's default
	// applies (the caller decides it).
	Contention    int64
	ContentionSet bool
}

// ParseFieldQueries reads the "queries" of an encryptedFields field whose
// query types are text search ones: one query document, or an array of one or
// two ({prefix, suffix} in either order), each
//
//	{queryType: "prefix"|"suffix"|"substring" (or the Preview forms),
//	 contention?: int, strMinQueryLength: int, strMaxQueryLength: int,
//	 strMaxLength: int (substring only), caseSensitive: bool,
//	 diacriticSensitive: bool}
//
// It applies the server's encryptedFields rules for text search indexes
// (bsonType must be "string"; the lengths, caseSensitive and
// diacriticSensitive are required; strMinQueryLength <= strMaxQueryLength <=
// strMaxLength; sparsity, min, max, trimFactor and precision are refused;
// caseSensitive, diacriticSensitive and contention agree across queries;
// unknown fields are refused). Integers may be int32, int64 or integral
// doubles, as in the specification's tests. Errors wrap [ErrInvalidOptions]
// and name the field path.
func ParseFieldQueries(path, bsonType string, queries bson.RawValue) (FieldQueries, error) {
	var fq FieldQueries
	var docs []bsoncore.Document
	v := bsoncore.Value{Type: bsoncore.Type(queries.Type), Data: queries.Value}
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument:
		d, ok := v.DocumentOK()
		if !ok {
			return fq, fieldErr(path, "invalid 'queries' document")
		}
		docs = append(docs, d)
	case bsoncore.TypeArray:
		arr, ok := v.ArrayOK()
		if !ok {
			return fq, fieldErr(path, "invalid 'queries' array")
		}
		elems, err := documentElements(arr)
		if err != nil {
			return fq, fieldErr(path, "invalid 'queries' array")
		}
		for _, e := range elems {
			d, ok := e.Value().DocumentOK()
			if !ok {
				return fq, fieldErr(path, fmt.Sprintf("expected each query to be a document, got: %s", bsonTypeName(e.Value().Type)))
			}
			docs = append(docs, d)
		}
	default:
		return fq, fieldErr(path, fmt.Sprintf("expected 'queries' to be a document or an array, got: %s", bsonTypeName(v.Type)))
	}
	switch {
	case len(docs) == 0:
		return fq, fieldErr(path, "At least one query type should be specified per field")
	case len(docs) > 2:
		return fq, fieldErr(path, "The number of query types for an encrypted field cannot exceed two")
	}
	configs := make([]queryConfig, 0, len(docs))
	for _, d := range docs {
		qc, err := parseQueryConfig(path, d)
		if err != nil {
			return fq, err
		}
		configs = append(configs, qc)
	}
	if len(configs) == 2 {
		a, b := configs[0].queryType.Base(), configs[1].queryType.Base()
		if !(a == QuerySuffix && b == QueryPrefix) && !(a == QueryPrefix && b == QuerySuffix) {
			return fq, fieldErr(path, "Multiple query types may only include the suffix and prefix query types")
		}
	}
	if bsonType != "string" {
		return fq, fieldErr(path, fmt.Sprintf("Type '%s' is not a supported type for text search indexed encrypted field %s", bsonType, path))
	}
	for i, qc := range configs {
		if err := qc.validate(path); err != nil {
			return fq, err
		}
		if i > 0 {
			first := configs[0]
			if *qc.caseSensitive != *first.caseSensitive {
				return fq, fieldErr(path, "caseSensitive parameter must be the same for all query types of field "+path)
			}
			if *qc.diacriticSensitive != *first.diacriticSensitive {
				return fq, fieldErr(path, "diacriticSensitive parameter must be the same for all query types of field "+path)
			}
			if qc.contentionSet != first.contentionSet || qc.contention != first.contention {
				return fq, fieldErr(path, "contention parameter must be the same for all query types of field "+path)
			}
		}
		io := &IndexOptions{StrMinQueryLength: *qc.strMin, StrMaxQueryLength: *qc.strMax}
		switch qc.queryType.Base() {
		case QuerySubstring:
			io.StrMaxLength = *qc.strMaxLength
			fq.Options.Substring = io
		case QueryPrefix:
			fq.Options.Prefix = io
		case QuerySuffix:
			fq.Options.Suffix = io
		}
		fq.QueryTypes = append(fq.QueryTypes, qc.queryType)
	}
	first := configs[0]
	fq.Options.CaseSensitive = *first.caseSensitive
	fq.Options.DiacriticSensitive = *first.diacriticSensitive
	fq.Contention, fq.ContentionSet = first.contention, first.contentionSet
	return fq, nil
}

type queryConfig struct {
	queryType                         QueryType
	contention                        int64
	contentionSet                     bool
	strMin, strMax, strMaxLength      *int32
	caseSensitive, diacriticSensitive *bool
}

func fieldErr(path, msg string) error {
	return newError(ErrInvalidOptions, fmt.Sprintf("encryptedFields field '%s': %s", path, msg))
}

func parseQueryConfig(path string, doc bsoncore.Document) (queryConfig, error) {
	var qc queryConfig
	elems, err := documentElements(doc)
	if err != nil {
		return qc, fieldErr(path, "invalid query document")
	}
	seen := map[string]bool{}
	hasQueryType := false
	for _, e := range elems {
		key := e.Key()
		if seen[key] {
			return qc, fieldErr(path, "duplicate field '"+key+"' in query")
		}
		seen[key] = true
		v := e.Value()
		switch key {
		case "queryType":
			name, ok := v.StringValueOK()
			if !ok {
				return qc, fieldErr(path, "Expected 'queryType' to be type UTF-8, got: "+bsonTypeName(v.Type))
			}
			qt, ok := ParseQueryType(name)
			if !ok {
				return qc, fieldErr(path, fmt.Sprintf("Query type '%s' is not a text search query type", name))
			}
			qc.queryType, hasQueryType = qt, true
		case "contention":
			n, ok := integerValue(v)
			if !ok || n < 0 {
				return qc, fieldErr(path, "'contention' must be a non-negative integer")
			}
			qc.contention, qc.contentionSet = n, true
		case "strMinQueryLength", "strMaxQueryLength", "strMaxLength":
			n, ok := integerValue(v)
			if !ok || n < math.MinInt32 || n > math.MaxInt32 {
				return qc, fieldErr(path, "'"+key+"' must be a 32-bit integer")
			}
			if n <= 0 {
				return qc, fieldErr(path, "'"+key+"' must be greater than zero")
			}
			n32 := int32(n)
			switch key {
			case "strMinQueryLength":
				qc.strMin = &n32
			case "strMaxQueryLength":
				qc.strMax = &n32
			default:
				qc.strMaxLength = &n32
			}
		case "caseSensitive", "diacriticSensitive":
			b, ok := v.BooleanOK()
			if !ok {
				return qc, fieldErr(path, fmt.Sprintf("Expected bool for %s, got: %s", key, bsonTypeName(v.Type)))
			}
			if key == "caseSensitive" {
				qc.caseSensitive = &b
			} else {
				qc.diacriticSensitive = &b
			}
		case "sparsity", "min", "max", "trimFactor", "precision":
			return qc, fieldErr(path, "The field '"+key+"' is not allowed for text-based index but is present")
		default:
			return qc, fieldErr(path, "unknown field '"+key+"' in query")
		}
	}
	if !hasQueryType {
		return qc, fieldErr(path, "Unable to find 'queryType' in query document")
	}
	return qc, nil
}

// validate applies the server's validateTextSearchIndex checks, in its order.
func (qc *queryConfig) validate(path string) error {
	name := qc.queryType.Name()
	required := func(param string) error {
		return fieldErr(path, fmt.Sprintf("%s parameter is required for %s query type of field %s", param, name, path))
	}
	switch {
	case qc.strMin == nil:
		return required("strMinQueryLength")
	case qc.strMax == nil:
		return required("strMaxQueryLength")
	case qc.caseSensitive == nil:
		return required("caseSensitive")
	case qc.diacriticSensitive == nil:
		return required("diacriticSensitive")
	case *qc.strMin > *qc.strMax:
		return fieldErr(path, "strMinQueryLength cannot be greater than strMaxQueryLength")
	}
	if qc.queryType.Base() == QuerySubstring {
		if qc.strMaxLength == nil {
			return required("strMaxLength")
		}
		if *qc.strMax > *qc.strMaxLength {
			return fieldErr(path, "strMaxQueryLength cannot be greater than strMaxLength")
		}
	}
	// The server accepts and ignores strMaxLength on prefix and suffix.
	return nil
}

// integerValue reads an int32, an int64 or a double holding an integer.
func integerValue(v bsoncore.Value) (int64, bool) {
	switch v.Type {
	case bsoncore.TypeInt32:
		n, ok := v.Int32OK()
		return int64(n), ok
	case bsoncore.TypeInt64:
		return v.Int64OK()
	case bsoncore.TypeDouble:
		f, ok := v.DoubleOK()
		if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

// Spec returns the placeholder spec query analysis writes for value v of
// this field: for an insert (qt == 0) every index kind; for a query of type
// qt only that kind (see [TextOptions.QuerySpec]), which the field must be
// indexed for.
func (fq *FieldQueries) Spec(value string, qt QueryType) (Spec, error) {
	raw := bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, value)}
	if qt == 0 {
		return fq.Options.InsertSpec(raw)
	}
	configured := false
	for _, q := range fq.QueryTypes {
		configured = configured || q.Base() == qt.Base()
	}
	if !configured {
		return Spec{}, newError(ErrInvalidOptions, fmt.Sprintf("field is not indexed for %s queries", qt.Name()))
	}
	return fq.Options.QuerySpec(raw, qt)
}
