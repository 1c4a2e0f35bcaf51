package rangeenc

import (
	"bufio"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The .cstruct files of testdata/ are C initializer lists, one record per
// test case:
//
//	{
//	  .value = 7,
//	  .min = { .set = true, .value = 0 },
//	  .max = { .set = false },
//	  .sparsity = 1,
//	  .expectEdges = {
//	    "root",
//	    "0111",
//	  },
//	},
//
// cRecord holds one record: scalar fields as their C expression, optional
// fields ({ .set = ..., .value = ... }) and string lists.
type cRecord struct {
	line   int // line of the opening brace
	scalar map[string]string
	opt    map[string]cOpt
	lists  map[string][]string
}

type cOpt struct {
	set   bool
	value string
}

var (
	reScalar = regexp.MustCompile(`^\s*\.(\w+) = (.*),$`)
	reOpt    = regexp.MustCompile(`^\s*\.(\w+) = \{ \.set = (true|false)(?:, \.value = (.*))? \},$`)
	reList   = regexp.MustCompile(`^\s*\.(\w+) = \{$`)
	reItem   = regexp.MustCompile(`^\s*"([^"]*)",$`)
)

// readCStruct parses a .cstruct file of testdata/.
func readCStruct(t *testing.T, name string) []cRecord {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []cRecord
		cur  *cRecord
		list string
		n    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "//") || strings.TrimSpace(line) == "":
		case line == "{":
			if cur != nil {
				t.Fatalf("%s:%d: nested record", name, n)
			}
			cur = &cRecord{line: n, scalar: map[string]string{}, opt: map[string]cOpt{}, lists: map[string][]string{}}
		case line == "},":
			if cur == nil || list != "" {
				t.Fatalf("%s:%d: unbalanced record end", name, n)
			}
			out = append(out, *cur)
			cur = nil
		case cur == nil:
			t.Fatalf("%s:%d: text outside a record: %q", name, n, line)
		case list != "":
			if strings.TrimSpace(line) == "}," {
				list = ""
				continue
			}
			m := reItem.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d: bad list item %q", name, n, line)
			}
			cur.lists[list] = append(cur.lists[list], m[1])
		default:
			if m := reOpt.FindStringSubmatch(line); m != nil {
				cur.opt[m[1]] = cOpt{set: m[2] == "true", value: m[3]}
			} else if m := reList.FindStringSubmatch(line); m != nil {
				list = m[1]
				cur.lists[list] = []string{}
			} else if m := reScalar.FindStringSubmatch(line); m != nil {
				cur.scalar[m[1]] = m[2]
			} else {
				t.Fatalf("%s:%d: unparsed line %q", name, n, line)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: unterminated record", name)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", name)
	}
	return out
}

// cInt parses a C integer expression of the files.
func cInt(t *testing.T, s string) int64 {
	t.Helper()
	switch s {
	case "INT32_MIN":
		return math.MinInt32
	case "INT32_MAX":
		return math.MaxInt32
	case "INT64_MIN":
		return math.MinInt64
	case "INT64_MAX":
		return math.MaxInt64
	}
	s = strings.TrimSuffix(s, "L")
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		t.Fatalf("integer %q: %v", s, err)
	}
	return v
}

// cDouble parses a C double expression of the files.
func cDouble(t *testing.T, s string) float64 {
	t.Helper()
	switch s {
	case "DBL_MIN":
		return 2.2250738585072014e-308
	case "DBL_MAX":
		return math.MaxFloat64
	}
	if strings.HasSuffix(s, "L") || strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "-0x") {
		return float64(cInt(t, s))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("double %q: %v", s, err)
	}
	return v
}

var reDecString = regexp.MustCompile(`^mc_dec128_from_string\("([^"]*)"\)$`)
var reDecConst = regexp.MustCompile(`^MC_DEC128\((.*)\)$`)

// cDecimal parses a C decimal128 expression of the files.
func cDecimal(t *testing.T, s string) bson.Decimal128 {
	t.Helper()
	switch s {
	case "MC_DEC128_LARGEST_POSITIVE":
		return decLargestPositive
	case "MC_DEC128_LARGEST_NEGATIVE":
		return decLargestNegative
	}
	if m := reDecString.FindStringSubmatch(s); m != nil {
		return parseDecimalString(m[1])
	}
	if m := reDecConst.FindStringSubmatch(s); m != nil {
		return decFromInt(cInt(t, m[1])).decimal128()
	}
	t.Fatalf("decimal128 %q: unknown expression", s)
	return bson.Decimal128{}
}

