package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestEncryptDecrypt encrypts values of several types with both CSFLE algorithms through the
// binary, checks the ciphertexts against the library and a direct computation, and decrypts
// them back, from arguments and from stdin, as Extended JSON and base64.
func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	material := randBytes(t, dataKeyLen)
	matFile := filepath.Join(t.TempDir(), "dek")
	if err := os.WriteFile(matFile, material, 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k", "--key-material-file", matFile))
	ce := v.library(t, map[string]map[string]any{"local": {"key": v.masterKey}})
	keyID, _ := parseUUID(id)

	values := []struct {
		in        string // Extended JSON given to encrypt
		value     any    // the BSON value it means
		canonical string // what decrypt prints
		relaxed   string // what decrypt --relaxed prints
	}{
		{`"457-55-5462"`, "457-55-5462", `"457-55-5462"`, `"457-55-5462"`},
		{`42`, int32(42), `{"$numberInt":"42"}`, `42`},
		{`{"$numberLong":"-9"}`, int64(-9), `{"$numberLong":"-9"}`, `-9`},
		{`{"$date":"2026-01-02T03:04:05Z"}`, bson.NewDateTimeFromTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			`{"$date":{"$numberLong":"1767323045000"}}`, `{"$date":"2026-01-02T03:04:05Z"}`},
		{`{"$oid":"5f0f0f0f0f0f0f0f0f0f0f0f"}`, mustOID("5f0f0f0f0f0f0f0f0f0f0f0f"), `{"$oid":"5f0f0f0f0f0f0f0f0f0f0f0f"}`, `{"$oid":"5f0f0f0f0f0f0f0f0f0f0f0f"}`},
	}
	for _, c := range values {
		// Deterministic: the binary's ciphertext is the library's, byte for byte, and the one
		// computed from the key material.
		got := strings.TrimSpace(v.ok(t, "encrypt", "--key-alt-name", "k", "--algorithm", "deterministic", c.in))
		typ, data, _ := bson.MarshalValue(c.value)
		want, err := ce.Encrypt(t.Context(), bson.RawValue{Type: typ, Value: data},
			options.Encrypt().SetKeyID(keyID).SetAlgorithm(algoDeterministic))
		if err != nil {
			t.Fatal(err)
		}
		wantJSON := ejsonString(t, want)
		if got != wantJSON {
			t.Fatalf("encrypt %s: %s, want the library's %s", c.in, got, wantJSON)
		}
		if direct := base64.StdEncoding.EncodeToString(fle1Deterministic(t, material, id, c.value)); !strings.Contains(got, direct) {
			t.Fatalf("encrypt %s: %s does not hold %s", c.in, got, direct)
		}
		b64 := strings.TrimSpace(v.ok(t, "encrypt", "--key-id", id, "--algorithm", algoDeterministic, "--output", "base64", c.in))
		if b64 != base64.StdEncoding.EncodeToString(want.Data) {
			t.Fatalf("encrypt --output base64 %s: %s", c.in, b64)
		}
		// Decrypt both forms, from an argument and from stdin.
		for _, ct := range []string{got, b64} {
			if out := strings.TrimSpace(v.ok(t, "decrypt", ct)); out != c.canonical {
				t.Fatalf("decrypt %s: %s, want %s", ct, out, c.canonical)
			}
			r := cli(t, v.env, ct+"\n", "decrypt", "--relaxed")
			if r.code != exitOK || strings.TrimSpace(r.stdout) != c.relaxed {
				t.Fatalf("decrypt --relaxed from stdin: %s, want %s", r, c.relaxed)
			}
		}
	}

	// Random: two encryptions differ and both decrypt; the library decrypts the binary's
	// ciphertext and the binary the library's.
	for _, in := range []string{`{"bloodType":"AB+","visits":3}`, `1.5`, `true`, `["a","b"]`} {
		a := strings.TrimSpace(v.ok(t, "encrypt", "--key-id", id, "--algorithm", "random", in))
		r := cli(t, v.env, in, "encrypt", "--key-id", id, "--algorithm", "Random", "-")
		if r.code != exitOK {
			t.Fatalf("encrypt from stdin: %s", r)
		}
		b := strings.TrimSpace(r.stdout)
		if a == b || !strings.HasPrefix(a, `{"$binary":{"base64":"A`) {
			t.Fatalf("random encryption of %s: %s and %s", in, a, b)
		}
		canonicalIn := canonical(t, in)
		for _, ct := range []string{a, b} {
			if out := strings.TrimSpace(v.ok(t, "decrypt", ct)); out != canonicalIn {
				t.Fatalf("decrypt of random %s: %s, want %s", in, out, canonicalIn)
			}
			in, err := parseDecryptValue(ct)
			if err != nil {
				t.Fatal(err)
			}
			st, data, _ := in.BinaryOK()
			val, err := ce.Decrypt(t.Context(), bson.Binary{Subtype: st, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := formatValue(val, true); s != canonicalIn {
				t.Fatalf("library decrypt of the binary's %s: %s", in, s)
			}
		}
		// Deterministic encryption refuses these types, with the library's reason.
		checkFailure(t, v.run(t, "encrypt", "--key-id", id, "--algorithm", "deterministic", in), exitFail, "cannot be encrypted with")
	}

	// A ciphertext of the library, decrypted by the binary.
	lib, err := ce.Encrypt(t.Context(), bson.RawValue{Type: bson.TypeString, Value: stringValue("from the library")},
		options.Encrypt().SetKeyAltName("k").SetAlgorithm(algoRandom))
	if err != nil {
		t.Fatal(err)
	}
	if out := strings.TrimSpace(v.ok(t, "decrypt", base64.StdEncoding.EncodeToString(lib.Data))); out != `"from the library"` {
		t.Fatalf("decrypt of the library's ciphertext: %s", out)
	}

	// Failures: a missing key, a tampered ciphertext, a deleted key, a wrong master key.
	checkFailure(t, v.run(t, "encrypt", "--key-alt-name", "nope", "--algorithm", "random", "1"), exitFail, `keyAltName "nope"`)
	checkFailure(t, v.run(t, "encrypt", "--key-id", "00000000-0000-4000-8000-000000000000", "--algorithm", "random", "1"), exitFail, "not found")
	ct := strings.TrimSpace(v.ok(t, "encrypt", "--key-id", id, "--algorithm", "random", "--output", "base64", `"x"`))
	raw, _ := base64.StdEncoding.DecodeString(ct)
	raw[len(raw)-1] ^= 1
	checkFailure(t, v.run(t, "decrypt", base64.StdEncoding.EncodeToString(raw)), exitFail, "authentication")
	checkFailure(t, v.run(t, "decrypt", "Yw=="), exitFail, "unsupported encrypted value")
	wrong := cli(t, append(append([]string(nil), v.env...), "MONGOCRYPT_LOCAL_KEY="+base64.StdEncoding.EncodeToString(randBytes(t, 96))), "", "decrypt", ct)
	checkFailure(t, wrong, exitFail, "decrypting")
	v.ok(t, "keys", "delete", id, "--yes")
	checkFailure(t, v.run(t, "decrypt", ct), exitFail, "not found")
}

func mustOID(s string) bson.ObjectID {
	id, err := bson.ObjectIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return id
}

func stringValue(s string) []byte {
	_, b, _ := bson.MarshalValue(s)
	return b
}

// canonical rewrites an Extended JSON value in canonical form.
func canonical(t testing.TB, s string) string {
	t.Helper()
	v, err := parseValue(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := formatValue(v, true)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEncryptQE passes the Queryable Encryption algorithms and their options through the
// binary: insert payloads decrypt back (through the binary and the library), query payloads
// equal the library's byte for byte, --key-alt-name is resolved to the key id they need, and
// the library's refusals come out as failures.
func TestEncryptQE(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	id := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "qe"))
	keyID, _ := parseUUID(id)
	ce := v.library(t, map[string]map[string]any{"local": {"key": v.masterKey}})
	rangeInt := `{"min":0,"max":200,"sparsity":1,"trimFactor":1}`
	rangeDouble := `{"min":0.0,"max":200.0,"precision":2,"sparsity":1,"trimFactor":1}`
	prefix := `{"caseSensitive":true,"diacriticSensitive":false,"prefix":{"strMinQueryLength":2,"strMaxQueryLength":10}}`
	substring := `{"caseSensitive":false,"diacriticSensitive":false,"substring":{"strMaxLength":20,"strMinQueryLength":2,"strMaxQueryLength":8}}`
	prefixSuffix := `{"caseSensitive":false,"diacriticSensitive":true,"prefix":{"strMinQueryLength":1,"strMaxQueryLength":4},"suffix":{"strMinQueryLength":1,"strMaxQueryLength":5}}`

	// Insert payloads: random, so they are checked by decrypting them.
	for _, c := range []struct {
		args    []string
		value   string
		subtype byte
	}{
		{[]string{"--algorithm", "Indexed", "--contention-factor", "0"}, `"457-55-5462"`, 11},
		{[]string{"--algorithm", "Indexed", "--contention-factor", "8"}, `{"$numberLong":"7"}`, 11},
		{[]string{"--algorithm", "Unindexed"}, `{"a":[1,2]}`, 16},
		{[]string{"--algorithm", "Range", "--contention-factor", "0", "--range", rangeInt}, `42`, 11},
		{[]string{"--algorithm", "Range", "--contention-factor", "2", "--range", rangeDouble}, `42.25`, 11},
		{[]string{"--algorithm", "String", "--contention-factor", "0", "--string", prefix}, `"Hello"`, 11},
		{[]string{"--algorithm", "String", "--contention-factor", "1", "--string", substring}, `"Grüße"`, 11},
		{[]string{"--algorithm", "String", "--contention-factor", "0", "--string", prefixSuffix}, `"Ünïcode"`, 11},
	} {
		for _, key := range [][]string{{"--key-id", id}, {"--key-alt-name", "qe"}} {
			args := append(append([]string{"encrypt"}, key...), c.args...)
			b64 := strings.TrimSpace(v.ok(t, append(args, "--output", "base64", c.value)...))
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(raw) == 0 || raw[0] != c.subtype {
				t.Fatalf("%v: blob %q, want subtype %d", args, b64, c.subtype)
			}
			want := canonical(t, c.value)
			if out := strings.TrimSpace(v.ok(t, "decrypt", b64)); out != want {
				t.Fatalf("%v: decrypts to %s, want %s", args, out, want)
			}
			got, err := ce.Decrypt(t.Context(), bson.Binary{Subtype: 6, Data: raw})
			if s, _ := formatValue(got, true); err != nil || s != want {
				t.Fatalf("%v: the library decrypts to %s (%v), want %s", args, s, err, want)
			}
		}
	}

	// Query payloads are deterministic: byte for byte the library's with the same options.
	for _, c := range []struct {
		args  []string
		value any
		opts  *options.EncryptOptionsBuilder
	}{
		{[]string{"--algorithm", "Indexed", "--contention-factor", "4", "--query-type", "equality"}, "457-55-5462",
			options.Encrypt().SetAlgorithm("Indexed").SetContentionFactor(4).SetQueryType("equality")},
		{[]string{"--algorithm", "String", "--contention-factor", "0", "--query-type", "prefixPreview", "--string", prefix}, "He",
			options.Encrypt().SetAlgorithm("String").SetContentionFactor(0).SetQueryType("prefixPreview").
				SetStringOptions(options.String().SetCaseSensitive(true).SetDiacriticSensitive(false).
					SetPrefix(options.PrefixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 10}))},
	} {
		got := strings.TrimSpace(v.ok(t, append(append([]string{"encrypt", "--key-alt-name", "qe"}, c.args...), ejsonString(t, c.value))...))
		typ, data, _ := bson.MarshalValue(c.value)
		want, err := ce.Encrypt(t.Context(), bson.RawValue{Type: typ, Value: data}, c.opts.SetKeyID(keyID))
		if err != nil {
			t.Fatal(err)
		}
		if got != ejsonString(t, want) {
			t.Fatalf("%v: %s, want the library's %s", c.args, got, ejsonString(t, want))
		}
		// A query payload is not a stored value: there is nothing to decrypt.
		r := v.run(t, "decrypt", got)
		checkFailure(t, r, exitFail, "VALUE is a placeholder or the payload of a query (blob subtype ")
		if r.stdout != "" {
			t.Fatalf("decrypt of a query payload printed: %s", r)
		}
	}

	// A range query through EncryptExpression.
	expr := `{"$and":[{"age":{"$gte":30}},{"age":{"$lt":40}}]}`
	out := v.ok(t, "encrypt", "--key-alt-name", "qe", "--algorithm", "Range", "--query-type", "range", "--contention-factor", "0",
		"--range", rangeInt, "--expression", expr)
	var enc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(out), true, &enc); err != nil {
		t.Fatalf("--expression printed %q: %v", out, err)
	}
	clauses, _ := enc.Lookup("$and").Array().Values()
	if len(clauses) != 2 {
		t.Fatalf("encrypted expression: %s", out)
	}
	lower := clauses[0].Document().Lookup("age", "$gte")
	if st, data, ok := lower.BinaryOK(); !ok || st != 6 || data[0] != 13 {
		t.Fatalf("the lower bound is not a FindRangePayloadV2: %s", out)
	}
	var lib bson.Raw
	parsed, _ := parseValue(expr)
	if err := ce.EncryptExpression(t.Context(), bson.Raw(parsed.Value), &lib, options.Encrypt().SetKeyID(keyID).
		SetAlgorithm("Range").SetQueryType("range").SetContentionFactor(0).SetRangeOptions(options.Range().
		SetMin(intValue(0)).SetMax(intValue(200)).SetSparsity(1).SetTrimFactor(1))); err != nil {
		t.Fatal(err)
	}
	if libJSON, _ := bson.MarshalExtJSON(lib, true, false); strings.TrimSpace(out) != string(libJSON) {
		t.Fatalf("--expression: %s, want the library's %s", out, libJSON)
	}

	// The library's refusals are failures with its reason.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--algorithm", "Indexed", `"x"`}, "contention factor"},
		{[]string{"--algorithm", "Range", "--query-type", "range", "--contention-factor", "0", "--range", rangeInt, "5"}, "EncryptExpression"},
		{[]string{"--algorithm", "Range", "--contention-factor", "0", "--range", rangeInt, "500"}, "max"},
		{[]string{"--algorithm", "deterministic", "--query-type", "equality", `"x"`}, "apply only to Queryable Encryption"},
	} {
		checkFailure(t, v.run(t, append([]string{"encrypt", "--key-id", id}, c.args...)...), exitFail, c.want)
	}
	checkFailure(t, v.run(t, "encrypt", "--key-alt-name", "nope", "--algorithm", "Indexed", "--contention-factor", "0", "1"), exitFail, `no key in `+v.ns+` has the keyAltName "nope"`)
	checkFailure(t, v.run(t, "encrypt", "--key-id", id, "--algorithm", "Range", "--expression", "--output", "base64", "{}"), exitUsage, "--output base64 does not apply")
	checkFailure(t, v.run(t, "encrypt", "--key-id", id, "--algorithm", "Range", "--expression", "5"), exitUsage, "VALUE must be a document")
}

func intValue(n int32) bson.RawValue {
	typ, data, _ := bson.MarshalValue(n)
	return bson.RawValue{Type: typ, Value: data}
}
