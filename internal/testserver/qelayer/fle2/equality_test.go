package fle2

import (
	"bytes"
	"context"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// TestEqualityKnownAnswer checks the tag of fle2v2-InsertFind-Indexed.json: inserting
// {encryptedIndexed: "123"} into an empty ESC stores the tag 31eCYlbQ... (count 1).
func TestEqualityKnownAnswer(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	want := specTags(t, "fle2v2-InsertFind-Indexed.json", 0)[1]
	if len(want) != 1 || !bytes.Equal(want[0], b64(t, "31eCYlbQoVboc5zwC8IoyJVSkag9PxREka8dkmbXJeY=")) {
		t.Fatalf("spec file tags = %x", want)
	}
	esc := newMapESC()
	f := equalityField(k, "string", 0)
	w, err := ProcessInsert(ctx, equalityInsert(t, k, rawString("123"), 0), f, esc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Tags) != 1 || !bytes.Equal(w.Tags[0], want[0]) {
		t.Fatalf("tag = %x, want %x", w.Tags, want[0])
	}
	if len(w.ESCIDs) != 1 || len(w.ECOC) != 1 {
		t.Fatalf("ESC ids %d, ECOC values %d", len(w.ESCIDs), len(w.ECOC))
	}
	esc.apply(t, w)

	// The second insert of the same value takes count 2.
	w2, err := ProcessInsert(ctx, equalityInsert(t, k, rawString("123"), 0), f, esc, nil)
	if err != nil {
		t.Fatal(err)
	}
	edc := clientEDC(t, k, "123", 0)
	if want2 := tagFor(edc, 2); !bytes.Equal(w2.Tags[0], want2[:]) {
		t.Fatalf("second tag = %x, want count 2's %x", w2.Tags[0], want2)
	}
	if bytes.Equal(w2.ESCIDs[0], w.ESCIDs[0]) {
		t.Fatal("second insert reuses the ESC _id")
	}
}

// clientEDC returns the payload's d (EDCDerivedFromDataTokenAndContentionFactor) of an
// insert of s with contention factor cf, read from the client's payload.
func clientEDC(t testing.TB, k *specKey, s string, cf int64) token {
	t.Helper()
	blob := equalityInsert(t, k, rawString(s), cf)
	p, err := parseInsertPayload(blob[1:])
	if err != nil {
		t.Fatal(err)
	}
	return p.set.edc
}

// TestEqualityRoundTrip checks the stored value against the client: qe.Decrypt gives the
// value back, StoredTags gives the Write's tags, and FindTags of the client's find payload
// gives the inserted tags for 1 and 3 inserts.
func TestEqualityRoundTrip(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	esc := newMapESC()
	f := equalityField(k, "string", 0)
	var all [][]byte
	for i := range 3 {
		w, err := ProcessInsert(ctx, equalityInsert(t, k, rawString("abc"), 0), f, esc, nil)
		if err != nil {
			t.Fatal(err)
		}
		esc.apply(t, w)
		all = append(all, w.Tags...)
		if w.Stored[0] != 14 {
			t.Fatalf("stored subtype %d", w.Stored[0])
		}
		v, err := qe.Decrypt(w.Stored, k.keys)
		if err != nil {
			t.Fatal(err)
		}
		if v.StringValue() != "abc" {
			t.Fatalf("decrypted %v", v)
		}
		tags, err := StoredTags(w.Stored)
		if err != nil || !sameSet(tags, w.Tags) {
			t.Fatalf("StoredTags = %x, %v; want %x", tags, err, w.Tags)
		}
		got, err := FindTags(ctx, equalityFind(t, k, rawString("abc"), 0), esc)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != i+1 || !sameSet(got, all) {
			t.Fatalf("after %d inserts FindTags = %d tags, want %d", i+1, len(got), i+1)
		}
	}
	// Another value matches nothing.
	got, err := FindTags(ctx, equalityFind(t, k, rawString("abd"), 0), esc)
	if err != nil || len(got) != 0 {
		t.Fatalf("other value: %d tags, %v", len(got), err)
	}
}

// TestEqualityContention inserts with contention factors chosen at random in 0..4 and finds
// them all with cm = 4.
func TestEqualityContention(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	esc := newMapESC()
	f := equalityField(k, "string", 4)
	var all [][]byte
	for range 12 {
		w, err := ProcessInsert(ctx, equalityInsert(t, k, rawString("x"), 4), f, esc, nil)
		if err != nil {
			t.Fatal(err)
		}
		esc.apply(t, w)
		all = append(all, w.Tags...)
	}
	got, err := FindTags(ctx, equalityFind(t, k, rawString("x"), 4), esc)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, all) {
		t.Fatalf("FindTags = %d tags, want the %d inserted", len(got), len(all))
	}
	// cm = 0 sees only contention factor 0's.
	got0, err := FindTags(ctx, equalityFind(t, k, rawString("x"), 0), esc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got0) >= len(all) {
		t.Fatalf("cm 0 found %d of %d tags", len(got0), len(all))
	}
}
