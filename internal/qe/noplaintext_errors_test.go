package qe

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// leakMarkers are the values and bounds of TestErrorsShowNoPlaintext in every notation they
// could be printed in.
var leakMarkers = []string{"987654", "9.87654e", "9.87654E", "424242", "515151", "31.415"}

func checkNoLeak(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", name)
	}
	for _, m := range leakMarkers {
		if strings.Contains(err.Error(), m) {
			t.Fatalf("%s: error %q shows %q", name, err, m)
		}
	}
}

func rawOf(t *testing.T, v any) bson.RawValue {
	t.Helper()
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return bson.RawValue{Type: typ, Value: data}
}

// TestErrorsShowNoPlaintext triggers the range errors of explicit encryption, of range
// expressions and of analysed placeholders with distinctive values and bounds: no error text
// holds a value to encrypt, a query bound or an index bound.
func TestErrorsShowNoPlaintext(t *testing.T) {
	keys := testKeys(t)
	rangeOpts := func(min, max any) *options.EncryptOptions {
		return &options.EncryptOptions{Algorithm: "Range", ContentionFactor: i64(0),
			RangeOptions: options.Range().SetMin(rawOf(t, min)).SetMax(rawOf(t, max)).SetSparsity(1)}
	}
	precisionOpts := func(min, max any, p int32) *options.EncryptOptions {
		o := rangeOpts(min, max)
		o.RangeOptions.SetPrecision(p)
		return o
	}
	encrypt := func(v any, o *options.EncryptOptions) error {
		p, err := ExplicitPlaceholder(rawOf(t, v), key12345678, o)
		if err != nil {
			return err
		}
		_, err = p.Encrypt(keys, nil)
		return err
	}
	d128 := func(s string) bson.Decimal128 {
		d, err := bson.ParseDecimal128(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		name string
		err  func() error
	}{
		{"int32 value above max", func() error { return encrypt(int32(987654), rangeOpts(int32(-424242), int32(424242))) }},
		{"int64 value below min", func() error { return encrypt(int64(-987654), rangeOpts(int64(-424242), int64(424242))) }},
		{"date value above max", func() error {
			return encrypt(bson.DateTime(987654), rangeOpts(bson.DateTime(-424242), bson.DateTime(424242)))
		}},
		{"double value above max", func() error { return encrypt(987654.5, precisionOpts(-424242.0, 424242.0, 1)) }},
		{"decimal128 value above max", func() error {
			return encrypt(d128("987654"), precisionOpts(d128("-424242"), d128("424242"), 1))
		}},
		{"int32 min above max", func() error { return encrypt(int32(1), rangeOpts(int32(515151), int32(-515151))) }},
		{"double min with more digits than the precision", func() error { return encrypt(1.0, precisionOpts(-31.415, 424242.0, 1)) }},
		{"decimal128 max with more digits than the precision", func() error {
			return encrypt(d128("1"), precisionOpts(d128("0"), d128("31.415"), 1))
		}},
		{"expression lower above the index max", func() error {
			o := rangeOpts(int32(-424242), int32(424242))
			o.QueryType = "range"
			_, err := EncryptExpression(extJSON(t, `{"$and": [{"age": {"$gt": 987654}}]}`), key12345678, o, keys, nil)
			return err
		}},
		{"expression upper below the index min", func() error {
			o := rangeOpts(int32(-424242), int32(424242))
			o.QueryType = "range"
			_, err := EncryptExpression(extJSON(t, `{"$and": [{"$lt": ["$age", -987654]}]}`), key12345678, o, keys, nil)
			return err
		}},
		{"analysed insert placeholder out of range", func() error {
			spec := rawOf(t, bson.D{{Key: "v", Value: int32(987654)}, {Key: "min", Value: int32(-424242)}, {Key: "max", Value: int32(424242)}})
			ph := &Placeholder{Type: PlaceholderInsert, Algorithm: AlgorithmRange, IndexKeyID: key12345678, UserKeyID: key12345678,
				Value: spec, Sparsity: 1}
			parsed, err := ParsePlaceholder(ph.Bytes())
			if err != nil {
				return err
			}
			_, err = parsed.Encrypt(keys, nil)
			return err
		}},
	} {
		checkNoLeak(t, c.name, c.err())
	}
}
