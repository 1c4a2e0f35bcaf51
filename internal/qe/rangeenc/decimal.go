package rangeenc

import (
	"math/big"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// IEEE 754-2008 decimal128 in the binary integer decimal (BID) encoding, the
// layout of BSON's Decimal128 (high 64 bits first):
//
//	sign(1) || combination(17) || coefficient continuation(110)
//
// When the two top combination bits are not 11, the biased exponent is the top
// 14 combination bits and the coefficient is the remaining 113 bits; a
// coefficient above 10^34 - 1 is non-canonical and means 0. Top combination
// bits 11110 mean infinity and 11111 NaN; any other 11 prefix stores a
// coefficient of at least 2^113, non-canonical as well.
const (
	decPrecisionDigits = 34    // coefficient digits
	decBias            = 6176  // exponent bias
	decMinExp          = -6176 // smallest exponent
	decMaxExp          = 6111  // largest exponent of a coefficient
	decMaxBiasedExp    = 12287 // decMaxExp + decBias

	bidSignBit   = uint64(1) << 63
	bidExpShift  = 49                // biased exponent position in the high word
	bidExpMask   = uint64(0x3fff)    // 14 exponent bits
	bidCoeffMask = uint64(1)<<49 - 1 // coefficient bits of the high word
	bidTop5Shift = 58                // top 5 combination bits
	bidInfTop5   = 0x1e              // 11110
	bidNaNTop5   = 0x1f              // 11111
	bidLargeForm = uint64(3) << 61   // "11" combination prefix
	bidLargeExp  = 47                // exponent position in the "11" form
)

// decClass distinguishes finite numbers, infinities and NaNs.
type decClass uint8

const (
	decFinite decClass = iota
	decInf
	decNaN
)

// dec is a decimal128 value for exact arithmetic: coef × 10^exp, negated when
// neg. Results of operations are rounded to 34 digits, half to even, as the
// decimal128 operations libmongocrypt uses (Intel's BID library) do. Only the
// numeric value matters to the range encoding, not which member of a cohort
// represents it.
type dec struct {
	class decClass
	neg   bool
	coef  *big.Int // finite: 0 <= coef < 10^34
	exp   int      // finite: decMinExp <= exp <= decMaxExp
}

var (
	bigOne = big.NewInt(1)
	bigTen = big.NewInt(10)
	// pow10BigTab caches 10^n for small n.
	pow10BigTab = func() (t [80]*big.Int) {
		t[0] = big.NewInt(1)
		for i := 1; i < len(t); i++ {
			t[i] = new(big.Int).Mul(t[i-1], bigTen)
		}
		return t
	}()
	decCoefLimit = pow10Big(decPrecisionDigits) // 10^34
)

// pow10Big returns 10^n (n >= 0); the result must not be modified.
func pow10Big(n int) *big.Int {
	if n < len(pow10BigTab) {
		return pow10BigTab[n]
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// numDigits returns the number of decimal digits of x > 0 (0 for 0).
func numDigits(x *big.Int) int {
	if x.Sign() == 0 {
		return 0
	}
	// bitlen*log10(2) under-estimates by at most one digit.
	d := int(float64(x.BitLen()-1)*0.30102999566398120) + 1
	if x.CmpAbs(pow10Big(d)) >= 0 {
		d++
	}
	return d
}

// decFromBID decodes the BID bits of a decimal128.
func decFromBID(hi, lo uint64) dec {
	neg := hi&bidSignBit != 0
	switch (hi >> bidTop5Shift) & 0x1f {
	case bidNaNTop5:
		return dec{class: decNaN, neg: neg}
	case bidInfTop5:
		return dec{class: decInf, neg: neg}
	}
	if hi&bidLargeForm == bidLargeForm {
		return dec{neg: neg, coef: new(big.Int), exp: int((hi>>bidLargeExp)&bidExpMask) - decBias}
	}
	c := U128{hi & bidCoeffMask, lo}.Big()
	if c.Cmp(decCoefLimit) >= 0 {
		c.SetInt64(0)
	}
	return dec{neg: neg, coef: c, exp: int((hi>>bidExpShift)&bidExpMask) - decBias}
}

// decFromDecimal128 decodes a BSON Decimal128.
func decFromDecimal128(d bson.Decimal128) dec {
	h, l := d.GetBytes()
	return decFromBID(h, l)
}

// bid returns the BID bits of finite, infinite or NaN d (the canonical
// encodings).
func (d dec) bid() (hi, lo uint64) {
	if d.neg {
		hi = bidSignBit
	}
	switch d.class {
	case decNaN:
		return hi | bidNaNTop5<<bidTop5Shift, 0
	case decInf:
		return hi | bidInfTop5<<bidTop5Shift, 0
	}
	c := u128FromBig(d.coef)
	return hi | uint64(d.exp+decBias)<<bidExpShift | c.Hi, c.Lo
}

// decimal128 returns d as a BSON Decimal128.
func (d dec) decimal128() bson.Decimal128 { return bson.NewDecimal128(d.bid()) }

// decFromInt returns the exact decimal of v.
func decFromInt(v int64) dec {
	c := big.NewInt(v)
	return dec{neg: v < 0, coef: c.Abs(c)}
}

// roundDec rounds coef × 10^exp (exact, coef >= 0) to a decimal128: 34
// digits, exponents in [decMinExp, decMaxExp], half to even, overflowing to
// infinity. coef is not modified.
func roundDec(neg bool, coef *big.Int, exp int64) dec {
	if coef.Sign() == 0 {
		e := min(max(exp, decMinExp), decMaxExp)
		return dec{neg: neg, coef: new(big.Int), exp: int(e)}
	}
	digits := int64(numDigits(coef))
	drop := max(digits-decPrecisionDigits, decMinExp-exp, 0)
	c := new(big.Int).Set(coef)
	if drop > 0 {
		if drop > digits {
			// Less than a tenth of the last kept unit: rounds to zero.
			c.SetInt64(0)
		} else {
			unit := pow10Big(int(drop))
			var r big.Int
			c.QuoRem(c, unit, &r)
			r.Lsh(&r, 1)
			if cmp := r.Cmp(unit); cmp > 0 || (cmp == 0 && c.Bit(0) == 1) {
				c.Add(c, bigOne)
			}
		}
		exp += drop
		if c.Cmp(decCoefLimit) >= 0 { // carried into a 35th digit
			c.Quo(c, bigTen)
			exp++
		}
		if c.Sign() == 0 {
			return dec{neg: neg, coef: c, exp: int(min(max(exp, decMinExp), decMaxExp))}
		}
	}
	if exp > decMaxExp {
		// Clamp by padding the coefficient with zeros if it has room.
		shift := exp - decMaxExp
		if int64(numDigits(c))+shift > decPrecisionDigits {
			return dec{class: decInf, neg: neg}
		}
		c.Mul(c, pow10Big(int(shift)))
		exp = decMaxExp
	}
	return dec{neg: neg, coef: c, exp: int(exp)}
}

func (d dec) isFinite() bool { return d.class == decFinite }
func (d dec) isNaN() bool    { return d.class == decNaN }
func (d dec) isZero() bool   { return d.class == decFinite && d.coef.Sign() == 0 }

// sign returns -1, 0 or +1 for non-NaN d.
func (d dec) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmpMag compares |a| and |b| for finite a, b.
func cmpMag(a, b dec) int {
	az, bz := a.coef.Sign() == 0, b.coef.Sign() == 0
	switch {
	case az && bz:
		return 0
	case az:
		return -1
	case bz:
		return 1
	}
	// Adjusted exponents (exponent of the leading digit) decide first.
	aa := numDigits(a.coef) + a.exp
	ba := numDigits(b.coef) + b.exp
	if aa != ba {
		if aa < ba {
			return -1
		}
		return 1
	}
	// Same leading-digit exponent: the exponents differ by at most 33.
	x, y := a.coef, b.coef
	if a.exp > b.exp {
		x = new(big.Int).Mul(x, pow10Big(a.exp-b.exp))
	} else if b.exp > a.exp {
		y = new(big.Int).Mul(y, pow10Big(b.exp-a.exp))
	}
	return x.Cmp(y)
}

// cmp compares a and b; ok is false when either is NaN (unordered).
func cmp(a, b dec) (c int, ok bool) {
	if a.isNaN() || b.isNaN() {
		return 0, false
	}
	sa, sb := a.sign(), b.sign()
	if a.class == decInf || b.class == decInf {
		// Order: -Inf < finite < +Inf; finite operands weigh 0 here.
		ia, ib := 0, 0
		if a.class == decInf {
			ia = sa
		}
		if b.class == decInf {
			ib = sb
		}
		switch {
		case ia == ib: // both infinite with one sign
			return 0, true
		case ia > ib:
			return 1, true
		}
		return -1, true
	}
	if sa != sb {
		if sa < sb {
			return -1, true
		}
		return 1, true
	}
	m := cmpMag(a, b)
	if sa < 0 {
		m = -m
	}
	return m, true
}

// Quiet comparisons: false whenever an operand is NaN.
func decLess(a, b dec) bool         { c, ok := cmp(a, b); return ok && c < 0 }
func decGreater(a, b dec) bool      { c, ok := cmp(a, b); return ok && c > 0 }
func decGreaterEqual(a, b dec) bool { c, ok := cmp(a, b); return ok && c >= 0 }

// decNotEqual is true when a != b, and when either is NaN.
func decNotEqual(a, b dec) bool { c, ok := cmp(a, b); return !ok || c != 0 }

// abs returns |d|.
func (d dec) abs() dec { d.neg = false; return d }

// scale returns d × 10^n, rounded.
func (d dec) scale(n int64) dec {
	if !d.isFinite() {
		return d
	}
	return roundDec(d.neg, d.coef, int64(d.exp)+n)
}

// trunc rounds d toward zero to an integer.
func (d dec) trunc() dec {
	if !d.isFinite() || d.exp >= 0 {
		return d
	}
	drop := -d.exp
	c := new(big.Int)
	if drop <= decPrecisionDigits {
		c.Quo(d.coef, pow10Big(drop))
	}
	return dec{neg: d.neg, coef: c, exp: 0}
}

// sub returns a - b, rounded.
func sub(a, b dec) dec {
	b.neg = !b.neg
	return add(a, b)
}

// add returns a + b, rounded.
func add(a, b dec) dec {
	switch {
	case a.isNaN() || b.isNaN():
		return dec{class: decNaN}
	case a.class == decInf && b.class == decInf:
		if a.neg != b.neg {
			return dec{class: decNaN}
		}
		return a
	case a.class == decInf:
		return a
	case b.class == decInf:
		return b
	}
	e := min(a.exp, b.exp)
	x := new(big.Int).Mul(a.coef, pow10Big(a.exp-e))
	if a.neg {
		x.Neg(x)
	}
	y := new(big.Int).Mul(b.coef, pow10Big(b.exp-e))
	if b.neg {
		y.Neg(y)
	}
	x.Add(x, y)
	neg := x.Sign() < 0
	if x.Sign() == 0 {
		neg = a.neg && b.neg // exact zero sum is +0 unless both were -0
	}
	return roundDec(neg, x.Abs(x), int64(e))
}

// isInteger reports whether finite d has no fractional part.
func (d dec) isInteger() bool {
	if d.exp >= 0 || d.coef.Sign() == 0 {
		return true
	}
	if -d.exp > decPrecisionDigits {
		return false
	}
	var r big.Int
	r.Rem(d.coef, pow10Big(-d.exp))
	return r.Sign() == 0
}

// bigInt returns the exact value of an integer-valued finite d.
func (d dec) bigInt() *big.Int {
	v := new(big.Int)
	if d.exp >= 0 {
		v.Mul(d.coef, pow10Big(d.exp))
	} else {
		v.Quo(d.coef, pow10Big(-d.exp))
	}
	if d.neg {
		v.Neg(v)
	}
	return v
}

// String renders d for error messages.
func (d dec) String() string { return d.decimal128().String() }

// ln10 is the natural logarithm of 10 to 60 digits.
var ln10, _, _ = big.ParseFloat("2.30258509299404568401799145468436420760110148862877297603333", 10, 256, big.ToNearestEven)

// truncLog10Below reports whether trunc(log10(x)) - 1 < p, where log10(x) is
// rounded to a decimal128 (34 digits, half to even) before truncation, as
// libmongocrypt evaluates it with Intel's decimal log10. p must be >= 0.
// Comparisons with NaN are false; log10(0) is -Infinity.
func truncLog10Below(x dec, p int32) bool {
	switch {
	case x.isNaN() || (x.neg && !x.isZero()):
		return false // log10 is NaN
	case x.isZero():
		return true // -Infinity
	case x.class == decInf:
		return false
	}
	// 10^a <= x < 10^(a+1).
	a := int64(numDigits(x.coef)) - 1 + int64(x.exp)
	if a < 0 {
		return true // trunc(log10 x) <= 0, so t - 1 < 0 <= p
	}
	// log10(x) is in [a, a+1); it rounds up to a+1 when it lies within half a
	// unit in the last place of a+1 (units below a+1 have u = 10^(k-33) where
	// 10^k is the leading power of ten of values just below a+1).
	k := int64(-1)
	if a > 0 {
		k = int64(len(big.NewInt(a).String())) - 1
	}
	t := a
	if roundsUpToNextPower(x, a+1, k-33) {
		t = a + 1
	}
	return t-1 < int64(p)
}

// roundsUpToNextPower reports whether x >= 10^n × 10^(-u/2) with u = 10^ue,
// that is whether log10(x) >= n - u/2. Uses 10^(-u/2) = e^(-y), y = u·ln(10)/2,
// to second order: y is below 10^-30, so the next term is far below the
// spacing of any decimal128 x.
func roundsUpToNextPower(x dec, n, ue int64) bool {
	const prec = 512
	y := new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), 0)
	// u = 10^ue with ue < 0: compute as 1 / 10^-ue.
	y.Quo(y, new(big.Float).SetPrec(prec).SetInt(pow10Big(int(-ue))))
	y.Mul(y, ln10)
	y.Quo(y, big.NewFloat(2).SetPrec(prec))
	// factor = 1 - y + y²/2
	y2 := new(big.Float).SetPrec(prec).Mul(y, y)
	y2.Quo(y2, big.NewFloat(2).SetPrec(prec))
	factor := new(big.Float).SetPrec(prec).SetInt64(1)
	factor.Sub(factor, y)
	factor.Add(factor, y2)
	// threshold = 10^n × factor; compare x × 10^-n with factor instead.
	xv := new(big.Float).SetPrec(prec).SetInt(x.coef)
	shift := int64(x.exp) - n
	p10 := new(big.Float).SetPrec(prec).SetInt(pow10Big(int(abs64(shift))))
	if shift >= 0 {
		xv.Mul(xv, p10)
	} else {
		xv.Quo(xv, p10)
	}
	return xv.Cmp(factor) >= 0
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
