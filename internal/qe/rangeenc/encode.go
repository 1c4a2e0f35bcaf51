package rangeenc

import (
	"math"
	"strconv"
)

// Encoded is a value mapped onto the unsigned, order-preserving domain
// [0, Max] that edges and mincovers are computed on. The domain's minimum is
// always 0 and is not stored.
type Encoded struct {
	// Value is the encoded value, 0 <= Value <= Max.
	Value U128
	// Max is the largest encoded value of the domain.
	Max U128
}

// Bits returns the number of bits of the domain, that is the bit length of
// Max: the length of a leaf edge.
func (e Encoded) Bits() int { return e.Max.BitLen() }

// Int32Bounds are the [Min, Max] bounds of an int32 range index.
type Int32Bounds struct{ Min, Max int32 }

// Int64Bounds are the [Min, Max] bounds of an int64 or date range index (a
// date is its int64 count of milliseconds since the Unix epoch).
type Int64Bounds struct{ Min, Max int64 }

// DoubleBounds are the bounds and precision of a double range index. In
// libmongocrypt min, max and precision are set together or not at all: a nil
// *DoubleBounds selects the precision-less encoding over all doubles.
type DoubleBounds struct {
	Min, Max  float64
	Precision int32
}

// flipInt32 maps int32 order onto uint32 order (adds 2^31 modulo 2^32).
func flipInt32(v int32) uint32 { return uint32(v) ^ (1 << 31) }

// flipInt64 maps int64 order onto uint64 order (adds 2^63 modulo 2^64).
func flipInt64(v int64) uint64 { return uint64(v) ^ (1 << 63) }

// EncodeInt32 encodes v. With bounds the result is v - Min over the domain
// [0, Max - Min]; without, v + 2^31 over [0, 2^32 - 1].
func EncodeInt32(v int32, b *Int32Bounds) (Encoded, error) {
	if b == nil {
		return Encoded{u128From64(uint64(flipInt32(v))), u128From64(math.MaxUint32)}, nil
	}
	if b.Min >= b.Max {
		return Encoded{}, errorf(ErrBounds, "the index min must be less than max")
	}
	if v < b.Min || v > b.Max {
		return Encoded{}, errorf(ErrOutOfRange, "int32 value must be greater than or equal to the minimum value and less than or equal to the maximum value of the index")
	}
	base := flipInt32(b.Min)
	return Encoded{u128From64(uint64(flipInt32(v) - base)), u128From64(uint64(flipInt32(b.Max) - base))}, nil
}

// EncodeInt64 encodes v (an int64, or a date in milliseconds). With bounds the
// result is v - Min over [0, Max - Min]; without, v + 2^63 over [0, 2^64 - 1].
func EncodeInt64(v int64, b *Int64Bounds) (Encoded, error) {
	if b == nil {
		return Encoded{u128From64(flipInt64(v)), u128From64(math.MaxUint64)}, nil
	}
	if b.Min >= b.Max {
		return Encoded{}, errorf(ErrBounds, "the index min must be less than max")
	}
	if v < b.Min || v > b.Max {
		return Encoded{}, errorf(ErrOutOfRange, "int64 value must be greater than or equal to the minimum value and less than or equal to the maximum value of the index")
	}
	base := flipInt64(b.Min)
	return Encoded{u128From64(flipInt64(v) - base), u128From64(flipInt64(b.Max) - base)}, nil
}

// Limits of the double precision mode.
const (
	// doubleExactLimit is 2^53: |min|, |max| scaled by 10^precision must stay
	// below it (integers beyond it are not all representable).
	doubleExactLimit = 9007199254740992.0
	// doubleMaxPrecisionBits: a precision domain must need fewer bits.
	doubleMaxPrecisionBits = 53
)

