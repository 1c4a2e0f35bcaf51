package rangeenc

import (
	"math"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// checkCover verifies a mincover against the encoded inclusive range
// [lo, hi] of the domain [0, max]: every probe x of the domain has exactly one
// mincover string among its edges when lo <= x <= hi, and none otherwise.
func checkCover(t *testing.T, m *Mincover, lo, hi, max U128, o Options, probes []U128) {
	t.Helper()
	in := make(map[string]bool, len(m.Edges))
	for _, s := range m.Edges {
		if in[s] {
			t.Fatalf("duplicate mincover string %q", s)
		}
		in[s] = true
		if s != Root && (len(s) > max.BitLen() || strings.Trim(s, "01") != "") {
			t.Fatalf("malformed mincover string %q for %d bits", s, max.BitLen())
		}
	}
	for _, x := range probes {
		if x.Cmp(max) > 0 {
			continue
		}
		es, err := Encoded{x, max}.Edges(Options{Sparsity: o.Sparsity, TrimFactor: &m.TrimFactor})
		if err != nil {
			t.Fatalf("edges of %v: %v", x, err)
		}
		n := 0
		for _, e := range es.Edges {
			if in[e] {
				n++
			}
		}
		want := 0
		if x.Cmp(lo) >= 0 && x.Cmp(hi) <= 0 {
			want = 1
		}
		if n != want {
			t.Fatalf("encoded %v in [%v, %v]: %d mincover matches, want %d (edges %q, mincover %q)", x, lo, hi, n, want, es.Edges, m.Edges)
		}
	}
}

// probesAround returns probes near the ends of [lo, hi] in [0, max], every
// value when the domain is small, and the extra values.
func probesAround(lo, hi, max U128, extra ...U128) []U128 {
	one := U128{Lo: 1}
	if max.Cmp(U128{Lo: 1 << 12}) < 0 {
		all := make([]U128, 0, max.Lo+1)
		for x := uint64(0); x <= max.Lo; x++ {
			all = append(all, U128{Lo: x})
		}
		return all
	}
	p := []U128{{}, max, lo, hi, lo.add(one), hi.add(one), lo.sub(one), hi.sub(one), max.sub(one)}
	mid := lo.shr(1).add(hi.shr(1))
	p = append(p, mid, mid.add(one))
	return append(p, extra...)
}

// fuzzOptions maps fuzz inputs to options, keeping the sparsity small enough
// that covers stay cheap most of the time (any value is still valid input).
func fuzzOptions(sparsity int64, tf int32, hasTF bool) Options {
	o := Options{Sparsity: sparsity}
	if hasTF {
		o.TrimFactor = &tf
	}
	return o
}

// encodedRange returns the inclusive encoded range of a query after
// excluding excluded ends, ok false when it is empty or invalid.
func encodedRange(a, b Encoded, inclLo, inclHi bool) (lo, hi U128, ok bool) {
	lo, hi = a.Value, b.Value
	if !inclLo {
		if lo.Cmp(a.Max) >= 0 {
			return lo, hi, false
		}
		lo = lo.add(U128{Lo: 1})
	}
	if !inclHi {
		if hi.IsZero() {
			return lo, hi, false
		}
		hi = hi.sub(U128{Lo: 1})
	}
	return lo, hi, lo.Cmp(hi) <= 0
}

func FuzzMincoverInt64(f *testing.F) {
	seeds := []struct {
		lower, upper, min, max  int64
		inclLo, inclHi, bounded bool
		sparsity                int64
		tf                      int32
		hasTF                   bool
	}{
		{1, 3, 0, 7, false, true, true, 1, 0, true},
		{-100, 100, -1000, 1000, true, false, true, 2, 0, false},
		{-1000000000000000, 8070450532247928832, math.MinInt64, math.MaxInt64, true, true, true, 4, 3, true},
		{0, 0, 0, 0, true, true, false, 1, 63, true},
		{math.MinInt64, math.MaxInt64, 0, 0, true, true, false, 2, 0, false},
		{5, 6, 5, 6, false, false, true, 1, 0, true},
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s.lower, s.upper, s.min, s.max, s.inclLo, s.inclHi, s.bounded, s.sparsity, s.tf, s.hasTF)
	}
	f.Fuzz(func(t *testing.T, lower, upper, min, max int64, inclLo, inclHi, bounded bool, sparsity int64, tf int32, hasTF bool) {
		var b *Int64Bounds
		if bounded {
			b = &Int64Bounds{min, max}
		}
		o := fuzzOptions(sparsity, tf, hasTF)
		m, err := MincoverInt64(Interval[int64]{lower, upper, inclLo, inclHi}, b, o)
		if err != nil {
			return
		}
		a, _ := EncodeInt64(lower, b)
		c, _ := EncodeInt64(upper, b)
		lo, hi, ok := encodedRange(a, c, inclLo, inclHi)
		if !ok {
			t.Fatalf("mincover %q of an empty range", m.Edges)
		}
		checkCover(t, m, lo, hi, a.Max, o, probesAround(lo, hi, a.Max))
		// The same in value space: a value is covered exactly when it is in the query.
		for _, v := range []int64{lower, upper, lower - 1, lower + 1, upper - 1, upper + 1, min, max, 0} {
			e, err := EncodeInt64(v, b)
			if err != nil {
				continue
			}
			inQuery := (v > lower || inclLo && v == lower) && (v < upper || inclHi && v == upper)
			x := e.Value
			inCover := x.Cmp(lo) >= 0 && x.Cmp(hi) <= 0
			if inQuery != inCover {
				t.Fatalf("value %d: in query %v, in cover %v", v, inQuery, inCover)
			}
		}
	})
}

