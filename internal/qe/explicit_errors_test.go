package qe

import (
	"bytes"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func rawString(s string) bson.RawValue {
	return bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, s)}
}

func rawInt32(n int32) bson.RawValue {
	return bson.RawValue{Type: bson.TypeInt32, Value: bsoncore.AppendInt32(nil, n)}
}

// TestExplicitOptionErrors checks libmongocrypt's refusals of explicit encryption options,
// in the order explicit_encrypt_init applies them.
func TestExplicitOptionErrors(t *testing.T) {
	cf := i64(0)
	prefix := options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 10})
	ranges := options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(10))
	alt := "name"
	cases := []struct {
		opts  options.EncryptOptions
		value bson.RawValue
		want  string
	}{
		{options.EncryptOptions{Algorithm: "RangePreview", ContentionFactor: cf}, rawInt32(1), "Algorithm 'rangePreview' is deprecated, please use 'range'"},
		{options.EncryptOptions{Algorithm: "rangepreview"}, rawInt32(1), "please use 'range'"},
		{options.EncryptOptions{Algorithm: "Range", QueryType: "rangePreview", ContentionFactor: cf}, rawInt32(1), "Query type 'rangePreview' is deprecated, please use 'range'"},
		{options.EncryptOptions{Algorithm: "textPreview"}, rawString("x"), "Algorithm 'textPreview' is deprecated, please use 'string'"},
		{options.EncryptOptions{Algorithm: "bogus"}, rawInt32(1), `unsupported algorithm string "bogus"`},
		{options.EncryptOptions{}, rawInt32(1), "algorithm or index type required"},
		{options.EncryptOptions{Algorithm: "Indexed", QueryType: "bogus", ContentionFactor: cf}, rawInt32(1), `Unsupported query_type "bogus"`},
		{options.EncryptOptions{Algorithm: "Indexed", ContentionFactor: cf, KeyAltName: &alt}, rawInt32(1), "cannot set both key alt name and index type"},
		{options.EncryptOptions{Algorithm: "Unindexed", ContentionFactor: cf}, rawInt32(1), "cannot set contention factor with no index type"},
		{options.EncryptOptions{Algorithm: "Unindexed", QueryType: "equality"}, rawInt32(1), "cannot set query type with no index type"},
		{options.EncryptOptions{Algorithm: "Indexed", QueryType: "prefix", ContentionFactor: cf}, rawString("x"), "prefix query type requires string index type"},
		{options.EncryptOptions{Algorithm: "Indexed", QueryType: "suffixPreview", ContentionFactor: cf}, rawString("x"), "suffix query type requires string index type"},
		{options.EncryptOptions{Algorithm: "Unindexed", RangeOptions: ranges}, rawInt32(1), "cannot set range opts with no index type"},
		{options.EncryptOptions{Algorithm: "Indexed", ContentionFactor: cf, RangeOptions: ranges}, rawInt32(1), "cannot set range opts with equality index type"},
		{options.EncryptOptions{Algorithm: "String", ContentionFactor: cf, RangeOptions: ranges, StringOptions: prefix}, rawString("x"), "cannot set range opts with 'string' algorithm"},
		{options.EncryptOptions{Algorithm: "Indexed", ContentionFactor: cf, StringOptions: prefix}, rawString("x"), "cannot set string opts without string index type"},
		{options.EncryptOptions{Algorithm: "Indexed"}, rawInt32(1), "contention factor is required for indexed algorithm"},
		{options.EncryptOptions{Algorithm: "Range", RangeOptions: ranges}, rawInt32(1), "contention factor is required for range indexed algorithm"},
		{options.EncryptOptions{Algorithm: "Range", ContentionFactor: cf}, rawInt32(1), "range opts are required for range indexed algorithm"},
		{options.EncryptOptions{Algorithm: "String", StringOptions: prefix}, rawString("x"), "contention factor is required for string algorithm"},
		{options.EncryptOptions{Algorithm: "String", ContentionFactor: cf}, rawString("x"), "string opts are required for string algorithm"},
		{options.EncryptOptions{Algorithm: "Indexed", QueryType: "range", ContentionFactor: cf}, rawInt32(1), "query_type (Range) must match index_type (Equality)"},
		{options.EncryptOptions{Algorithm: "Range", QueryType: "equality", ContentionFactor: cf, RangeOptions: ranges}, rawInt32(1), "query_type (Equality) must match index_type (Range)"},
		{options.EncryptOptions{Algorithm: "Range", QueryType: "range", ContentionFactor: cf, RangeOptions: ranges}, rawInt32(1), "Encrypt may not be used for range queries. Use EncryptExpression"},
		{options.EncryptOptions{Algorithm: "Indexed", ContentionFactor: cf}, bson.RawValue{Type: bson.TypeNull}, "invalid for encryption"},
		{options.EncryptOptions{Algorithm: "Unindexed"}, bson.RawValue{Type: bson.TypeMinKey}, "invalid for encryption"},
		{options.EncryptOptions{Algorithm: "Unindexed"}, bson.RawValue{Type: bson.TypeBinary, Value: bsoncore.AppendBinary(nil, 6, []byte{1})}, "BSON binary subtype 6 is invalid for encryption"},
		{options.EncryptOptions{Algorithm: "Unindexed"}, bson.RawValue{Type: bson.TypeInt32, Value: []byte{1}}, "not valid BSON"},
		{options.EncryptOptions{Algorithm: "Unindexed"}, bson.RawValue{Type: 0x42, Value: []byte{1}}, "invalid BSON value type"},
		{options.EncryptOptions{Algorithm: "String", ContentionFactor: cf, StringOptions: prefix}, rawInt32(1), "unsupported BSON type"},
		{options.EncryptOptions{Algorithm: "String", ContentionFactor: cf,
			StringOptions: options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 0, StrMaxQueryLength: 10})}, rawString("x"), "'strMinQueryLength' must be greater than zero"},
		{options.EncryptOptions{Algorithm: "Range", ContentionFactor: cf, RangeOptions: options.Range().SetMin(rawInt32(0)).SetMax(rawString("x"))}, rawInt32(1), "same type"},
		{options.EncryptOptions{Algorithm: "Range", ContentionFactor: cf, RangeOptions: options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(10)).SetTrimFactor(4)}, rawInt32(1), "trimFactor"},
	}
	for _, c := range cases {
		o := c.opts
		if _, err := ExplicitPlaceholder(c.value, key12345678, &o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.opts, err, c.want)
		}
	}
	if _, err := ExplicitPlaceholder(rawInt32(1), key12345678, nil); err == nil {
		t.Error("nil options accepted")
	}
}

