package fle2

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// textTags returns the __safeContent__ of the expected result of test 1 of a QE-Text file
// (the find after inserting {_id: 1, encryptedText: "foobar"}).
func textTags(t testing.TB, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(specDir, file))
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(data, false, &doc); err != nil {
		t.Fatal(err)
	}
	sc, _ := doc.Lookup("tests", "1", "operations", "1", "expectResult", "0", "__safeContent__").Array().Values()
	var out [][]byte
	for _, v := range sc {
		_, b := v.Binary()
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no expected tags", file)
	}
	return out
}

// TestTextKnownAnswer inserts "foobar" with the text options of QE-Text-prefixPreview.json,
// QE-Text-suffixPreview.json and QE-Text-substringPreview.json into an empty ESC and checks
// the tags against the files' __safeContent__; the find payload of the files' query
// matches them and qe.Decrypt gives "foobar" back.
func TestTextKnownAnswer(t *testing.T) {
	cases := []struct {
		file, queryType, query string
		opts                   *options.StringOptionsBuilder
	}{
		{"QE-Text-prefixPreview.json", "prefixPreview", "foo",
			options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 3, StrMaxQueryLength: 30})},
		{"QE-Text-suffixPreview.json", "suffixPreview", "bar",
			options.String().SetSuffix(options.SuffixOptions{StrMinQueryLength: 3, StrMaxQueryLength: 30})},
		{"QE-Text-substringPreview.json", "substringPreview", "oba",
			options.String().SetSubstring(options.SubstringOptions{StrMaxLength: 20, StrMinQueryLength: 3, StrMaxQueryLength: 6})},
	}
	for _, c := range cases {
		t.Run(c.queryType, func(t *testing.T) {
			ctx := context.Background()
			k := loadSpecKey(t, c.file)
			want := textTags(t, c.file)
			so := c.opts.SetCaseSensitive(true).SetDiacriticSensitive(true)
			blob := payloadFor(t, k, rawString("foobar"), &options.EncryptOptions{Algorithm: "String", ContentionFactor: i64(0), StringOptions: so})
			esc := newMapESC()
			f := Field{Path: "encryptedText", BSONType: "string", KeyID: k.id[:], QueryType: c.queryType}
			w, err := ProcessInsert(ctx, blob, f, esc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(w.Tags, want) {
				t.Fatalf("%d tags, want the file's %d", len(w.Tags), len(want))
			}
			if w.Stored[0] != 17 {
				t.Fatalf("subtype %d", w.Stored[0])
			}
			if v, err := qe.Decrypt(w.Stored, k.keys); err != nil || v.StringValue() != "foobar" {
				t.Fatalf("decrypt: %v, %v", v, err)
			}
			if tags, err := StoredTags(w.Stored); err != nil || !sameSet(tags, w.Tags) {
				t.Fatalf("StoredTags: %v", err)
			}
			if len(w.ECOC) != len(w.Tags) || len(w.ESCIDs) != len(w.Tags) {
				t.Fatal("one ESC and ECOC entry per tag")
			}
			esc.apply(t, w) // also proves the ESC _id are distinct, padding included
			find := payloadFor(t, k, rawString(c.query), &options.EncryptOptions{Algorithm: "String", QueryType: c.queryType, ContentionFactor: i64(0), StringOptions: so})
			got, err := FindTags(ctx, find, esc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !intersects(got, w.Tags) {
				t.Fatalf("find %q: %d tags", c.query, len(got))
			}
			exact := payloadFor(t, k, rawString("foobaz"), &options.EncryptOptions{Algorithm: "String", QueryType: c.queryType, ContentionFactor: i64(0), StringOptions: so})
			if got, err := FindTags(ctx, exact, esc); err != nil || len(got) != 0 {
				t.Fatalf("non-matching find: %d tags, %v", len(got), err)
			}

			// Compaction with the padding token: the ECOC entries have one msize in the exact
			// entry; padding anchors make up the difference to it.
			tok := compactionToken(k, true)
			if _, err := Compact(ctx, f, tok, w.ECOC, esc); err != nil {
				t.Fatal(err)
			}
			if got, err := FindTags(ctx, find, esc); err != nil || len(got) != 1 || !intersects(got, w.Tags) {
				t.Fatalf("find after compaction: %d tags, %v", len(got), err)
			}
			if _, err := Cleanup(ctx, f, tok, w.ECOC, esc); err != nil {
				t.Fatal(err)
			}
			if got, err := FindTags(ctx, find, esc); err != nil || len(got) != 1 || !intersects(got, w.Tags) {
				t.Fatalf("find after cleanup: %d tags, %v", len(got), err)
			}
		})
	}
}

func textInsertOptions() *options.EncryptOptions {
	so := options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 3, StrMaxQueryLength: 30}).SetCaseSensitive(true).SetDiacriticSensitive(true)
	return &options.EncryptOptions{Algorithm: "String", ContentionFactor: i64(0), StringOptions: so}
}
