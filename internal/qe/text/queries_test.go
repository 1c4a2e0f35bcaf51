package text

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// encryptedFieldsOf reads an encrypted-field(-config)-map file and returns
// the fields of its single namespace.
func encryptedFieldsOf(t *testing.T, path string) []bson.Raw {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := ejson(t, string(data))
	elems, err := m.Elements()
	if err != nil || len(elems) != 1 {
		t.Fatalf("%s: want one namespace: %v", path, err)
	}
	fields, ok := elems[0].Value().Document().Lookup("fields").ArrayOK()
	if !ok {
		t.Fatalf("%s: no fields array", path)
	}
	vals, err := fields.Values()
	if err != nil {
		t.Fatal(err)
	}
	var out []bson.Raw
	for _, v := range vals {
		out = append(out, v.Document())
	}
	return out
}

func fieldQueries(t *testing.T, field bson.Raw) (FieldQueries, error) {
	t.Helper()
	return ParseFieldQueries(field.Lookup("path").StringValue(), field.Lookup("bsonType").StringValue(), field.Lookup("queries"))
}

// The text fields of libmongocrypt's test data (copied to testdata/).
func TestParseFieldQueriesLibmongocryptData(t *testing.T) {
	substring := FieldQueries{
		Options:    TextOptions{DiacriticSensitive: true, Substring: &IndexOptions{StrMaxLength: 100, StrMinQueryLength: 5, StrMaxQueryLength: 20}},
		QueryTypes: []QueryType{QuerySubstringPreview}, ContentionSet: true,
	}
	for _, path := range []string{
		"testdata/fle2-insert-text-search/encrypted-field-map.json",
		"testdata/fle2-text-search-create-encrypted-collection/encrypted-field-config-map.json",
	} {
		fields := encryptedFieldsOf(t, path)
		got, err := fieldQueries(t, fields[0])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checkFieldQueries(t, path, got, substring)
	}
	fields := encryptedFieldsOf(t, "testdata/compact/text-search/encrypted-field-config-map.json")
	n := 0
	for _, f := range fields {
		qt := f.Lookup("queries")
		if strings.Contains(qt.String(), `"equality"`) || qt.Type == 0 {
			continue
		}
		got, err := fieldQueries(t, f)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Lookup("path").StringValue() {
		case "textField1":
			checkFieldQueries(t, "textField1", got, substring)
		case "textField2":
			checkFieldQueries(t, "textField2", got, FieldQueries{
				Options: TextOptions{CaseSensitive: true,
					Suffix: &IndexOptions{StrMinQueryLength: 1, StrMaxQueryLength: 10},
					Prefix: &IndexOptions{StrMinQueryLength: 5, StrMaxQueryLength: 15}},
				QueryTypes: []QueryType{QuerySuffix, QueryPrefix}, ContentionSet: true,
			})
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d text fields in compact/text-search, want 2", n)
	}
}

func checkFieldQueries(t *testing.T, name string, got, want FieldQueries) {
	t.Helper()
	if !equalTextOptions(got.Options, want.Options) || got.Contention != want.Contention || got.ContentionSet != want.ContentionSet ||
		len(got.QueryTypes) != len(want.QueryTypes) {
		t.Fatalf("%s: got %+v, want %+v", name, got, want)
	}
	for i := range got.QueryTypes {
		if got.QueryTypes[i] != want.QueryTypes[i] {
			t.Fatalf("%s: query types %v, want %v", name, got.QueryTypes, want.QueryTypes)
		}
	}
}

// The encryptedFields of the specification's QE-Text unified tests (read
// from /work/shared at test time: CC BY-NC-SA, not copied).
func TestParseFieldQueriesSpecTests(t *testing.T) {
	files, _ := filepath.Glob(specUnifiedDir + "/QE-Text-*.json")
	if len(files) == 0 {
		t.Skipf("specification tests not found in %s", specUnifiedDir)
	}
	for _, file := range files {
		for _, f := range specEncryptedFields(t, file) {
			got, err := fieldQueries(t, f)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(file), err)
				continue
			}
			if len(got.QueryTypes) != 1 || !got.ContentionSet || got.Contention != 0 || !got.Options.CaseSensitive || !got.Options.DiacriticSensitive {
				t.Errorf("%s: %+v", filepath.Base(file), got)
			}
		}
	}
}

