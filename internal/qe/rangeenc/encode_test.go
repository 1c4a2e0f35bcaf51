package rangeenc

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Expected encodings below are those of libmongocrypt's
// test/test-mc-range-encoding.c (themselves taken from the MongoDB server's
// tests), as values.

// wantErr is an expected error: its category and phrases of its message.
type wantErr struct {
	kind    error
	phrases []string
}

func (w *wantErr) check(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v %q", name, w.kind, w.phrases)
	}
	if !errors.Is(err, w.kind) {
		t.Fatalf("%s: error %q is not %v", name, err, w.kind)
	}
	for _, p := range w.phrases {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: error %q lacks %q", name, err, p)
		}
	}
}

func u128(s string) U128 {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad test integer " + s)
	}
	return u128FromBig(b)
}

func TestEncodeInt32(t *testing.T) {
	full := U128{Lo: math.MaxUint32}
	tests := []struct {
		v      int32
		b      *Int32Bounds
		value  uint64
		max    U128
		expect *wantErr
	}{
		{v: math.MaxInt32, value: 4294967295, max: full},
		{v: 1, value: 2147483649, max: full},
		{v: 0, value: 2147483648, max: full},
		{v: -1, value: 2147483647, max: full},
		{v: -2, value: 2147483646, max: full},
		{v: -2147483647, value: 1, max: full},
		{v: math.MinInt32, value: 0, max: full},
		{v: 1, b: &Int32Bounds{1, 3}, value: 0, max: U128{Lo: 2}},
		{v: 0, b: &Int32Bounds{0, 1}, value: 0, max: U128{Lo: 1}},
		{v: -1, b: &Int32Bounds{-1, 0}, value: 0, max: U128{Lo: 1}},
		{v: -2, b: &Int32Bounds{-2, 0}, value: 0, max: U128{Lo: 2}},
		{v: -2147483647, b: &Int32Bounds{math.MinInt32, 1}, value: 1, max: U128{Lo: 2147483649}},
		{v: math.MinInt32, b: &Int32Bounds{math.MinInt32, 0}, value: 0, max: U128{Lo: 2147483648}},
		{v: 0, b: &Int32Bounds{math.MinInt32, 1}, value: 2147483648, max: U128{Lo: 2147483649}},
		{v: 1, b: &Int32Bounds{math.MinInt32, 2}, value: 2147483649, max: U128{Lo: 2147483650}},
		{v: math.MaxInt32, b: &Int32Bounds{-2147483647, math.MaxInt32}, value: 4294967294, max: U128{Lo: 4294967294}},
		{v: math.MaxInt32, b: &Int32Bounds{math.MinInt32, math.MaxInt32}, value: 4294967295, max: U128{Lo: 4294967295}},
		{v: 15, b: &Int32Bounds{10, 26}, value: 5, max: U128{Lo: 16}},
		{v: 15, b: &Int32Bounds{-10, 55}, value: 25, max: U128{Lo: 65}},
		{v: 1, b: &Int32Bounds{2, 1}, expect: &wantErr{ErrBounds, []string{"min must be less than max"}}},
		{v: 1, b: &Int32Bounds{2, 3}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value and less than or equal to the maximum value"}}},
		{v: 4, b: &Int32Bounds{2, 3}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{v: 4, b: &Int32Bounds{math.MinInt32, math.MinInt32}, expect: &wantErr{ErrBounds, []string{"must be less than max"}}},
	}
	for _, tc := range tests {
		got, err := EncodeInt32(tc.v, tc.b)
		if tc.expect != nil {
			tc.expect.check(t, "EncodeInt32", err)
			continue
		}
		if err != nil || got.Value != (U128{Lo: tc.value}) || got.Max != tc.max {
			t.Errorf("EncodeInt32(%d, %+v) = %v, %v, %v; want %d, %v", tc.v, tc.b, got.Value, got.Max, err, tc.value, tc.max)
		}
	}
}

func TestEncodeInt64(t *testing.T) {
	full := U128{Lo: math.MaxUint64}
	tests := []struct {
		v      int64
		b      *Int64Bounds
		value  uint64
		max    U128
		expect *wantErr
	}{
		{v: math.MaxInt64, value: 18446744073709551615, max: full},
		{v: 1, value: 9223372036854775809, max: full},
		{v: 0, value: 9223372036854775808, max: full},
		{v: -1, value: 9223372036854775807, max: full},
		{v: -2, value: 9223372036854775806, max: full},
		{v: -9223372036854775807, value: 1, max: full},
		{v: math.MinInt64, value: 0, max: full},
		{v: 1, b: &Int64Bounds{1, 2}, value: 0, max: U128{Lo: 1}},
		{v: 0, b: &Int64Bounds{0, 1}, value: 0, max: U128{Lo: 1}},
		{v: -1, b: &Int64Bounds{-1, 0}, value: 0, max: U128{Lo: 1}},
		{v: -2, b: &Int64Bounds{-2, 0}, value: 0, max: U128{Lo: 2}},
		{v: -9223372036854775807, b: &Int64Bounds{math.MinInt64, 1}, value: 1, max: U128{Lo: 9223372036854775809}},
		{v: math.MinInt64, b: &Int64Bounds{math.MinInt64, 0}, value: 0, max: U128{Lo: 9223372036854775808}},
		{v: 0, b: &Int64Bounds{math.MinInt64, 37}, value: 9223372036854775808, max: U128{Lo: 9223372036854775845}},
		{v: 1, b: &Int64Bounds{math.MinInt64, 42}, value: 9223372036854775809, max: U128{Lo: 9223372036854775850}},
		{v: math.MaxInt64, b: &Int64Bounds{-9223372036854775807, math.MaxInt64}, value: 18446744073709551614, max: U128{Lo: 18446744073709551614}},
		{v: math.MaxInt64, b: &Int64Bounds{math.MinInt64, math.MaxInt64}, value: 18446744073709551615, max: U128{Lo: 18446744073709551615}},
		{v: 15, b: &Int64Bounds{10, 26}, value: 5, max: U128{Lo: 16}},
		{v: 15, b: &Int64Bounds{-10, 55}, value: 25, max: U128{Lo: 65}},
		{v: 1, b: &Int64Bounds{2, 1}, expect: &wantErr{ErrBounds, []string{"must be less than max"}}},
		{v: 1, b: &Int64Bounds{2, 3}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{v: 4, b: &Int64Bounds{2, 3}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{v: 4, b: &Int64Bounds{math.MinInt64, math.MinInt64}, expect: &wantErr{ErrBounds, []string{"must be less than max"}}},
	}
	for _, tc := range tests {
		got, err := EncodeInt64(tc.v, tc.b)
		if tc.expect != nil {
			tc.expect.check(t, "EncodeInt64", err)
			continue
		}
		if err != nil || got.Value != (U128{Lo: tc.value}) || got.Max != tc.max {
			t.Errorf("EncodeInt64(%d, %+v) = %v, %v, %v; want %d, %v", tc.v, tc.b, got.Value, got.Max, err, tc.value, tc.max)
		}
	}
}

func TestDoublePrecisionBits(t *testing.T) {
	ok := []struct {
		min, max float64
		p        int32
		usable   bool
		bits     int
	}{
		{1, 16, 0, true, 4},
		{0, 16, 0, true, 5},
		{2.718281, 314.159265, 6, true, 29},
	}
	for _, tc := range ok {
		bits, usable, err := doublePrecisionBits(tc.min, tc.max, tc.p)
		if err != nil || usable != tc.usable || bits != tc.bits {
			t.Errorf("doublePrecisionBits(%g, %g, %d) = %d, %v, %v; want %d, %v", tc.min, tc.max, tc.p, bits, usable, err, tc.bits, tc.usable)
		}
	}
	upperAbs := &wantErr{ErrPrecision, []string{"upper bound", "2^53"}}
	lowerAbs := &wantErr{ErrPrecision, []string{"lower bound", "2^53"}}
	uint64MaxDouble := float64(math.MaxUint64)
	bad := []struct {
		min, max float64
		p        int32
		want     *wantErr
	}{
		{1, 9007199254740992, 0, upperAbs},
		{0, 9007199254740992, 0, upperAbs},
		{-1000000000, 9223372036844775424, 0, upperAbs},
		{2.71, 314.15, 2, &wantErr{ErrPrecision, []string{"upper bound", "fractional digits"}}},
		{314.15, 350, 2, &wantErr{ErrPrecision, []string{"lower bound", "fractional digits"}}},
		{9007199254740992, uint64MaxDouble, 0, upperAbs},
		{-uint64MaxDouble, 1, 0, lowerAbs},
		{-92233720368547, 92233720368547, 5, upperAbs},
		{2, 1, 0, &wantErr{ErrBounds, []string{"min must be less than max"}}},
	}
	for _, tc := range bad {
		_, usable, err := doublePrecisionBits(tc.min, tc.max, tc.p)
		if usable {
			t.Errorf("doublePrecisionBits(%g, %g, %d) usable", tc.min, tc.max, tc.p)
		}
		tc.want.check(t, "doublePrecisionBits", err)
	}
}

func TestEncodeDouble(t *testing.T) {
	const (
		minSafe = -9007199254740992.0
		maxSafe = 9007199254740992.0
	)
	full := U128{Lo: math.MaxUint64}
	upper := &wantErr{ErrPrecision, []string{"upper bound"}}
	tests := []struct {
		v      float64
		b      *DoubleBounds
		value  uint64
		max    U128
		expect *wantErr
	}{
		{v: -1111, value: 4570770991734587392, max: full},
		{v: -111, value: 4585860689314185216, max: full},
		{v: -11, value: 4600989969312382976, max: full},
		{v: -10, value: 4601552919265804288, max: full},
		{v: -3, value: 4609434218613702656, max: full},
		{v: -2, value: 4611686018427387904, max: full},
		{v: -1, value: 4616189618054758400, max: full},
		{v: 1, value: 13830554455654793216, max: full},
		{v: 22, value: 13850257704024539136, max: full},
		{v: 333, value: 13867937850999177216, max: full},
		{v: 33e56, value: 14690973652625833878, max: full},
		{v: 22e57, value: 14703137697061005818, max: full},
		{v: 11e58, value: 14713688953586463292, max: full},
		{v: 1e-6, value: 13740701229962882445, max: full},
		{v: 1e-7, value: 13725520251343122248, max: full},
		{v: 1e-8, value: 13710498295186492474, max: full},
		{v: 1e-56, value: 12992711961033031890, max: full},
		{v: 1e-57, value: 12977434315086142017, max: full},
		{v: 1e-58, value: 12962510038552207822, max: full},
		{v: -1e-6, value: 4706042843746669171, max: full},
		{v: -1e-7, value: 4721223822366429368, max: full},
		{v: -1e-8, value: 4736245778523059142, max: full},
		{v: -1e-56, value: 5454032112676519726, max: full},
		{v: -1e-57, value: 5469309758623409599, max: full},
		{v: -1e-58, value: 5484234035157343794, max: full},
		{v: -33e56, value: 3755770421083717738, max: full},
		{v: -22e57, value: 3743606376648545798, max: full},
		{v: -11e58, value: 3733055120123088324, max: full},
		{v: 0, value: 9223372036854775808, max: full},
		{v: math.Copysign(0, -1), value: 9223372036854775808, max: full},
		{v: math.Inf(1), expect: &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{v: math.Inf(-1), expect: &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{v: math.NaN(), expect: &wantErr{ErrValue, []string{"NaN and infinities"}}},
		// Precision mode.
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 1}, value: 1000031, max: U128{Lo: 2097151}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 2}, value: 10000314, max: U128{Lo: 33554431}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 3}, value: 100003141, max: U128{Lo: 268435455}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 4}, value: 1000031415, max: U128{Lo: 2147483647}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 5}, value: 10000314159, max: U128{Lo: 34359738367}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 6}, value: 100003141592, max: U128{Lo: 274877906943}},
		{v: 3.141592653589, b: &DoubleBounds{-100000, 100000, 7}, value: 1000031415926, max: U128{Lo: 2199023255551}},
		{v: 0, b: &DoubleBounds{-1, 1, 3}, value: 1000, max: U128{Lo: 4095}},
		{v: 0, b: &DoubleBounds{-1e5, 1, 3}, value: 100000000, max: U128{Lo: 134217727}},
		{v: -1e-33, b: &DoubleBounds{-1e5, 1, 3}, value: 100000000, max: U128{Lo: 134217727}},
		{v: 0, b: &DoubleBounds{-math.MaxFloat64, math.MaxFloat64, 3}, expect: upper},
		{v: 3.141592653589, b: &DoubleBounds{0, 5, 0}, value: 3, max: U128{Lo: 7}},
		{v: 3.141592653589, b: &DoubleBounds{0, 5, 1}, value: 31, max: U128{Lo: 63}},
		{v: 3.141592653589, b: &DoubleBounds{0, 5, 2}, value: 314, max: U128{Lo: 1023}},
		{v: 3.141592653589, b: &DoubleBounds{0, 5, 3}, value: 3141, max: U128{Lo: 8191}},
		{v: 3.141592653589, b: &DoubleBounds{0, 5, 16}, expect: upper},
		{v: -5, b: &DoubleBounds{-10, -1, 3}, value: 5000, max: U128{Lo: 16383}},
		{v: 1e100, b: &DoubleBounds{-math.MaxFloat64, math.MaxFloat64, 3}, expect: upper},
		{v: 1e9, b: &DoubleBounds{0, 1e10, 3}, value: 1000000000000, max: U128{Lo: 17592186044415}},
		{v: 1e9, b: &DoubleBounds{0, 1e10, 0}, value: 1000000000, max: U128{Lo: 17179869183}},
		{v: -5, b: &DoubleBounds{-10, 10, 0}, value: 5, max: U128{Lo: 31}},
		{v: -5, b: &DoubleBounds{-10, 10, 2}, value: 500, max: U128{Lo: 4095}},
		{v: 1e-30, b: &DoubleBounds{1e-30, 10e-30, 35}, expect: upper},
		{v: minSafe, b: &DoubleBounds{minSafe, maxSafe, 0}, expect: &wantErr{ErrPrecision, []string{"upper bound", "2^53"}}},
		{v: 900719925474099.6, b: &DoubleBounds{900719925474099.0, 900719925474100.0, 0}, value: 0, max: U128{Lo: 1}},
		{v: 900719925474099.6, b: &DoubleBounds{900719925474099.0, 900719925474100.0, 1}, expect: &wantErr{ErrPrecision, []string{"upper bound", "2^53"}}},
		{v: -900719925474099.6, b: &DoubleBounds{-900719925474100.0, -900719925474099.0, 1}, expect: &wantErr{ErrPrecision, []string{"lower bound", "2^53"}}},
		{v: 0, b: &DoubleBounds{-4503599627370496, 4503599627370496, 0}, expect: &wantErr{ErrPrecision, []string{"cannot be represented in fewer than 53 bits"}}},
		{v: -1, b: &DoubleBounds{0, 200, 1}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{v: -1, b: &DoubleBounds{0, 201, 1}, expect: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{v: 1, b: &DoubleBounds{1, 2, -1}, expect: &wantErr{ErrPrecision, []string{"non-negative"}}},
		{v: 1, b: &DoubleBounds{0, 1, 309}, expect: &wantErr{ErrPrecision, []string{"too large"}}},
		{v: 1, b: &DoubleBounds{2, 1, 1}, expect: &wantErr{ErrBounds, []string{"must be less than max"}}},
		{v: math.NaN(), b: &DoubleBounds{0, 1, 1}, expect: &wantErr{ErrValue, []string{"NaN"}}},
	}
	for _, tc := range tests {
		got, err := EncodeDouble(tc.v, tc.b)
		if tc.expect != nil {
			tc.expect.check(t, "EncodeDouble", err)
			continue
		}
		if err != nil || got.Value != (U128{Lo: tc.value}) || got.Max != tc.max {
			t.Errorf("EncodeDouble(%g, %+v) = %v, %v, %v; want %d, %v", tc.v, tc.b, got.Value, got.Max, err, tc.value, tc.max)
		}
	}
}

func d128(s string) bson.Decimal128 { return parseDecimalString(s) }

func TestDecimalPrecisionBits(t *testing.T) {
	ok := []struct {
		min, max string
		p        int32
		usable   bool
		bits     int
	}{
		{"1", "16", 0, true, 4},
		{"0", "16", 0, true, 5},
		{"1", "324518553658426726783156020576256", 0, true, 108},
		{"0", "324518553658426726783156020576256", 0, true, 109},
		{"-100000000000000000000000000000000", "170141183460469231731687303715880000000", 0, false, 128},
	}
	for _, tc := range ok {
		bits, usable, err := decimalPrecisionBits(decFromDecimal128(d128(tc.min)), decFromDecimal128(d128(tc.max)), tc.p)
		if err != nil || usable != tc.usable || bits != tc.bits {
			t.Errorf("decimalPrecisionBits(%s, %s, %d) = %d, %v, %v; want %d, %v", tc.min, tc.max, tc.p, bits, usable, err, tc.bits, tc.usable)
		}
	}
	bad := []struct {
		min, max string
		p        int32
		want     *wantErr
	}{
		{"788545.12392843", "4607431769000000.129834923", 4, &wantErr{ErrPrecision, []string{"upper bound", "fractional digits"}}},
		{"788545.12392843", "7885451.2", 4, &wantErr{ErrPrecision, []string{"lower bound", "fractional digits"}}},
		{"324518553658426726783156020576256", "340282366920938463463374607431768211455", 10, &wantErr{ErrPrecision, []string{"upper bound", "exceeds"}}},
		{"-340282366920938463463374607431768211455", "-3245185536584267267831560", 10, &wantErr{ErrPrecision, []string{"lower bound", "exceeds"}}},
		{"-17014118346046923173168730371588.0000000", "17014118346046923173168730371588.0000000", 7, &wantErr{ErrPrecision, []string{"precision 7 is too large"}}},
		{"788545", "340282366920938463463374607431769000000.000000", 0, &wantErr{ErrPrecision, []string{"upper bound", "exceeds"}}},
		{"1", "Infinity-not-a-number", 0, &wantErr{ErrPrecision, []string{"upper bound", "not finite"}}},
		{"bad", "1", 0, &wantErr{ErrPrecision, []string{"lower bound", "not finite"}}},
		{"2", "1", 0, &wantErr{ErrBounds, []string{"must be less than max"}}},
	}
	for _, tc := range bad {
		_, usable, err := decimalPrecisionBits(decFromDecimal128(d128(tc.min)), decFromDecimal128(d128(tc.max)), tc.p)
		if usable {
			t.Errorf("decimalPrecisionBits(%s, %s, %d) usable", tc.min, tc.max, tc.p)
		}
		tc.want.check(t, "decimalPrecisionBits("+tc.min+", "+tc.max+")", err)
	}
}

func TestEncodeDecimal128(t *testing.T) {
	full := maxU128
	cases := []struct{ v, want string }{
		{"-1234567890E7", "108549948892579231731687303715884111887"},
		{"-1234567890E6", "108559948892579231731687303715884111886"},
		{"-1234567890E5", "108569948892579231731687303715884111885"},
		{"-1234567890E4", "108579948892579231731687303715884111884"},
		{"-1234567890E3", "108589948892579231731687303715884111883"},
		{"-1234567890E2", "108599948892579231731687303715884111882"},
		{"-1234567890E1", "108609948892579231731687303715884111881"},
		{"-123456789012345", "108569948892579108281687303715884111885"},
		{"-12345678901234", "108579948892579108331687303715884111884"},
		{"-1234567890123", "108589948892579108731687303715884111883"},
		{"-123456789012", "108599948892579111731687303715884111882"},
		{"-12345678901", "108609948892579131731687303715884111881"},
		{"-1234567890", "108619948892579231731687303715884111880"},
		{"-99999999", "108631183460569231731687303715884111878"},
		{"-8888888", "108642294572469231731687303715884111877"},
		{"-777777", "108653405690469231731687303715884111876"},
		{"-66666", "108664516860469231731687303715884111875"},
		{"-5555", "108675628460469231731687303715884111874"},
		{"-444", "108686743460469231731687303715884111873"},
		{"-334", "108687843460469231731687303715884111873"},
		{"-333", "108687853460469231731687303715884111873"},
		{"-44", "108696783460469231731687303715884111872"},
		{"-33", "108697883460469231731687303715884111872"},
		{"-22", "108698983460469231731687303715884111872"},
		{"-5", "108706183460469231731687303715884111871"},
		{"-4", "108707183460469231731687303715884111871"},
		{"-3", "108708183460469231731687303715884111871"},
		{"-2", "108709183460469231731687303715884111871"},
		{"-1", "108710183460469231731687303715884111871"},
		{"0", "170141183460469231731687303715884105728"},
		{"1", "231572183460469231731687303715884099585"},
		{"2", "231573183460469231731687303715884099585"},
		{"3", "231574183460469231731687303715884099585"},
		{"4", "231575183460469231731687303715884099585"},
		{"5", "231576183460469231731687303715884099585"},
		{"22", "231583383460469231731687303715884099584"},
		{"33", "231584483460469231731687303715884099584"},
		{"44", "231585583460469231731687303715884099584"},
		{"333", "231594513460469231731687303715884099583"},
		{"334", "231594523460469231731687303715884099583"},
		{"444", "231595623460469231731687303715884099583"},
		{"5555", "231606738460469231731687303715884099582"},
		{"66666", "231617850060469231731687303715884099581"},
		{"777777", "231628961230469231731687303715884099580"},
		{"8888888", "231640072348469231731687303715884099579"},
		{"33E56", "232144483460469231731687303715884099528"},
		{"22E57", "232153383460469231731687303715884099527"},
		{"11E58", "232162283460469231731687303715884099526"},
		{"1E-6", "231512183460469231731687303715884099591"},
		{"1E-7", "231502183460469231731687303715884099592"},
		{"1E-8", "231492183460469231731687303715884099593"},
		{"1E-56", "231012183460469231731687303715884099641"},
		{"1E-57", "231002183460469231731687303715884099642"},
		{"1E-58", "230992183460469231731687303715884099643"},
		{"-1E-6", "108770183460469231731687303715884111865"},
		{"-1E-7", "108780183460469231731687303715884111864"},
		{"-1E-8", "108790183460469231731687303715884111863"},
		{"-1E-56", "109270183460469231731687303715884111815"},
		{"-1E-57", "109280183460469231731687303715884111814"},
		{"-1E-58", "109290183460469231731687303715884111813"},
		{"-33E56", "108137883460469231731687303715884111928"},
		{"-22E57", "108128983460469231731687303715884111929"},
		{"-11E58", "108120083460469231731687303715884111930"},
		{"9999999999999999999999999999999999E6111", "293021183460469231731687303715884093440"},
		{"1E-6176", "170141183460469231731687303715884105729"},
		{"-9999999999999999999999999999999999E6111", "47261183460469231731687303715884118016"},
		{"-1E-6176", "170141183460469231731687303715884105727"},
		{"0E-6176", "170141183460469231731687303715884105728"},
	}
	for _, tc := range cases {
		got, err := EncodeDecimal128(d128(tc.v), nil)
		if err != nil || got.Value != u128(tc.want) || got.Max != full {
			t.Errorf("EncodeDecimal128(%s) = %v, %v, %v; want %s", tc.v, got.Value, got.Max, err, tc.want)
		}
	}
	if got, _ := EncodeDecimal128(decLargestPositive, nil); got.Value != u128("293021183460469231731687303715884093440") {
		t.Errorf("largest positive: %v", got.Value)
	}
	if got, _ := EncodeDecimal128(decLargestNegative, nil); got.Value != u128("47261183460469231731687303715884118016") {
		t.Errorf("largest negative: %v", got.Value)
	}

	bounds := func(min, max string, p int32) *Decimal128Bounds {
		return &Decimal128Bounds{d128(min), d128(max), p}
	}
	prec := []struct {
		v    string
		b    *Decimal128Bounds
		want string
	}{
		{"3.141592653589E-1", bounds("-100000", "100000", 10), "1000003141592653"},
		{"31.41592653589E-2", bounds("-100000", "100000", 10), "1000003141592653"},
		{"314.1592653589E-3", bounds("-100000", "100000", 10), "1000003141592653"},
		{"3141.592653589E-4", bounds("-100000", "100000", 10), "1000003141592653"},
		{"31415.92653589E-5", bounds("-100000", "100000", 10), "1000003141592653"},
		{"314159.2653589E-6", bounds("-100000", "100000", 10), "1000003141592653"},
		{"3141592.653589E-7", bounds("-100000", "100000", 10), "1000003141592653"},
		{"31415926.53589E-8", bounds("-100000", "100000", 10), "1000003141592653"},
		{"3.1415926535897932384626433832795E20", bounds("-100000", "1E22", 5), "31415926535897942384626433"},
		{"3.1415926535897932384626433832795E20", bounds("-100000", "1E22", 6), "314159265358979423846264338"},
		{"3.1415926535897932384626433832795E20", bounds("-100000", "1E22", 7), "3141592653589794238462643383"},
		{"3.1415926535897932384626433832795E20", bounds("-100000", "1E22", 8), "31415926535897942384626433832"},
		{"3.141592653589", bounds("-100000", "100000", 1), "1000031"},
		{"3.141592653589", bounds("-100000", "100000", 2), "10000314"},
		{"3.141592653589", bounds("-100000", "100000", 3), "100003141"},
		{"3.141592653589", bounds("-100000", "100000", 4), "1000031415"},
		{"3.141592653589", bounds("-100000", "100000", 5), "10000314159"},
		{"3.141592653589", bounds("-100000", "100000", 6), "100003141592"},
		{"3.141592653589", bounds("-100000", "100000", 7), "1000031415926"},
		{"0", bounds("-1", "1", 3), "1000"},
		{"0", bounds("-1E5", "1", 3), "100000000"},
		{"-1E-33", bounds("-1E5", "1", 3), "100000000"},
		{"3.141592653589", bounds("0", "5", 0), "3"},
		{"3.141592653589", bounds("0", "5", 1), "31"},
		{"3.141592653589", bounds("0", "5", 2), "314"},
		{"3.141592653589", bounds("0", "5", 3), "3141"},
		{"3.141592653589", bounds("0", "5", 16), "31415926535890000"},
		{"-5", bounds("-10", "-1", 3), "5000"},
		{"1E9", bounds("0", "1E10", 3), "1000000000000"},
		{"1E9", bounds("0", "1E10", 0), "1000000000"},
		{"-5", bounds("-10", "10", 0), "5"},
		{"-5", bounds("-10", "10", 2), "500"},
		{"5E-30", bounds("1E-30", "10E-30", 35), "400000"},
		{"5", bounds(".1", "18446744073709551616", 1), "49"},
	}
	for _, tc := range prec {
		got, err := EncodeDecimal128(d128(tc.v), tc.b)
		if err != nil || got.Value != u128(tc.want) {
			t.Errorf("EncodeDecimal128(%s, %s..%s p%d) = %v, %v; want %s", tc.v, tc.b.Min, tc.b.Max, tc.b.Precision, got.Value, err, tc.want)
		}
		bits, _, _ := decimalPrecisionBits(decFromDecimal128(tc.b.Min), decFromDecimal128(tc.b.Max), tc.b.Precision)
		if want := (U128{Lo: 1}).shl(uint(bits)).sub(U128{Lo: 1}); got.Max != want {
			t.Errorf("EncodeDecimal128(%s): max %v, want %v", tc.v, got.Max, want)
		}
	}

	nan := dec{class: decNaN}.decimal128()
	errs := []struct {
		v    bson.Decimal128
		b    *Decimal128Bounds
		want *wantErr
	}{
		{d128("1"), bounds("2", "1", 5), &wantErr{ErrBounds, []string{"min must be less than max"}}},
		{d128("1"), bounds("2", "3", 5), &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{d128("4"), bounds("2", "3", 5), &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{dec{class: decInf}.decimal128(), nil, &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{dec{class: decInf, neg: true}.decimal128(), nil, &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{nan, nil, &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{dec{class: decNaN, neg: true}.decimal128(), nil, &wantErr{ErrValue, []string{"NaN and infinities"}}},
		{d128("0"), &Decimal128Bounds{decLargestNegative, nan, 3}, &wantErr{ErrPrecision, []string{"upper bound", "not finite"}}},
		{d128("1E100"), &Decimal128Bounds{nan, nan, 3}, &wantErr{ErrPrecision, []string{"upper bound", "not finite"}}},
		{d128("0"), bounds("1", "2", -1), &wantErr{ErrPrecision, []string{"non-negative"}}},
		{d128("0"), bounds("0", "1", 6145), &wantErr{ErrPrecision, []string{"too large"}}},
		{d128("0"), bounds("-100000000000000000000000000000000", "170141183460469231731687303715880000000", 0),
			&wantErr{ErrPrecision, []string{"cannot be represented in fewer than 128 bits"}}},
	}
	for _, tc := range errs {
		_, err := EncodeDecimal128(tc.v, tc.b)
		tc.want.check(t, "EncodeDecimal128("+tc.v.String()+")", err)
	}
	// 1E+6144 is the largest power of ten: precision 6144 passes that check.
	if _, err := EncodeDecimal128(d128("0"), bounds("0", "1", 6144)); errors.Is(err, ErrPrecision) && strings.Contains(err.Error(), "overflows") {
		t.Errorf("precision 6144 refused as overflowing: %v", err)
	}
}

// TestDecimalNonCanonical checks coefficients above 10^34 - 1: the "11"
// combination form reads as zero, a large coefficient in the other form is
// refused (libmongocrypt asserts on it).
func TestDecimalNonCanonical(t *testing.T) {
	large := bson.NewDecimal128(bidLargeForm|uint64(decBias)<<bidLargeExp, 1)
	got, err := EncodeDecimal128(large, nil)
	if err != nil || got.Value != midpoint128 {
		t.Errorf("11-form: %v, %v", got.Value, err)
	}
	over := decCoefMax.add(U128{Lo: 1})
	_, err = EncodeDecimal128(bson.NewDecimal128(uint64(decBias)<<bidExpShift|over.Hi, over.Lo), nil)
	if !errors.Is(err, ErrValue) {
		t.Errorf("coefficient 10^34: %v", err)
	}
}
