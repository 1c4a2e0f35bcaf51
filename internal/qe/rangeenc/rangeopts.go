package rangeenc

import (
	"bytes"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// RangeOpts are the range options of explicit encryption (the rangeOpts of
// the specification's EncryptOpts):
//
//	{ min: any, max: any, sparsity: int64, precision: int32, trimFactor: int32 }
//
// every field optional.
type RangeOpts struct {
	// Min and Max are the index bounds; a zero RawValue means absent.
	Min, Max bson.RawValue
	// Sparsity, DefaultSparsity when absent.
	Sparsity int64
	// Precision, for double and decimal128 only; nil when absent.
	Precision *int32
	// TrimFactor; nil when absent (the default is chosen per domain).
	TrimFactor *int32
}

// ParseRangeOpts parses and validates a RangeOpts document. Fields other
// than min, max, sparsity, precision and trimFactor, duplicated fields, and
// fields of the wrong type are refused; sparsity, precision and trimFactor
// must be non-negative. precision requires min and max of type double or
// decimal128; min and max must share a type; a double or decimal128 min or
// max requires precision. The result does not alias doc.
func ParseRangeOpts(doc bson.Raw) (*RangeOpts, error) {
	if err := doc.Validate(); err != nil {
		return nil, errorf(ErrRangeOpts, "not a valid BSON document: %v", err)
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, errorf(ErrRangeOpts, "not a valid BSON document: %v", err)
	}
	o := &RangeOpts{Sparsity: DefaultSparsity}
	seen := map[string]bool{}
	for _, el := range elems {
		key, err := el.KeyErr()
		if err != nil {
			return nil, errorf(ErrRangeOpts, "malformed element: %v", err)
		}
		val, err := el.ValueErr()
		if err != nil {
			return nil, errorf(ErrRangeOpts, "field %q: malformed value: %v", key, err)
		}
		switch key {
		case "min", "max", "sparsity", "precision", "trimFactor":
			if seen[key] {
				return nil, errorf(ErrRangeOpts, "field %q appears twice", key)
			}
			seen[key] = true
		default:
			return nil, errorf(ErrRangeOpts, "unknown field %q", key)
		}
		switch key {
		case "min":
			o.Min = bson.RawValue{Type: val.Type, Value: bytes.Clone(val.Value)}
		case "max":
			o.Max = bson.RawValue{Type: val.Type, Value: bytes.Clone(val.Value)}
		case "sparsity":
			v, ok := val.Int64OK()
			if !ok {
				return nil, errorf(ErrRangeOpts, "sparsity must be an int64, got %s", typeName(val.Type))
			}
			if v < 0 {
				return nil, errorf(ErrRangeOpts, "%w: sparsity must be non-negative, got %d", ErrSparsity, v)
			}
			o.Sparsity = v
		case "precision":
			v, ok := val.Int32OK()
			if !ok {
				return nil, errorf(ErrRangeOpts, "precision must be an int32, got %s", typeName(val.Type))
			}
			if v < 0 {
				return nil, errorf(ErrRangeOpts, "%w: precision must be non-negative, got %d", ErrPrecision, v)
			}
			o.Precision = &v
		case "trimFactor":
			v, ok := val.Int32OK()
			if !ok {
				return nil, errorf(ErrRangeOpts, "trimFactor must be an int32, got %s", typeName(val.Type))
			}
			if v < 0 {
				return nil, errorf(ErrRangeOpts, "%w: trimFactor must be non-negative, got %d", ErrTrimFactor, v)
			}
			o.TrimFactor = &v
		}
	}
	floating := func(t bson.Type) bool { return t == bson.TypeDouble || t == bson.TypeDecimal128 }
	if o.Precision != nil {
		if o.Min.Type == 0 {
			return nil, errorf(ErrRangeOpts, "precision requires min")
		}
		if !floating(o.Min.Type) {
			return nil, errorf(ErrRangeOpts, "precision applies to a double or decimal128 index, but min is %s", typeName(o.Min.Type))
		}
		if o.Max.Type == 0 {
			return nil, errorf(ErrRangeOpts, "precision requires max")
		}
		if !floating(o.Max.Type) {
			return nil, errorf(ErrRangeOpts, "precision applies to a double or decimal128 index, but max is %s", typeName(o.Max.Type))
		}
	}
	if o.Min.Type != 0 && o.Max.Type != 0 && o.Min.Type != o.Max.Type {
		return nil, errorf(ErrRangeOpts, "min and max must have the same type, got %s min and %s max", typeName(o.Min.Type), typeName(o.Max.Type))
	}
	if o.Precision == nil {
		if floating(o.Min.Type) {
			return nil, errorf(ErrRangeOpts, "a %s min requires precision", typeName(o.Min.Type))
		}
		if floating(o.Max.Type) {
			return nil, errorf(ErrRangeOpts, "a %s max requires precision", typeName(o.Max.Type))
		}
	}
	return o, nil
}

// Default bounds of double and decimal128 indexes without min and max.
var (
	doubleLowest  = bson.RawValue{Type: bson.TypeDouble, Value: bsoncore.AppendDouble(nil, -math.MaxFloat64)}
	doubleHighest = bson.RawValue{Type: bson.TypeDouble, Value: bsoncore.AppendDouble(nil, math.MaxFloat64)}
	decLowest     = rawDecimal(decLargestNegative)
	decHighest    = rawDecimal(decLargestPositive)
)

func rawDecimal(d bson.Decimal128) bson.RawValue {
	h, l := d.GetBytes()
	return bson.RawValue{Type: bson.TypeDecimal128, Value: bsoncore.AppendDecimal128(nil, h, l)}
}

// bound returns the index bound given (set) for a value of type t, or its
// default: -/+math.MaxFloat64 for double, the largest negative/positive
// finite decimal128 for decimal128. Integer and date indexes have no default.
func bound(given bson.RawValue, name string, t bson.Type, low, high bson.RawValue) (bson.RawValue, error) {
	if given.Type != 0 {
		if given.Type != t {
			return bson.RawValue{}, errorf(ErrType, "range option %s has type %s but the value has type %s", name, typeName(given.Type), typeName(t))
		}
		return bson.RawValue{Type: given.Type, Value: bytes.Clone(given.Value)}, nil
	}
	switch t {
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDateTime:
		return bson.RawValue{}, errorf(ErrBounds, "range option %s is required for type %s", name, typeName(t))
	case bson.TypeDouble:
		if name == "min" {
			return doubleLowest, nil
		}
		return doubleHighest, nil
	case bson.TypeDecimal128:
		if name == "min" {
			return low, nil
		}
		return high, nil
	}
	return bson.RawValue{}, errorf(ErrType, "type %s cannot be range-indexed", typeName(t))
}

// IndexMin returns the index minimum for values of type t: o.Min, which must
// have type t, or the type's default (-math.MaxFloat64 for double,
// -9999999999999999999999999999999999E6111 for decimal128). Integer and date
// indexes require o.Min.
func (o *RangeOpts) IndexMin(t bson.Type) (bson.RawValue, error) {
	return bound(o.Min, "min", t, decLowest, decHighest)
}

// IndexMax returns the index maximum for values of type t: o.Max, which must
// have type t, or the type's default (math.MaxFloat64 for double,
// 9999999999999999999999999999999999E6111 for decimal128). Integer and date
// indexes require o.Max.
func (o *RangeOpts) IndexMax(t bson.Type) (bson.RawValue, error) {
	return bound(o.Max, "max", t, decLowest, decHighest)
}

// CheckTrimFactor checks a set trimFactor against the number of bits of the
// domain of type t (DomainBits with o's bounds and precision): it must be
// below it, or 0 for a domain of 0 bits.
func (o *RangeOpts) CheckTrimFactor(t bson.Type) error {
	if o.TrimFactor == nil {
		return nil
	}
	bits, err := DomainBits(t, o.Min, o.Max, o.Precision)
	if err != nil {
		return err
	}
	if int64(*o.TrimFactor) >= int64(max(bits, 1)) {
		return errorf(ErrTrimFactor, "trimFactor %d must be less than the number of bits (%d) of the domain", *o.TrimFactor, bits)
	}
	return nil
}

// InsertSpec returns the FLE2RangeInsertSpec libmongocrypt builds for
// explicitly encrypting v with o:
//
//	{ v: <v>, min: <IndexMin>, max: <IndexMax>, precision: <int32, if set>, trimFactor: <int32, if set> }
//
// after checking min and max against v's type and trimFactor against the
// domain.
func (o *RangeOpts) InsertSpec(v bson.RawValue) (bson.Raw, error) {
	if err := v.Validate(); err != nil {
		return nil, errorf(ErrValue, "malformed %s value: %v", typeName(v.Type), err)
	}
	lo, err := o.IndexMin(v.Type)
	if err != nil {
		return nil, err
	}
	hi, err := o.IndexMax(v.Type)
	if err != nil {
		return nil, err
	}
	if err := o.CheckTrimFactor(v.Type); err != nil {
		return nil, err
	}
	elems := [][]byte{
		bsoncore.AppendValueElement(nil, "v", bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value}),
		bsoncore.AppendValueElement(nil, "min", bsoncore.Value{Type: bsoncore.Type(lo.Type), Data: lo.Value}),
		bsoncore.AppendValueElement(nil, "max", bsoncore.Value{Type: bsoncore.Type(hi.Type), Data: hi.Value}),
	}
	if o.Precision != nil {
		elems = append(elems, bsoncore.AppendInt32Element(nil, "precision", *o.Precision))
	}
	if o.TrimFactor != nil {
		elems = append(elems, bsoncore.AppendInt32Element(nil, "trimFactor", *o.TrimFactor))
	}
	return bson.Raw(bsoncore.BuildDocument(nil, elems...)), nil
}

