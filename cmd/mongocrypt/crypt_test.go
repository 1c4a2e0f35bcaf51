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
			bin, err := parseCiphertext(ct)
			if err != nil {
				t.Fatal(err)
			}
			val, err := ce.Decrypt(t.Context(), bin)
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
	v.ok(t, "keys", "delete", id)
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
