package rangeenc

import (
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Index is the range index of one field as FLE2 placeholders carry it: the
// index bounds (indexMin/indexMax of a find, min/max of an insert),
// precision, sparsity and trimFactor.
type Index struct {
	// Min and Max are the index bounds; a zero RawValue means absent.
	Min, Max bson.RawValue
	// Precision, for double and decimal128 only; nil when absent.
	Precision *int32
	// Sparsity of the index (the placeholder's "s").
	Sparsity int64
	// TrimFactor; nil selects the default.
	TrimFactor *int32
}

// options returns the hypergraph options of idx.
func (idx Index) options() Options {
	return Options{Sparsity: idx.Sparsity, TrimFactor: idx.TrimFactor}
}

// typeName names a BSON type in error messages.
func typeName(t bson.Type) string {
	switch t {
	case 0:
		return "absent"
	case bson.TypeDouble:
		return "double"
	case bson.TypeString:
		return "string"
	case bson.TypeEmbeddedDocument:
		return "document"
	case bson.TypeArray:
		return "array"
	case bson.TypeBinary:
		return "binData"
	case bson.TypeUndefined:
		return "undefined"
	case bson.TypeObjectID:
		return "objectId"
	case bson.TypeBoolean:
		return "bool"
	case bson.TypeDateTime:
		return "date"
	case bson.TypeNull:
		return "null"
	case bson.TypeRegex:
		return "regex"
	case bson.TypeDBPointer:
		return "dbPointer"
	case bson.TypeJavaScript:
		return "javascript"
	case bson.TypeSymbol:
		return "symbol"
	case bson.TypeCodeWithScope:
		return "javascriptWithScope"
	case bson.TypeInt32:
		return "int32"
	case bson.TypeTimestamp:
		return "timestamp"
	case bson.TypeInt64:
		return "int64"
	case bson.TypeDecimal128:
		return "decimal128"
	case bson.TypeMaxKey:
		return "maxKey"
	case bson.TypeMinKey:
		return "minKey"
	}
	return fmt.Sprintf("unknown type 0x%02x", byte(t))
}

// wantType checks that rv, named name, holds a BSON value of type t.
func wantType(rv bson.RawValue, name string, t bson.Type) error {
	if rv.Type == 0 {
		return errorf(ErrBounds, "%s is missing", name)
	}
	if rv.Type != t {
		return errorf(ErrType, "%s has type %s, expected %s", name, typeName(rv.Type), typeName(t))
	}
	return nil
}

// Readers of typed BSON values; a value whose bytes are too short is an error.

func readInt32(rv bson.RawValue, name string) (int32, error) {
	if err := wantType(rv, name, bson.TypeInt32); err != nil {
		return 0, err
	}
	v, ok := rv.Int32OK()
	if !ok {
		return 0, errorf(ErrValue, "%s: malformed int32", name)
	}
	return v, nil
}

func readInt64(rv bson.RawValue, name string) (int64, error) {
	if err := wantType(rv, name, bson.TypeInt64); err != nil {
		return 0, err
	}
	v, ok := rv.Int64OK()
	if !ok {
		return 0, errorf(ErrValue, "%s: malformed int64", name)
	}
	return v, nil
}

func readDate(rv bson.RawValue, name string) (int64, error) {
	if err := wantType(rv, name, bson.TypeDateTime); err != nil {
		return 0, err
	}
	v, ok := rv.DateTimeOK()
	if !ok {
		return 0, errorf(ErrValue, "%s: malformed date", name)
	}
	return v, nil
}

func readDouble(rv bson.RawValue, name string) (float64, error) {
	if err := wantType(rv, name, bson.TypeDouble); err != nil {
		return 0, err
	}
	v, ok := rv.DoubleOK()
	if !ok {
		return 0, errorf(ErrValue, "%s: malformed double", name)
	}
	return v, nil
}

func readDecimal(rv bson.RawValue, name string) (bson.Decimal128, error) {
	if err := wantType(rv, name, bson.TypeDecimal128); err != nil {
		return bson.Decimal128{}, err
	}
	v, ok := rv.Decimal128OK()
	if !ok {
		return bson.Decimal128{}, errorf(ErrValue, "%s: malformed decimal128", name)
	}
	return v, nil
}

// int64Reader returns the reader for int64-encoded types (int64 and date).
func int64Reader(t bson.Type) func(bson.RawValue, string) (int64, error) {
	if t == bson.TypeDateTime {
		return readDate
	}
	return readInt64
}

// int32Bounds, int64Bounds, doubleBounds and decimalBounds read the bounds of
// idx for an index of type t. Integers always have bounds; doubles and
// decimals only with a precision (min and max are then ignored otherwise).

func int32Bounds(idx Index) (*Int32Bounds, error) {
	lo, err := readInt32(idx.Min, "index min")
	if err != nil {
		return nil, err
	}
	hi, err := readInt32(idx.Max, "index max")
	if err != nil {
		return nil, err
	}
	return &Int32Bounds{lo, hi}, nil
}

func int64Bounds(idx Index, t bson.Type) (*Int64Bounds, error) {
	read := int64Reader(t)
	lo, err := read(idx.Min, "index min")
	if err != nil {
		return nil, err
	}
	hi, err := read(idx.Max, "index max")
	if err != nil {
		return nil, err
	}
	return &Int64Bounds{lo, hi}, nil
}

func doubleBounds(idx Index) (*DoubleBounds, error) {
	if idx.Precision == nil {
		return nil, nil
	}
	lo, err := readDouble(idx.Min, "index min")
	if err != nil {
		return nil, err
	}
	hi, err := readDouble(idx.Max, "index max")
	if err != nil {
		return nil, err
	}
	return &DoubleBounds{lo, hi, *idx.Precision}, nil
}

func decimalBounds(idx Index) (*Decimal128Bounds, error) {
	if idx.Precision == nil {
		return nil, nil
	}
	lo, err := readDecimal(idx.Min, "index min")
	if err != nil {
		return nil, err
	}
	hi, err := readDecimal(idx.Max, "index max")
	if err != nil {
		return nil, err
	}
	return &Decimal128Bounds{lo, hi, *idx.Precision}, nil
}

// Encode encodes the BSON value v for the index idx (its bounds and
// precision; sparsity and trimFactor are not used). The index bounds must
// have v's type; for double and decimal128 they are used only when a
// precision is set.
func Encode(v bson.RawValue, idx Index) (Encoded, error) {
	switch v.Type {
	case bson.TypeInt32:
		x, err := readInt32(v, "value")
		if err != nil {
			return Encoded{}, err
		}
		b, err := int32Bounds(idx)
		if err != nil {
			return Encoded{}, err
		}
		return EncodeInt32(x, b)
	case bson.TypeInt64, bson.TypeDateTime:
		x, err := int64Reader(v.Type)(v, "value")
		if err != nil {
			return Encoded{}, err
		}
		b, err := int64Bounds(idx, v.Type)
		if err != nil {
			return Encoded{}, err
		}
		return EncodeInt64(x, b)
	case bson.TypeDouble:
		x, err := readDouble(v, "value")
		if err != nil {
			return Encoded{}, err
		}
		b, err := doubleBounds(idx)
		if err != nil {
			return Encoded{}, err
		}
		return EncodeDouble(x, b)
	case bson.TypeDecimal128:
		x, err := readDecimal(v, "value")
		if err != nil {
			return Encoded{}, err
		}
		b, err := decimalBounds(idx)
		if err != nil {
			return Encoded{}, err
		}
		return EncodeDecimal128(x, b)
	}
	return Encoded{}, errorf(ErrType, "type %s cannot be range-indexed", typeName(v.Type))
}

// EdgesForInsert returns the edges of v, the value of an FLE2RangeInsertSpec
// whose min, max, precision and trimFactor, with the placeholder's sparsity,
// are idx. This is what libmongocrypt computes for the edge token sets ("g")
// of an FLE2InsertUpdatePayloadV2. Unlike libmongocrypt, which reads an index
// bound of another type as 0, bounds whose type differs from v's are an error.
func EdgesForInsert(v bson.RawValue, idx Index) (*EdgeSet, error) {
	e, err := Encode(v, idx)
	if err != nil {
		return nil, err
	}
	return e.Edges(idx.options())
}

// isInfiniteDouble reports whether rv is a double infinity, the marker of an
// open end of a query range.
func isInfiniteDouble(rv bson.RawValue) bool {
	v, ok := rv.DoubleOK()
	return ok && rv.Type == bson.TypeDouble && math.IsInf(v, 0)
}

// MincoverForFind returns the mincover of the query range q of an
// FLE2RangeFindSpec (lowerBound, lbIncluded, upperBound, ubIncluded) on the
// index idx (indexMin, indexMax, precision, trimFactor and the placeholder's
// sparsity), as libmongocrypt computes it for the edge find token sets ("g")
// of an FLE2FindRangePayloadV2. An infinite double end is an open end: it is
// replaced by the index bound and included. indexMin, indexMax and the query
// ends must share one type.
func MincoverForFind(q Interval[bson.RawValue], idx Index) (*Mincover, error) {
	t := idx.Min.Type
	if idx.Max.Type != t {
		return nil, errorf(ErrType, "indexMin has type %s but indexMax has type %s", typeName(t), typeName(idx.Max.Type))
	}
	if isInfiniteDouble(q.Lower) {
		q.Lower, q.IncludeLower = idx.Min, true
	}
	if isInfiniteDouble(q.Upper) {
		q.Upper, q.IncludeUpper = idx.Max, true
	}
	if q.Lower.Type != t {
		return nil, errorf(ErrType, "lower bound has type %s, expected the index type %s", typeName(q.Lower.Type), typeName(t))
	}
	if q.Upper.Type != t {
		return nil, errorf(ErrType, "upper bound has type %s, expected the index type %s", typeName(q.Upper.Type), typeName(t))
	}
	o := idx.options()
	switch t {
	case bson.TypeInt32:
		b, err := int32Bounds(idx)
		if err != nil {
			return nil, err
		}
		var r Interval[int32]
		if r.Lower, err = readInt32(q.Lower, "lower bound"); err != nil {
			return nil, err
		}
		if r.Upper, err = readInt32(q.Upper, "upper bound"); err != nil {
			return nil, err
		}
		r.IncludeLower, r.IncludeUpper = q.IncludeLower, q.IncludeUpper
		return MincoverInt32(r, b, o)
	case bson.TypeInt64, bson.TypeDateTime:
		b, err := int64Bounds(idx, t)
		if err != nil {
			return nil, err
		}
		read := int64Reader(t)
		var r Interval[int64]
		if r.Lower, err = read(q.Lower, "lower bound"); err != nil {
			return nil, err
		}
		if r.Upper, err = read(q.Upper, "upper bound"); err != nil {
			return nil, err
		}
		r.IncludeLower, r.IncludeUpper = q.IncludeLower, q.IncludeUpper
		return MincoverInt64(r, b, o)
	case bson.TypeDouble:
		b, err := doubleBounds(idx)
		if err != nil {
			return nil, err
		}
		var r Interval[float64]
		if r.Lower, err = readDouble(q.Lower, "lower bound"); err != nil {
			return nil, err
		}
		if r.Upper, err = readDouble(q.Upper, "upper bound"); err != nil {
			return nil, err
		}
		r.IncludeLower, r.IncludeUpper = q.IncludeLower, q.IncludeUpper
		return MincoverDouble(r, b, o)
	case bson.TypeDecimal128:
		b, err := decimalBounds(idx)
		if err != nil {
			return nil, err
		}
		var r Interval[bson.Decimal128]
		if r.Lower, err = readDecimal(q.Lower, "lower bound"); err != nil {
			return nil, err
		}
		if r.Upper, err = readDecimal(q.Upper, "upper bound"); err != nil {
			return nil, err
		}
		r.IncludeLower, r.IncludeUpper = q.IncludeLower, q.IncludeUpper
		return MincoverDecimal128(r, b, o)
	}
	return nil, errorf(ErrType, "type %s cannot be range-indexed", typeName(t))
}
