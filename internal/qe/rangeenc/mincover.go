package rangeenc

import (
	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxMincoverLen caps the number of strings of a mincover. libmongocrypt has
// no cap (a full-range query with a large trimFactor would enumerate up to
// 2^127 strings); any cover longer than this cannot be sent anyway: each
// string costs at least three 32-byte tokens in a FindRangePayloadV2, so
// 2^18 strings exceed the 16 MiB BSON document limit.
const MaxMincoverLen = 1 << 18

// Interval is the query range of a range query: [Lower, Upper], each end
// included or excluded.
type Interval[T any] struct {
	Lower, Upper               T
	IncludeLower, IncludeUpper bool
}

// Mincover is the minimal set of edges covering the encoded query range: a
// stored value lies in the range exactly when one of these strings is one of
// its edges.
type Mincover struct {
	// Edges in ascending order of the ranges they cover (Root alone when the
	// query covers the whole domain and trimFactor is 0).
	Edges []string
	// TrimFactor is the trimFactor used, after defaulting.
	TrimFactor int32
}

// mincoverGen is the recursive mincover walk over the encoded domain
// [0, 2^maxlen - 1]: blocks of 2^masked values aligned on their size,
// [lo, hi] the encoded query range.
type mincoverGen struct {
	lo, hi     U128
	maxlen     int
	sparsity   int64
	trimFactor int32
}

// stored reports whether blocks of 2^masked values are kept as edges: leaves
// always, other levels from trimFactor on, one level in sparsity.
func (g *mincoverGen) stored(masked int) bool {
	level := int64(g.maxlen - masked)
	return masked == 0 || (level >= int64(g.trimFactor) && level%g.sparsity == 0)
}

// walk visits, in ascending order, the blocks of the mincover below the block
// starting at start with masked free low bits; it stops as soon as visit
// returns false, and then returns false.
func (g *mincoverGen) walk(start U128, masked int, visit func(start U128, masked int) bool) bool {
	end := start.or(maxU128.shr(uint(128 - masked))) // low masked bits set
	if end.Cmp(g.lo) < 0 || start.Cmp(g.hi) > 0 {
		return true
	}
	if start.Cmp(g.lo) >= 0 && end.Cmp(g.hi) <= 0 && g.stored(masked) {
		return visit(start, masked)
	}
	// Not reachable with masked == 0: a single value inside [lo, hi] is stored.
	return g.walk(start, masked-1, visit) &&
		g.walk(start.or(U128{Lo: 1}.shl(uint(masked-1))), masked-1, visit)
}

// strings returns the mincover strings, or ok false when there are more than
// MaxMincoverLen of them. A first walk counts them (and stops early past the
// cap), a second writes them all into one buffer.
func (g *mincoverGen) strings() (out []string, ok bool) {
	n, size := 0, 0
	g.walk(U128{}, g.maxlen, func(_ U128, masked int) bool {
		n++
		if masked == g.maxlen {
			size += len(Root)
		} else {
			size += g.maxlen - masked
		}
		return n <= MaxMincoverLen
	})
	if n > MaxMincoverLen {
		return nil, false
	}
	buf := make([]byte, 0, size)
	ends := make([]int, 0, n)
	g.walk(U128{}, g.maxlen, func(start U128, masked int) bool {
		if masked == g.maxlen {
			buf = append(buf, Root...)
		} else {
			buf = start.shr(uint(masked)).appendLowBits(buf, g.maxlen-masked)
		}
		ends = append(ends, len(buf))
		return true
	})
	all := string(buf)
	out = make([]string, len(ends))
	prev := 0
	for i, e := range ends {
		out[i] = all[prev:e]
		prev = e
	}
	return out, true
}

// mincoverEncoded computes the mincover of the encoded range [lo, hi]
// (inclusive) in the domain [0, max].
func mincoverEncoded(lo, hi, max U128, o Options) (*Mincover, error) {
	if lo.Cmp(hi) > 0 {
		return nil, errorf(ErrQuery, "the encoded lower bound must not exceed the encoded upper bound")
	}
	if hi.Cmp(max) > 0 {
		return nil, errorf(ErrQuery, "the encoded upper bound must not exceed the domain maximum")
	}
	if o.Sparsity < 1 {
		return nil, errorf(ErrSparsity, "sparsity must be at least 1, got %d", o.Sparsity)
	}
	maxlen := max.BitLen()
	tf := TrimFactorFor(maxlen, o.TrimFactor)
	if err := checkTrimFactor(tf, maxlen); err != nil {
		return nil, err
	}
	g := &mincoverGen{lo: lo, hi: hi, maxlen: maxlen, sparsity: o.Sparsity, trimFactor: tf}
	out, ok := g.strings()
	if !ok {
		return nil, errorf(ErrTooManyEdges, "the query range needs more than %d mincover strings (sparsity %d, trimFactor %d)",
			MaxMincoverLen, o.Sparsity, tf)
	}
	return &Mincover{Edges: out, TrimFactor: tf}, nil
}

// mincoverOf excludes excluded ends from the encoded bounds, then computes the
// mincover over the domain of a and b (both encoded with the same bounds).
func mincoverOf(a, b Encoded, includeLower, includeUpper bool, o Options) (*Mincover, error) {
	lo, hi := a.Value, b.Value
	if !includeLower {
		if lo.Cmp(a.Max) >= 0 {
			return nil, errorf(ErrQuery, "an excluded lower bound must be below the domain maximum")
		}
		lo = lo.add(U128{Lo: 1})
	}
	if !includeUpper {
		if hi.IsZero() {
			return nil, errorf(ErrQuery, "an excluded upper bound must be above the domain minimum")
		}
		hi = hi.sub(U128{Lo: 1})
	}
	return mincoverEncoded(lo, hi, a.Max, o)
}

// checkQuery validates query ends against index bounds before encoding, as
// libmongocrypt does: less must be a strict order on T. The errors are
// libmongocrypt's without the values of the bounds.
func checkQuery[T any](q Interval[T], min, max T, less func(a, b T) bool) error {
	if less(q.Upper, min) {
		return errorf(ErrQuery, "the upper bound of the query must be greater than or equal to the range minimum")
	}
	if !q.IncludeUpper && !less(min, q.Upper) {
		return errorf(ErrQuery, "the excluded upper bound of the query must be greater than the range minimum")
	}
	if less(max, q.Lower) {
		return errorf(ErrQuery, "the lower bound of the query must be less than or equal to the range maximum")
	}
	if !q.IncludeLower && !less(q.Lower, max) {
		return errorf(ErrQuery, "the excluded lower bound of the query must be less than the range maximum")
	}
	return nil
}

func lessOrdered[T int32 | int64 | float64](a, b T) bool { return a < b }

// MincoverInt32 returns the mincover of an int32 query range.
func MincoverInt32(q Interval[int32], b *Int32Bounds, o Options) (*Mincover, error) {
	if b != nil {
		if err := checkQuery(q, b.Min, b.Max, lessOrdered[int32]); err != nil {
			return nil, err
		}
	}
	lo, err := EncodeInt32(q.Lower, b)
	if err != nil {
		return nil, err
	}
	hi, err := EncodeInt32(q.Upper, b)
	if err != nil {
		return nil, err
	}
	return mincoverOf(lo, hi, q.IncludeLower, q.IncludeUpper, o)
}

// MincoverInt64 returns the mincover of an int64 (or date) query range.
func MincoverInt64(q Interval[int64], b *Int64Bounds, o Options) (*Mincover, error) {
	if b != nil {
		if err := checkQuery(q, b.Min, b.Max, lessOrdered[int64]); err != nil {
			return nil, err
		}
	}
	lo, err := EncodeInt64(q.Lower, b)
	if err != nil {
		return nil, err
	}
	hi, err := EncodeInt64(q.Upper, b)
	if err != nil {
		return nil, err
	}
	return mincoverOf(lo, hi, q.IncludeLower, q.IncludeUpper, o)
}

// MincoverDouble returns the mincover of a double query range.
func MincoverDouble(q Interval[float64], b *DoubleBounds, o Options) (*Mincover, error) {
	if b != nil {
		if err := checkQuery(q, b.Min, b.Max, lessOrdered[float64]); err != nil {
			return nil, err
		}
	}
	lo, err := EncodeDouble(q.Lower, b)
	if err != nil {
		return nil, err
	}
	hi, err := EncodeDouble(q.Upper, b)
	if err != nil {
		return nil, err
	}
	return mincoverOf(lo, hi, q.IncludeLower, q.IncludeUpper, o)
}

// MincoverDecimal128 returns the mincover of a decimal128 query range.
func MincoverDecimal128(q Interval[bson.Decimal128], b *Decimal128Bounds, o Options) (*Mincover, error) {
	if b != nil {
		less := func(x, y bson.Decimal128) bool { return decLess(decFromDecimal128(x), decFromDecimal128(y)) }
		if err := checkQuery(q, b.Min, b.Max, less); err != nil {
			return nil, err
		}
	}
	lo, err := EncodeDecimal128(q.Lower, b)
	if err != nil {
		return nil, err
	}
	hi, err := EncodeDecimal128(q.Upper, b)
	if err != nil {
		return nil, err
	}
	return mincoverOf(lo, hi, q.IncludeLower, q.IncludeUpper, o)
}