// parseDecimalString converts a decimal string to the nearest decimal128
// (34 digits, half to even), keeping the exponent as written when the digits
// fit, as decimal128 string conversion does. Anything unparsable is NaN.
func parseDecimalString(s string) bson.Decimal128 {
	nan := dec{class: decNaN}.decimal128()
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToUpper(s), "E")
	exp := int64(0)
	if hasExp {
		e, err := strconv.ParseInt(expPart, 10, 32)
		if err != nil {
			return nan
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nan
	}
	coef, _ := new(big.Int).SetString(digits, 10)
	return roundDec(neg, coef, exp-int64(len(frac))).decimal128()
}

func int32Opt(t *testing.T, o cOpt) *int32 {
	if !o.set {
		return nil
	}
	v := int32(cInt(t, o.value))
	return &v
}

func sparsityOf(t *testing.T, r cRecord) int64 { return cInt(t, r.scalar["sparsity"]) }

func boolOf(t *testing.T, r cRecord, name string) bool {
	switch r.scalar[name] {
	case "true":
		return true
	case "false":
		return false
	}
	t.Fatalf("line %d: %s: not a bool: %q", r.line, name, r.scalar[name])
	return false
}

// zeroTF is the trimFactor every data file row was generated with.
var zeroTF = func() *int32 { z := int32(0); return &z }()

