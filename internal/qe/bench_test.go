package qe

import (
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe/text"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// rangeInsertPlaceholder returns a range insert placeholder of v with bounds min and max.
func rangeInsertPlaceholder(v, min, max bsoncore.Value, precision *int32, sparsity int64) *Placeholder {
	b := bsoncore.NewDocumentBuilder().AppendValue("v", v).AppendValue("min", min).AppendValue("max", max)
	if precision != nil {
		b.AppendInt32("precision", *precision)
	}
	return &Placeholder{Type: PlaceholderInsert, Algorithm: AlgorithmRange, IndexKeyID: key12345678, UserKeyID: key12345678,
		MaxContentionFactor: 8, Sparsity: sparsity, Value: bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: b.Build()}}
}

func i32v(n int32) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, n)}
}
func i64v(n int64) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, n)}
}
func f64v(f float64) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, f)}
}
func decv(s string) bsoncore.Value {
	d, err := bson.ParseDecimal128(s)
	if err != nil {
		panic(err)
	}
	h, l := d.GetBytes()
	return bsoncore.Value{Type: bsoncore.TypeDecimal128, Data: bsoncore.AppendDecimal128(nil, h, l)}
}

// BenchmarkRangeInsert measures FLE2InsertUpdatePayloadV2 with edges for each range type, at
// the default sparsity (2) and the default trimFactor; edges per payload are reported.
func BenchmarkRangeInsert(b *testing.B) {
	prec := int32(2)
	cases := []struct {
		name string
		p    *Placeholder
	}{
		{"int32", rangeInsertPlaceholder(i32v(123456), i32v(-1<<31), i32v(1<<31-1), nil, 2)},
		{"int64", rangeInsertPlaceholder(i64v(123456789), i64v(-1<<63), i64v(1<<63-1), nil, 2)},
		{"int64-sparsity1", rangeInsertPlaceholder(i64v(123456789), i64v(-1<<63), i64v(1<<63-1), nil, 1)},
		{"double", rangeInsertPlaceholder(f64v(3.25), f64v(-1e308), f64v(1e308), nil, 2)},
		{"double-precision", rangeInsertPlaceholder(f64v(3.25), f64v(-1e6), f64v(1e6), &prec, 2)},
		{"decimal128", rangeInsertPlaceholder(decv("3.25"), decv("-1E6144"), decv("1E6144"), nil, 2)},
	}
	keys := testKeys(b)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			blob, err := c.p.Encrypt(keys, nil)
			if err != nil {
				b.Fatal(err)
			}
			g, _ := bsoncore.Document(blob[1:]).Lookup("g").Array().Values()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.p.Encrypt(keys, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(g)), "edges/op")
		})
	}
}

// BenchmarkRangeFind measures FLE2FindRangePayloadV2 of a wide int64 query.
func BenchmarkRangeFind(b *testing.B) {
	info := bsoncore.NewDocumentBuilder().AppendInt64("lowerBound", -123456789).AppendBoolean("lbIncluded", true).
		AppendInt64("upperBound", 987654321987).AppendBoolean("ubIncluded", false).
		AppendInt64("indexMin", -1<<63).AppendInt64("indexMax", 1<<63-1).Build()
	v := bsoncore.NewDocumentBuilder().AppendDocument("edgesInfo", info).AppendInt32("payloadId", 1).AppendInt32("firstOperator", rangeOpGte).Build()
	p := &Placeholder{Type: PlaceholderFind, Algorithm: AlgorithmRange, IndexKeyID: key12345678, UserKeyID: key12345678,
		Sparsity: 2, Value: bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: v}}
	keys := testKeys(b)
	blob, err := p.Encrypt(keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	g, _ := bsoncore.Document(blob[1:]).Lookup("payload", "g").Array().Values()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Encrypt(keys, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(g)), "edges/op")
}

// textInsertPlaceholder returns a text search insert of s with the given index kinds.
func textInsertPlaceholder(s string, spec text.Spec) *Placeholder {
	spec.Value = s
	return &Placeholder{Type: PlaceholderInsert, Algorithm: AlgorithmText, IndexKeyID: key12345678, UserKeyID: key12345678,
		MaxContentionFactor: 8, Value: bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: text.AppendSpec(nil, &spec)}}
}

// BenchmarkTextInsert measures text search inserts of long strings: prefix+suffix indexes
// up to 1000 code points, and substring indexes (which grow quadratically with the string
// length up to strMaxQueryLength). Token sets per payload are reported.
func BenchmarkTextInsert(b *testing.B) {
	long := strings.Repeat("Größenwahn und Übermut, ", 40) // 960 code points, 1040 bytes
	affix := text.Spec{CaseFold: true, DiacriticFold: true,
		Prefix: &text.AffixSpec{LB: 2, UB: 1000}, Suffix: &text.AffixSpec{LB: 2, UB: 1000}}
	cases := []struct {
		name string
		p    *Placeholder
	}{
		{"prefix-suffix-960cp", textInsertPlaceholder(long, affix)},
		{"substring-960cp-ub10", textInsertPlaceholder(long, text.Spec{CaseFold: true,
			Substring: &text.SubstringSpec{MLen: 1000, LB: 3, UB: 10}})},
		{"substring-200cp-ub50", textInsertPlaceholder(long[:210], text.Spec{
			Substring: &text.SubstringSpec{MLen: 1000, LB: 3, UB: 50}})},
	}
	keys := testKeys(b)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			blob, err := c.p.Encrypt(keys, nil)
			if err != nil {
				b.Fatal(err)
			}
			bs := bsoncore.Document(blob[1:]).Lookup("b").Document()
			n := 1
			for _, k := range []string{"s", "u", "p"} {
				vals, _ := bs.Lookup(k).Array().Values()
				n += len(vals)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.p.Encrypt(keys, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "tokensets/op")
			b.ReportMetric(float64(len(blob)), "payload-bytes")
		})
	}
}

// BenchmarkDecryptIndexed measures decryption of a stored equality value (two keys, two
// ciphers).
func BenchmarkDecryptIndexed(b *testing.B) {
	v := loadIEVVectors(b)["FLECrudTest-insertOneV2.json"]
	blob, keys := mustHex(b, v.Payload), v.keys(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(blob, keys); err != nil {
			b.Fatal(err)
		}
	}
}
