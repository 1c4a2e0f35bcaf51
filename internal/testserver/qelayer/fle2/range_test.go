package fle2

import (
	"bytes"
	"context"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const rangeIntFile = "fle2v2-Rangev2-Int-InsertFind.json"

// rangeIntOptions are the range options of fle2v2-Rangev2-Int-InsertFind.json's field.
func rangeIntOptions() *options.RangeOptionsBuilder {
	return options.Range().SetMin(rawInt32(0)).SetMax(rawInt32(200)).SetSparsity(1).SetTrimFactor(1)
}

func rangeIntField(k *specKey) Field {
	tf := int32(1)
	return Field{Path: "encryptedInt", BSONType: "int", KeyID: k.id[:], QueryType: "range", Contention: 0,
		Range: &RangeOptions{Min: rawInt32(0), Max: rawInt32(200), Sparsity: 1, TrimFactor: &tf}}
}

func rangeInsert(t testing.TB, k *specKey, v int32) []byte {
	return payloadFor(t, k, rawInt32(v), &options.EncryptOptions{Algorithm: "Range", ContentionFactor: i64(0), RangeOptions: rangeIntOptions()})
}

// rangeFind returns the two payloads of a range expression on encryptedInt.
func rangeFind(t testing.TB, k *specKey, expr string) [][]byte {
	t.Helper()
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(expr), false, &doc); err != nil {
		t.Fatal(err)
	}
	out, err := qe.EncryptExpression(doc, k.id, &options.EncryptOptions{Algorithm: "Range", QueryType: "range",
		ContentionFactor: i64(0), RangeOptions: rangeIntOptions()}, k.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	ands, _ := out.Lookup("$and").Array().Values()
	for _, a := range ands {
		elems, _ := bsoncore.Document(a.Document()).Elements()
		for _, e := range elems {
			ops, _ := e.Value().Document().Elements()
			for _, op := range ops {
				_, data := op.Value().Binary()
				blobs = append(blobs, data)
			}
		}
	}
	return blobs
}

// TestRangeKnownAnswer checks the eight tags of each of the two documents of
// fle2v2-Rangev2-Int-InsertFind.json, in __safeContent__ order, and that the range find
// $gt 0 matches the tags of 1 and none of 0.
func TestRangeKnownAnswer(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, rangeIntFile)
	want := specTags(t, rangeIntFile, 0)
	esc := newMapESC()
	f := rangeIntField(k)
	writes := map[int32]*Write{}
	for _, v := range []int32{0, 1} {
		w, err := ProcessInsert(ctx, rangeInsert(t, k, v), f, esc, nil)
		if err != nil {
			t.Fatal(err)
		}
		esc.apply(t, w)
		writes[v] = w
		if len(w.Tags) != len(want[v]) {
			t.Fatalf("value %d: %d tags, want %d", v, len(w.Tags), len(want[v]))
		}
		for i := range w.Tags {
			if !bytes.Equal(w.Tags[i], want[v][i]) {
				t.Fatalf("value %d tag %d = %x, want %x", v, i, w.Tags[i], want[v][i])
			}
		}
		if len(w.ESCIDs) != 8 || len(w.ECOC) != 8 || w.Stored[0] != 15 {
			t.Fatalf("value %d: %d ESC ids, %d ECOC values, subtype %d", v, len(w.ESCIDs), len(w.ECOC), w.Stored[0])
		}
		got, err := qe.Decrypt(w.Stored, k.keys)
		if err != nil || got.Int32() != v {
			t.Fatalf("decrypt: %v, %v", got, err)
		}
		tags, err := StoredTags(w.Stored)
		if err != nil || !sameSet(tags, w.Tags) {
			t.Fatalf("StoredTags: %v", err)
		}
	}

	blobs := rangeFind(t, k, `{"$and": [{"encryptedInt": {"$gt": {"$numberInt": "0"}}}]}`)
	if len(blobs) != 1 {
		t.Fatalf("%d payloads", len(blobs))
	}
	tags, err := FindTags(ctx, blobs[0], esc)
	if err != nil {
		t.Fatal(err)
	}
	if !intersects(tags, writes[1].Tags) || intersects(tags, writes[0].Tags) {
		t.Fatal("$gt 0 must match 1 and not 0")
	}

	// A closed range [0, 1] matches both; its second payload is a stub.
	blobs = rangeFind(t, k, `{"$and": [{"encryptedInt": {"$gte": {"$numberInt": "0"}}}, {"encryptedInt": {"$lte": {"$numberInt": "1"}}}]}`)
	if len(blobs) != 2 || !IsRangeStub(blobs[1]) || IsRangeStub(blobs[0]) {
		t.Fatalf("%d payloads, stub %v", len(blobs), IsRangeStub(blobs[1]))
	}
	if tags, err := FindTags(ctx, blobs[1], esc); tags != nil || err != nil {
		t.Fatalf("stub: %d tags, %v", len(tags), err)
	}
	fr, err := ParseFindRange(blobs[1])
	if err != nil || fr.HasEdges || fr.FirstOperator != 2 || fr.SecondOperator != 4 {
		t.Fatalf("stub header %+v, %v", fr, err)
	}
	tags, err = FindTags(ctx, blobs[0], esc)
	if err != nil {
		t.Fatal(err)
	}
	if !intersects(tags, writes[1].Tags) || !intersects(tags, writes[0].Tags) {
		t.Fatal("[0, 1] must match 0 and 1")
	}
	// [2, 200] matches neither.
	blobs = rangeFind(t, k, `{"$and": [{"encryptedInt": {"$gte": {"$numberInt": "2"}}}]}`)
	if tags, err = FindTags(ctx, blobs[0], esc); err != nil || intersects(tags, writes[0].Tags) || intersects(tags, writes[1].Tags) {
		t.Fatalf("[2, 200]: %v", err)
	}
}

func intersects(a, b [][]byte) bool {
	m := map[string]bool{}
	for _, x := range a {
		m[string(x)] = true
	}
	for _, y := range b {
		if m[string(y)] {
			return true
		}
	}
	return false
}