func sameStrings(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestEdgeVectors checks every row of testdata/range-edge-generation.
func TestEdgeVectors(t *testing.T) {
	for _, file := range []string{"edges_int32.cstruct", "edges_int64.cstruct", "edges_double.cstruct", "edges_decimal128.cstruct"} {
		t.Run(file, func(t *testing.T) {
			rows := readCStruct(t, filepath.Join("range-edge-generation", file))
			for _, r := range rows {
				var (
					e   Encoded
					err error
				)
				min, max := r.opt["min"], r.opt["max"]
				switch file {
				case "edges_int32.cstruct":
					var b *Int32Bounds
					if min.set {
						b = &Int32Bounds{int32(cInt(t, min.value)), int32(cInt(t, max.value))}
					}
					e, err = EncodeInt32(int32(cInt(t, r.scalar["value"])), b)
				case "edges_int64.cstruct":
					var b *Int64Bounds
					if min.set {
						b = &Int64Bounds{cInt(t, min.value), cInt(t, max.value)}
					}
					e, err = EncodeInt64(cInt(t, r.scalar["value"]), b)
				case "edges_double.cstruct":
					// min and max are present but unused without precision.
					e, err = EncodeDouble(cDouble(t, r.scalar["value"]), nil)
				case "edges_decimal128.cstruct":
					e, err = EncodeDecimal128(cDecimal(t, r.scalar["value"]), nil)
				}
				if err != nil {
					t.Fatalf("line %d: encode: %v", r.line, err)
				}
				got, err := e.Edges(Options{Sparsity: sparsityOf(t, r), TrimFactor: zeroTF})
				if err != nil {
					t.Fatalf("line %d: edges: %v", r.line, err)
				}
				want := r.lists["expectEdges"]
				if !sameStrings(got.Edges, want) {
					t.Fatalf("line %d: edges\n got %q\nwant %q", r.line, got.Edges, want)
				}
				if got.TrimFactor != 0 || !got.IsLeaf(got.Edges[1]) {
					t.Fatalf("line %d: trimFactor %d, leaf %q", r.line, got.TrimFactor, got.Leaf)
				}
			}
			t.Logf("%s: %d rows", file, len(rows))
		})
	}
}

// serverDecimalPrecisionRow4 is the expectation of the fourth row of
// mincover_decimal128_precision.cstruct. libmongocrypt's copy lists no string
// for that row (its converter lost them), the MongoDB server's source vector
// (src/mongo/crypto/test_vectors/mincover_decimal128_precision.cstruct,
// commit 0d67266b5759f89dbf63b72d4d1172c7a421a4a2) lists these, and they are
// what the double row with the same numbers expects.
var serverDecimalPrecisionRow4 = []string{"000", "00100000000000000"}

// TestMincoverVectors checks every row of testdata/range-min-cover.
func TestMincoverVectors(t *testing.T) {
	files := []string{
		"mincover_int32.cstruct", "mincover_int64.cstruct",
		"mincover_double.cstruct", "mincover_double_precision.cstruct",
		"mincover_decimal128.cstruct", "mincover_decimal128_precision.cstruct",
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			rows := readCStruct(t, filepath.Join("range-min-cover", file))
			errorRows := 0
			for i, r := range rows {
				o := Options{Sparsity: sparsityOf(t, r), TrimFactor: zeroTF}
				inclLo, inclHi := boolOf(t, r, "includeLowerBound"), boolOf(t, r, "includeUpperBound")
				min, max := r.opt["min"], r.opt["max"]
				prec := int32Opt(t, r.opt["precision"])
				var (
					got       *Mincover
					err       error
					expectErr error // libmongocrypt's harness expects an error when the precision domain is unusable
				)
				switch file {
				case "mincover_int32.cstruct":
					var b *Int32Bounds
					if min.set {
						b = &Int32Bounds{int32(cInt(t, min.value)), int32(cInt(t, max.value))}
					}
					q := Interval[int32]{int32(cInt(t, r.scalar["lowerBound"])), int32(cInt(t, r.scalar["upperBound"])), inclLo, inclHi}
					got, err = MincoverInt32(q, b, o)
				case "mincover_int64.cstruct":
					var b *Int64Bounds
					if min.set {
						b = &Int64Bounds{cInt(t, min.value), cInt(t, max.value)}
					}
					q := Interval[int64]{cInt(t, r.scalar["lowerBound"]), cInt(t, r.scalar["upperBound"]), inclLo, inclHi}
					got, err = MincoverInt64(q, b, o)
				case "mincover_double.cstruct", "mincover_double_precision.cstruct":
					var b *DoubleBounds
					if prec != nil { // min and max are used only with precision
						b = &DoubleBounds{cDouble(t, min.value), cDouble(t, max.value), *prec}
						_, ok, perr := doublePrecisionBits(b.Min, b.Max, b.Precision)
						if perr != nil {
							expectErr = perr
						} else if !ok {
							expectErr = ErrPrecision
						}
					}
					q := Interval[float64]{cDouble(t, r.scalar["lowerBound"]), cDouble(t, r.scalar["upperBound"]), inclLo, inclHi}
					got, err = MincoverDouble(q, b, o)
				case "mincover_decimal128.cstruct", "mincover_decimal128_precision.cstruct":
					var b *Decimal128Bounds
					if prec != nil {
						b = &Decimal128Bounds{cDecimal(t, min.value), cDecimal(t, max.value), *prec}
						_, ok, perr := decimalPrecisionBits(decFromDecimal128(b.Min), decFromDecimal128(b.Max), b.Precision)
						if perr != nil {
							expectErr = perr
						} else if !ok {
							expectErr = ErrPrecision
						}
					}
					q := Interval[bson.Decimal128]{cDecimal(t, r.scalar["lowerBound"]), cDecimal(t, r.scalar["upperBound"]), inclLo, inclHi}
					got, err = MincoverDecimal128(q, b, o)
				}
				if expectErr != nil {
					ok := err != nil && err.Error() == expectErr.Error()
					if expectErr == ErrPrecision { // domain needs too many bits
						ok = errors.Is(err, ErrPrecision) && strings.Contains(err.Error(), "cannot be represented in fewer than")
					}
					if !ok {
						t.Fatalf("line %d: got error %v, want %v", r.line, err, expectErr)
					}
					t.Logf("line %d: error as expected: %v", r.line, err)
					errorRows++
					continue
				}
				if err != nil {
					t.Fatalf("line %d: %v", r.line, err)
				}
				want := r.lists["expectMincoverStrings"]
				if file == "mincover_decimal128_precision.cstruct" && i == 3 && len(want) == 0 {
					want = serverDecimalPrecisionRow4
				}
				if len(want) == 0 {
					t.Fatalf("line %d: row expects neither strings nor an error", r.line)
				}
				if !sameStrings(got.Edges, want) {
					t.Fatalf("line %d: mincover\n got %q\nwant %q", r.line, got.Edges, want)
				}
			}
			t.Logf("%s: %d rows (%d expecting a precision-domain error)", file, len(rows), errorRows)
		})
	}
}
