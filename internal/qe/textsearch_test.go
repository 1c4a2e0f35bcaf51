package qe

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe/text"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// textPlaceholder builds the placeholder libmongocrypt builds for an explicit "String"
// encryption of v with so (queryType "" for an insert), key ABCDEFAB, contention 1.
func textPlaceholder(t *testing.T, v string, so options.StringOptions, qt string) *Placeholder {
	t.Helper()
	to, err := text.FromStringOptions(&so)
	if err != nil {
		t.Fatal(err)
	}
	value := bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, v)}
	var spec text.Spec
	typ := PlaceholderInsert
	if qt == "" {
		spec, err = to.InsertSpec(value)
	} else {
		q, ok := text.ParseQueryType(qt)
		if !ok {
			t.Fatalf("bad query type %s", qt)
		}
		spec, err = to.QuerySpec(value, q)
		typ = PlaceholderFind
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Placeholder{Type: typ, Algorithm: AlgorithmText, IndexKeyID: keyABCDEFAB, UserKeyID: keyABCDEFAB,
		MaxContentionFactor: 1, Value: bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: text.AppendSpec(nil, &spec)}}
}

// TestTextSearchPayloadVectors encrypts text search placeholders (as explicit encryption and
// query analysis make them) and compares them with libmongocrypt's fle2-explicit files: the
// inserts use the random bytes of fle2-insert-text-search/RNG_DATA.h.
func TestTextSearchPayloadVectors(t *testing.T) {
	rng := readRNGData(t, "testdata/fle2-insert-text-search/RNG_DATA.h")
	suffix := &options.SuffixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 100}
	prefix := &options.PrefixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 100}
	substr := &options.SubstringOptions{StrMaxLength: 100, StrMinQueryLength: 1, StrMaxQueryLength: 100}
	so := func(p *options.PrefixOptions, s *options.SuffixOptions, sub *options.SubstringOptions) options.StringOptions {
		return options.StringOptions{CaseSensitive: true, DiacriticSensitive: true, Prefix: p, Suffix: s, Substring: sub}
	}
	cases := []struct {
		file string
		opts options.StringOptions
		qt   string
	}{
		{"insert-suffix.json", so(nil, suffix, nil), ""},
		{"insert-prefix.json", so(prefix, nil, nil), ""},
		{"insert-substring.json", so(nil, nil, substr), ""},
		{"insert-prefix-suffix.json", so(prefix, suffix, nil), ""},
		{"insert-casef-diacf.json", so(prefix, nil, nil), ""},
		{"find-suffix.json", so(nil, suffix, nil), "suffix"},
		{"find-suffix.json", so(nil, suffix, nil), "suffixPreview"},
		{"find-prefix.json", so(prefix, nil, nil), "prefix"},
		{"find-prefix.json", so(prefix, suffix, nil), "prefix"},
		{"find-substring.json", so(nil, nil, substr), "substring"},
		{"find-substring.json", so(nil, nil, substr), "substringPreview"},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.qt, func(t *testing.T) {
			p := textPlaceholder(t, "abc", c.opts, c.qt)
			got, err := p.Encrypt(testKeys(t), &fixedRNG{data: rng})
			if err != nil {
				t.Fatal(err)
			}
			want := encryptedBlobs(bsoncore.Document(readExtJSON(t, filepath.Join("testdata/fle2-explicit", c.file))))["v"]
			if !bytes.Equal(got, want) {
				t.Fatalf("payload differs\n got %x\nwant %x", got, want)
			}
			if c.qt == "" {
				v, err := Decrypt(got, testKeys(t))
				if err != nil || v.StringValue() != "abc" {
					t.Fatalf("decrypt: %v, %v", v, err)
				}
			}
		})
	}
}

