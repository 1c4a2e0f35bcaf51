package rangeenc

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ejson converts relaxed extended JSON to BSON (a plain number is an int32
// when it fits, an int64 otherwise; a number with a point is a double).
func ejson(t testing.TB, s string) bson.Raw {
	t.Helper()
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Cases of libmongocrypt's test/test-mc-rangeopts.c, as values.
func TestParseRangeOpts(t *testing.T) {
	tests := []struct {
		desc, in  string
		err       *wantErr
		min, max  int32 // int32 bounds expected when set
		hasBounds bool
		sparsity  int64
		precision *int32
		tf        *int32
	}{
		{desc: "works", in: `{"min": 123, "max": 456, "sparsity": {"$numberLong": "1"}}`, hasBounds: true, min: 123, max: 456, sparsity: 1},
		{desc: "precision with int bounds", in: `{"min": 123, "max": 456, "precision": 2, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"precision applies to a double or decimal128 index, but min is int32"}}},
		{desc: "extra field", in: `{"min": 123, "max": 456, "sparsity": {"$numberLong": "1"}, "foo": 1}`,
			err: &wantErr{ErrRangeOpts, []string{`unknown field "foo"`}}},
		{desc: "mismatched bounds", in: `{"min": 123, "max": 456.0, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"min and max must have the same type, got int32 min and double max"}}},
		{desc: "no bounds", in: `{"sparsity": {"$numberLong": "1"}}`, sparsity: 1},
		{desc: "double bounds without precision", in: `{"min": 0.0, "max": 1.0, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"double min requires precision"}}},
		{desc: "precision without bounds", in: `{"precision": 1, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"precision requires min"}}},
		{desc: "double min only", in: `{"min": 0.0, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"double min requires precision"}}},
		{desc: "double max only", in: `{"max": 0.0}`, err: &wantErr{ErrRangeOpts, []string{"double max requires precision"}}},
		{desc: "precision without max", in: `{"min": 0.0, "precision": 1}`, err: &wantErr{ErrRangeOpts, []string{"precision requires max"}}},
		{desc: "trimFactor", in: `{"trimFactor": 1, "sparsity": {"$numberLong": "1"}}`, sparsity: 1, tf: i32p(1)},
		{desc: "default sparsity", in: `{"min": 123, "max": 456}`, hasBounds: true, min: 123, max: 456, sparsity: DefaultSparsity},
		{desc: "negative trimFactor", in: `{"trimFactor": -1, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrTrimFactor, []string{"trimFactor must be non-negative"}}},
		{desc: "negative sparsity", in: `{"sparsity": {"$numberLong": "-1"}}`, err: &wantErr{ErrSparsity, []string{"sparsity must be non-negative"}}},
		{desc: "negative precision", in: `{"min": 0.0, "max": 1.0, "precision": -1}`, err: &wantErr{ErrPrecision, []string{"precision must be non-negative"}}},
		{desc: "int32 sparsity", in: `{"sparsity": 1}`, err: &wantErr{ErrRangeOpts, []string{"sparsity must be an int64, got int32"}}},
		{desc: "int64 precision", in: `{"min": 0.0, "max": 1.0, "precision": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{"precision must be an int32, got int64"}}},
		{desc: "double trimFactor", in: `{"trimFactor": 1.0}`, err: &wantErr{ErrRangeOpts, []string{"trimFactor must be an int32, got double"}}},
		{desc: "duplicate", in: `{"sparsity": {"$numberLong": "1"}, "sparsity": {"$numberLong": "1"}}`,
			err: &wantErr{ErrRangeOpts, []string{`field "sparsity" appears twice`}}},
		{desc: "decimal with precision", in: `{"min": {"$numberDecimal": "0"}, "max": {"$numberDecimal": "1"}, "precision": 2}`,
			sparsity: DefaultSparsity, precision: i32p(2)},
	}
	for _, tc := range tests {
		o, err := ParseRangeOpts(ejson(t, tc.in))
		if tc.err != nil {
			tc.err.check(t, tc.desc, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		if o.Sparsity != tc.sparsity || !sameOptInt(o.TrimFactor, tc.tf) || !sameOptInt(o.Precision, tc.precision) {
			t.Errorf("%s: got %+v", tc.desc, o)
		}
		if tc.hasBounds && (o.Min.Int32() != tc.min || o.Max.Int32() != tc.max) {
			t.Errorf("%s: bounds %v %v", tc.desc, o.Min, o.Max)
		}
		if !tc.hasBounds && tc.precision == nil && (o.Min.Type != 0 || o.Max.Type != 0) {
			t.Errorf("%s: unexpected bounds %v %v", tc.desc, o.Min, o.Max)
		}
	}
	for _, bad := range [][]byte{nil, {5, 0, 0, 0}, {5, 0, 0, 0, 1}, {12, 0, 0, 0, 0x10, 'm', 'i', 'n', 0, 1, 0, 0}} {
		if _, err := ParseRangeOpts(bad); err == nil {
			t.Errorf("ParseRangeOpts(%x) accepted", bad)
		}
	}
}

func sameOptInt(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// TestParseRangeOptsNoAlias: the parsed bounds do not alias the input.
func TestParseRangeOptsNoAlias(t *testing.T) {
	doc := ejson(t, `{"min": 1, "max": 2}`)
	o, err := ParseRangeOpts(doc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		doc[i] = 0xff
	}
	if o.Min.Int32() != 1 || o.Max.Int32() != 2 {
		t.Errorf("bounds changed with the input: %v %v", o.Min, o.Max)
	}
}

// Cases of libmongocrypt's test_mc_RangeOpts_to_FLE2RangeInsertSpec, as
// values: the inner FLE2RangeInsertSpec document.
func TestInsertSpec(t *testing.T) {
	trimErr := func(tf, bits string) *wantErr {
		return &wantErr{ErrTrimFactor, []string{"trimFactor " + tf + " must be less than the number of bits (" + bits + ")"}}
	}
	tests := []struct {
		desc, in, v, want string
		err               *wantErr
	}{
		{desc: "works", in: `{"min": 123, "max": 456, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 789}`,
			want: `{"v": 789, "min": 123, "max": 456}`},
		{desc: "precision", in: `{"min": 123.0, "max": 456.0, "precision": 2, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 789.0}`,
			want: `{"v": 789.0, "min": 123.0, "max": 456.0, "precision": 2}`},
		{desc: "tf 0", in: `{"trimFactor": 0, "min": 0, "max": 1, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			want: `{"v": 0, "min": 0, "max": 1, "trimFactor": 0}`},
		{desc: "tf 1, 2 values", in: `{"trimFactor": 1, "min": 0, "max": 1, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			err: trimErr("1", "1")},
		{desc: "tf 1, 3 values", in: `{"trimFactor": 1, "min": 0, "max": 2, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			want: `{"v": 0, "min": 0, "max": 2, "trimFactor": 1}`},
		{desc: "tf 2, 3 values", in: `{"trimFactor": 2, "min": 0, "max": 2, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			err: trimErr("2", "2")},
		{desc: "tf 31 int32", in: `{"trimFactor": 31, "min": -2147483648, "max": 2147483647, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			want: `{"v": 0, "min": -2147483648, "max": 2147483647, "trimFactor": 31}`},
		{desc: "tf 32 int32", in: `{"trimFactor": 32, "min": -2147483648, "max": 2147483647, "sparsity": {"$numberLong": "1"}}`, v: `{"v": 0}`,
			err: trimErr("32", "32")},
		{desc: "tf 63 int64", in: `{"trimFactor": 63, "min": {"$numberLong": "-9223372036854775808"}, "max": {"$numberLong": "9223372036854775807"}}`,
			v:    `{"v": {"$numberLong": "0"}}`,
			want: `{"v": {"$numberLong": "0"}, "min": {"$numberLong": "-9223372036854775808"}, "max": {"$numberLong": "9223372036854775807"}, "trimFactor": 63}`},
		{desc: "tf 64 int64", in: `{"trimFactor": 64, "min": {"$numberLong": "-9223372036854775808"}, "max": {"$numberLong": "9223372036854775807"}}`,
			v: `{"v": {"$numberLong": "0"}}`, err: trimErr("64", "64")},
		{desc: "tf 63 date", in: `{"trimFactor": 63, "min": {"$date": {"$numberLong": "-9223372036854775808"}}, "max": {"$date": {"$numberLong": "9223372036854775807"}}}`,
			v:    `{"v": {"$date": {"$numberLong": "0"}}}`,
			want: `{"v": {"$date": {"$numberLong": "0"}}, "min": {"$date": {"$numberLong": "-9223372036854775808"}}, "max": {"$date": {"$numberLong": "9223372036854775807"}}, "trimFactor": 63}`},
		{desc: "tf 64 date", in: `{"trimFactor": 64, "min": {"$date": {"$numberLong": "-9223372036854775808"}}, "max": {"$date": {"$numberLong": "9223372036854775807"}}}`,
			v: `{"v": {"$date": {"$numberLong": "0"}}}`, err: trimErr("64", "64")},
		{desc: "tf 9 double precision", in: `{"trimFactor": 9, "min": 0.0, "max": 100.0, "precision": 1}`, v: `{"v": 0.0}`,
			want: `{"v": 0.0, "min": 0.0, "max": 100.0, "precision": 1, "trimFactor": 9}`},
		{desc: "tf 10 double precision", in: `{"trimFactor": 10, "min": 0.0, "max": 100.0, "precision": 1}`, v: `{"v": 0.0}`,
			err: trimErr("10", "10")},
		{desc: "tf 63 double", in: `{"trimFactor": 63}`, v: `{"v": 0.0}`,
			want: `{"v": 0.0, "min": {"$numberDouble": "-1.7976931348623157081e+308"}, "max": {"$numberDouble": "1.7976931348623157081e+308"}, "trimFactor": 63}`},
		{desc: "tf 64 double", in: `{"trimFactor": 64}`, v: `{"v": 0.0}`, err: trimErr("64", "64")},
		{desc: "tf 9 decimal precision", in: `{"trimFactor": 9, "min": {"$numberDecimal": "0"}, "max": {"$numberDecimal": "100"}, "precision": 1}`,
			v:    `{"v": {"$numberDecimal": "0"}}`,
			want: `{"v": {"$numberDecimal": "0"}, "min": {"$numberDecimal": "0"}, "max": {"$numberDecimal": "100"}, "precision": 1, "trimFactor": 9}`},
		{desc: "tf 10 decimal precision", in: `{"trimFactor": 10, "min": {"$numberDecimal": "0"}, "max": {"$numberDecimal": "100"}, "precision": 1}`,
			v: `{"v": {"$numberDecimal": "0"}}`, err: trimErr("10", "10")},
		{desc: "tf 127 decimal", in: `{"trimFactor": 127}`, v: `{"v": {"$numberDecimal": "0"}}`,
			want: `{"v": {"$numberDecimal": "0"}, "min": {"$numberDecimal": "-9.999999999999999999999999999999999E+6144"}, "max": {"$numberDecimal": "9.999999999999999999999999999999999E+6144"}, "trimFactor": 127}`},
		{desc: "tf 128 decimal", in: `{"trimFactor": 128}`, v: `{"v": {"$numberDecimal": "0"}}`, err: trimErr("128", "128")},
		// Further checks of the defaults and types.
		{desc: "int32 needs min", in: `{"max": 1}`, v: `{"v": 0}`, err: &wantErr{ErrBounds, []string{"range option min is required for type int32"}}},
		{desc: "int64 needs max", in: `{"min": {"$numberLong": "1"}}`, v: `{"v": {"$numberLong": "0"}}`,
			err: &wantErr{ErrBounds, []string{"range option max is required for type int64"}}},
		{desc: "min of another type", in: `{"min": 0, "max": 1}`, v: `{"v": {"$numberLong": "0"}}`,
			err: &wantErr{ErrType, []string{"range option min has type int32 but the value has type int64"}}},
		{desc: "string value", in: `{}`, v: `{"v": "x"}`, err: &wantErr{ErrType, []string{"string cannot be range-indexed"}}},
	}
	for _, tc := range tests {
		o, err := ParseRangeOpts(ejson(t, tc.in))
		if err != nil {
			t.Fatalf("%s: parse: %v", tc.desc, err)
		}
		v := ejson(t, tc.v).Lookup("v")
		got, err := o.InsertSpec(v)
		if tc.err != nil {
			tc.err.check(t, tc.desc, err)
			if _, ierr := insertIndexOf(o, v.Type); ierr == nil {
				t.Errorf("%s: the index accepted what InsertSpec refused", tc.desc)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		if want := ejson(t, tc.want); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.desc, got, want)
		}
		idx, err := insertIndexOf(o, v.Type)
		if err != nil || !idx.Min.Equal(got.Lookup("min")) || !idx.Max.Equal(got.Lookup("max")) || idx.Sparsity != o.Sparsity {
			t.Errorf("%s: index = %+v, %v", tc.desc, idx, err)
		}
	}
	// Missing value.
	o := &RangeOpts{Sparsity: 1}
	if _, err := o.InsertSpec(bson.RawValue{}); err == nil {
		t.Error("InsertSpec of an absent value accepted")
	}
}

func TestDomainBits(t *testing.T) {
	raw := func(s string) bson.RawValue { return ejson(t, `{"x": `+s+`}`).Lookup("x") }
	none := bson.RawValue{}
	tests := []struct {
		t        bson.Type
		min, max bson.RawValue
		p        *int32
		want     int
		err      error
	}{
		{bson.TypeInt32, none, none, nil, 32, nil},
		{bson.TypeInt64, none, none, nil, 64, nil},
		{bson.TypeDateTime, none, none, nil, 64, nil},
		{bson.TypeDouble, none, none, nil, 64, nil},
		{bson.TypeDecimal128, none, none, nil, 128, nil},
		{bson.TypeInt32, raw("0"), raw("1"), nil, 1, nil},
		{bson.TypeInt32, raw("0"), raw("2"), nil, 2, nil},
		{bson.TypeInt32, raw("-2147483648"), raw("2147483647"), nil, 32, nil},
		{bson.TypeDouble, raw("0.0"), raw("100.0"), i32p(1), 10, nil},
		{bson.TypeDecimal128, raw(`{"$numberDecimal": "0"}`), raw(`{"$numberDecimal": "100"}`), i32p(1), 10, nil},
		{bson.TypeInt32, raw("1"), raw("1"), nil, 0, ErrBounds},
		{bson.TypeInt32, raw("0"), none, nil, 0, ErrBounds},
		{bson.TypeInt32, raw(`{"$numberLong": "0"}`), raw(`{"$numberLong": "1"}`), nil, 0, ErrType},
		{bson.TypeDouble, raw("0.0"), raw("1.0"), nil, 0, ErrPrecision},
		{bson.TypeDouble, none, none, i32p(1), 0, ErrPrecision},
		{bson.TypeString, none, none, nil, 0, ErrType},
	}
	for i, tc := range tests {
		got, err := DomainBits(tc.t, tc.min, tc.max, tc.p)
		if tc.err != nil {
			if err == nil || !errors.Is(err, tc.err) {
				t.Errorf("case %d: err %v, want %v", i, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("case %d: DomainBits = %d, %v; want %d", i, got, err, tc.want)
		}
	}
	// The decimal128 defaults are the largest finite values.
	lo, _ := (&RangeOpts{}).IndexMin(bson.TypeDecimal128)
	if d := lo.Decimal128(); d != decLargestNegative || d.String() != "-9.999999999999999999999999999999999E+6144" {
		t.Errorf("decimal128 default min %v", d)
	}
	hi, _ := (&RangeOpts{}).IndexMax(bson.TypeDouble)
	if hi.Double() != math.MaxFloat64 {
		t.Errorf("double default max %v", hi)
	}
}

// indexOf is the index of a range query on values of type t that o
// describes, as libmongocrypt builds the FLE2RangeFindSpec of explicit
// encryption: the bounds with their defaults, o's precision, sparsity and
// trimFactor (trimFactor is left to the mincover).
func indexOf(o *RangeOpts, t bson.Type) (Index, error) {
	lo, err := o.IndexMin(t)
	if err != nil {
		return Index{}, err
	}
	hi, err := o.IndexMax(t)
	if err != nil {
		return Index{}, err
	}
	return Index{Min: lo, Max: hi, Precision: o.Precision, Sparsity: o.Sparsity, TrimFactor: o.TrimFactor}, nil
}

// insertIndexOf is indexOf for an insert, which also checks trimFactor
// against the domain, as libmongocrypt does when it builds the
// FLE2RangeInsertSpec.
func insertIndexOf(o *RangeOpts, t bson.Type) (Index, error) {
	idx, err := indexOf(o, t)
	if err != nil {
		return Index{}, err
	}
	if err := o.CheckTrimFactor(t); err != nil {
		return Index{}, err
	}
	return idx, nil
}