func TestIsQEAlgorithm(t *testing.T) {
	for _, name := range []string{"Indexed", "indexed", "UNINDEXED", "Range", "string", "RangePreview", "textPreview"} {
		if !IsQEAlgorithm(name) {
			t.Errorf("IsQEAlgorithm(%q) = false", name)
		}
	}
	for _, name := range []string{"", "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic", "AEAD_AES_256_CBC_HMAC_SHA_512-Random", "Rangé", "ſtring"} {
		if IsQEAlgorithm(name) {
			t.Errorf("IsQEAlgorithm(%q) = true", name)
		}
	}
}

// TestExplicitPlaceholderShape checks the placeholders of explicit encryption: type,
// algorithm, keys, contention and the spec in v.
func TestExplicitPlaceholderShape(t *testing.T) {
	p, err := ExplicitPlaceholder(rawString("x"), keyABCDEFAB, &options.EncryptOptions{Algorithm: "indexed", QueryType: "EQUALITY", ContentionFactor: i64(3)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != PlaceholderFind || p.Algorithm != AlgorithmEquality || p.IndexKeyID != keyABCDEFAB || p.UserKeyID != keyABCDEFAB ||
		p.MaxContentionFactor != 3 || p.Value.StringValue() != "x" {
		t.Errorf("equality find: %+v", p)
	}
	p, err = ExplicitPlaceholder(rawInt32(5), keyABCDEFAB, &options.EncryptOptions{Algorithm: "Range", ContentionFactor: i64(0),
		RangeOptions: options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(10)).SetSparsity(3)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != PlaceholderInsert || p.Algorithm != AlgorithmRange || p.Sparsity != 3 {
		t.Errorf("range insert: %+v", p)
	}
	want := bsoncore.NewDocumentBuilder().AppendInt32("v", 5).AppendInt32("min", 0).AppendInt32("max", 10).Build()
	if !bytes.Equal(p.Value.Value, want) {
		t.Errorf("range insert spec = %s", bson.Raw(p.Value.Value))
	}
	// A placeholder of explicit encryption serializes to one that parses back the same.
	again, err := ParsePlaceholder(p.Bytes())
	if err != nil || again.Sparsity != 3 || !bytes.Equal(again.Value.Value, want) {
		t.Errorf("re-parse: %+v, %v", again, err)
	}
}

// TestEncryptExpressionForms checks that the aggregate form gives the same payloads as the
// match form, that the payloads of one expression share a payload id that the next
// expression increments, and that the second payload is a stub.
func TestEncryptExpressionForms(t *testing.T) {
	keys := testKeys(t)
	opts := &options.EncryptOptions{Algorithm: "Range", QueryType: "range", ContentionFactor: i64(4),
		RangeOptions: options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(200)).SetSparsity(1)}
	resetPayloadIDForTest()
	match, err := EncryptExpression(extJSON(t, `{"$and": [{"age": {"$gte": 23}}, {"age": {"$lt": 35}}]}`), keyABCDEFAB, opts, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	resetPayloadIDForTest()
	agg, err := EncryptExpression(extJSON(t, `{"$and": [{"$gte": ["$age", 23]}, {"$lt": ["$age", 35]}]}`), keyABCDEFAB, opts, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, a := encryptedBlobList(bsoncore.Document(match)), encryptedBlobList(bsoncore.Document(agg))
	if len(m) != 2 || len(a) != 2 {
		t.Fatalf("payload counts %d and %d", len(m), len(a))
	}
	if m[0].path != "$and.0.age.$gte" || a[0].path != "$and.0.$gte.1" || a[1].path != "$and.1.$lt.1" {
		t.Fatalf("paths %s, %s, %s", m[0].path, a[0].path, a[1].path)
	}
	for i := range m {
		if !bytes.Equal(m[i].data, a[i].data) {
			t.Fatalf("payload %d differs between forms", i)
		}
	}
	if got := bson.Raw(agg).Lookup("$and", "0", "$gte", "0").StringValue(); got != "$age" {
		t.Fatalf("aggregate field = %q", got)
	}
	first, second := bsoncore.Document(m[0].data[1:]), bsoncore.Document(m[1].data[1:])
	if first.Lookup("payloadId").Int32() != 0 || second.Lookup("payloadId").Int32() != 0 {
		t.Fatal("payloads of one expression must share payload id 0")
	}
	if _, err := second.LookupErr("payload"); err == nil {
		t.Fatal("second payload is not a stub")
	}
	if first.Lookup("firstOperator").Int32() != rangeOpGte || first.Lookup("secondOperator").Int32() != rangeOpLt {
		t.Fatal("operators")
	}
	next, err := EncryptExpression(extJSON(t, `{"$and": [{"age": {"$gt": 1}}]}`), keyABCDEFAB, opts, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	only := encryptedBlobList(bsoncore.Document(next))
	if len(only) != 1 || bsoncore.Document(only[0].data[1:]).Lookup("payloadId").Int32() != 1 {
		t.Fatal("the next expression must take payload id 1")
	}
}

func TestEncryptExpressionErrors(t *testing.T) {
	keys := testKeys(t)
	opts := &options.EncryptOptions{Algorithm: "Range", QueryType: "range", ContentionFactor: i64(0),
		RangeOptions: options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(200))}
	cases := []struct{ expr, want string }{
		{`{}`, "unable to find '$and'"},
		{`{"$or": []}`, "unable to find '$and'"},
		{`{"$and": {}}`, "expected '$and' to be array"},
		{`{"$and": [], "x": 1}`, "unexpected extra key 'x'"},
		{`{"$and": [1]}`, "expected document in '$and' array"},
		{`{"$and": [{}]}`, "unexpected empty '$and' array document"},
		{`{"$and": [{"age": {"$gt": 1}}, {"age": {"$gte": 2}}]}`, "unexpected duplicate bound $gte"},
		{`{"$and": [{"age": {"$gt": 1}}, {"height": {"$lt": 2}}]}`, "field mismatch"},
		{`{"$and": [{"age": {"$eq": 1}}]}`, "unsupported operator: $eq"},
		{`{"$and": [{"age": 1}]}`, "expected argument to be document"},
		{`{"$and": [{"age": {"$gt": 1, "$lt": 5}}]}`, "got > 1"},
		{`{"$and": [{"$gt": "x"}]}`, "expected argument to be array"},
		{`{"$and": [{"$gt": ["$age"]}]}`, "expected 2 elements in operand $gt, got 1"},
		{`{"$and": [{"$gt": [1, 2]}]}`, "expected UTF-8 as first element in $gt"},
		{`{"$and": [{"$gt": ["$age", 1]}, {"$eq": ["$age", 2]}]}`, "unsupported operator type $eq"},
		{`{"$and": [{"age": {"$gt": "x"}}]}`, "type"},
		{`{"$and": [{"age": {"$gt": 300}}]}`, "the range maximum"},
	}
	for _, c := range cases {
		_, err := EncryptExpression(extJSON(t, c.expr), key12345678, opts, keys, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.expr, err, c.want)
		}
	}
	eq := &options.EncryptOptions{Algorithm: "Indexed", QueryType: "equality", ContentionFactor: i64(0)}
	if _, err := EncryptExpression(extJSON(t, `{"$and": []}`), key12345678, eq, keys, nil); err == nil ||
		!strings.Contains(err.Error(), "EncryptExpression may only be used for range queries") {
		t.Errorf("equality expression: err = %v", err)
	}
	if _, err := EncryptExpression(bson.Raw{5, 0, 0}, key12345678, opts, keys, nil); err == nil {
		t.Error("truncated expression accepted")
	}
}
