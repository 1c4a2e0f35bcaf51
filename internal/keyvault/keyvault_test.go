package keyvault

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func loadDocs(t testing.TB) map[string]bson.Raw {
	t.Helper()
	files, _ := filepath.Glob("testdata/*-document.json")
	if len(files) == 0 {
		t.Fatal("no key documents in testdata")
	}
	docs := map[string]bson.Raw{}
	for _, f := range files {
		js, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d bson.Raw
		if err := bson.UnmarshalExtJSON(js, false, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs[filepath.Base(f)] = d
	}
	return docs
}

func TestParseLibmongocryptKeys(t *testing.T) {
	for name, d := range loadDocs(t) {
		k, err := ParseKey(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantID := strings.SplitN(name, "-", 2)[0]
		if got := strings.ToUpper(hex.EncodeToString(k.ID[:])); got != wantID {
			t.Errorf("%s: id %s", name, got)
		}
		wantProvider := strings.TrimSuffix(strings.SplitN(name, "-", 2)[1], "-document.json")
		if k.Provider != wantProvider {
			t.Errorf("%s: provider %q", name, k.Provider)
		}
		if len(k.KeyMaterial) == 0 || k.CreationDate.IsZero() || k.UpdateDate.IsZero() {
			t.Errorf("%s: incomplete parse %+v", name, k)
		}
		// No strict prefix of a key document parses.
		for n := 0; n < len(d); n += 7 {
			if _, err := ParseKey(d[:n]); err == nil {
				t.Fatalf("%s: prefix of %d bytes parsed", name, n)
			}
		}
	}
}

func baseKey() bson.D {
	return bson.D{
		{Key: "_id", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
		{Key: "keyAltNames", Value: bson.A{"a", "b"}},
		{Key: "keyMaterial", Value: bson.Binary{Subtype: 0, Data: make([]byte, 160)}},
		{Key: "creationDate", Value: bson.DateTime(1)},
		{Key: "updateDate", Value: bson.DateTime(2)},
		{Key: "status", Value: int32(1)},
		{Key: "masterKey", Value: bson.D{{Key: "provider", Value: "local:x"}}},
	}
}

func with(d bson.D, key string, v any) bson.D {
	out := bson.D{}
	found := false
	for _, e := range d {
		if e.Key == key {
			found = true
			if v == nil {
				continue
			}
			e.Value = v
		}
		out = append(out, e)
	}
	if !found && v != nil {
		out = append(out, bson.E{Key: key, Value: v})
	}
	return out
}

func TestParseKeyRefusals(t *testing.T) {
	good, _ := bson.Marshal(baseKey())
	k, err := ParseKey(good)
	if err != nil {
		t.Fatal(err)
	}
	if k.Provider != "local:x" || len(k.KeyAltNames) != 2 {
		t.Fatalf("parsed %+v", k)
	}
	cases := map[string]bson.D{
		"no _id":           with(baseKey(), "_id", nil),
		"_id not uuid":     with(baseKey(), "_id", bson.Binary{Subtype: 0, Data: make([]byte, 16)}),
		"_id short":        with(baseKey(), "_id", bson.Binary{Subtype: 4, Data: make([]byte, 15)}),
		"no keyMaterial":   with(baseKey(), "keyMaterial", nil),
		"material subtype": with(baseKey(), "keyMaterial", bson.Binary{Subtype: 4, Data: make([]byte, 16)}),
		"material empty":   with(baseKey(), "keyMaterial", bson.Binary{}),
		"no masterKey":     with(baseKey(), "masterKey", nil),
		"masterKey string": with(baseKey(), "masterKey", "local"),
		"no provider":      with(baseKey(), "masterKey", bson.D{{Key: "x", Value: 1}}),
		"no status":        with(baseKey(), "status", nil),
		"no creationDate":  with(baseKey(), "creationDate", nil),
		"no updateDate":    with(baseKey(), "updateDate", nil),
		"date as int":      with(baseKey(), "updateDate", int64(5)),
		"altnames string":  with(baseKey(), "keyAltNames", "a"),
		"altname int":      with(baseKey(), "keyAltNames", bson.A{"a", 1}),
		"altname dup":      with(baseKey(), "keyAltNames", bson.A{"a", "a"}),
		"version 1":        with(baseKey(), "version", int32(1)),
		"unknown field":    with(baseKey(), "extra", 1),
	}
	for name, d := range cases {
		raw, _ := bson.Marshal(d)
		if _, err := ParseKey(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	raw, _ := bson.Marshal(with(baseKey(), "version", int64(0)))
	if _, err := ParseKey(raw); err != nil {
		t.Errorf("version 0: %v", err)
	}
}

func FuzzParseKey(f *testing.F) {
	n := 0
	for _, d := range loadDocs(f) {
		f.Add([]byte(d))
		n++
	}
	if n == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err == nil && (k.Provider == "" || len(k.KeyMaterial) == 0) {
			t.Fatal("accepted a key without provider or material")
		}
	})
}

func TestCacheExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache[string](time.Minute)
	c.now = func() time.Time { return now }
	id := [16]byte{1}
	c.Put(id, []string{"alt"}, "k1")
	if v, ok := c.Get(id); !ok || v != "k1" {
		t.Fatal("miss right after Put")
	}
	if v, gotID, ok := c.GetByName("alt"); !ok || v != "k1" || gotID != id {
		t.Fatal("name miss right after Put")
	}
	now = now.Add(59 * time.Second)
	if _, ok := c.Get(id); !ok {
		t.Fatal("expired before its time")
	}
	now = now.Add(time.Second)
	if _, ok := c.Get(id); ok {
		t.Fatal("still cached after expiry")
	}
	if _, _, ok := c.GetByName("alt"); ok {
		t.Fatal("name still cached after expiry")
	}

	forever := NewCache[string](0)
	forever.now = func() time.Time { return now }
	forever.Put(id, nil, "k")
	now = now.Add(1000 * time.Hour)
	if _, ok := forever.Get(id); !ok {
		t.Fatal("ttl 0 must never expire")
	}
	forever.Evict(id)
	if _, ok := forever.Get(id); ok {
		t.Fatal("evicted key still cached")
	}
}

func TestCacheEvictName(t *testing.T) {
	c := NewCache[int](time.Minute)
	c.Put([16]byte{2}, []string{"x", "y"}, 7)
	c.EvictName("x")
	if _, _, ok := c.GetByName("x"); ok {
		t.Fatal("evicted name still resolves")
	}
	if _, _, ok := c.GetByName("y"); !ok {
		t.Fatal("other name lost")
	}
}

func TestCacheSweep(t *testing.T) {
	now := time.Unix(0, 0)
	c := NewCache[int](time.Second)
	c.now = func() time.Time { return now }
	for i := 0; i < 1000; i++ {
		c.Put([16]byte{byte(i), byte(i >> 8)}, nil, i)
	}
	now = now.Add(2 * time.Second)
	for i := 0; i < 300; i++ {
		c.Put([16]byte{9, 9, byte(i), byte(i >> 8)}, nil, i)
	}
	if len(c.byID) > 600 {
		t.Fatalf("expired entries are never swept: %d entries", len(c.byID))
	}
}
