package rangeenc

import (
	"errors"
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func rawInt32(v int32) bson.RawValue {
	return bson.RawValue{Type: bson.TypeInt32, Value: bsoncore.AppendInt32(nil, v)}
}
func rawInt64(v int64) bson.RawValue {
	return bson.RawValue{Type: bson.TypeInt64, Value: bsoncore.AppendInt64(nil, v)}
}
func rawDate(v int64) bson.RawValue {
	return bson.RawValue{Type: bson.TypeDateTime, Value: bsoncore.AppendDateTime(nil, v)}
}
func rawDouble(v float64) bson.RawValue {
	return bson.RawValue{Type: bson.TypeDouble, Value: bsoncore.AppendDouble(nil, v)}
}

func TestEdgesForInsert(t *testing.T) {
	idx := Index{Min: rawInt32(0), Max: rawInt32(7), Sparsity: 1, TrimFactor: i32p(0)}
	got, err := EdgesForInsert(rawInt32(2), idx)
	if err != nil || !sameStrings(got.Edges, []string{"root", "010", "0", "01"}) || got.Leaf != "010" {
		t.Fatalf("int32: %+v, %v", got, err)
	}
	// Dates are int64 milliseconds with date bounds.
	got, err = EdgesForInsert(rawDate(2), Index{Min: rawDate(0), Max: rawDate(7), Sparsity: 2, TrimFactor: i32p(0)})
	if err != nil || !sameStrings(got.Edges, []string{"root", "010", "01"}) {
		t.Fatalf("date: %+v, %v", got, err)
	}
	// Doubles without precision ignore the bounds (which the spec still carries).
	want, _ := EncodeDouble(1.5, nil)
	wantEdges, _ := want.Edges(Options{Sparsity: 2})
	got, err = EdgesForInsert(rawDouble(1.5), Index{Min: rawDouble(-math.MaxFloat64), Max: rawDouble(math.MaxFloat64), Sparsity: 2})
	if err != nil || !sameStrings(got.Edges, wantEdges.Edges) || got.TrimFactor != 6 {
		t.Fatalf("double: %+v, %v", got, err)
	}
	// With precision they are used.
	got, err = EdgesForInsert(rawDouble(3.14159), Index{Min: rawDouble(0), Max: rawDouble(5), Precision: i32p(2), Sparsity: 1, TrimFactor: i32p(0)})
	if err != nil || got.Leaf != "0100111010" { // 314 over 10 bits
		t.Fatalf("double precision: %+v, %v", got, err)
	}
	dec := rawDecimal(d128("3.14159"))
	got, err = EdgesForInsert(dec, Index{Min: rawDecimal(d128("0")), Max: rawDecimal(d128("5")), Precision: i32p(2), Sparsity: 1, TrimFactor: i32p(0)})
	if err != nil || got.Leaf != "0100111010" {
		t.Fatalf("decimal precision: %+v, %v", got, err)
	}

	bad := []struct {
		desc string
		v    bson.RawValue
		idx  Index
		want error
	}{
		{"bound of another type", rawInt32(2), Index{Min: rawInt64(0), Max: rawInt64(7), Sparsity: 1}, ErrType},
		{"missing bound", rawInt64(2), Index{Max: rawInt64(7), Sparsity: 1}, ErrBounds},
		{"int64 bound for a date", rawDate(2), Index{Min: rawInt64(0), Max: rawInt64(7), Sparsity: 1}, ErrType},
		{"out of range", rawInt32(9), idx, ErrOutOfRange},
		{"string", bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, "x")}, idx, ErrType},
		{"short int32", bson.RawValue{Type: bson.TypeInt32, Value: []byte{1}}, idx, ErrValue},
		{"short bound", rawInt32(1), Index{Min: bson.RawValue{Type: bson.TypeInt32}, Max: rawInt32(7), Sparsity: 1}, ErrValue},
		{"sparsity 0", rawInt32(1), Index{Min: rawInt32(0), Max: rawInt32(7)}, ErrSparsity},
		{"NaN", rawDouble(math.NaN()), Index{Sparsity: 1}, ErrValue},
		{"precision bounds of another type", rawDouble(1), Index{Min: rawInt32(0), Max: rawInt32(7), Precision: i32p(1), Sparsity: 1}, ErrType},
	}
	for _, tc := range bad {
		_, err := EdgesForInsert(tc.v, tc.idx)
		if !errorsIsAny(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		}
	}
}

