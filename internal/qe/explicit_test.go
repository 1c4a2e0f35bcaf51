package qe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/qe/rangeenc"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// explicitCase is one case of _test_encrypt_fle2_explicit and _test_range_sends_cryptoParams
// in libmongocrypt's test-mongocrypt-ctx-encrypt.c.
type explicitCase struct {
	desc       string
	rng        []byte
	algorithm  string
	user       KeyID
	index      *KeyID // nil: the user key
	contention *int64
	rangeOpts  string // extended JSON, or a file under testdata
	textOpts   *options.StringOptionsBuilder
	queryType  string
	msg        string // extended JSON {v: ...}, or a file under testdata
	expect     string // extended JSON {v: ...}, or a file under testdata
	expectErr  string // substring of the error
	errIs      error
	expression bool
}

func i64(n int64) *int64 { return &n }

// jsonOrFile reads s as a testdata file when it names one, as extended JSON otherwise.
func jsonOrFile(t *testing.T, s string) bson.Raw {
	t.Helper()
	if strings.HasSuffix(s, ".json") {
		return readExtJSON(t, filepath.Join("testdata", s))
	}
	return extJSON(t, s)
}

// rangeBuilder turns a RangeOpts document into the driver's builder.
func rangeBuilder(t *testing.T, doc bson.Raw) *options.RangeOptionsBuilder {
	t.Helper()
	b := options.Range()
	elems, err := doc.Elements()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "min":
			b.SetMin(v)
		case "max":
			b.SetMax(v)
		case "sparsity":
			b.SetSparsity(v.Int64())
		case "precision":
			b.SetPrecision(v.Int32())
		case "trimFactor":
			b.SetTrimFactor(v.Int32())
		default:
			t.Fatalf("unknown range option %s", e.Key())
		}
	}
	return b
}

func (c *explicitCase) options(t *testing.T) *options.EncryptOptions {
	t.Helper()
	o := &options.EncryptOptions{Algorithm: c.algorithm, QueryType: c.queryType, ContentionFactor: c.contention, StringOptions: c.textOpts}
	id := bson.Binary{Subtype: binaryUUID, Data: c.user[:]}
	o.KeyID = &id
	if c.rangeOpts != "" {
		o.RangeOptions = rangeBuilder(t, jsonOrFile(t, c.rangeOpts))
	}
	return o
}

func (c *explicitCase) run(t *testing.T) {
	t.Helper()
	resetPayloadIDForTest()
	keys := testKeys(t)
	rng := &fixedRNG{data: c.rng}
	index := c.user
	if c.index != nil {
		index = *c.index
	}
	msg := jsonOrFile(t, c.msg).Lookup("v")
	opts := c.options(t)
	var got bson.Raw
	var err error
	if c.expression {
		got, err = encryptExpression(msg.Document(), c.user, index, opts, keys, rng)
	} else {
		var p *Placeholder
		p, err = explicitPlaceholder(msg, c.user, index, opts)
		if err == nil {
			var blob []byte
			if blob, err = p.Encrypt(keys, rng); err == nil {
				got = bson.Raw(bsoncore.NewDocumentBuilder().AppendBinary("v", binaryEncrypted, blob).Build())
			}
		}
	}
	if c.expectErr != "" || c.errIs != nil {
		if err == nil {
			t.Fatalf("%s: succeeded, want error %q", c.desc, c.expectErr)
		}
		if c.expectErr != "" && !strings.Contains(err.Error(), c.expectErr) {
			t.Fatalf("%s: error %q, want %q", c.desc, err, c.expectErr)
		}
		if c.errIs != nil && !errors.Is(err, c.errIs) {
			t.Fatalf("%s: error %v, want errors.Is %v", c.desc, err, c.errIs)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.desc, err)
	}
	want := jsonOrFile(t, c.expect)
	if c.expression {
		want = want.Lookup("v").Document()
	} else {
		got = got.Lookup("v").Value
		want = want.Lookup("v").Value
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: output differs\n got %x\nwant %x", c.desc, got, want)
	}
}

// rngWithCF is the RNG_DATA of the non-zero contention factor cases: 8 bytes for the
// contention factor, then the IVs of p and v.
func rngWithCF(first byte) []byte {
	return append([]byte{first, 0, 0, 0, 0, 0, 0, 0}, rngInsertV2...)
}

func textOpts(so options.StringOptions) *options.StringOptionsBuilder {
	b := options.String().SetCaseSensitive(so.CaseSensitive).SetDiacriticSensitive(so.DiacriticSensitive)
	if so.Prefix != nil {
		b.SetPrefix(*so.Prefix)
	}
	if so.Suffix != nil {
		b.SetSuffix(*so.Suffix)
	}
	if so.Substring != nil {
		b.SetSubstring(*so.Substring)
	}
	return b
}