func FuzzMincoverDouble(f *testing.F) {
	f.Add(0.0, 1.6384, 0.0, 6.5536, int32(4), true, true, true, int64(1), int32(0), true)
	f.Add(-100.0, 123456789.0, 0.0, 0.0, int32(0), false, true, false, int64(2), int32(0), false)
	f.Add(13.0, 192.0, 2.718281, 314.159265, int32(6), true, false, true, int64(3), int32(2), true)
	f.Add(math.Inf(-1), math.NaN(), -1.0, 1.0, int32(400), true, true, true, int64(1), int32(1), true)
	f.Fuzz(func(t *testing.T, lower, upper, min, max float64, precision int32, usePrecision, inclLo bool, inclHi bool, sparsity int64, tf int32, hasTF bool) {
		var b *DoubleBounds
		if usePrecision {
			b = &DoubleBounds{min, max, precision}
		}
		o := fuzzOptions(sparsity, tf, hasTF)
		m, err := MincoverDouble(Interval[float64]{lower, upper, inclLo, inclHi}, b, o)
		if err != nil {
			return
		}
		a, _ := EncodeDouble(lower, b)
		c, _ := EncodeDouble(upper, b)
		lo, hi, ok := encodedRange(a, c, inclLo, inclHi)
		if !ok {
			t.Fatalf("mincover %q of an empty range", m.Edges)
		}
		checkCover(t, m, lo, hi, a.Max, o, probesAround(lo, hi, a.Max))
		if b != nil {
			return // precision truncates: value order holds only up to the precision
		}
		for _, v := range []float64{lower, upper, math.Nextafter(lower, math.Inf(-1)), math.Nextafter(upper, math.Inf(1)), 0, -0.5, 1e300} {
			e, err := EncodeDouble(v, nil)
			if err != nil {
				continue
			}
			inQuery := (v > lower || inclLo && v == lower) && (v < upper || inclHi && v == upper)
			inCover := e.Value.Cmp(lo) >= 0 && e.Value.Cmp(hi) <= 0
			if inQuery != inCover {
				t.Fatalf("value %g: in query %v, in cover %v", v, inQuery, inCover)
			}
		}
	})
}

