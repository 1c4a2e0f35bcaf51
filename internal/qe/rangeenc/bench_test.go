package rangeenc

import (
	"math"
	"testing"
)

func benchEdges(b *testing.B, e Encoded, sparsity int64) {
	b.ReportAllocs()
	o := Options{Sparsity: sparsity}
	for b.Loop() {
		if _, err := e.Edges(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEdgesInt64Sparsity1(b *testing.B) {
	e, _ := EncodeInt64(1700000000000, nil)
	benchEdges(b, e, 1)
}

func BenchmarkEdgesInt64Sparsity2(b *testing.B) {
	e, _ := EncodeInt64(1700000000000, nil)
	benchEdges(b, e, 2)
}

func BenchmarkEdgesDoubleSparsity1(b *testing.B) {
	e, _ := EncodeDouble(math.Pi, nil)
	benchEdges(b, e, 1)
}

func BenchmarkEdgesDoubleSparsity2(b *testing.B) {
	e, _ := EncodeDouble(math.Pi, nil)
	benchEdges(b, e, 2)
}

// BenchmarkMincoverInt64Wide: an unbounded int64 index queried over a wide
// range with awkward ends, default sparsity and trimFactor.
func BenchmarkMincoverInt64Wide(b *testing.B) {
	b.ReportAllocs()
	q := Interval[int64]{-1000000000000000123, 999999999999999877, true, false}
	o := Options{Sparsity: DefaultSparsity}
	var n int
	for b.Loop() {
		m, err := MincoverInt64(q, nil, o)
		if err != nil {
			b.Fatal(err)
		}
		n = len(m.Edges)
	}
	b.ReportMetric(float64(n), "strings")
}

// BenchmarkMincoverCap: a query that reaches MaxMincoverLen and is refused,
// the most work one mincover can cost.
func BenchmarkMincoverCap(b *testing.B) {
	q := Interval[int64]{math.MinInt64, math.MaxInt64, true, true}
	o := Options{Sparsity: 1, TrimFactor: i32p(63)}
	for b.Loop() {
		if _, err := MincoverInt64(q, nil, o); err == nil {
			b.Fatal("no error")
		}
	}
}