// textSetCounts returns the number of token sets in "b" of an insert payload.
func textSetCounts(t *testing.T, blob []byte) (substr, suffix, prefix int) {
	t.Helper()
	b := bsoncore.Document(blob[1:]).Lookup("b").Document()
	count := func(key string) int {
		vals, err := b.Lookup(key).Array().Values()
		if err != nil {
			t.Fatal(err)
		}
		return len(vals)
	}
	return count("s"), count("u"), count("p")
}

// TestTextSearchInsertPadding checks that the number of token sets depends on the padded
// length only: a 1-code-point and a 10-code-point string (both below 11 bytes) give as many
// sets, and a longer string more.
func TestTextSearchInsertPadding(t *testing.T) {
	opts := options.StringOptions{Prefix: &options.PrefixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 1000},
		Suffix: &options.SuffixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 1000}}
	keys := testKeys(t)
	var counts [][3]int
	for _, s := range []string{"a", "abcdefghij", strings.Repeat("é", 40)} {
		blob, err := textPlaceholder(t, s, opts, "").Encrypt(keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := textSetCounts(t, blob)
		counts = append(counts, [3]int{a, b, c})
		if v, err := Decrypt(blob, keys); err != nil || v.StringValue() != s {
			t.Fatalf("decrypt %q: %v %v", s, v, err)
		}
	}
	if counts[0] != counts[1] || counts[2][2] <= counts[0][2] {
		t.Fatalf("set counts %v: want the first two equal and the third larger", counts)
	}
	if counts[0] != [3]int{0, 10, 11} {
		t.Fatalf("counts for a short string = %v, want [0 10 11] (padded length 11)", counts[0])
	}
}

func TestTextSearchErrors(t *testing.T) {
	keys := testKeys(t)
	prefixOnly := options.StringOptions{Prefix: &options.PrefixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 3}}
	// A query longer than strMaxQueryLength.
	if _, err := textPlaceholder(t, "abcd", prefixOnly, "prefix").Encrypt(keys, nil); err == nil || !strings.Contains(err.Error(), "longer than the maximum query length") {
		t.Errorf("long query: err = %v", err)
	}
	// A query shorter than strMinQueryLength.
	if _, err := textPlaceholder(t, "a", prefixOnly, "prefix").Encrypt(keys, nil); err == nil || !strings.Contains(err.Error(), "shorter than the minimum") {
		t.Errorf("short query: err = %v", err)
	}
	// An insert spec without any index kind.
	p := textPlaceholder(t, "abc", prefixOnly, "")
	spec, _ := text.ParseSpec(p.Value)
	spec.Prefix = nil
	p.Value.Value = text.AppendSpec(nil, &spec)
	if _, err := p.Encrypt(keys, nil); err == nil || !strings.Contains(err.Error(), "missing a substring, suffix, or prefix") {
		t.Errorf("no index kind: err = %v", err)
	}
	// A string longer than strMaxLength for substring.
	sub := options.StringOptions{Substring: &options.SubstringOptions{StrMaxLength: 5, StrMinQueryLength: 1, StrMaxQueryLength: 5}}
	if _, err := textPlaceholder(t, "abcdefg", sub, "").Encrypt(keys, nil); err == nil || !strings.Contains(err.Error(), "longer than the maximum length") {
		t.Errorf("too long for substring: err = %v", err)
	}
	// A "v" that is not a document, or whose "v" is not a string.
	p = textPlaceholder(t, "abc", prefixOnly, "")
	p.Value = bson.RawValue{Type: bson.TypeInt32, Value: []byte{1, 0, 0, 0}}
	if _, err := p.Encrypt(keys, nil); err == nil {
		t.Error("int32 spec encrypted")
	}
	p.Value = bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: bsoncore.NewDocumentBuilder().AppendInt32("v", 1).
		AppendBoolean("casef", false).AppendBoolean("diacf", false).Build()}
	if _, err := p.Encrypt(keys, nil); err == nil || !strings.Contains(err.Error(), "unsupported BSON type") {
		t.Errorf("int32 v: err = %v", err)
	}
}