func FuzzMincoverDecimal128(f *testing.F) {
	add := func(lower, upper, min, max string, precision int32, usePrecision bool, sparsity int64) {
		lh, ll := d128(lower).GetBytes()
		uh, ul := d128(upper).GetBytes()
		mh, ml := d128(min).GetBytes()
		xh, xl := d128(max).GetBytes()
		f.Add(lh, ll, uh, ul, mh, ml, xh, xl, precision, usePrecision, true, true, sparsity, int32(0), true)
	}
	add("0.000000", "1.638400", "0.000000", "6.553600", 4, true, 1)
	add("-100.000000", "123456789.000000", "0", "0", 0, false, 2)
	add("1000000.000000", "20000000.000000", "788545.000000", "340282366920938463463374607431769000000.000000", 0, true, 1)
	add("-1E-6176", "9999999999999999999999999999999999E6111", "0", "0", 0, false, 4)
	add("5E-30", "6E-30", "1E-30", "10E-30", 35, true, 1)
	f.Fuzz(func(t *testing.T, lh, ll, uh, ul, mh, ml, xh, xl uint64, precision int32, usePrecision, inclLo, inclHi bool, sparsity int64, tf int32, hasTF bool) {
		lower, upper := bson.NewDecimal128(lh, ll), bson.NewDecimal128(uh, ul)
		var b *Decimal128Bounds
		if usePrecision {
			b = &Decimal128Bounds{bson.NewDecimal128(mh, ml), bson.NewDecimal128(xh, xl), precision}
		}
		o := fuzzOptions(sparsity, tf, hasTF)
		m, err := MincoverDecimal128(Interval[bson.Decimal128]{lower, upper, inclLo, inclHi}, b, o)
		if err != nil {
			return
		}
		a, _ := EncodeDecimal128(lower, b)
		c, _ := EncodeDecimal128(upper, b)
		lo, hi, ok := encodedRange(a, c, inclLo, inclHi)
		if !ok {
			t.Fatalf("mincover %q of an empty range", m.Edges)
		}
		checkCover(t, m, lo, hi, a.Max, o, probesAround(lo, hi, a.Max))
		if b != nil {
			return
		}
		// Value order: the encoding is strictly increasing in the value.
		dl, du := decFromDecimal128(lower), decFromDecimal128(upper)
		for _, v := range []bson.Decimal128{lower, upper, d128("0"), d128("-1"), d128("1E-300"), decLargestNegative} {
			e, err := EncodeDecimal128(v, nil)
			if err != nil {
				continue
			}
			dv := decFromDecimal128(v)
			cl, _ := cmp(dv, dl)
			cu, _ := cmp(dv, du)
			inQuery := (cl > 0 || inclLo && cl == 0) && (cu < 0 || inclHi && cu == 0)
			inCover := e.Value.Cmp(lo) >= 0 && e.Value.Cmp(hi) <= 0
			if inQuery != inCover {
				t.Fatalf("value %s: in query %v, in cover %v", v, inQuery, inCover)
			}
		}
	})
}

// FuzzEdgesForInsert feeds arbitrary BSON values and index fields to the
// insert path: errors only, and every edge set is well formed.
func FuzzEdgesForInsert(f *testing.F) {
	addRaw := func(v, lo, hi bson.RawValue, precision int32, hasPrecision bool, sparsity int64, tf int32, hasTF bool) {
		f.Add(byte(v.Type), v.Value, byte(lo.Type), lo.Value, byte(hi.Type), hi.Value, precision, hasPrecision, sparsity, tf, hasTF)
	}
	addRaw(rawInt32(7), rawInt32(0), rawInt32(13), 0, false, 1, 0, true)
	addRaw(rawInt64(-1), rawInt64(math.MinInt64), rawInt64(math.MaxInt64), 0, false, 2, 0, false)
	addRaw(rawDate(1700000000000), rawDate(0), rawDate(1<<42), 0, false, 3, 5, true)
	addRaw(rawDouble(-54.321), rawDouble(0), rawDouble(0), 0, false, 1, 0, true)
	addRaw(rawDouble(3.14159), rawDouble(0), rawDouble(5), 2, true, 1, 0, true)
	addRaw(rawDecimal(d128("12.3400000000000")), rawDecimal(d128("0")), rawDecimal(d128("0")), 0, false, 2, 0, false)
	addRaw(rawDecimal(d128("3.14159")), rawDecimal(d128("0")), rawDecimal(d128("5")), 2, true, 1, 0, true)
	f.Fuzz(func(t *testing.T, vt byte, vb []byte, lt byte, lb []byte, ht byte, hb []byte, precision int32, hasPrecision bool, sparsity int64, tf int32, hasTF bool) {
		idx := Index{
			Min:      bson.RawValue{Type: bson.Type(lt), Value: lb},
			Max:      bson.RawValue{Type: bson.Type(ht), Value: hb},
			Sparsity: sparsity,
		}
		if hasPrecision {
			idx.Precision = &precision
		}
		if hasTF {
			idx.TrimFactor = &tf
		}
		s, err := EdgesForInsert(bson.RawValue{Type: bson.Type(vt), Value: vb}, idx)
		if err != nil {
			return
		}
		n := len(s.Leaf)
		if s.TrimFactor < 0 || (s.TrimFactor != 0 && int(s.TrimFactor) >= n) {
			t.Fatalf("trimFactor %d for %d bits", s.TrimFactor, n)
		}
		i := 0
		if s.TrimFactor == 0 {
			if s.Edges[0] != Root {
				t.Fatalf("no root: %q", s.Edges)
			}
			i = 1
		}
		if s.Edges[i] != s.Leaf || strings.Trim(s.Leaf, "01") != "" {
			t.Fatalf("leaf %q, edges %q", s.Leaf, s.Edges)
		}
		prev := 0
		for _, e := range s.Edges[i+1:] {
			if !strings.HasPrefix(s.Leaf, e) || len(e) <= prev || len(e) >= n || int64(len(e))%sparsity != 0 || len(e) < int(s.TrimFactor) {
				t.Fatalf("edge %q of leaf %q (sparsity %d, trimFactor %d)", e, s.Leaf, sparsity, s.TrimFactor)
			}
			prev = len(e)
		}
	})
}