// DomainBits returns the number of bits of the domain of a range index on
// type t with the given bounds and precision (absent: zero RawValue / nil):
// the bit length of the largest encoded value. It is 32 for an int32 index
// without bounds, 64 for int64, date and double without bounds, 128 for
// decimal128 without bounds, and what min, max (and precision) need
// otherwise. A trimFactor must be below it.
func DomainBits(t bson.Type, min, max bson.RawValue, precision *int32) (int, error) {
	if (min.Type == 0) != (max.Type == 0) {
		return 0, errorf(ErrBounds, "min and max must both be set or both be absent")
	}
	var (
		e   Encoded
		err error
	)
	bounded := min.Type != 0
	switch t {
	case bson.TypeInt32:
		var b *Int32Bounds
		if bounded {
			if b, err = int32Bounds(Index{Min: min, Max: max}); err != nil {
				return 0, err
			}
			e, err = EncodeInt32(b.Min, b)
		} else {
			e, err = EncodeInt32(0, nil)
		}
	case bson.TypeInt64, bson.TypeDateTime:
		var b *Int64Bounds
		if bounded {
			if b, err = int64Bounds(Index{Min: min, Max: max}, t); err != nil {
				return 0, err
			}
			e, err = EncodeInt64(b.Min, b)
		} else {
			e, err = EncodeInt64(0, nil)
		}
	case bson.TypeDouble:
		if bounded != (precision != nil) {
			return 0, errorf(ErrPrecision, "double min, max and precision must all be set or all be absent")
		}
		var b *DoubleBounds
		if bounded {
			if b, err = doubleBounds(Index{Min: min, Max: max, Precision: precision}); err != nil {
				return 0, err
			}
			e, err = EncodeDouble(b.Min, b)
		} else {
			e, err = EncodeDouble(0, nil)
		}
	case bson.TypeDecimal128:
		if bounded != (precision != nil) {
			return 0, errorf(ErrPrecision, "decimal128 min, max and precision must all be set or all be absent")
		}
		var b *Decimal128Bounds
		if bounded {
			if b, err = decimalBounds(Index{Min: min, Max: max, Precision: precision}); err != nil {
				return 0, err
			}
			e, err = EncodeDecimal128(b.Min, b)
		} else {
			e, err = EncodeDecimal128(bson.Decimal128{}, nil)
		}
	default:
		return 0, errorf(ErrType, "type %s cannot be range-indexed", typeName(t))
	}
	if err != nil {
		return 0, err
	}
	return e.Bits(), nil
}