func explicitCases(t *testing.T) []explicitCase {
	key123 := key12345678
	rngTextFile := readRNGData(t, "testdata/fle2-insert-text-search/RNG_DATA.h")
	suffix := &options.SuffixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 100}
	prefix := &options.PrefixOptions{StrMinQueryLength: 1, StrMaxQueryLength: 100}
	substr := &options.SubstringOptions{StrMaxLength: 100, StrMinQueryLength: 1, StrMaxQueryLength: 100}
	sensitive := options.StringOptions{CaseSensitive: true, DiacriticSensitive: true}
	with := func(f func(*options.StringOptions)) *options.StringOptionsBuilder {
		so := sensitive
		f(&so)
		return textOpts(so)
	}
	return []explicitCase{
		{desc: "Unindexed (v2)", rng: rngUnindexed, algorithm: "Unindexed", user: keyABCDEFAB, index: &key123,
			msg: `{"v": "value123"}`, expect: `{"v": {"$binary": {"base64": "EKvN76sSNJh2EjQSNFZ4kBICTQaVZPWgXp41I7mPV1rLFVl3jjP90PgD4T+Mtubn/mm4CKsKGaV1yxlic9Dty1Adef4Y+bsLGKhBbCa5eojM/A==", "subType": "06"}}}`},
		{desc: "Indexed (v2)", rng: rngInsertV2, algorithm: "Indexed", user: keyABCDEFAB, index: &key123, contention: i64(0),
			msg: `{"v": "value123"}`, expect: "fle2-explicit/insert-indexed-v2.json"},
		{desc: "Indexed with non-zero ContentionFactor, random number 0 (v2)", rng: rngWithCF(0), algorithm: "Indexed", user: keyABCDEFAB, index: &key123,
			contention: i64(1), msg: `{"v": "value123"}`, expect: "fle2-explicit/insert-indexed-v2.json"},
		{desc: "Indexed with non-zero ContentionFactor, random number 1 (v2)", rng: rngWithCF(1), algorithm: "Indexed", user: keyABCDEFAB, index: &key123,
			contention: i64(1), msg: `{"v": "value123"}`, expect: "fle2-explicit/insert-indexed-contentionFactor1-v2.json"},
		{desc: "omitted index_key_id defaults to using user_key_id (v2)", rng: rngInsertV2, algorithm: "Indexed", user: keyABCDEFAB, contention: i64(0),
			msg: `{"v": "value123"}`, expect: "fle2-explicit/insert-indexed-same-user-and-index-key-v2.json"},
		{desc: "algorithm='Indexed' with query type (v2)", algorithm: "Indexed", queryType: "equality", user: keyABCDEFAB, index: &key123,
			contention: i64(0), msg: `{"v": 123456}`, expect: "fle2-explicit/find-indexed-v2.json"},
		{desc: "algorithm='Indexed' with query type and non-zero contention factor (v2)", algorithm: "Indexed", queryType: "equality",
			user: keyABCDEFAB, index: &key123, contention: i64(1), msg: `{"v": 123456}`, expect: "fle2-explicit/find-indexed-contentionFactor1-v2.json"},
		{desc: "Negative contention factor is an error on insert (v2)", algorithm: "Indexed", user: keyABCDEFAB, contention: i64(-1),
			msg: `{"v": 123456}`, expectErr: "must be non-negative"},
		{desc: "INT64_MAX contention factor is an error on insert (v2)", algorithm: "Indexed", user: keyABCDEFAB, contention: i64(1<<63 - 1),
			msg: `{"v": 123456}`, expectErr: "< INT64_MAX"},
		{desc: "algorithm='Range' with int32 (v2)", rng: readRNGData(t, "testdata/fle2-insert-range-explicit/int32/RNG_DATA.h"),
			algorithm: "Range", user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-insert-range-explicit/int32/rangeopts.json",
			msg: "fle2-insert-range-explicit/int32/value-to-encrypt.json", expect: "fle2-insert-range-explicit/int32/encrypted-payload-v2.json"},
		{desc: "algorithm='Range' with sparsity=2 with int32 (v2)", rng: readRNGData(t, "testdata/fle2-insert-range-explicit/sparsity-2/RNG_DATA.h"),
			algorithm: "Range", user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-insert-range-explicit/sparsity-2/rangeopts.json",
			msg: "fle2-insert-range-explicit/sparsity-2/value-to-encrypt.json", expect: "fle2-insert-range-explicit/sparsity-2/encrypted-payload-v2.json"},
		{desc: "algorithm='Range' with query_type='range' with int32 (v2)", algorithm: "Range", queryType: "range", user: keyABCDEFAB,
			contention: i64(4), rangeOpts: "fle2-find-range-explicit/int32/rangeopts.json", msg: "fle2-find-range-explicit/int32/value-to-encrypt.json",
			expect: "fle2-find-range-explicit/int32/encrypted-payload-v2.json", expression: true},
		{desc: "An unsupported range BSON type is an error (v2)", algorithm: "Range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 0, "max": 1, "sparsity": {"$numberLong": "1"}}`, msg: `{"v": "abc"}`, errIs: rangeenc.ErrType},
		{desc: "algorithm='Range' with query_type='range' with double with precision (v2)", algorithm: "Range", queryType: "range",
			user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-find-range-explicit/double-precision/rangeopts.json",
			msg: "fle2-find-range-explicit/double-precision/value-to-encrypt.json", expect: "fle2-find-range-explicit/double-precision/encrypted-payload-v2.json", expression: true},
		{desc: "algorithm='Range' with double precision with precision (v2)", rng: readRNGData(t, "testdata/fle2-insert-range-explicit/double-precision/RNG_DATA.h"),
			algorithm: "Range", user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-insert-range-explicit/double-precision/rangeopts.json",
			msg: "fle2-insert-range-explicit/double-precision/value-to-encrypt.json", expect: "fle2-insert-range-explicit/double-precision/encrypted-payload-v2.json"},
		{desc: "algorithm='Range' with query_type='range' with double without precision (v2)", algorithm: "Range", queryType: "range",
			user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-find-range-explicit/double/rangeopts.json",
			msg: "fle2-find-range-explicit/double/value-to-encrypt.json", expect: "fle2-find-range-explicit/double/encrypted-payload-v2.json", expression: true},
		{desc: "algorithm='Range' with double without precision (v2)", rng: readRNGData(t, "testdata/fle2-insert-range-explicit/double/RNG_DATA.h"),
			algorithm: "Range", user: keyABCDEFAB, index: &key123, contention: i64(0), rangeOpts: "fle2-insert-range-explicit/double/rangeopts.json",
			msg: "fle2-insert-range-explicit/double/value-to-encrypt.json", expect: "fle2-insert-range-explicit/double/encrypted-payload-v2.json"},
		{desc: "min > max for insert (v2)", algorithm: "Range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 1, "max": 0, "sparsity": {"$numberLong": "1"}}`, msg: "fle2-insert-range-explicit/int32/value-to-encrypt.json", errIs: rangeenc.ErrBounds},
		{desc: "min > max for find (v2)", algorithm: "Range", queryType: "range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 25, "max": 24, "sparsity": {"$numberLong": "1"}}`, msg: "fle2-find-range-explicit/int32/value-to-encrypt.json", expression: true, errIs: rangeenc.ErrBounds},
		{desc: "open interval (v2)", algorithm: "Range", queryType: "range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: "fle2-find-range-explicit/int32-openinterval/rangeopts.json", msg: "fle2-find-range-explicit/int32-openinterval/value-to-encrypt.json",
			expect: "fle2-find-range-explicit/int32-openinterval/encrypted-payload-v2.json", expression: true},
		{desc: "min is required to insert int for range", algorithm: "Range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"max": 200, "sparsity": {"$numberLong": "1"}}`, msg: `{"v": 1}`, expectErr: "min is required", errIs: rangeenc.ErrBounds},
		{desc: "max is required to insert int for range", algorithm: "Range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 0, "sparsity": {"$numberLong": "1"}}`, msg: `{"v": 1}`, expectErr: "max is required", errIs: rangeenc.ErrBounds},
		{desc: "min is required to find int for range", algorithm: "Range", queryType: "range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"max": 200, "sparsity": {"$numberLong": "1"}}`, msg: `{"v": {"$and": [{"age": {"$gte": 23}}, {"age": {"$lte": 35}}]}}`,
			expression: true, expectErr: "min is required", errIs: rangeenc.ErrBounds},
		{desc: "max is required to find int for range", algorithm: "Range", queryType: "range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 0, "sparsity": {"$numberLong": "1"}}`, msg: `{"v": {"$and": [{"age": {"$gte": 23}}, {"age": {"$lte": 35}}]}}`,
			expression: true, expectErr: "max is required", errIs: rangeenc.ErrBounds},
		{desc: "crossed bounds fails", algorithm: "Range", queryType: "range", user: keyABCDEFAB, contention: i64(0),
			rangeOpts: `{"min": 0, "max": 100}`, msg: `{"v": {"$and": [{"age": {"$gt": 25}}, {"age": {"$lt": 15}}]}}`,
			expression: true, errIs: rangeenc.ErrQuery},
		{desc: "find suffix", algorithm: "String", queryType: "suffix", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Suffix = suffix }), expect: "fle2-explicit/find-suffix.json"},
		{desc: "find prefix", algorithm: "String", queryType: "prefix", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix = prefix }), expect: "fle2-explicit/find-prefix.json"},
		{desc: "find suffixPreview", algorithm: "String", queryType: "suffixPreview", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Suffix = suffix }), expect: "fle2-explicit/find-suffix.json"},
		{desc: "find prefixPreview", algorithm: "String", queryType: "prefixPreview", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix = prefix }), expect: "fle2-explicit/find-prefix.json"},
		{desc: "find substringPreview", algorithm: "String", queryType: "substringPreview", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Substring = substr }), expect: "fle2-explicit/find-substring.json"},
		{desc: "find substring", algorithm: "String", queryType: "substring", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Substring = substr }), expect: "fle2-explicit/find-substring.json"},
		{desc: "insert suffix", rng: rngTextFile, algorithm: "String", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Suffix = suffix }), expect: "fle2-explicit/insert-suffix.json"},
		{desc: "insert prefix", rng: rngTextFile, algorithm: "String", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix = prefix }), expect: "fle2-explicit/insert-prefix.json"},
		{desc: "insert substring", rng: rngTextFile, algorithm: "String", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Substring = substr }), expect: "fle2-explicit/insert-substring.json"},
		{desc: "insert prefix + suffix", rng: rngTextFile, algorithm: "String", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix, o.Suffix = prefix, suffix }), expect: "fle2-explicit/insert-prefix-suffix.json"},
		{desc: "insert casef + diacf", rng: rngTextFile, algorithm: "String", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix = prefix }), expect: "fle2-explicit/insert-casef-diacf.json"},
		{desc: "find prefix on a field with prefix+suffix", algorithm: "String", queryType: "prefix", contention: i64(1), msg: `{"v": "abc"}`, user: keyABCDEFAB,
			textOpts: with(func(o *options.StringOptions) { o.Prefix, o.Suffix = prefix, suffix }), expect: "fle2-explicit/find-prefix.json"},
		// _test_range_sends_cryptoParams
		{desc: "'range' sends crypto params for insert", rng: testBin(1024), algorithm: "Range", user: key123, contention: i64(1),
			rangeOpts: `{"min": 0, "max": 1234567, "sparsity": {"$numberLong": "3"}, "trimFactor": 4}`, msg: `{"v": 123456}`,
			expect: "range-sends-cryptoParams/explicit-insert-int32/expected.json"},
		{desc: "'range' sends crypto params for insert with correct defaults", rng: testBin(1024), algorithm: "Range", user: key123, contention: i64(1),
			rangeOpts: `{"min": 0, "max": 1234567}`, msg: `{"v": 123456}`, expect: "range-sends-cryptoParams/explicit-insert-int32-defaults/expected.json"},
		{desc: "'range' sends crypto params for insert for double", rng: testBin(1024), algorithm: "Range", user: key123, contention: i64(1),
			rangeOpts: `{"min": 0.0, "max": 1234567.0, "precision": 2, "sparsity": {"$numberLong": "3"}, "trimFactor": 4}`, msg: `{"v": 123456.0}`,
			expect: "range-sends-cryptoParams/explicit-insert-double/expected.json"},
		{desc: "'range' sends crypto params for find with correct defaults", algorithm: "Range", queryType: "range", user: key123, contention: i64(1),
			rangeOpts: `{"min": 0, "max": 1234567}`, msg: "range-sends-cryptoParams/explicit-find-int32-defaults/to-encrypt.json",
			expect: "range-sends-cryptoParams/explicit-find-int32-defaults/expected.json", expression: true},
		{desc: "'range' sends crypto params for find", algorithm: "Range", queryType: "range", user: key123, contention: i64(1),
			rangeOpts: `{"min": 0, "max": 1234567, "sparsity": {"$numberLong": "3"}, "trimFactor": 4}`, msg: "range-sends-cryptoParams/explicit-find-int32/to-encrypt.json",
			expect: "range-sends-cryptoParams/explicit-find-int32/expected.json", expression: true},
	}
}

// TestExplicitEncryptionVectors runs libmongocrypt's explicit encryption cases: the same options,
// keys and random bytes give the same payloads byte for byte.
func TestExplicitEncryptionVectors(t *testing.T) {
	for _, c := range explicitCases(t) {
		t.Run(c.desc, func(t *testing.T) { c.run(t) })
	}
}

func TestExplicitEncryptionVectorFilesExist(t *testing.T) {
	n := 0
	for _, c := range explicitCases(t) {
		for _, s := range []string{c.expect, c.msg, c.rangeOpts} {
			if strings.HasSuffix(s, ".json") {
				if _, err := os.Stat(filepath.Join("testdata", s)); err != nil {
					t.Error(err)
				}
				n++
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d files referenced", n)
	}
}
