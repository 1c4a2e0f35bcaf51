package qerewrite

import (
	"bytes"
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// fuzzSeeds are documents and filters with every payload kind, plaintext in
// encrypted fields, and operators.
func fuzzSeeds(t testing.TB) [][]byte {
	s := testSchema(t)
	p11 := payload11(s.Field("eq"), "secret-one")
	full, stub := payload13(7, rangeGte, rangeLte, false), payload13(7, rangeGte, rangeLte, true)
	return [][]byte{
		mustRaw(bson.D{{Key: "_id", Value: 1}, {Key: "eq", Value: p11}, {Key: "a", Value: bson.D{{Key: "rng", Value: payload11(s.Field("a.rng"), "secret-two")}}}}),
		mustRaw(bson.D{{Key: "eq", Value: "secret-plain"}, {Key: "un", Value: "secret-unindexed"}}),
		mustRaw(bson.D{{Key: "a", Value: bson.A{bson.D{{Key: "rng", Value: "secret-in-array"}}}}}),
		mustRaw(bson.D{{Key: "eq", Value: bson.D{{Key: "$in", Value: bson.A{payload12("x"), "secret-mixed"}}}}}),
		mustRaw(bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}, {Key: "$lte", Value: stub}}}}),
		mustRaw(bson.D{{Key: "$expr", Value: bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "$gte", Value: bson.A{"$a.rng", full}}}, bson.D{{Key: "$lte", Value: bson.A{"$a.rng", stub}}}}}}}}),
		mustRaw(bson.D{{Key: "$expr", Value: bson.D{{Key: "$encStrStartsWith", Value: bson.D{{Key: "input", Value: "$txt"}, {Key: "prefix", Value: payload18("ab")}}}}}}),
		mustRaw(bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "eq", Value: bson.D{{Key: "$ne", Value: payload12("y")}}}}, bson.D{{Key: "eq", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$eq", Value: payload12("z")}}}}}}}}}),
		mustRaw(bson.D{{Key: "$set", Value: bson.D{{Key: "eq", Value: p11}, {Key: "un", Value: "secret-set"}}}}),
	}
}

// encryptedValues returns the values at the schema's encrypted paths in d (as
// BSON value bytes and, for strings, the string), for the no-leak check.
func encryptedValues(s *Schema, d bsoncore.Document) [][]byte {
	var out [][]byte
	var walk func(d bsoncore.Document, prefix string)
	walk = func(d bsoncore.Document, prefix string) {
		elems, err := d.Elements()
		if err != nil {
			return
		}
		for _, e := range elems {
			path := join(prefix, e.Key())
			v := e.Value()
			if s.underField(path) != nil {
				if str, ok := v.StringValueOK(); ok && len(str) >= 4 {
					out = append(out, []byte(str))
				}
				if len(v.Data) >= 8 {
					out = append(out, v.Data)
				}
			}
			if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeArray {
				walk(v.Data, path)
			}
		}
	}
	walk(d, "")
	return out
}

func checkNoLeak(t *testing.T, s *Schema, in []byte, err error) {
	if err == nil {
		return
	}
	msg := []byte(err.Error())
	if bytes.Contains(msg, []byte("secret")) {
		t.Fatalf("error holds a value: %v", err)
	}
	if bsoncore.Document(in).Validate() != nil {
		return
	}
	for _, v := range encryptedValues(s, in) {
		if bytes.Contains(msg, v) {
			t.Fatalf("error %q holds the value of an encrypted field", msg)
		}
	}
}

func FuzzFilter(f *testing.F) {
	seeds := fuzzSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s := testSchema(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		out, err := s.Filter(ctx, in, &fakeCrypto{})
		checkNoLeak(t, s, in, err)
		if err == nil && HasPayload(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: out}) {
			t.Fatalf("payload left in %v", bson.Raw(out))
		}
		_, err = s.Pipeline(ctx, in, &fakeCrypto{})
		checkNoLeak(t, s, in, err)
		_, err = s.Update(ctx, in, &fakeCrypto{})
		checkNoLeak(t, s, in, err)
	})
}

func FuzzInsertDocument(f *testing.F) {
	seeds := fuzzSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s := testSchema(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &fakeCrypto{}
		out, err := s.InsertDocument(context.Background(), in, c)
		checkNoLeak(t, s, in, err)
		if err != nil {
			if c.inserts != 0 {
				t.Fatalf("Crypto.Insert called for a refused document")
			}
			return
		}
		if err := s.Validate(out); err != nil {
			t.Fatalf("stored document fails the validator: %v", err)
		}
		if _, err := s.RemovedTags(out, in, c); err != nil {
			checkNoLeak(t, s, in, err)
		}
	})
}
