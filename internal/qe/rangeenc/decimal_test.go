package rangeenc

import (
	"math/big"
	"testing"
)

func dv(s string) dec { return decFromDecimal128(d128(s)) }

func TestDecimalArithmetic(t *testing.T) {
	eq := func(desc string, got dec, want string) {
		t.Helper()
		if got.String() != want {
			t.Errorf("%s = %s, want %s", desc, got, want)
		}
	}
	// Rounding to 34 digits, half to even.
	eq("parse 35 digits (tie, even)", dv("12345678901234567890123456789012345"), "1.234567890123456789012345678901234E+34")
	eq("parse 35 digits (tie, odd)", dv("12345678901234567890123456789012335"), "1.234567890123456789012345678901234E+34")
	eq("parse 35 digits (above)", dv("12345678901234567890123456789012346"), "1.234567890123456789012345678901235E+34")
	eq("carry", dv("99999999999999999999999999999999995"), "1.000000000000000000000000000000000E+35")
	eq("sub exact", sub(dv("1.5"), dv("0.25")), "1.25")
	eq("sub rounds", sub(dv("1E+34"), dv("1")), "9999999999999999999999999999999999")
	eq("sub rounds up", sub(dv("1E+35"), dv("1")), "1.000000000000000000000000000000000E+35")
	eq("add zero signs", add(dv("-0"), dv("-0")), "-0")
	eq("sub to +0", sub(dv("5"), dv("5")), "0")
	eq("inf - inf", sub(dec{class: decInf}, dec{class: decInf}), "NaN")
	eq("scale", dv("1.5").scale(3), "1.5E+3")
	eq("scale overflow", dv("1").scale(6145), "Infinity")
	eq("scale clamps", dv("1").scale(6144), "1.000000000000000000000000000000000E+6144")
	eq("scale underflow", dv("1").scale(-6177), "0E-6176")
	eq("scale subnormal rounding", dv("15").scale(-6177), "2E-6176")
	eq("trunc", dv("-31.4159").trunc(), "-31")
	eq("trunc small", dv("0.999").trunc(), "0")
	eq("trunc integer", dv("12E3").trunc(), "1.2E+4")
	// The constants of the precision check.
	eq("2^127-1", int128MaxDec, "1.701411834604692317316873037158841E+38")
	eq("2^128-1", uint128MaxDec, "3.402823669209384634633746074317682E+38")
	eq("largest positive", decFromDecimal128(decLargestPositive), "9.999999999999999999999999999999999E+6144")

	for _, tc := range []struct {
		a, b string
		c    int
		ok   bool
	}{
		{"1", "1.0", 0, true}, {"-0", "0E+5", 0, true}, {"1E-6176", "0", 1, true}, {"-1", "1", -1, true},
		{"-Infinity", "-9999999999999999999999999999999999E6111", -1, true}, {"Infinity", "Infinity", 0, true},
		{"NaN", "1", 0, false}, {"12.5", "12.49999999999", 1, true}, {"-12.5", "-12.49999999999", -1, true},
	} {
		a, b := dv(tc.a), dv(tc.b)
		if tc.a == "Infinity" || tc.a == "-Infinity" {
			a = dec{class: decInf, neg: tc.a[0] == '-'}
		}
		if tc.b == "Infinity" {
			b = dec{class: decInf}
		}
		c, ok := cmp(a, b)
		if c != tc.c || ok != tc.ok {
			t.Errorf("cmp(%s, %s) = %d, %v; want %d, %v", tc.a, tc.b, c, ok, tc.c, tc.ok)
		}
	}
	if decNotEqual(dv("1"), dv("1.00")) || !decNotEqual(dv("NaN-ish"), dv("1")) {
		t.Error("decNotEqual")
	}
	// BID round trip of a few values.
	for _, s := range []string{"0", "-0E-6176", "1.234", "-9999999999999999999999999999999999E6111", "1E-6176"} {
		d := dv(s)
		h, l := d.bid()
		back := decFromBID(h, l)
		if back.String() != d.String() {
			t.Errorf("round trip %s: %s", s, back)
		}
	}
	if got := dv("12E3").bigInt(); got.Cmp(big.NewInt(12000)) != 0 || !dv("12E3").isInteger() || dv("1.5").isInteger() {
		t.Errorf("integer conversion: %v", got)
	}
}

// TestTruncLog10: trunc(round34(log10(x))) - 1 < p, with the rounding of
// log10 to 34 digits that can reach the next integer just below a power of
// ten.
func TestTruncLog10(t *testing.T) {
	for _, tc := range []struct {
		x    string
		p    int32
		want bool
	}{
		{"1000", 2, false}, {"1000", 3, true}, // log10 = 3 exactly
		{"999", 1, false}, {"999", 2, true}, // 2.9996 -> 2
		{"1", 0, true}, // log10 = 0 -> -1 < 0
		{"9", 0, true},
		{"10", 0, false},
		{"0", 0, true},   // -Infinity
		{"0.5", 0, true}, // negative logarithm
		{"-5", 100, false},
		// 34 nines × 10^4: log10 = 38 - 4.3e-35 rounds to 38.
		{"9999999999999999999999999999999999E4", 37, false},
		{"9999999999999999999999999999999999E4", 38, true},
		// 30 nines × 10^8: log10 = 38 - 4.3e-31 stays below 38.
		{"999999999999999999999999999999E8", 36, false},
		{"999999999999999999999999999999E8", 37, true},
		// Below 10: half a unit is 5e-34 there; 34 nines: 1 - 1e-34 -> log10 = 1 - 4.3e-35 rounds to 1.
		{"9.999999999999999999999999999999999", 0, false},
		{"9.99999999999999999999999999999999", 0, true}, // 33 nines: 1 - 4.3e-34 keeps 0.99..
	} {
		if got := truncLog10Below(dv(tc.x), tc.p); got != tc.want {
			t.Errorf("truncLog10Below(%s, %d) = %v, want %v", tc.x, tc.p, got, tc.want)
		}
	}
}