// FuzzMincoverForFind feeds arbitrary BSON query ends and index fields to the
// find path: errors only, never a panic.
func FuzzMincoverForFind(f *testing.F) {
	add := func(lo, hi, imin, imax bson.RawValue, precision int32, hasPrecision bool, sparsity int64) {
		f.Add(byte(lo.Type), lo.Value, byte(hi.Type), hi.Value, byte(imin.Type), imin.Value, byte(imax.Type), imax.Value,
			true, false, precision, hasPrecision, sparsity, int32(0), false)
	}
	add(rawInt32(1), rawInt32(3), rawInt32(0), rawInt32(7), 0, false, 1)
	add(rawDouble(math.Inf(-1)), rawInt64(9), rawInt64(-10), rawInt64(10), 0, false, 2)
	add(rawDouble(0), rawDouble(1.6384), rawDouble(0), rawDouble(6.5536), 4, true, 1)
	add(rawDecimal(d128("-100")), rawDouble(math.Inf(1)), rawDecimal(decLargestNegative), rawDecimal(decLargestPositive), 0, false, 2)
	add(rawDate(0), rawDate(100), rawDate(-5), rawDate(1000), 0, false, 4)
	f.Fuzz(func(t *testing.T, lt byte, lb []byte, ht byte, hb []byte, it byte, ib []byte, xt byte, xb []byte,
		inclLo, inclHi bool, precision int32, hasPrecision bool, sparsity int64, tf int32, hasTF bool) {
		idx := Index{
			Min:      bson.RawValue{Type: bson.Type(it), Value: ib},
			Max:      bson.RawValue{Type: bson.Type(xt), Value: xb},
			Sparsity: sparsity,
		}
		if hasPrecision {
			idx.Precision = &precision
		}
		if hasTF {
			idx.TrimFactor = &tf
		}
		q := Interval[bson.RawValue]{bson.RawValue{Type: bson.Type(lt), Value: lb}, bson.RawValue{Type: bson.Type(ht), Value: hb}, inclLo, inclHi}
		m, err := MincoverForFind(q, idx)
		if err == nil && len(m.Edges) == 0 {
			t.Fatal("empty mincover without an error")
		}
	})
}

// FuzzParseRangeOpts parses untrusted RangeOpts documents; whatever parses
// must then serve every range type without a panic.
func FuzzParseRangeOpts(f *testing.F) {
	seeds := []string{
		`{"min": 123, "max": 456, "sparsity": {"$numberLong": "1"}}`,
		`{"min": 123.0, "max": 456.0, "precision": 2, "sparsity": {"$numberLong": "1"}}`,
		`{"trimFactor": 63}`,
		`{"trimFactor": 9, "min": {"$numberDecimal": "0"}, "max": {"$numberDecimal": "100"}, "precision": 1}`,
		`{"min": {"$date": {"$numberLong": "-9223372036854775808"}}, "max": {"$date": {"$numberLong": "9223372036854775807"}}, "trimFactor": 63}`,
		`{"min": 123, "max": 456.0}`,
		`{"sparsity": {"$numberLong": "-1"}}`,
		`{"foo": 1}`,
		`{}`,
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add([]byte(ejson(f, s)))
	}
	values := []bson.RawValue{rawInt32(200), rawInt64(300), rawDate(400), rawDouble(1.5), rawDecimal(d128("2.5"))}
	f.Fuzz(func(t *testing.T, doc []byte) {
		o, err := ParseRangeOpts(doc)
		if err != nil {
			return
		}
		for _, v := range values {
			spec, err := o.InsertSpec(v)
			if err == nil {
				if err := spec.Validate(); err != nil {
					t.Fatalf("InsertSpec built invalid BSON: %v", err)
				}
			}
			if idx, err := insertIndexOf(o, v.Type); err == nil {
				_, _ = EdgesForInsert(v, idx)
			}
			if idx, err := indexOf(o, v.Type); err == nil {
				_, _ = MincoverForFind(Interval[bson.RawValue]{v, rawDouble(math.Inf(1)), true, true}, idx)
			}
		}
	})
}
