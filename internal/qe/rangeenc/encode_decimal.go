package rangeenc

import (
	"math/big"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Decimal128Bounds are the bounds and precision of a decimal128 range index.
// As for doubles, min, max and precision go together: a nil *Decimal128Bounds
// selects the precision-less encoding over all decimal128 values.
type Decimal128Bounds struct {
	Min, Max  bson.Decimal128
	Precision int32
}

// Constants of the decimal128 encodings.
var (
	// int128MaxDec is 2^127 - 1 rounded to a decimal128.
	int128MaxDec = roundDec(false, new(big.Int).Sub(new(big.Int).Lsh(bigOne, 127), bigOne), 0)
	// uint128MaxDec is 2^128 - 1 rounded to a decimal128.
	uint128MaxDec = roundDec(false, new(big.Int).Sub(new(big.Int).Lsh(bigOne, 128), bigOne), 0)
	// decCoefMax is 10^34 - 1, the largest coefficient.
	decCoefMax = U128{0x0001ed09bead87c0, 0x378d8e63ffffffff}
	// decCoefMaxDiv10 is (10^34 - 1) / 10.
	decCoefMaxDiv10 = u128FromBig(new(big.Int).Quo(decCoefMax.Big(), bigTen))
	// pow10U128[n] is 10^n for n <= 38.
	pow10U128 = func() (t [39]U128) {
		t[0] = U128{Lo: 1}
		for i := 1; i < len(t); i++ {
			t[i] = t[i-1].mul64(10)
		}
		return t
	}()
	// midpoint128 is 2^127, the encoding of zero.
	midpoint128 = U128{Hi: 1 << 63}
)

// Largest finite decimal128 values, ±(10^34 - 1) × 10^6111: the default index
// bounds of a decimal128 field.
var (
	decLargestPositive = bson.NewDecimal128(uint64(decMaxBiasedExp)<<bidExpShift|decCoefMax.Hi, decCoefMax.Lo)
	decLargestNegative = bson.NewDecimal128(bidSignBit|uint64(decMaxBiasedExp)<<bidExpShift|decCoefMax.Hi, decCoefMax.Lo)
)

// decimalMaxPrecisionBits: a precision domain must need fewer bits.
const decimalMaxPrecisionBits = 128

// decimalPrecisionBits decides whether the decimal128 domain [min, max] at
// precision p (>= 0) can use the precision encoding and returns the bits it
// needs; ok is false without an error when 128 bits or more are needed.
func decimalPrecisionBits(min, max dec, p int32) (bits int, ok bool, err error) {
	if !max.isFinite() {
		return 0, false, errorf(ErrPrecision, "upper bound max of the index is not finite")
	}
	if !min.isFinite() {
		return 0, false, errorf(ErrPrecision, "lower bound min of the index is not finite")
	}
	if decGreaterEqual(min, max) {
		return 0, false, errorf(ErrBounds, "decimal128 precision bounds: the index min must be less than max")
	}
	smax, smin := max.scale(int64(p)), min.scale(int64(p))
	if decNotEqual(smax, smax.trunc()) {
		return 0, false, errorf(ErrPrecision, "upper bound max of the index has more fractional digits than precision %d", p)
	}
	if decNotEqual(smin, smin.trunc()) {
		return 0, false, errorf(ErrPrecision, "lower bound min of the index has more fractional digits than precision %d", p)
	}
	if decGreater(smax.abs(), int128MaxDec) {
		return 0, false, errorf(ErrPrecision, "upper bound max of the index scaled by 10^%d exceeds 2^127 - 1 in absolute value", p)
	}
	if decGreater(smin.abs(), int128MaxDec) {
		return 0, false, errorf(ErrPrecision, "lower bound min of the index scaled by 10^%d exceeds 2^127 - 1 in absolute value", p)
	}
	// Room left in 128 bits after the scaled width, in decimal digits, minus one.
	t4 := sub(uint128MaxDec, sub(smax, smin))
	if truncLog10Below(t4, p) {
		return 0, false, errorf(ErrPrecision, "precision %d is too large for the index min and max", p)
	}
	if !decLess(smax, int128MaxDec) {
		// libmongocrypt asserts the scaled max is strictly below 2^127 - 1.
		return 0, false, errorf(ErrPrecision, "upper bound max of the index scaled by 10^%d must be below 2^127 - 1", p)
	}
	width := new(big.Int).Sub(smax.bigInt(), smin.bigInt())
	width.Add(width, pow10Big(int(p))) // p <= 37 here
	i3 := u128FromBig(width)
	if i3.IsZero() {
		return 0, false, errorf(ErrPrecision, "empty domain for the index min and max at precision %d", p)
	}
	bits = ceilLog2(i3)
	return bits, bits < decimalMaxPrecisionBits, nil
}

// EncodeDecimal128 encodes v. Without bounds (b == nil) it uses an order-
// preserving map of every finite decimal128 onto [0, 2^128 - 1], zero at
// 2^127, which depends on the coefficient and exponent as stored (not only on
// the numeric value). With bounds, v is truncated to b.Precision decimal
// digits and offset by Min, over [0, 2^bits - 1] where bits (fewer than 128)
// is what the scaled domain needs.
func EncodeDecimal128(v bson.Decimal128, b *Decimal128Bounds) (Encoded, error) {
	if b != nil {
		if b.Precision < 0 {
			return Encoded{}, errorf(ErrPrecision, "precision must be non-negative, got %d", b.Precision)
		}
		if !decFromInt(1).scale(int64(b.Precision)).isFinite() {
			return Encoded{}, errorf(ErrPrecision, "precision %d is too large: 10^precision overflows a decimal128", b.Precision)
		}
	}
	val := decFromDecimal128(v)
	if !val.isFinite() {
		return Encoded{}, errorf(ErrValue, "decimal128 value cannot be range-encoded: NaN and infinities are not supported")
	}
	if b == nil {
		return encodeDecimalFull(v)
	}
	lo, hi := decFromDecimal128(b.Min), decFromDecimal128(b.Max)
	if decGreaterEqual(lo, hi) {
		return Encoded{}, errorf(ErrBounds, "the index min must be less than max")
	}
	if decGreater(val, hi) || decLess(val, lo) {
		return Encoded{}, errorf(ErrOutOfRange, "decimal128 value must be greater than or equal to the minimum value and less than or equal to the maximum value of the index")
	}
	bits, ok, err := decimalPrecisionBits(lo, hi, b.Precision)
	if err != nil {
		return Encoded{}, err
	}
	if !ok {
		return Encoded{}, errorf(ErrPrecision,
			"the domain of the index min and max at precision %d cannot be represented in fewer than 128 bits", b.Precision)
	}
	p := int64(b.Precision)
	// Truncate v to p fractional digits, offset by min, scale to an integer.
	vTrunc := val.scale(p).trunc().scale(-p)
	d := sub(vTrunc, lo).scale(p).trunc()
	if !d.isFinite() || (d.neg && !d.isZero()) || !decLess(d, int128MaxDec) {
		// libmongocrypt asserts 0 <= d < 2^127 - 1.
		return Encoded{}, errorf(ErrOutOfRange, "decimal128 value does not fit the precision domain of the index")
	}
	return Encoded{u128FromBig(d.bigInt()), U128{Lo: 1}.shl(uint(bits)).sub(U128{Lo: 1})}, nil
}

// encodeDecimalFull is the precision-less decimal128 encoding. With the
// coefficient c scaled by 10^ρ, the largest power of ten keeping c×10^ρ at
// most cMax = 10^34 - 1, and e the biased exponent:
//
//	e >= ρ: c×10^ρ + cMax×(e - ρ)
//	e < ρ:  c×10^e
//
// plus 2^127, negated modulo 2^128 for negative values.
func encodeDecimalFull(v bson.Decimal128) (Encoded, error) {
	hi, lo := v.GetBytes()
	full := Encoded{Max: maxU128}
	if hi&bidLargeForm == bidLargeForm {
		// Non-canonical coefficient (>= 2^113): reads as zero.
		full.Value = midpoint128
		return full, nil
	}
	c := U128{hi & bidCoeffMask, lo}
	if c.IsZero() {
		full.Value = midpoint128
		return full, nil
	}
	if c.Cmp(decCoefMax) > 0 {
		// libmongocrypt asserts on such a coefficient.
		return Encoded{}, errorf(ErrValue, "decimal128 value with a non-canonical coefficient")
	}
	e := (hi >> bidExpShift) & bidExpMask
	rho := uint64(0)
	cs := c
	for cs.Cmp(decCoefMaxDiv10) < 0 {
		rho++
		cs = cs.mul64(10)
	}
	var r U128
	if rho <= e {
		r = cs.add(decCoefMax.mul64(e - rho))
	} else {
		r = c.mul(pow10U128[e])
	}
	r = r.add(midpoint128)
	if hi&bidSignBit != 0 {
		r = r.neg()
	}
	full.Value = r
	return full, nil
}