func TestParseFieldQueriesErrors(t *testing.T) {
	q := func(s string) bson.RawValue {
		raw := ejson(t, `{"q": `+s+`}`)
		return raw.Lookup("q")
	}
	const ok = `{"queryType": "prefix", "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}`
	cases := []struct {
		bsonType, queries, err string
	}{
		{"string", `[]`, "At least one query type should be specified per field"},
		{"string", `[` + ok + `,` + ok + `,` + ok + `]`, "cannot exceed two"},
		{"string", `[` + ok + `,` + ok + `]`, "Multiple query types may only include the suffix and prefix query types"},
		{"string", `[{"queryType": "substring", "strMaxLength": 30, "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false},` + ok + `]`,
			"Multiple query types may only include"},
		{"int", ok, "Type 'int' is not a supported type for text search indexed encrypted field f"},
		{"string", `{"queryType": "equality"}`, "Query type 'equality' is not a text search query type"},
		{"string", `{"strMinQueryLength": 2}`, "Unable to find 'queryType'"},
		{"string", `{"queryType": 3}`, "Expected 'queryType' to be type UTF-8, got: INT32"},
		{"string", `{"queryType": "suffix", "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}`,
			"strMinQueryLength parameter is required for suffix query type of field f"},
		{"string", `{"queryType": "suffix", "strMinQueryLength": 1, "caseSensitive": true, "diacriticSensitive": false}`, "strMaxQueryLength parameter is required"},
		{"string", `{"queryType": "suffix", "strMinQueryLength": 1, "strMaxQueryLength": 10, "diacriticSensitive": false}`, "caseSensitive parameter is required"},
		{"string", `{"queryType": "suffix", "strMinQueryLength": 1, "strMaxQueryLength": 10, "caseSensitive": false}`, "diacriticSensitive parameter is required"},
		{"string", `{"queryType": "prefix", "strMinQueryLength": 11, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}`,
			"strMinQueryLength cannot be greater than strMaxQueryLength"},
		{"string", `{"queryType": "substring", "strMinQueryLength": 1, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}`,
			"strMaxLength parameter is required for substring query type of field f"},
		{"string", `{"queryType": "substringPreview", "strMaxLength": 9, "strMinQueryLength": 1, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}`,
			"strMaxQueryLength cannot be greater than strMaxLength"},
		{"string", `{"queryType": "prefix", "sparsity": 1}`, "The field 'sparsity' is not allowed for text-based index but is present"},
		{"string", `{"queryType": "prefix", "trimFactor": 1}`, "The field 'trimFactor' is not allowed"},
		{"string", `{"queryType": "prefix", "bogus": 1}`, "unknown field 'bogus'"},
		{"string", `{"queryType": "prefix", "strMinQueryLength": 2.5}`, "'strMinQueryLength' must be a 32-bit integer"},
		{"string", `{"queryType": "prefix", "strMinQueryLength": {"$numberLong": "4294967296"}}`, "must be a 32-bit integer"},
		{"string", `{"queryType": "prefix", "strMinQueryLength": 0}`, "'strMinQueryLength' must be greater than zero"},
		{"string", `{"queryType": "prefix", "contention": -1}`, "'contention' must be a non-negative integer"},
		{"string", `{"queryType": "prefix", "caseSensitive": "yes"}`, "Expected bool for caseSensitive, got: UTF8"},
		{"string", `[` + ok + `, {"queryType": "suffix", "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": false, "diacriticSensitive": false}]`,
			"caseSensitive parameter must be the same for all query types of field f"},
		{"string", `[` + ok + `, {"queryType": "suffix", "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": true}]`,
			"diacriticSensitive parameter must be the same"},
		{"string", `[` + ok + `, {"queryType": "suffix", "contention": 2, "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}]`,
			"contention parameter must be the same"},
		{"string", `"prefix"`, "expected 'queries' to be a document or an array, got: UTF8"},
		{"string", `[1]`, "expected each query to be a document, got: INT32"},
	}
	for _, c := range cases {
		_, err := ParseFieldQueries("f", c.bsonType, q(c.queries))
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want one containing %q", c.queries, err, c.err)
		}
	}
	// Accepted forms: numbers as int64 and integral doubles; prefix+suffix;
	// strMaxLength on prefix is ignored as the server does.
	fq, err := ParseFieldQueries("f", "string", q(`[{"queryType": "suffixPreview", "contention": 3.0, "strMinQueryLength": {"$numberLong": "2"},
		"strMaxQueryLength": 7.0, "caseSensitive": false, "diacriticSensitive": true},
		{"queryType": "prefix", "contention": {"$numberLong": "3"}, "strMaxLength": 99, "strMinQueryLength": 1, "strMaxQueryLength": 5,
		"caseSensitive": false, "diacriticSensitive": true}]`))
	if err != nil {
		t.Fatal(err)
	}
	checkFieldQueries(t, "accepted", fq, FieldQueries{
		Options: TextOptions{DiacriticSensitive: true,
			Suffix: &IndexOptions{StrMinQueryLength: 2, StrMaxQueryLength: 7},
			Prefix: &IndexOptions{StrMinQueryLength: 1, StrMaxQueryLength: 5}},
		QueryTypes: []QueryType{QuerySuffixPreview, QueryPrefix}, Contention: 3, ContentionSet: true})
	// Specs for insert and query.
	spec, err := fq.Spec("Héllo", 0)
	if err != nil || spec.Prefix == nil || spec.Suffix == nil || !spec.CaseFold || spec.DiacriticFold {
		t.Errorf("insert spec %v, %v", spec, err)
	}
	spec, err = fq.Spec("Hé", QuerySuffix)
	if err != nil || spec.Prefix != nil || spec.Suffix == nil || *spec.Suffix != (AffixSpec{LB: 2, UB: 7}) {
		t.Errorf("suffix query spec %v, %v", spec, err)
	}
	if _, err := fq.Spec("x", QuerySubstring); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("substring query on a prefix/suffix field: %v", err)
	}
}

