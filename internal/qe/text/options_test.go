package text

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func ejson(t testing.TB, s string) bson.Raw {
	t.Helper()
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &raw); err != nil {
		t.Fatalf("bad extended JSON %s: %v", s, err)
	}
	return raw
}

func strValue(s string) bson.RawValue {
	return bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, s)}
}

// Cases of libmongocrypt test/test-mc-textopts.c (test_mc_TextOpts_parse).
func TestParseTextOptions(t *testing.T) {
	io := func(maxLen, min, max int32) *IndexOptions {
		return &IndexOptions{StrMaxLength: maxLen, StrMinQueryLength: min, StrMaxQueryLength: max}
	}
	cases := []struct {
		desc, in, err string
		want          TextOptions
	}{
		{desc: "Works with minimal options",
			in:   `{"caseSensitive": true, "diacriticSensitive": false, "prefix": {"strMinQueryLength": 1, "strMaxQueryLength": 2}}`,
			want: TextOptions{CaseSensitive: true, Prefix: io(0, 1, 2)}},
		{desc: "Works with substring options",
			in:   `{"caseSensitive": true, "diacriticSensitive": false, "substring": {"strMaxLength": 10, "strMinQueryLength": 3, "strMaxQueryLength": 8}}`,
			want: TextOptions{CaseSensitive: true, Substring: io(10, 3, 8)}},
		{desc: "Errors if none of prefix, suffix, or substring is provided",
			in:  `{"caseSensitive": true, "diacriticSensitive": false}`,
			err: "One of 'prefix', 'suffix', or 'substring' is required"},
		{desc: "Errors if substring, prefix, and suffix are all provided",
			in: `{"caseSensitive": true, "diacriticSensitive": false,
			      "substring": {"strMaxLength": 10, "strMinQueryLength": 3, "strMaxQueryLength": 8},
			      "prefix": {"strMinQueryLength": 2, "strMaxQueryLength": 10},
			      "suffix": {"strMinQueryLength": 4, "strMaxQueryLength": 12}}`,
			err: "Cannot specify 'substring' with 'prefix' or 'suffix'"},
		{desc: "Errors if strMaxLength is present in prefix",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "prefix": {"strMaxLength": 12, "strMinQueryLength": 2, "strMaxQueryLength": 10}}`,
			err: "'strMaxLength' is not allowed in 'prefix'"},
		{desc: "Errors if strMaxLength is present in suffix",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "suffix": {"strMaxLength": 15, "strMinQueryLength": 4, "strMaxQueryLength": 12}}`,
			err: "'strMaxLength' is not allowed in 'suffix'"},
		{desc: "Errors on invalid caseSensitive type",
			in:  `{"caseSensitive": 123, "diacriticSensitive": false}`,
			err: "Expected bool for caseSensitive"},
		{desc: "Errors on invalid diacriticSensitive type",
			in:  `{"caseSensitive": true, "diacriticSensitive": "false"}`,
			err: "Expected bool for diacriticSensitive"},
		{desc: "Errors on invalid substring type",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "substring": "invalid"}`,
			err: "Expected document for substring"},
		{desc: "Errors on invalid strMaxLength type",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "substring": {"strMaxLength": "10"}}`,
			err: "must be an int32"},
		{desc: "Errors on negative strMaxLength",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "substring": {"strMaxLength": -1}}`,
			err: "must be greater than zero"},
		{desc: "Errors on unrecognized field",
			in:  `{"caseSensitive": true, "diacriticSensitive": false, "unknown": true}`,
			err: "Unrecognized field"},
		// Further rules of mc_TextOpts_parse.
		{desc: "prefix and suffix together", in: `{"caseSensitive": false, "diacriticSensitive": true,
			"prefix": {"strMinQueryLength": 4, "strMaxQueryLength": 9}, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`,
			want: TextOptions{DiacriticSensitive: true, Prefix: io(0, 4, 9), Suffix: io(0, 3, 8)}},
		{desc: "query lengths may be absent", in: `{"caseSensitive": false, "diacriticSensitive": false, "prefix": {}}`,
			want: TextOptions{Prefix: io(0, 0, 0)}},
		{desc: "caseSensitive required", in: `{"diacriticSensitive": false, "prefix": {}}`, err: "Error parsing TextOpts: 'caseSensitive' is required"},
		{desc: "diacriticSensitive required", in: `{"caseSensitive": false, "prefix": {}}`, err: "Error parsing TextOpts: 'diacriticSensitive' is required"},
		{desc: "strMaxLength required in substring", in: `{"caseSensitive": false, "diacriticSensitive": false, "substring": {"strMinQueryLength": 1}}`,
			err: "Error parsing TextOpts: 'strMaxLength' must be set for substring"},
		{desc: "duplicate field", in: `{"caseSensitive": false, "caseSensitive": true}`, err: "Error parsing TextOpts: Unexpected duplicate field 'caseSensitive'"},
		{desc: "duplicate nested field", in: `{"caseSensitive": false, "diacriticSensitive": false, "prefix": {"strMinQueryLength": 1, "strMinQueryLength": 2}}`,
			err: "Unexpected duplicate field 'strMinQueryLength'"},
		{desc: "int64 length", in: `{"caseSensitive": false, "diacriticSensitive": false, "prefix": {"strMinQueryLength": {"$numberLong": "1"}}}`,
			err: "Error parsing TextOpts: 'strMinQueryLength' must be an int32"},
		{desc: "zero length", in: `{"caseSensitive": false, "diacriticSensitive": false, "suffix": {"strMaxQueryLength": 0}}`,
			err: "Error parsing TextOpts: 'strMaxQueryLength' must be greater than zero"},
		{desc: "unknown nested field", in: `{"caseSensitive": false, "diacriticSensitive": false, "suffix": {"foo": 1}}`,
			err: "Error parsing TextOpts: Unrecognized field: 'foo'"},
		{desc: "type name", in: `{"caseSensitive": {"$numberLong": "1"}}`, err: "Expected bool for caseSensitive, got: INT64"},
	}
	for _, c := range cases {
		got, err := ParseTextOptions(ejson(t, c.in))
		if c.err != "" {
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one containing %q", c.desc, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.desc, err)
			continue
		}
		if !equalTextOptions(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.desc, got, c.want)
		}
	}
	if _, err := ParseTextOptions([]byte{5, 0, 0}); !errors.Is(err, ErrInvalidOptions) || err.Error() != "Error parsing TextOpts: Invalid BSON" {
		t.Errorf("invalid BSON: %v", err)
	}
}

func equalTextOptions(a, b TextOptions) bool {
	eq := func(x, y *IndexOptions) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.CaseSensitive == b.CaseSensitive && a.DiacriticSensitive == b.DiacriticSensitive &&
		eq(a.Substring, b.Substring) && eq(a.Prefix, b.Prefix) && eq(a.Suffix, b.Suffix)
}

// Cases of test_mc_TextOpts_to_FLE2TextSearchInsertSpec and
// test_mc_TextOpts_to_FLE2TextSearchInsertSpec_for_query: the spec document
// is compared byte for byte.
func TestTextOptionsToSpec(t *testing.T) {
	const (
		substrCI           = `{"caseSensitive": false, "diacriticSensitive": true, "substring": {"strMaxLength": 10, "strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		prefixCI           = `{"caseSensitive": false, "diacriticSensitive": true, "prefix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		suffixCI           = `{"caseSensitive": false, "diacriticSensitive": true, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		bothCI             = `{"caseSensitive": false, "diacriticSensitive": true, "prefix": {"strMinQueryLength": 4, "strMaxQueryLength": 9}, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		substrDI           = `{"caseSensitive": true, "diacriticSensitive": false, "substring": {"strMaxLength": 10, "strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		prefixDI           = `{"caseSensitive": true, "diacriticSensitive": false, "prefix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		suffixDI           = `{"caseSensitive": true, "diacriticSensitive": false, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		bothDI             = `{"caseSensitive": true, "diacriticSensitive": false, "prefix": {"strMinQueryLength": 4, "strMaxQueryLength": 9}, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`
		noQuery  QueryType = 0
	)
	cases := []struct {
		desc, in string
		qt       QueryType
		expect   string
	}{
		{"insert substring", substrCI, noQuery, `{"v": "test", "casef": true, "diacf": false, "substr": {"mlen": 10, "ub": 8, "lb": 3}}`},
		{"insert prefix", prefixCI, noQuery, `{"v": "test", "casef": true, "diacf": false, "prefix": {"ub": 8, "lb": 3}}`},
		{"insert suffix", suffixCI, noQuery, `{"v": "test", "casef": true, "diacf": false, "suffix": {"ub": 8, "lb": 3}}`},
		{"insert prefix + suffix", bothCI, noQuery, `{"v": "test", "casef": true, "diacf": false, "prefix": {"ub": 9, "lb": 4}, "suffix": {"ub": 8, "lb": 3}}`},
		{"query substring", substrDI, QuerySubstring, `{"v": "test", "casef": false, "diacf": true, "substr": {"mlen": 10, "ub": 8, "lb": 3}}`},
		{"query prefix", prefixDI, QueryPrefix, `{"v": "test", "casef": false, "diacf": true, "prefix": {"ub": 8, "lb": 3}}`},
		{"query suffix", suffixDI, QuerySuffix, `{"v": "test", "casef": false, "diacf": true, "suffix": {"ub": 8, "lb": 3}}`},
		{"query prefix of prefix + suffix", bothDI, QueryPrefix, `{"v": "test", "casef": false, "diacf": true, "prefix": {"ub": 9, "lb": 4}}`},
		{"query suffix of prefix + suffix", bothDI, QuerySuffix, `{"v": "test", "casef": false, "diacf": true, "suffix": {"ub": 8, "lb": 3}}`},
		// Preview aliases behave as their plain forms.
		{"query prefixPreview", bothDI, QueryPrefixPreview, `{"v": "test", "casef": false, "diacf": true, "prefix": {"ub": 9, "lb": 4}}`},
		{"query substringPreview", substrDI, QuerySubstringPreview, `{"v": "test", "casef": false, "diacf": true, "substr": {"mlen": 10, "ub": 8, "lb": 3}}`},
		// A query type the options lack yields an exact-match spec, as in libmongocrypt.
		{"query suffix of prefix-only", prefixDI, QuerySuffix, `{"v": "test", "casef": false, "diacf": true}`},
	}
	for _, c := range cases {
		o, err := ParseTextOptions(ejson(t, c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.desc, err)
		}
		var spec Spec
		if c.qt == noQuery {
			spec, err = o.InsertSpec(strValue("test"))
		} else {
			spec, err = o.QuerySpec(strValue("test"), c.qt)
		}
		if err != nil {
			t.Errorf("%s: %v", c.desc, err)
			continue
		}
		got := AppendSpec(nil, &spec)
		if want := ejson(t, c.expect); !bytes.Equal(got, want) {
			t.Errorf("%s: spec %s, want %s", c.desc, bson.Raw(got), want)
		}
	}
	// Errors: non-string value, and bounds the placeholder parser refuses.
	o, _ := ParseTextOptions(ejson(t, prefixCI))
	if _, err := o.InsertSpec(bson.RawValue{Type: bson.TypeInt32, Value: []byte{1, 0, 0, 0}}); !errors.Is(err, ErrInvalidSpec) ||
		err.Error() != "Error parsing FLE2TextSearchInsertSpec: unsupported BSON type: INT32 for text search" {
		t.Errorf("non-string value: %v", err)
	}
	o, _ = ParseTextOptions(ejson(t, `{"caseSensitive": true, "diacriticSensitive": true, "prefix": {"strMinQueryLength": 3}}`))
	if _, err := o.InsertSpec(strValue("x")); !errors.Is(err, ErrInvalidSpec) || err.Error() != "Error parsing FLE2PrefixInsertSpec: 'ub' must be greater than zero" {
		t.Errorf("missing strMaxQueryLength: %v", err)
	}
	o, _ = ParseTextOptions(ejson(t, `{"caseSensitive": true, "diacriticSensitive": true, "suffix": {"strMinQueryLength": 9, "strMaxQueryLength": 3}}`))
	if _, err := o.QuerySpec(strValue("x"), QuerySuffix); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "upper bound cannot be less than the lower bound") {
		t.Errorf("min > max: %v", err)
	}
	o, _ = ParseTextOptions(ejson(t, `{"caseSensitive": true, "diacriticSensitive": true, "substring": {"strMaxLength": 5, "strMinQueryLength": 1, "strMaxQueryLength": 8}}`))
	if _, err := o.InsertSpec(strValue("x")); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "maximum indexed length cannot be less than the upper bound") {
		t.Errorf("strMaxLength < strMaxQueryLength: %v", err)
	}
}

// The driver's StringOptions go through the same document as with the cgo
// driver.
func TestFromStringOptions(t *testing.T) {
	so := &options.StringOptions{
		Prefix:        &options.PrefixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 10},
		Suffix:        &options.SuffixOptions{StrMinQueryLength: 3, StrMaxQueryLength: 11},
		CaseSensitive: true,
	}
	want := ejson(t, `{"prefix": {"strMinQueryLength": 2, "strMaxQueryLength": 10}, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 11},
		"caseSensitive": true, "diacriticSensitive": false}`)
	if got := StringOptionsDocument(so); !bytes.Equal(got, want) {
		t.Errorf("document %s, want %s", got, want)
	}
	o, err := FromStringOptions(so)
	if err != nil {
		t.Fatal(err)
	}
	if !equalTextOptions(o, TextOptions{CaseSensitive: true, Prefix: &IndexOptions{StrMinQueryLength: 2, StrMaxQueryLength: 10},
		Suffix: &IndexOptions{StrMinQueryLength: 3, StrMaxQueryLength: 11}}) {
		t.Errorf("options %+v", o)
	}
	sub := &options.StringOptions{Substring: &options.SubstringOptions{StrMaxLength: 60, StrMinQueryLength: 2, StrMaxQueryLength: 10}}
	want = ejson(t, `{"substring": {"strMaxLength": 60, "strMinQueryLength": 2, "strMaxQueryLength": 10}, "caseSensitive": false, "diacriticSensitive": false}`)
	if got := StringOptionsDocument(sub); !bytes.Equal(got, want) {
		t.Errorf("substring document %s, want %s", got, want)
	}
	// Zero values are sent and refused by libmongocrypt's parser.
	if _, err := FromStringOptions(&options.StringOptions{Prefix: &options.PrefixOptions{}}); !errors.Is(err, ErrInvalidOptions) ||
		err.Error() != "Error parsing TextOpts: 'strMinQueryLength' must be greater than zero" {
		t.Errorf("zero prefix: %v", err)
	}
	if _, err := FromStringOptions(&options.StringOptions{}); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "One of 'prefix'") {
		t.Errorf("empty: %v", err)
	}
	if _, err := FromStringOptions(nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("nil: %v", err)
	}
}

