package qerewrite

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var (
	key1 = bytes.Repeat([]byte{1}, 16)
	key2 = bytes.Repeat([]byte{2}, 16)
	key3 = bytes.Repeat([]byte{3}, 16)
	key4 = bytes.Repeat([]byte{4}, 16)
	key5 = bytes.Repeat([]byte{5}, 16)
)

// testSchema has an equality, an unindexed, a nested range and a text field.
func testSchema(t testing.TB) *Schema {
	t.Helper()
	ef := bson.D{
		{Key: "escCollection", Value: "enxcol_.coll.esc"},
		{Key: "ecocCollection", Value: "enxcol_.coll.ecoc"},
		{Key: "fields", Value: bson.A{
			bson.D{{Key: "path", Value: "eq"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}, {Key: "bsonType", Value: "string"},
				{Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}, {Key: "contention", Value: int64(0)}}}},
			bson.D{{Key: "path", Value: "un"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key2}}, {Key: "bsonType", Value: "string"}},
			bson.D{{Key: "path", Value: "a.rng"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key3}}, {Key: "bsonType", Value: "int"},
				{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"}, {Key: "sparsity", Value: int64(1)}, {Key: "min", Value: int32(0)}, {Key: "max", Value: int32(200)}}}},
			bson.D{{Key: "path", Value: "txt"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key4}}, {Key: "bsonType", Value: "string"},
				{Key: "queries", Value: bson.A{bson.D{{Key: "queryType", Value: "prefix"}, {Key: "strMinQueryLength", Value: int64(2)}, {Key: "strMaxQueryLength", Value: int64(10)}, {Key: "caseSensitive", Value: true}, {Key: "diacriticSensitive", Value: true}}}}},
		}},
	}
	s, err := ParseEncryptedFields(mustRaw(ef))
	if err != nil {
		t.Fatalf("ParseEncryptedFields: %v", err)
	}
	return s
}

func wantCode(t *testing.T, err error, code int32) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want *Error with code %d", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code %d (%s), want %d", e.Code, e.Msg, code)
	}
}

func TestInsertDocument(t *testing.T) {
	s := testSchema(t)
	c := &fakeCrypto{}
	eqP := payload11(s.Field("eq"), "secret-eq")
	rngP := payload11(s.Field("a.rng"), "secret-rng")
	un := bson.Binary{Subtype: 6, Data: append(append([]byte{16}, key2...), 2, 9, 9, 9)}
	doc := mustRaw(bson.D{{Key: "_id", Value: 1}, {Key: "eq", Value: eqP}, {Key: "un", Value: un}, {Key: "a", Value: bson.D{{Key: "rng", Value: rngP}, {Key: "x", Value: 1}}}})
	out, err := s.InsertDocument(context.Background(), doc, c)
	if err != nil {
		t.Fatal(err)
	}
	if c.inserts != 2 {
		t.Fatalf("Insert called %d times, want 2", c.inserts)
	}
	sc := out.Lookup(SafeContent).Array()
	vals, _ := sc.Values()
	if len(vals) != 2 {
		t.Fatalf("__safeContent__ has %d tags, want 2: %v", len(vals), out)
	}
	for i, p := range []bson.Binary{eqP, rngP} {
		st, data := vals[i].Binary()
		if st != 0 || !bytes.Equal(data, fakeTag(p.Data)) {
			t.Errorf("tag %d = %x, want BinData 0 %x", i, data, fakeTag(p.Data))
		}
	}
	if st, data := out.Lookup("eq").Binary(); st != 6 || data[0] != 14 {
		t.Errorf("eq stored as subtype %d/%d, want 6/14", st, data[0])
	}
	if st, data := out.Lookup("a", "rng").Binary(); st != 6 || data[0] != 15 {
		t.Errorf("a.rng stored as subtype %d/%d, want 6/15", st, data[0])
	}
	if !bytes.Equal(out.Lookup("un").Value, doc.Lookup("un").Value) {
		t.Errorf("unindexed value changed")
	}
	if HasPayload(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: out}) {
		t.Errorf("stored document still has a payload")
	}
}

