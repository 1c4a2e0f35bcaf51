package qe

import (
	"bytes"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe/text"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FuzzPlaceholderEncrypt feeds arbitrary placeholders through parsing and encryption: the
// range insert and find specs, the text search specs, edges, mincovers and string sets must
// give payloads or errors, never panics. Seeds are the placeholders of the test data and the
// explicit encryption cases.
func FuzzPlaceholderEncrypt(f *testing.F) {
	n := 0
	for _, blob := range replyPlaceholders(f) {
		f.Add(blob)
		n++
	}
	for _, p := range []*Placeholder{
		rangeInsertPlaceholder(i32v(5), i32v(0), i32v(100), nil, 1),
		rangeInsertPlaceholder(f64v(2.5), f64v(-10), f64v(10), new(int32), 2),
		textInsertPlaceholder("abcdef", textSpecAll()),
	} {
		f.Add(p.Bytes())
		n++
	}
	if n == 0 {
		f.Fatal("empty seed corpus")
	}
	keys := testKeys(f)
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := ParsePlaceholder(blob)
		if err != nil {
			return
		}
		// Keep the work per input bounded: huge text specs or wide ranges are legitimate but
		// slow, and they are exercised by the unit tests.
		if len(blob) > 4096 {
			return
		}
		out, err := p.Encrypt(keys, bytes.NewReader(testBin(1<<16)))
		if err != nil {
			return
		}
		if len(out) == 0 {
			t.Fatal("empty payload")
		}
		switch fleblob.Subtype(out[0]) {
		case fleblob.FLE2UnindexedEncryptedValueV2:
		case fleblob.FLE2InsertUpdatePayloadV2, fleblob.FLE2FindEqualityPayloadV2, fleblob.FLE2FindRangePayloadV2, fleblob.FLE2FindTextPayload:
			if err := validateDocument(out[1:]); err != nil {
				t.Fatalf("payload subtype %d is not valid BSON: %v", out[0], err)
			}
		default:
			t.Fatalf("unexpected payload subtype %d", out[0])
		}
		if p.Type == PlaceholderInsert {
			v, err := Decrypt(out, keys)
			if err != nil {
				t.Fatalf("inserted value does not decrypt: %v", err)
			}
			if p.Algorithm == AlgorithmUnindexed || p.Algorithm == AlgorithmEquality {
				if v.Type != p.Value.Type || !bytes.Equal(v.Value, p.Value.Value) {
					t.Fatalf("round trip changed the value")
				}
			}
		}
	})
}

func textSpecAll() text.Spec {
	return text.Spec{CaseFold: true, Prefix: &text.AffixSpec{LB: 1, UB: 4}, Suffix: &text.AffixSpec{LB: 2, UB: 5}}
}

// FuzzEncryptExpression feeds arbitrary expressions to EncryptExpression with range options
// over int32 [0, 200].
func FuzzEncryptExpression(f *testing.F) {
	seeds := []string{
		`{"$and": [{"age": {"$gte": 23}}, {"age": {"$lte": 35}}]}`,
		`{"$and": [{"$gt": ["$age", 5]}, {"$lt": ["$age", 50]}]}`,
		`{"$and": [{"age": {"$gt": 5}}]}`,
		`{"$and": [{"$lte": ["$age", 150]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(extJSON(f, s)))
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	keys := testKeys(f)
	minV := bson.RawValue{Type: bson.TypeInt32, Value: bsoncore.AppendInt32(nil, 0)}
	maxV := bson.RawValue{Type: bson.TypeInt32, Value: bsoncore.AppendInt32(nil, 200)}
	f.Fuzz(func(t *testing.T, expr []byte) {
		opts := &options.EncryptOptions{Algorithm: "Range", QueryType: "range", ContentionFactor: i64(2),
			RangeOptions: options.Range().SetMin(minV).SetMax(maxV).SetSparsity(1)}
		out, err := EncryptExpression(bson.Raw(expr), key12345678, opts, keys, nil)
		if err != nil {
			return
		}
		if err := validateDocument(out); err != nil {
			t.Fatalf("output is not valid BSON: %v", err)
		}
		blobs := encryptedBlobList(bsoncore.Document(out))
		if len(blobs) == 0 || len(blobs) > 2 {
			t.Fatalf("%d payloads", len(blobs))
		}
		for _, b := range blobs {
			if fleblob.Subtype(b.data[0]) != fleblob.FLE2FindRangePayloadV2 {
				t.Fatalf("payload subtype %d", b.data[0])
			}
		}
	})
}