// pow10Double[p] is 10^p correctly rounded to a double (strconv rounds
// correctly, like the C library's pow(10, p) on the platforms libmongocrypt
// runs on); 10^309 and beyond overflow to +Inf.
var pow10Double = func() (t [309]float64) {
	for i := range t {
		t[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return t
}()

// exp10 returns 10^p as a double for p >= 0.
func exp10(p int32) float64 {
	if int(p) < len(pow10Double) {
		return pow10Double[p]
	}
	return math.Inf(1)
}

// doublePrecisionBits decides whether the domain [min, max] at precision p
// can use the precision encoding, and returns the bits it needs. ok is false
// without an error when the domain needs 53 bits or more. p must be >= 0.
//
// The arithmetic is IEEE double arithmetic step by step, as libmongocrypt does
// it; every product is converted explicitly so that no step is fused.
func doublePrecisionBits(min, max float64, p int32) (bits int, ok bool, err error) {
	if min >= max {
		return 0, false, errorf(ErrBounds, "double precision bounds: the index min must be less than max")
	}
	scale := exp10(p)
	smax := float64(max * scale)
	smin := float64(min * scale)
	if smax != math.Trunc(smax) {
		return 0, false, errorf(ErrPrecision, "upper bound max of the index has more fractional digits than precision %d", p)
	}
	if smin != math.Trunc(smin) {
		return 0, false, errorf(ErrPrecision, "lower bound min of the index has more fractional digits than precision %d", p)
	}
	if math.Abs(smax) >= doubleExactLimit {
		return 0, false, errorf(ErrPrecision, "upper bound max of the index scaled by 10^%d is not below 2^53 in absolute value", p)
	}
	if math.Abs(smin) >= doubleExactLimit {
		return 0, false, errorf(ErrPrecision, "lower bound min of the index scaled by 10^%d is not below 2^53 in absolute value", p)
	}
	// Room left in a uint64 after the scaled width, in decimal digits, minus one.
	t1 := smax - smin
	t4 := float64(math.MaxUint64) - t1
	if float64(p) > math.Floor(math.Log10(t4))-1 {
		return 0, false, errorf(ErrPrecision, "precision %d is too large", p)
	}
	i1, i2 := int64(smax), int64(smin)
	if i1 <= i2 {
		// libmongocrypt asserts here; only reachable when scaling merges two
		// distinct bounds into one integer.
		return 0, false, errorf(ErrPrecision, "the index min and max coincide once scaled by 10^%d", p)
	}
	width := uint64(i1) - uint64(i2)
	sp := uint64(scale) // p <= 18 here, so the conversion is exact
	if sp > math.MaxUint64-width {
		return 0, false, errorf(ErrPrecision, "the domain of the index min and max at precision %d is too large", p)
	}
	bits = ceilLog2(u128From64(width + sp))
	return bits, bits < doubleMaxPrecisionBits, nil
}

// ceilLog2 returns ceil(log2(x)) for x >= 1.
func ceilLog2(x U128) int {
	n := x.BitLen()
	if x.sub(U128{Lo: 1}).BitLen() < n { // x is a power of two
		return n - 1
	}
	return n
}

// EncodeDouble encodes v. Without bounds (b == nil) the IEEE 754 bits are
// reordered so that unsigned order follows numeric order, over [0, 2^64 - 1];
// -0 encodes as +0. With bounds, v is truncated to b.Precision decimal digits
// and offset by Min, over [0, 2^bits - 1] where bits is what the scaled
// domain needs (fewer than 53).
func EncodeDouble(v float64, b *DoubleBounds) (Encoded, error) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return Encoded{}, errorf(ErrValue, "double value cannot be range-encoded: NaN and infinities are not supported")
	}
	if b == nil {
		if v == 0 {
			v = 0 // -0 -> +0
		}
		neg := v < 0
		u := math.Float64bits(-v)
		if neg {
			u = 1<<63 - u
		}
		return Encoded{u128From64(u), maxU128.shr(64)}, nil
	}
	if b.Min >= b.Max {
		return Encoded{}, errorf(ErrBounds, "the index min must be less than max")
	}
	if v > b.Max || v < b.Min {
		return Encoded{}, errorf(ErrOutOfRange, "double value must be greater than or equal to the minimum value and less than or equal to the maximum value of the index")
	}
	if b.Precision < 0 {
		return Encoded{}, errorf(ErrPrecision, "precision must be non-negative, got %d", b.Precision)
	}
	if math.IsInf(exp10(b.Precision), 0) {
		return Encoded{}, errorf(ErrPrecision, "precision %d is too large: 10^precision overflows a double", b.Precision)
	}
	bits, ok, err := doublePrecisionBits(b.Min, b.Max, b.Precision)
	if err != nil {
		return Encoded{}, err
	}
	if !ok {
		return Encoded{}, errorf(ErrPrecision,
			"the domain of the index min and max at precision %d cannot be represented in fewer than 53 bits", b.Precision)
	}
	scale := exp10(b.Precision)
	vp := int64(math.Trunc(float64(v * scale)))
	mp := int64(float64(b.Min * scale))
	d := vp - mp
	max := uint64(1)<<bits - 1
	if d < 0 || uint64(d) > max {
		// libmongocrypt asserts this cannot happen.
		return Encoded{}, errorf(ErrOutOfRange, "double value does not fit the precision domain of the index")
	}
	return Encoded{u128From64(uint64(d)), u128From64(max)}, nil
}
