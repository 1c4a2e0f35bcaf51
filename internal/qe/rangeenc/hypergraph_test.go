package rangeenc

import (
	"math"
	"strings"
	"testing"
)

func i32p(v int32) *int32 { return &v }

// Cases of libmongocrypt's test/test-mc-range-edge-generation.c beyond the
// data files, as values.
func TestEdgesCases(t *testing.T) {
	b07 := &Int32Bounds{0, 7}
	tests := []struct {
		v        int32
		b        *Int32Bounds
		sparsity int64
		tf       *int32
		want     []string
		err      *wantErr
	}{
		{v: 2, b: b07, sparsity: 1, tf: i32p(0), want: []string{"root", "010", "0", "01"}},
		{v: 2, b: b07, sparsity: 2, tf: i32p(0), want: []string{"root", "010", "01"}},
		{v: 1, sparsity: 0, tf: i32p(0), err: &wantErr{ErrSparsity, []string{"at least 1"}}},
		{v: 2, b: b07, sparsity: 1, tf: i32p(1), want: []string{"010", "0", "01"}},
		{v: 2, b: b07, sparsity: 1, tf: i32p(2), want: []string{"010", "01"}},
		{v: 2, b: b07, sparsity: 1, tf: i32p(3), err: &wantErr{ErrTrimFactor, []string{"trimFactor 3 must be less than the number of bits (3)"}}},
		{v: 2, b: b07, sparsity: 1, tf: i32p(-1), err: &wantErr{ErrTrimFactor, []string{"non-negative"}}},
		{v: 2, b: b07, sparsity: 2, tf: i32p(1), want: []string{"010", "01"}},
		{v: 2, b: b07, sparsity: 2, tf: i32p(2), want: []string{"010", "01"}},
		// Default trimFactor: min(6, bits-1).
		{v: 2, b: b07, sparsity: 1, want: []string{"010", "01"}},
		{v: 100, b: &Int32Bounds{0, 255}, sparsity: 1, want: []string{"01100100", "011001", "0110010"}},
		// Sparsity larger than the domain.
		{v: 5, b: b07, sparsity: 100, tf: i32p(0), want: []string{"root", "101"}},
	}
	for _, tc := range tests {
		e, err := EncodeInt32(tc.v, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Edges(Options{Sparsity: tc.sparsity, TrimFactor: tc.tf})
		if tc.err != nil {
			tc.err.check(t, "Edges", err)
			continue
		}
		if err != nil || !sameStrings(got.Edges, tc.want) {
			t.Errorf("Edges(%d, %+v, s%d) = %q, %v; want %q", tc.v, tc.b, tc.sparsity, got, err, tc.want)
		}
	}
	// The trimFactor used is reported.
	e, _ := EncodeInt64(7, nil)
	s, err := e.Edges(Options{Sparsity: 2})
	if err != nil || s.TrimFactor != DefaultTrimFactor || s.Leaf != s.Edges[0] || len(s.Edges) != 1+(64-6+1)/2 {
		t.Errorf("int64 default edges: tf %d, %d edges, %v", s.TrimFactor, len(s.Edges), err)
	}
}

func TestTrimFactorFor(t *testing.T) {
	for _, tc := range []struct {
		bits int
		tf   *int32
		want int32
	}{
		{64, nil, 6}, {7, nil, 6}, {6, nil, 5}, {2, nil, 1}, {1, nil, 0}, {0, nil, 6}, {64, i32p(9), 9},
	} {
		if got := TrimFactorFor(tc.bits, tc.tf); got != tc.want {
			t.Errorf("TrimFactorFor(%d) = %d, want %d", tc.bits, got, tc.want)
		}
	}
}

func TestBitStrings(t *testing.T) {
	for _, tc := range []struct {
		in   U128
		n    int
		want string
	}{
		{U128{}, 32, strings.Repeat("0", 32)},
		{U128{Lo: 1}, 32, strings.Repeat("0", 31) + "1"},
		{U128{Lo: 123}, 32, "00000000000000000000000001111011"},
		{U128{Lo: math.MaxUint32}, 32, strings.Repeat("1", 32)},
		{U128{Lo: math.MaxUint32 - 1}, 32, strings.Repeat("1", 31) + "0"},
		{U128{Lo: 123}, 64, strings.Repeat("0", 57) + "1111011"},
		{U128{Lo: math.MaxUint64 - 1}, 64, strings.Repeat("1", 63) + "0"},
		{U128{Lo: 256}, 128, strings.Repeat("0", 119) + "100000000"},
		{u128FromBig(u128("0").Big().SetBit(u128("0").Big(), 127, 1)), 128, "1" + strings.Repeat("0", 127)},
	} {
		if got := tc.in.lowBits(tc.n); got != tc.want {
			t.Errorf("lowBits(%v, %d) = %s, want %s", tc.in, tc.n, got, tc.want)
		}
	}
	// Leading zeros: BitLen is 128 minus them.
	for _, tc := range []struct {
		in   U128
		want int
	}{{U128{}, 0}, {U128{Lo: 8}, 4}, {U128{Hi: 8}, 68}, {maxU128, 128}} {
		if got := tc.in.BitLen(); got != tc.want {
			t.Errorf("BitLen(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// Cases of libmongocrypt's test/test-mc-range-mincover.c beyond the data
// files, as values.
func TestMincoverCases(t *testing.T) {
	b07 := &Int32Bounds{0, 7}
	tests := []struct {
		q    Interval[int32]
		tf   int32
		want []string
		err  *wantErr
	}{
		{q: Interval[int32]{1, 3, false, true}, want: []string{"01"}},
		{q: Interval[int32]{1, 3, true, false}, want: []string{"001", "010"}},
		{q: Interval[int32]{1, 3, true, true}, want: []string{"001", "01"}},
		{q: Interval[int32]{3, 3, true, true}, want: []string{"011"}},
		{q: Interval[int32]{4, 3, true, true}, err: &wantErr{ErrQuery, []string{"must not exceed"}}},
		{q: Interval[int32]{1, 8, true, true}, err: &wantErr{ErrOutOfRange, []string{"value must be greater than or equal to the minimum value"}}},
		{q: Interval[int32]{0, 7, true, true}, want: []string{"root"}},
		{q: Interval[int32]{0, 7, true, true}, tf: 1, want: []string{"0", "1"}},
		{q: Interval[int32]{0, 7, true, true}, tf: 2, want: []string{"00", "01", "10", "11"}},
		{q: Interval[int32]{0, 7, true, true}, tf: 3, err: &wantErr{ErrTrimFactor, []string{"trimFactor 3 must be less than the number of bits (3)"}}},
		// Bounds checks before encoding.
		{q: Interval[int32]{0, -1, true, true}, err: &wantErr{ErrQuery, []string{"upper bound", "must be greater than or equal to the range minimum"}}},
		{q: Interval[int32]{0, 0, true, false}, err: &wantErr{ErrQuery, []string{"excluded upper bound", "must be greater than the range minimum"}}},
		{q: Interval[int32]{8, 9, true, true}, err: &wantErr{ErrQuery, []string{"lower bound", "must be less than or equal to the range maximum"}}},
		{q: Interval[int32]{7, 7, false, true}, err: &wantErr{ErrQuery, []string{"excluded lower bound", "must be less than the range maximum"}}},
	}
	for _, tc := range tests {
		got, err := MincoverInt32(tc.q, b07, Options{Sparsity: 1, TrimFactor: i32p(tc.tf)})
		if tc.err != nil {
			tc.err.check(t, "MincoverInt32", err)
			continue
		}
		if err != nil || !sameStrings(got.Edges, tc.want) || got.TrimFactor != tc.tf {
			t.Errorf("MincoverInt32(%+v, tf %d) = %+v, %v; want %q", tc.q, tc.tf, got, err, tc.want)
		}
	}
	// Int64 versions of the first cases.
	b07l := &Int64Bounds{0, 7}
	for _, tc := range []struct {
		q    Interval[int64]
		want []string
	}{
		{Interval[int64]{1, 3, false, true}, []string{"01"}},
		{Interval[int64]{1, 3, true, false}, []string{"001", "010"}},
		{Interval[int64]{1, 3, true, true}, []string{"001", "01"}},
		{Interval[int64]{3, 3, true, true}, []string{"011"}},
	} {
		got, err := MincoverInt64(tc.q, b07l, Options{Sparsity: 1, TrimFactor: i32p(0)})
		if err != nil || !sameStrings(got.Edges, tc.want) {
			t.Errorf("MincoverInt64(%+v) = %+v, %v; want %q", tc.q, got, err, tc.want)
		}
	}
	// Without bounds, the excluded ends at the extremes of the domain.
	if _, err := MincoverInt32(Interval[int32]{math.MaxInt32, math.MaxInt32, false, true}, nil, Options{Sparsity: 1}); err == nil {
		t.Error("excluded lower bound at the domain maximum accepted")
	}
	if _, err := MincoverInt64(Interval[int64]{math.MinInt64, math.MinInt64, true, false}, nil, Options{Sparsity: 1}); err == nil {
		t.Error("excluded upper bound at the domain minimum accepted")
	}
	// Sparsity 0 is refused.
	if _, err := MincoverInt32(Interval[int32]{1, 3, true, true}, b07, Options{}); err == nil {
		t.Error("sparsity 0 accepted")
	}
}

// TestMincoverCap: a full-range query with a large trimFactor would list 2^63
// strings; it is refused instead.
func TestMincoverCap(t *testing.T) {
	_, err := MincoverInt64(Interval[int64]{math.MinInt64, math.MaxInt64, true, true}, nil, Options{Sparsity: 1, TrimFactor: i32p(63)})
	(&wantErr{ErrTooManyEdges, []string{"more than"}}).check(t, "MincoverInt64", err)
	// Just under the cap still works: 2^18 leaves.
	got, err := MincoverInt64(Interval[int64]{0, 1<<18 - 1, true, true}, &Int64Bounds{0, 1<<18 - 1}, Options{Sparsity: 1, TrimFactor: i32p(17)})
	if err != nil || len(got.Edges) != 1<<17 {
		t.Errorf("2^17 strings: %d, %v", len(got.Edges), err)
	}
}
