package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestDecryptNothingToDecrypt gives decrypt values that hold nothing to decrypt: each fails
// with exit status 1, one line saying what VALUE is instead, and nothing on stdout, from an
// argument and (for some) from stdin alike.
func TestDecryptNothingToDecrypt(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k")
	query := strings.TrimSpace(v.ok(t, "encrypt", "--key-alt-name", "k", "--algorithm", "indexed", "--contention-factor", "0",
		"--query-type", "equality", `"457-55-5462"`))
	for i, c := range []struct{ value, want string }{
		{`"457-55-5462"`, "VALUE is a string, not an encrypted value (a binary of subtype 6): nothing to decrypt"},
		{`42`, "VALUE is a 32-bit integer, not an encrypted value"},
		{`{"$numberLong":"42"}`, "VALUE is a 64-bit integer, not an encrypted value"},
		{`[1,2]`, "VALUE is an array with no encrypted value in it (no binary of subtype 6): nothing to decrypt"},
		{`null`, "VALUE is null, not an encrypted value"},
		{`{"$binary":{"base64":"AAAA","subType":"04"}}`, "VALUE is a binary of subtype 4, not an encrypted value (a binary of subtype 6)"},
		{`{"ssn":"457-55-5462","n":{"a":[1,{"$binary":{"base64":"AAAA","subType":"00"}}]}}`,
			"VALUE is a document with no encrypted value in it (no binary of subtype 6): nothing to decrypt"},
		// Binaries of subtype 6 that are not stored values: an FLE1 placeholder (blob
		// subtype 0), a find payload (5), as base64 and as Extended JSON.
		{"AAAA", "VALUE is a placeholder or the payload of a query (blob subtype 0), not an encrypted stored value: nothing to decrypt"},
		{"BQ==", "(blob subtype 5)"},
		{query, "(blob subtype 12)"},
		{`{"q":` + query + `,"r":[` + query + `]}`, "VALUE holds no encrypted stored value, only placeholders or payloads of queries (2 encrypted values): nothing to decrypt"},
	} {
		runs := []result{v.run(t, "decrypt", c.value)}
		if i%4 == 0 {
			runs = append(runs, cli(t, v.env, c.value+"\n", "decrypt"))
		}
		for _, r := range runs {
			checkFailure(t, r, exitFail, c.want)
			if r.stdout != "" || strings.Contains(r.stderr, "457-55-5462") || strings.Contains(r.stderr, "5462") {
				t.Fatalf("decrypt %s: %s", c.value, r)
			}
		}
	}
}

// TestDecryptDocument decrypts a document and an array holding encrypted values at several
// depths, next to plain values and a query payload, which stay as they are.
func TestDecryptDocument(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "a")
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "b")
	enc := func(key, algo, value string) string {
		t.Helper()
		return strings.TrimSpace(v.ok(t, "encrypt", "--key-alt-name", key, "--algorithm", algo, value))
	}
	ssn := enc("a", "deterministic", `"457-55-5462"`)
	record := enc("b", "random", `{"bloodType":"AB+","visits":3}`)
	date := enc("a", "random", `{"$date":"2026-01-02T03:04:05Z"}`)
	query := strings.TrimSpace(v.ok(t, "encrypt", "--key-alt-name", "a", "--algorithm", "indexed", "--contention-factor", "0",
		"--query-type", "equality", `"x"`))
	doc := fmt.Sprintf(`{"_id":1,"name":"Jon","ssn":%s,"nested":{"visits":[%s,{"d":%s}],"n":{"$numberLong":"5"}},"q":%s}`, ssn, record, date, query)

	r := v.run(t, "decrypt", "--relaxed", doc)
	if r.code != exitOK {
		t.Fatalf("decrypt of a document: %s", r)
	}
	want := fmt.Sprintf(`{"_id":1,"name":"Jon","ssn":"457-55-5462","nested":{"visits":[{"bloodType":"AB+","visits":3},{"d":{"$date":"2026-01-02T03:04:05Z"}}],"n":5},"q":%s}`, query)
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Fatalf("decrypt of a document:\n got %s\nwant %s", got, want)
	}
	if r.stderr != "mongocrypt decrypt: 1 encrypted value left as in VALUE: placeholders and payloads of queries are not stored values\n" {
		t.Fatalf("the note on the query payload: %q", r.stderr)
	}
	// Canonical Extended JSON by default, from stdin too.
	r = cli(t, v.env, doc, "decrypt")
	if r.code != exitOK || !strings.Contains(r.stdout, `"ssn":"457-55-5462","nested":{"visits":[{"bloodType":"AB+","visits":{"$numberInt":"3"}}`) {
		t.Fatalf("decrypt of a document from stdin: %s", r)
	}
	// An array of ciphertexts.
	if out := strings.TrimSpace(v.ok(t, "decrypt", "--relaxed", "["+ssn+","+record+"]")); out != `["457-55-5462",{"bloodType":"AB+","visits":3}]` {
		t.Fatalf("decrypt of an array: %s", out)
	}
	// A value that cannot be decrypted fails the whole document, naming its field; nothing is
	// printed.
	raw, _ := base64.StdEncoding.DecodeString(strings.Split(record, `"`)[5])
	raw[len(raw)-1] ^= 1
	bad := fmt.Sprintf(`{"ok":%s,"nested":{"visits":[{"$binary":{"base64":"%s","subType":"06"}}]}}`, ssn, base64.StdEncoding.EncodeToString(raw))
	r = v.run(t, "decrypt", bad)
	checkFailure(t, r, exitFail, "decrypting nested.visits.0: ")
	if r.stdout != "" || strings.Contains(r.stderr, "457-55-5462") {
		t.Fatalf("decrypt of a document with a tampered value: %s", r)
	}
}