// Cases of libmongocrypt test-mc-fle2-encryption-placeholder.c
// (_test_FLE2EncryptionPlaceholder_textSearch_parse) and the rest of
// mc_FLE2TextSearchInsertSpec_parse's rules.
func TestParseSpec(t *testing.T) {
	doc := func(s string) bson.RawValue {
		return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: ejson(t, s)}
	}
	spec, err := ParseSpec(doc(`{"v": "foobar", "casef": false, "diacf": true,
		"substr": {"ub": {"$numberInt": "200"}, "lb": {"$numberInt": "20"}, "mlen": {"$numberInt": "2000"}},
		"suffix": {"ub": {"$numberInt": "300"}, "lb": {"$numberInt": "30"}},
		"prefix": {"ub": {"$numberInt": "400"}, "lb": {"$numberInt": "400"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Value != "foobar" || spec.CaseFold || !spec.DiacriticFold ||
		*spec.Substring != (SubstringSpec{MLen: 2000, LB: 20, UB: 200}) ||
		*spec.Suffix != (AffixSpec{LB: 30, UB: 300}) || *spec.Prefix != (AffixSpec{LB: 400, UB: 400}) {
		t.Errorf("parsed %+v", spec)
	}
	errCases := []struct{ in, err string }{
		{`{"v": "foobar", "casef": false, "diacf": true, "substr": {"ub": 30, "lb": 40, "mlen": 400}}`,
			"Error parsing FLE2SubstringInsertSpec: upper bound cannot be less than the lower bound"},
		{`{"v": "foobar", "casef": false, "diacf": true, "suffix": {"ub": 30, "lb": 40, "mlen": 400}}`,
			"Error parsing FLE2SuffixInsertSpec: upper bound cannot be less than the lower bound"},
		{`{"v": "foobar", "casef": false, "diacf": true, "prefix": {"ub": 30, "lb": 40, "mlen": 400}}`,
			"Error parsing FLE2PrefixInsertSpec: upper bound cannot be less than the lower bound"},
		{`{"v": "foobar", "casef": false, "diacf": true, "substr": {"ub": 2000, "lb": 20, "mlen": 200}}`,
			"Error parsing FLE2SubstringInsertSpec: maximum indexed length cannot be less than the upper bound"},
		{`{"casef": false, "diacf": true}`, "Error parsing FLE2TextSearchInsertSpec: Missing field 'v' in placeholder"},
		{`{"v": "a", "diacf": true}`, "Error parsing FLE2TextSearchInsertSpec: Missing field 'casef' in placeholder"},
		{`{"v": "a", "casef": true}`, "Error parsing FLE2TextSearchInsertSpec: Missing field 'diacf' in placeholder"},
		{`{"v": 1, "casef": true, "diacf": true}`, "Error parsing FLE2TextSearchInsertSpec: unsupported BSON type: INT32 for text search"},
		{`{"v": "a", "casef": 1, "diacf": true}`, "Error parsing FLE2TextSearchInsertSpec: 'casef' must be a bool"},
		{`{"v": "a", "v": "b", "casef": true, "diacf": true}`, "Error parsing FLE2TextSearchInsertSpec: Duplicate field 'v' in placeholder bson"},
		{`{"v": "a", "casef": true, "diacf": true, "prefix": 5}`, "Error parsing FLE2PrefixInsertSpec: must be an iterator to a document"},
		{`{"v": "a", "casef": true, "diacf": true, "prefix": {"lb": 1}}`, "Error parsing FLE2PrefixInsertSpec: Missing field 'ub' in placeholder"},
		{`{"v": "a", "casef": true, "diacf": true, "substr": {"lb": 1, "ub": 2}}`, "Error parsing FLE2SubstringInsertSpec: Missing field 'mlen' in placeholder"},
		{`{"v": "a", "casef": true, "diacf": true, "suffix": {"lb": 0, "ub": 2}}`, "Error parsing FLE2SuffixInsertSpec: 'lb' must be greater than zero"},
		{`{"v": "a", "casef": true, "diacf": true, "suffix": {"lb": {"$numberLong": "1"}, "ub": 2}}`, "Error parsing FLE2SuffixInsertSpec: 'lb' must be an int32"},
		{`{"v": "a", "casef": true, "diacf": true, "suffix": {"lb": 1, "lb": 1, "ub": 2}}`, "Error parsing FLE2SuffixInsertSpec: Duplicate field 'lb' in placeholder bson"},
	}
	for _, c := range errCases {
		_, err := ParseSpec(doc(c.in))
		if !errors.Is(err, ErrInvalidSpec) || err.Error() != c.err {
			t.Errorf("%s: error %v, want %q", c.in, err, c.err)
		}
	}
	if _, err := ParseSpec(strValue("x")); !errors.Is(err, ErrInvalidSpec) || err.Error() != specPrefix+"must be an iterator to a document" {
		t.Errorf("not a document: %v", err)
	}
	// Unknown fields are ignored, and "mlen" outside substr too.
	spec, err = ParseSpec(doc(`{"v": "a", "casef": true, "diacf": false, "other": 1, "prefix": {"ub": 2, "lb": 1, "mlen": 0, "x": "y"}}`))
	if err != nil || spec.Prefix == nil || *spec.Prefix != (AffixSpec{LB: 1, UB: 2}) {
		t.Errorf("unknown fields: %+v, %v", spec, err)
	}
	// Round trip through AppendSpec, with NUL and non-ASCII in the value.
	in := Spec{Value: "a\x00é", CaseFold: true, Prefix: &AffixSpec{1, 2}, Suffix: &AffixSpec{3, 4}, Substring: &SubstringSpec{9, 5, 6}}
	out, err := ParseSpec(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: AppendSpec(nil, &in)})
	if err != nil || out.String() != in.String() || out.Value != in.Value {
		t.Errorf("round trip: %v, %v", out, err)
	}
}

func TestQueryType(t *testing.T) {
	for _, c := range []struct {
		name    string
		qt      QueryType
		display string
		base    QueryType
	}{
		{"prefix", QueryPrefix, "Prefix", QueryPrefix},
		{"SUFFIX", QuerySuffix, "Suffix", QuerySuffix},
		{"substring", QuerySubstring, "Substring", QuerySubstring},
		{"prefixpreview", QueryPrefixPreview, "PrefixPreview", QueryPrefix},
		{"suffixPreview", QuerySuffixPreview, "SuffixPreview", QuerySuffix},
		{"substringPreview", QuerySubstringPreview, "SubstringPreview", QuerySubstring},
	} {
		qt, ok := ParseQueryType(c.name)
		if !ok || qt != c.qt || qt.String() != c.display || qt.Base() != c.base || !equalFoldASCII(qt.Name(), c.name) {
			t.Errorf("ParseQueryType(%q) = %v, %t", c.name, qt, ok)
		}
	}
	for _, bad := range []string{"equality", "range", "rangePreview", "prefi", "\u212aprefix", "pre\u017fix", ""} {
		if _, ok := ParseQueryType(bad); ok {
			t.Errorf("ParseQueryType(%q) accepted", bad)
		}
	}
}

func FuzzParseTextOptions(f *testing.F) {
	seeds := []string{
		`{"caseSensitive": true, "diacriticSensitive": false, "prefix": {"strMinQueryLength": 1, "strMaxQueryLength": 2}}`,
		`{"caseSensitive": true, "diacriticSensitive": false, "substring": {"strMaxLength": 10, "strMinQueryLength": 3, "strMaxQueryLength": 8}}`,
		`{"caseSensitive": false, "diacriticSensitive": true, "prefix": {"strMinQueryLength": 4, "strMaxQueryLength": 9}, "suffix": {"strMinQueryLength": 3, "strMaxQueryLength": 8}}`,
		`{"caseSensitive": 123, "diacriticSensitive": false}`,
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add([]byte(ejson(f, s)))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		o, err := ParseTextOptions(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if o.Prefix == nil && o.Suffix == nil && o.Substring == nil {
			t.Fatal("accepted options without an index kind")
		}
		if o.Substring != nil && (o.Prefix != nil || o.Suffix != nil) {
			t.Fatal("accepted substring with prefix or suffix")
		}
		// The spec path must not panic either.
		if spec, err := o.InsertSpec(strValue("fuzz")); err == nil {
			if _, err := StrEncode(&spec); err != nil && !errors.Is(err, ErrTooLong) {
				t.Fatalf("StrEncode of an accepted spec: %v", err)
			}
		}
	})
}

func FuzzParseSpec(f *testing.F) {
	seeds := []string{
		`{"v": "foobar", "casef": false, "diacf": true, "substr": {"ub": 200, "lb": 20, "mlen": 2000}, "suffix": {"ub": 300, "lb": 30}, "prefix": {"ub": 400, "lb": 400}}`,
		`{"v": "test", "casef": true, "diacf": false, "prefix": {"ub": 9, "lb": 4}, "suffix": {"ub": 8, "lb": 3}}`,
		`{"v": 1, "casef": true, "diacf": true}`,
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add([]byte(ejson(f, s)))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		spec, err := ParseSpec(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc})
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("parsed spec fails Validate: %v", err)
		}
		back, err := ParseSpec(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: AppendSpec(nil, &spec)})
		if err != nil || back.String() != spec.String() || back.Value != spec.Value {
			t.Fatalf("round trip: %v / %v, %v", spec, back, err)
		}
	})
}
