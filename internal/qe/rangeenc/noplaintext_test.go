package rangeenc

import (
	"errors"
	"math"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// markers are the values to encrypt, the query bounds and the index bounds of the test, in
// every notation they may be printed in: none may appear in an error text.
var markers = []string{"987654", "9.87654e", "9.87654E", "424242", "515151", "31.415", "3.1415", "400000", "300000", "Inf"}

// checkNoMarker fails unless err is of kind and its text holds none of the markers.
func checkNoMarker(t *testing.T, name string, err error, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", name)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("%s: error %q is not %v", name, err, kind)
	}
	for _, m := range markers {
		if strings.Contains(err.Error(), m) {
			t.Fatalf("%s: error %q shows %q", name, err, m)
		}
	}
}

// TestErrorsShowNoValues triggers every error of the encodings that concerns a value or a
// bound, with distinctive values: the texts name the kind of problem and never the numbers.
func TestErrorsShowNoValues(t *testing.T) {
	i32 := &Int32Bounds{-424242, 424242}
	i64 := &Int64Bounds{-424242, 424242}
	dbl := &DoubleBounds{-424242, 424242, 2}
	decB := &Decimal128Bounds{d128("-424242"), d128("424242"), 2}
	o := Options{Sparsity: 1}
	for _, c := range []struct {
		name string
		err  func() error
		kind error
	}{
		{"int32 out of range", func() error { _, err := EncodeInt32(987654, i32); return err }, ErrOutOfRange},
		{"int32 bounds", func() error { _, err := EncodeInt32(1, &Int32Bounds{515151, -515151}); return err }, ErrBounds},
		{"int64 out of range", func() error { _, err := EncodeInt64(-987654, i64); return err }, ErrOutOfRange},
		{"int64 bounds", func() error { _, err := EncodeInt64(1, &Int64Bounds{515151, -515151}); return err }, ErrBounds},
		{"double out of range", func() error { _, err := EncodeDouble(987654, dbl); return err }, ErrOutOfRange},
		{"double bounds", func() error { _, err := EncodeDouble(1, &DoubleBounds{515151, -515151, 1}); return err }, ErrBounds},
		{"double infinity", func() error { _, err := EncodeDouble(math.Inf(1), nil); return err }, ErrValue},
		{"double min fractional digits", func() error { _, err := EncodeDouble(100, &DoubleBounds{3.1415, 424242, 1}); return err }, ErrPrecision},
		{"double max fractional digits", func() error { _, err := EncodeDouble(1, &DoubleBounds{0, 31.415, 1}); return err }, ErrPrecision},
		{"double precision bounds", func() error { _, _, err := doublePrecisionBits(515151, -515151, 1); return err }, ErrBounds},
		{"double max beyond 2^53", func() error { _, _, err := doublePrecisionBits(0, 9876540000000000, 1); return err }, ErrPrecision},
		{"double domain too large", func() error {
			_, err := EncodeDouble(0, &DoubleBounds{-4503599627370496, 4503599627370496, 0})
			return err
		}, ErrPrecision},
		{"decimal128 out of range", func() error { _, err := EncodeDecimal128(d128("987654"), decB); return err }, ErrOutOfRange},
		{"decimal128 bounds", func() error {
			_, err := EncodeDecimal128(d128("1"), &Decimal128Bounds{d128("515151"), d128("-515151"), 1})
			return err
		}, ErrBounds},
		{"decimal128 infinity", func() error { _, err := EncodeDecimal128(dec{class: decInf}.decimal128(), nil); return err }, ErrValue},
		{"decimal128 min fractional digits", func() error {
			_, err := EncodeDecimal128(d128("100"), &Decimal128Bounds{d128("3.1415"), d128("424242"), 1})
			return err
		}, ErrPrecision},
		{"decimal128 max fractional digits", func() error {
			_, err := EncodeDecimal128(d128("1"), &Decimal128Bounds{d128("0"), d128("31.415"), 1})
			return err
		}, ErrPrecision},
		{"decimal128 max beyond 2^127", func() error {
			_, err := EncodeDecimal128(d128("0"), &Decimal128Bounds{d128("0"), d128("987654000000000000000000000000000"), 10})
			return err
		}, ErrPrecision},
		{"query upper below the index min", func() error {
			_, err := MincoverInt32(Interval[int32]{-987654, -987654, true, true}, i32, o)
			return err
		}, ErrQuery},
		{"query excluded upper at the index min", func() error {
			_, err := MincoverInt32(Interval[int32]{-424242, -424242, true, false}, i32, o)
			return err
		}, ErrQuery},
		{"query lower above the index max", func() error {
			_, err := MincoverInt64(Interval[int64]{987654, 987654, true, true}, i64, o)
			return err
		}, ErrQuery},
		{"query excluded lower at the index max", func() error {
			_, err := MincoverDouble(Interval[float64]{424242, 424242, false, true}, dbl, o)
			return err
		}, ErrQuery},
		{"query decimal128 lower above the index max", func() error {
			_, err := MincoverDecimal128(Interval[bson.Decimal128]{d128("987654"), d128("987654"), true, true}, decB, o)
			return err
		}, ErrQuery},
		{"query lower above upper", func() error {
			_, err := MincoverInt32(Interval[int32]{400000, 300000, true, true}, i32, o)
			return err
		}, ErrQuery},
	} {
		checkNoMarker(t, c.name, c.err(), c.kind)
	}
}
