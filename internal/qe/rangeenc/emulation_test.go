package rangeenc

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPrecisionEmulation compares the precision encodings with an independent
// emulation of libmongocrypt's algorithm (testdata/emulation/gen.py: Python
// IEEE doubles, and Python's decimal module in a decimal128 context).
func TestPrecisionEmulation(t *testing.T) {
	for _, file := range []string{"double_precision.txt", "decimal_precision.txt"} {
		f, err := os.Open(filepath.Join("testdata", "emulation", file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n, encoded := 0, 0
		for sc.Scan() {
			n++
			p := strings.Fields(sc.Text())
			if len(p) != 5 && len(p) != 6 {
				t.Fatalf("%s:%d: malformed line", file, n)
			}
			prec, err := strconv.ParseInt(p[3], 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			var got Encoded
			if file == "double_precision.txt" {
				num := func(s string) float64 {
					v, err := strconv.ParseFloat(s, 64)
					if err != nil {
						t.Fatalf("%s:%d: %v", file, n, err)
					}
					return v
				}
				got, err = EncodeDouble(num(p[0]), &DoubleBounds{num(p[1]), num(p[2]), int32(prec)})
			} else {
				got, err = EncodeDecimal128(d128(p[0]), &Decimal128Bounds{d128(p[1]), d128(p[2]), int32(prec)})
			}
			if p[4] == "ERR" {
				if err == nil {
					t.Errorf("%s:%d: %v: encoded to %v, want an error", file, n, p[:4], got.Value)
				}
				continue
			}
			encoded++
			bits, _ := strconv.Atoi(p[5])
			if err != nil || got.Value.String() != p[4] || got.Bits() != bits {
				t.Errorf("%s:%d: %v: got %v over %d bits (%v), want %s over %d", file, n, p[:4], got.Value, got.Bits(), err, p[4], bits)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if encoded == 0 {
			t.Fatalf("%s: no successful case", file)
		}
		t.Logf("%s: %d cases, %d encoded", file, n, encoded)
	}
}