func FuzzParseFieldQueries(f *testing.F) {
	seeds := []string{
		`{"q": {"queryType": "substringPreview", "contention": {"$numberLong": "0"}, "strMaxLength": 100, "strMinQueryLength": 5, "strMaxQueryLength": 20, "caseSensitive": false, "diacriticSensitive": true}}`,
		`{"q": [{"queryType": "suffix", "contention": {"$numberLong": "0"}, "strMinQueryLength": 1, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false}, {"queryType": "prefix", "contention": {"$numberLong": "0"}, "strMinQueryLength": 5, "strMaxQueryLength": 15, "caseSensitive": true, "diacriticSensitive": false}]}`,
		`{"q": {"queryType": "prefix", "strMinQueryLength": 2.0, "strMaxQueryLength": {"$numberLong": "3"}, "caseSensitive": true, "diacriticSensitive": true}}`,
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add([]byte(ejson(f, s)))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// The fuzzed bytes are the value of field "q": a document or array.
		for _, typ := range []bson.Type{bson.TypeEmbeddedDocument, bson.TypeArray} {
			var value []byte
			if raw := bson.Raw(doc); raw.Validate() == nil {
				if v, err := raw.LookupErr("q"); err == nil {
					typ, value = v.Type, v.Value
				}
			}
			if value == nil {
				value = doc
			}
			fq, err := ParseFieldQueries("f", "string", bson.RawValue{Type: typ, Value: value})
			if err != nil {
				if !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("unclassified error %v", err)
				}
				continue
			}
			spec, err := fq.Spec("fuzz value", 0)
			if err != nil {
				t.Fatalf("insert spec of accepted queries: %v", err)
			}
			if _, err := StrEncode(&spec); err != nil && !errors.Is(err, ErrTooLong) {
				t.Fatalf("StrEncode: %v", err)
			}
		}
	})
}
