package qe

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestParseEncryptedFieldsVectors ports test-mc-efc.c: fields (here in document order, the
// reverse of libmongocrypt's list), key ids, query flags, strEncodeVersion and errors.
func TestParseEncryptedFieldsVectors(t *testing.T) {
	id1 := mustKeyID("12345678123498761234123456789012")
	id2 := mustKeyID("abcdefab123498761234123456789012")
	id3 := mustKeyID("12345678123498761234123456abcdef")
	type field struct {
		path string
		id   KeyID
		q    QueryTypes
	}
	cases := []struct {
		file    string
		fields  []field
		version int32
		err     string
	}{
		{file: "efc-oneField.json", fields: []field{{"firstName", id1, QueryEquality}}},
		{file: "efc-oneField-goodVersionSet.json", fields: []field{{"firstName", id1, QueryEquality}}, version: 1},
		{file: "efc-extraField.json", fields: []field{{"firstName", id1, QueryEquality}}},
		{file: "efc-twoFields.json", fields: []field{{"firstName", id1, QueryEquality}, {"lastName", id2, QueryEquality}}},
		{file: "efc-missingKeyId.json", err: "unable to find 'keyId' or 'keyAltName' in 'field' document"},
		{file: "efc-oneField-badVersionSet.json", err: "'strEncodeVersion' of 99 is not supported"},
		{file: "efc-textSearchFields.json", version: LatestStrEncodeVersion, fields: []field{
			{"firstName", id1, QuerySubstring}, {"lastName", id2, QuerySuffix | QueryPrefix},
			{"middleName", id3, QuerySuffix | QueryPrefix}, {"preferredName", id2, QuerySubstring}}},
		{file: "efc-textSearchFields-goodVersionSet.json", version: 1, fields: []field{
			{"firstName", id1, QuerySubstring}, {"lastName", id2, QuerySuffix | QueryPrefix}}},
		{file: "efc-textSearchFields-badVersionSet.json", err: "'strEncodeVersion' of 99 is not supported"},
		{file: "efc-duplicateKeyAltName.json", err: "duplicate keyAltName 'myKeyAltName' found in encrypted field config"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			efc, err := ParseEncryptedFields(readExtJSON(t, filepath.Join("testdata/efc", c.file)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if efc.StrEncodeVersion != c.version {
				t.Errorf("StrEncodeVersion = %d, want %d", efc.StrEncodeVersion, c.version)
			}
			if len(efc.Fields) != len(c.fields) {
				t.Fatalf("%d fields, want %d", len(efc.Fields), len(c.fields))
			}
			for i, f := range c.fields {
				got := efc.Fields[i]
				if got.Path != f.path || got.KeyID == nil || *got.KeyID != f.id {
					t.Errorf("field %d = %s %v, want %s %s", i, got.Path, got.KeyID, f.path, f.id)
				}
				// efc-oneField and twoFields have equality queries; compare the text flags exactly.
				if f.q&queryTextAny != 0 && got.Queries != f.q {
					t.Errorf("field %s queries = %b, want %b", f.path, got.Queries, f.q)
				}
			}
		})
	}
}

func TestParseEncryptedFieldsErrors(t *testing.T) {
	const id = `{"$binary": {"base64": "EjRWeBI0mHYSNBI0VniQEg==", "subType": "04"}}`
	cases := []struct{ doc, err string }{
		{`{}`, "unable to find 'fields'"},
		{`{"fields": {}}`, "expected 'fields' to be type array"},
		{`{"fields": [1]}`, "to be a document"},
		{`{"fields": [{"keyId": ` + id + `, "keyAltName": "a", "path": "x"}]}`, "only one of 'keyId' or 'keyAltName"},
		{`{"fields": [{"keyId": "x", "path": "x"}]}`, "to be type binary"},
		{`{"fields": [{"keyId": {"$binary": {"base64": "AAAA", "subType": "04"}}, "path": "x"}]}`, "unable to parse uuid"},
		{`{"fields": [{"keyAltName": 1, "path": "x"}]}`, "'fields.keyAltName' to be type UTF-8"},
		{`{"fields": [{"keyId": ` + id + `}]}`, "unable to find 'path'"},
		{`{"fields": [{"keyId": ` + id + `, "path": 1}]}`, "'fields.path' to be type UTF-8"},
		{`{"fields": [{"keyId": ` + id + `, "path": "x", "queries": 1}]}`, "Expected type document"},
		{`{"fields": [{"keyId": ` + id + `, "path": "x", "queries": {}}]}`, "Unable to find 'queryType'"},
		{`{"fields": [{"keyId": ` + id + `, "path": "x", "queries": {"queryType": 1}}]}`, "'queryType' to be type UTF-8"},
		{`{"fields": [{"keyId": ` + id + `, "path": "x", "queries": {"queryType": "bogus"}}]}`, "Did not recognize query type 'bogus'"},
		{`{"fields": [{"keyId": ` + id + `, "path": "x", "queries": [{"queryType": "rangePreview"}]}]}`, "'rangePreview' is unsupported. Use 'range' instead"},
		{`{"fields": [], "strEncodeVersion": {"$numberLong": "1"}}`, "'strEncodeVersion' to be type int32"},
		{`{"fields": [], "strEncodeVersion": 0}`, "'strEncodeVersion' of 0 is not supported"},
	}
	for _, c := range cases {
		_, err := ParseEncryptedFields(extJSON(t, c.doc))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err = %v, want %q", c.doc, err, c.err)
		}
	}
	// Query type names ignore ASCII case.
	efc, err := ParseEncryptedFields(extJSON(t, `{"fields": [{"keyAltName": "k", "path": "x", "queries": [{"queryType": "RANGE"}, {"queryType": "Equality"}]}]}`))
	if err != nil || efc.Fields[0].Queries != QueryRange|QueryEquality || efc.Fields[0].KeyID != nil || efc.Fields[0].KeyAltName != "k" {
		t.Fatalf("got %+v, %v", efc, err)
	}
}

// The field's document and its query documents, each with its type, are kept for query
// analysis: a single query document and an array of them alike.
func TestParseEncryptedFieldsQueryDocs(t *testing.T) {
	const id = `{"$binary": {"base64": "EjRWeBI0mHYSNBI0VniQEg==", "subType": "04"}}`
	efc, err := ParseEncryptedFields(extJSON(t, `{"fields": [
		{"keyId": `+id+`, "path": "a", "bsonType": "int", "queries": [{"queryType": "Range", "sparsity": 1}, {"queryType": "equality", "contention": 2}]},
		{"keyId": `+id+`, "path": "b", "bsonType": "string", "queries": {"queryType": "substringPreview", "strMaxLength": 9}},
		{"keyId": `+id+`, "path": "c"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		types []QueryTypes
		keys  []string // a key of each query document
	}{
		{[]QueryTypes{QueryRange, QueryEquality}, []string{"sparsity", "contention"}},
		{[]QueryTypes{QuerySubstring}, []string{"strMaxLength"}},
		{nil, nil},
	}
	for i, w := range want {
		f := efc.Fields[i]
		if bt, err := f.Doc.LookupErr("bsonType"); (i < 2) != (err == nil) || (err == nil && bt.StringValue() == "") {
			t.Errorf("field %s: Doc = %v", f.Path, f.Doc)
		}
		if len(f.QueryDocs) != len(w.types) {
			t.Fatalf("field %s: %d query documents, want %d", f.Path, len(f.QueryDocs), len(w.types))
		}
		for j, qd := range f.QueryDocs {
			if qd.Type != w.types[j] {
				t.Errorf("field %s query %d: type %b, want %b", f.Path, j, qd.Type, w.types[j])
			}
			if _, err := qd.Doc.LookupErr(w.keys[j]); err != nil {
				t.Errorf("field %s query %d: document %v lacks %q", f.Path, j, qd.Doc, w.keys[j])
			}
		}
	}
}

// TestCompactionTokenVectors builds the compactionTokens and cleanupTokens of libmongocrypt's
// test/data/compact and test/data/cleanup from the collection's encryptedFields.
func TestCompactionTokenVectors(t *testing.T) {
	keys := testKeys(t)
	cases := []struct{ dir, key string }{
		{"compact/success", "compactionTokens"},
		{"compact/anchor-pad", "compactionTokens"},
		{"compact/text-search", "compactionTokens"},
		{"compact/no-range", "compactionTokens"},
		{"compact/no-fields", "compactionTokens"},
		{"cleanup/success", "cleanupTokens"},
		{"cleanup/text-search", "cleanupTokens"},
		{"cleanup/no-fields", "cleanupTokens"},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			info := readExtJSON(t, filepath.Join("testdata", c.dir, "collinfo.json"))
			efc, err := ParseEncryptedFields(info.Lookup("options", "encryptedFields").Document())
			if err != nil {
				t.Fatal(err)
			}
			got, err := efc.CompactionTokens(keys)
			if err != nil {
				t.Fatal(err)
			}
			want := readExtJSON(t, filepath.Join("testdata", c.dir, "encrypted-payload.json")).Lookup(c.key).Document()
			if !bytes.Equal(got, want) {
				t.Fatalf("tokens differ\n got %s\nwant %s", got, want)
			}
		})
	}
	for _, dir := range []string{"compact/missing-key-id", "cleanup/missing-key-id"} {
		info := readExtJSON(t, filepath.Join("testdata", dir, "collinfo.json"))
		if _, err := ParseEncryptedFields(info.Lookup("options", "encryptedFields").Document()); err == nil {
			t.Errorf("%s: parsed", dir)
		}
	}
	// A field with an unresolved key alt name has no tokens.
	efc, err := ParseEncryptedFields(extJSON(t, `{"fields": [{"keyAltName": "k", "path": "x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := efc.CompactionTokens(keys); err == nil || !strings.Contains(err.Error(), "not resolved") {
		t.Errorf("unresolved alt name: err = %v", err)
	}
	id := key12345678
	efc.Fields[0].KeyID = &id
	if toks, err := efc.CompactionTokens(keys); err != nil || len(toks.Lookup("x").Value) != 4+1+32 {
		t.Errorf("resolved alt name: %v, %v", toks, err)
	}
	if ids := efc.KeyIDs(); len(ids) != 1 || ids[0] != id {
		t.Errorf("KeyIDs = %v", ids)
	}
}

func FuzzParseEncryptedFields(f *testing.F) {
	files, _ := filepath.Glob("testdata/efc/*.json")
	if len(files) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, file := range files {
		f.Add([]byte(readExtJSON(f, file)))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		efc, err := ParseEncryptedFields(bson.Raw(doc))
		if err != nil {
			return
		}
		for _, fl := range efc.Fields {
			if fl.Queries&(QueryRangePreview|QuerySubstringPreview) != 0 {
				t.Fatalf("field %s parsed with query flags %b", fl.Path, fl.Queries)
			}
		}
		if efc.StrEncodeVersion < 0 || efc.StrEncodeVersion > LatestStrEncodeVersion {
			t.Fatalf("StrEncodeVersion %d", efc.StrEncodeVersion)
		}
	})
}

// TestWithStrEncodeVersion checks the encryptedFields of libmongocrypt's create test folders:
// the command's encryptedFields, fixed with the collection's parsed encryptedFields (from
// encrypted-field-config-map.json), is what libmongocrypt sends.
func TestWithStrEncodeVersion(t *testing.T) {
	for _, dir := range []string{
		"fle2-text-search-create-encrypted-collection",
		"fle2-text-search-create-encrypted-collection-with-str-encode-version",
		"fle2-create-encrypted-collection",
		"fle2-create-encrypted-collection-with-str-encode-version",
	} {
		t.Run(dir, func(t *testing.T) {
			efcMap := readExtJSON(t, filepath.Join("testdata", dir, "encrypted-field-config-map.json"))
			efc, err := ParseEncryptedFields(efcMap.Lookup("db.coll").Document())
			if err != nil {
				t.Fatal(err)
			}
			cmd := readExtJSON(t, filepath.Join("testdata", dir, "cmd.json"))
			got, err := efc.WithStrEncodeVersion(cmd.Lookup("encryptedFields").Document())
			if err != nil {
				t.Fatal(err)
			}
			want := readExtJSON(t, filepath.Join("testdata", dir, "encrypted-payload.json")).Lookup("encryptedFields").Document()
			if !bytes.Equal(got, want) {
				t.Fatalf("got %s\nwant %s", got, want)
			}
		})
	}
	// strEncodeVersion 99 is refused by the parser, and a mismatch by WithStrEncodeVersion.
	bad := readExtJSON(t, "testdata/fle2-bad-str-encode-version/bad-create-cmd.json").Lookup("encryptedFields").Document()
	badMap := readExtJSON(t, "testdata/fle2-bad-str-encode-version/bad-encrypted-field-config-map.json").Lookup("db.test").Document()
	if _, err := ParseEncryptedFields(badMap); err == nil || !strings.Contains(err.Error(), "'strEncodeVersion' of 99 is not supported") {
		t.Errorf("parse strEncodeVersion 99: err = %v", err)
	}
	efc := &EncryptedFields{StrEncodeVersion: 1}
	if _, err := efc.WithStrEncodeVersion(bad); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatch: err = %v", err)
	}
}

// TestParseEncryptedFieldsMaps parses the encryptedFieldsMap files of
// fle2-insert-text-search-preview (prefixPreview and suffixPreview are accepted aliases) and
// fle2-duplicate-keyaltname (refused).
func TestParseEncryptedFieldsMaps(t *testing.T) {
	for file, want := range map[string]QueryTypes{
		"encrypted-field-map-prefixPreview.json": QueryPrefixPreview,
		"encrypted-field-map-suffixPreview.json": QuerySuffixPreview,
	} {
		m := readExtJSON(t, filepath.Join("testdata/fle2-insert-text-search-preview", file))
		efc, err := ParseEncryptedFields(m.Lookup("db.test").Document())
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(efc.Fields) != 1 || efc.Fields[0].Queries != want || efc.StrEncodeVersion != LatestStrEncodeVersion {
			t.Errorf("%s: %+v", file, efc)
		}
	}
	m := readExtJSON(t, "testdata/fle2-duplicate-keyaltname/encrypted-field-config-map.json")
	elems, _ := m.Elements()
	if len(elems) != 1 {
		t.Fatalf("expected one namespace")
	}
	if _, err := ParseEncryptedFields(elems[0].Value().Document()); err == nil || !strings.Contains(err.Error(), "duplicate keyAltName") {
		t.Errorf("duplicate keyAltName: err = %v", err)
	}
}