func TestInsertDocumentErrors(t *testing.T) {
	s := testSchema(t)
	eqP := payload11(s.Field("eq"), "v")
	other := *s.Field("eq")
	other.KeyID = key5
	rangeWithEqKey := *s.Field("a.rng")
	rangeWithEqKey.KeyID = key1
	for _, tc := range []struct {
		name string
		doc  bson.D
		code int32
	}{
		{"plaintext in equality field", bson.D{{Key: "eq", Value: "plain-secret"}}, 121},
		{"plaintext in unindexed field", bson.D{{Key: "un", Value: "plain-secret"}}, 121},
		{"plaintext in nested range field", bson.D{{Key: "a", Value: bson.D{{Key: "rng", Value: 42}}}}, 121},
		{"array on encrypted path", bson.D{{Key: "a", Value: bson.A{bson.D{{Key: "rng", Value: 1}}}}}, 121},
		{"safeContent", bson.D{{Key: "x", Value: 1}, {Key: SafeContent, Value: bson.A{}}}, 6666200},
		{"payload in unencrypted field", bson.D{{Key: "plain", Value: eqP}}, 6726300},
		{"payload under array", bson.D{{Key: "list", Value: bson.A{eqP}}}, 6726300},
		{"payload 11 in unindexed field", bson.D{{Key: "un", Value: payload11(s.Field("un"), "v")}}, 6373601},
		{"wrong key", bson.D{{Key: "eq", Value: payload11(&other, "v")}}, 6726301},
		{"payload with another field's key", bson.D{{Key: "eq", Value: payload11(s.Field("a.rng"), "v")}}, 6726301},
		{"range payload in equality field", bson.D{{Key: "eq", Value: payload11(&rangeWithEqKey, "v")}}, CodeBadValue},
		{"find payload in encrypted field", bson.D{{Key: "eq", Value: payload12("v")}}, 121},
		{"placeholder", bson.D{{Key: "x", Value: bson.Binary{Subtype: 6, Data: []byte{3, 5, 0, 0, 0, 0}}}}, 6373504},
		{"wrong type of unindexed value", bson.D{{Key: "un", Value: bson.Binary{Subtype: 6, Data: append(append([]byte{16}, key2...), 16, 1)}}}, 121},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeCrypto{}
			_, err := s.InsertDocument(context.Background(), mustRaw(tc.doc), c)
			wantCode(t, err, tc.code)
			if c.inserts != 0 {
				t.Errorf("Crypto.Insert called for a refused document")
			}
			if bytes.Contains([]byte(err.Error()), []byte("secret")) {
				t.Errorf("error text holds a value: %v", err)
			}
		})
	}
}

func TestFilterEquality(t *testing.T) {
	s := testSchema(t)
	p := payload12("x")
	tag := bson.Binary{Subtype: 0, Data: fakeTag(p.Data)}
	want := mustRaw(bson.D{{Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{tag}}}}})
	for _, tc := range []struct {
		name   string
		filter bson.D
		want   bson.Raw
	}{
		{"$eq", bson.D{{Key: "eq", Value: bson.D{{Key: "$eq", Value: p}}}}, want},
		{"implicit", bson.D{{Key: "eq", Value: p}}, want},
		{"$in", bson.D{{Key: "eq", Value: bson.D{{Key: "$in", Value: bson.A{p}}}}}, want},
		{"$ne", bson.D{{Key: "eq", Value: bson.D{{Key: "$ne", Value: p}}}}, mustRaw(bson.D{{Key: "$nor", Value: bson.A{want}}})},
		{"with other field", bson.D{{Key: "_id", Value: 1}, {Key: "eq", Value: p}},
			mustRaw(bson.D{{Key: "_id", Value: 1}, {Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{tag}}}}})},
		{"$expr $eq", bson.D{{Key: "$expr", Value: bson.D{{Key: "$eq", Value: bson.A{"$eq", p}}}}}, want},
		{"$or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "eq", Value: p}}, bson.D{{Key: "x", Value: 1}}}}},
			mustRaw(bson.D{{Key: "$or", Value: bson.A{want, bson.D{{Key: "x", Value: 1}}}}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Filter(context.Background(), mustRaw(tc.filter), &fakeCrypto{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
	plain := mustRaw(bson.D{{Key: "x", Value: 1}})
	got, err := s.Filter(context.Background(), plain, &fakeCrypto{})
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("filter without payload: %v, %v", got, err)
	}
}