func TestMincoverForFind(t *testing.T) {
	idx := Index{Min: rawInt32(0), Max: rawInt32(7), Sparsity: 1, TrimFactor: i32p(0)}
	check := func(desc string, q Interval[bson.RawValue], idx Index, want []string) {
		t.Helper()
		got, err := MincoverForFind(q, idx)
		if err != nil || !sameStrings(got.Edges, want) {
			t.Errorf("%s: %+v, %v; want %q", desc, got, err, want)
		}
	}
	check("closed", Interval[bson.RawValue]{rawInt32(1), rawInt32(3), true, true}, idx, []string{"001", "01"})
	check("open lower", Interval[bson.RawValue]{rawInt32(1), rawInt32(3), false, true}, idx, []string{"01"})
	// An infinite double end is replaced by the index bound, included.
	check("-inf lower", Interval[bson.RawValue]{rawDouble(math.Inf(-1)), rawInt32(3), false, true}, idx, []string{"0"})
	check("+inf upper", Interval[bson.RawValue]{rawInt32(4), rawDouble(math.Inf(1)), true, false}, idx, []string{"1"})
	check("both infinite", Interval[bson.RawValue]{rawDouble(math.Inf(-1)), rawDouble(math.Inf(1)), false, false}, idx, []string{"root"})
	// Double index without precision: min and max matter only as open ends.
	didx := Index{Min: rawDouble(-math.MaxFloat64), Max: rawDouble(math.MaxFloat64), Sparsity: 2}
	want, _ := MincoverDouble(Interval[float64]{-math.MaxFloat64, 0, true, false}, nil, Options{Sparsity: 2})
	check("double open", Interval[bson.RawValue]{rawDouble(math.Inf(-1)), rawDouble(0), true, false}, didx, want.Edges)
	// Date index.
	check("date", Interval[bson.RawValue]{rawDate(1), rawDate(3), true, true},
		Index{Min: rawDate(0), Max: rawDate(7), Sparsity: 1, TrimFactor: i32p(0)}, []string{"001", "01"})

	bad := []struct {
		desc string
		q    Interval[bson.RawValue]
		idx  Index
		want error
	}{
		{"index types differ", Interval[bson.RawValue]{rawInt32(1), rawInt32(3), true, true}, Index{Min: rawInt32(0), Max: rawInt64(7), Sparsity: 1}, ErrType},
		{"lower type", Interval[bson.RawValue]{rawInt64(1), rawInt32(3), true, true}, idx, ErrType},
		{"upper type", Interval[bson.RawValue]{rawInt32(1), rawDouble(3), true, true}, idx, ErrType},
		{"finite double on int index", Interval[bson.RawValue]{rawDouble(1), rawInt32(3), true, true}, idx, ErrType},
		{"inverted", Interval[bson.RawValue]{rawInt32(3), rawInt32(1), true, true}, idx, ErrQuery},
		{"below min", Interval[bson.RawValue]{rawInt32(-3), rawInt32(-1), true, true}, idx, ErrQuery},
		{"string index", Interval[bson.RawValue]{rawInt32(1), rawInt32(3), true, true}, Index{Min: bson.RawValue{Type: bson.TypeString}, Max: bson.RawValue{Type: bson.TypeString}}, ErrType},
		{"absent index", Interval[bson.RawValue]{rawInt32(1), rawInt32(3), true, true}, Index{}, ErrType},
		{"short lower", Interval[bson.RawValue]{bson.RawValue{Type: bson.TypeInt32}, rawInt32(3), true, true}, idx, ErrValue},
	}
	for _, tc := range bad {
		_, err := MincoverForFind(tc.q, tc.idx)
		if !errorsIsAny(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		}
	}
}

// TestRangeOptsIndex: the find path takes the bounds with their defaults and
// leaves trimFactor to the mincover.
func TestRangeOptsIndex(t *testing.T) {
	o, err := ParseRangeOpts(ejson(t, `{"min": 0, "max": 7, "sparsity": {"$numberLong": "1"}, "trimFactor": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := indexOf(o, bson.TypeInt32)
	if err != nil || idx.TrimFactor == nil || *idx.TrimFactor != 3 {
		t.Fatalf("index: %+v, %v", idx, err)
	}
	_, err = MincoverForFind(Interval[bson.RawValue]{rawInt32(1), rawInt32(3), true, true}, idx)
	if !errorsIsAny(err, ErrTrimFactor) {
		t.Errorf("mincover with trimFactor 3 on 3 bits: %v", err)
	}
	if _, err := insertIndexOf(o, bson.TypeInt32); !errorsIsAny(err, ErrTrimFactor) {
		t.Errorf("insert index with trimFactor 3 on 3 bits: %v", err)
	}
	if _, err := indexOf(o, bson.TypeInt64); !errorsIsAny(err, ErrType) {
		t.Errorf("index of another type: %v", err)
	}
}

func errorsIsAny(err, target error) bool { return err != nil && errors.Is(err, target) }
