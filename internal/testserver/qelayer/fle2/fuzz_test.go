package fle2

import (
	"context"
	"testing"
)

// seedESC returns an ESC holding the entries of a few inserts, so that fuzzed payloads that
// reuse their tokens walk non-empty chains.
func seedESC(t testing.TB, k *specKey, blobs [][]byte, fields []Field) *mapESC {
	esc := newMapESC()
	for i, b := range blobs {
		w, err := ProcessInsert(context.Background(), b, fields[i], esc, nil)
		if err != nil {
			t.Fatal(err)
		}
		esc.apply(t, w)
	}
	return esc
}

// fuzzSeeds returns valid payloads 11 of each kind and the fields they belong to.
func fuzzSeeds(t testing.TB) (*specKey, [][]byte, []Field) {
	k := loadSpecKey(t, rangeIntFile) // same key id and material as the equality file
	eq := equalityInsert(t, k, rawString("abc"), 0)
	rg := rangeInsert(t, k, 3)
	tx := payloadFor(t, k, rawString("foobar"), textInsertOptions())
	return k, [][]byte{eq, rg, tx}, []Field{
		{Path: "a", QueryType: "equality", Contention: 8},
		{Path: "a", QueryType: "range", Contention: 8},
		{Path: "a", QueryType: "prefixPreview", Contention: 8},
	}
}

func FuzzProcessInsert(f *testing.F) {
	k, blobs, fields := fuzzSeeds(f)
	for _, b := range blobs {
		f.Add(b)
	}
	f.Add([]byte{11})
	f.Add([]byte{11, 5, 0, 0, 0, 0})
	esc := seedESC(f, k, blobs, fields)
	f.Fuzz(func(t *testing.T, blob []byte) {
		for _, fl := range fields {
			w, err := ProcessInsert(context.Background(), blob, fl, esc, nil)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			if len(w.Tags) != len(w.ESCIDs) || len(w.Tags) != len(w.ECOC) || len(w.Tags) == 0 {
				t.Fatalf("write with %d tags, %d ESC ids, %d ECOC values", len(w.Tags), len(w.ESCIDs), len(w.ECOC))
			}
			tags, err := StoredTags(w.Stored)
			if err != nil || !sameSet(tags, w.Tags) {
				t.Fatalf("StoredTags of our own value: %v", err)
			}
		}
	})
}

func FuzzFindTags(f *testing.F) {
	k, blobs, fields := fuzzSeeds(f)
	f.Add(equalityFind(f, k, rawString("abc"), 3))
	for _, b := range rangeFind(f, k, `{"$and": [{"encryptedInt": {"$gte": {"$numberInt": "2"}}}, {"encryptedInt": {"$lt": {"$numberInt": "9"}}}]}`) {
		f.Add(b)
	}
	f.Add([]byte{18})
	f.Add([]byte{13, 5, 0, 0, 0, 0})
	esc := seedESC(f, k, blobs, fields)
	f.Fuzz(func(t *testing.T, blob []byte) {
		tags, err := FindTags(context.Background(), blob, esc)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, tag := range tags {
			if len(tag) != tokenLen {
				t.Fatalf("tag of %d bytes", len(tag))
			}
		}
		_, _ = ParseFindRange(blob)
	})
}

func FuzzStoredTags(f *testing.F) {
	_, blobs, fields := fuzzSeeds(f)
	for i, b := range blobs {
		w, err := ProcessInsert(context.Background(), b, fields[i], newMapESC(), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w.Stored)
	}
	f.Fuzz(func(t *testing.T, stored []byte) {
		tags, err := StoredTags(stored)
		if err == nil && len(tags) == 0 {
			t.Fatal("no tags and no error")
		}
	})
}

// FuzzCompact feeds arbitrary ECOC values to Compact and Cleanup.
func FuzzCompact(f *testing.F) {
	k, blobs, fields := fuzzSeeds(f)
	esc := seedESC(f, k, blobs, fields)
	w, err := ProcessInsert(context.Background(), blobs[1], fields[1], newMapESC(), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range w.ECOC {
		f.Add(v, true)
	}
	f.Add([]byte{1, 2, 3}, false)
	f.Fuzz(func(t *testing.T, value []byte, padding bool) {
		fl := rangeIntField(k)
		tok := compactionToken(k, padding)
		_, _ = Compact(context.Background(), fl, tok, [][]byte{value}, esc)
		_, _ = Cleanup(context.Background(), fl, tok, [][]byte{value}, esc)
	})
}
