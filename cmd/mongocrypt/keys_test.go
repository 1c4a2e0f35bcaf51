package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestKeysLifecycle creates, lists, gets, renames and deletes keys through the binary and
// checks the key vault after each step.
func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	v := newVault(t)

	// An empty vault.
	r := v.run(t, "keys", "list")
	if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, "no data keys in "+v.ns) {
		t.Fatalf("empty list: %s", r)
	}
	if out := v.ok(t, "keys", "list", "--json"); out != "[]\n" {
		t.Fatalf("empty list --json: %q", out)
	}

	// keys create.
	id1 := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "billing", "--alt-name", "2026"))
	if !uuidRE.MatchString(id1) {
		t.Fatalf("keys create printed %q, not a UUID", id1)
	}
	material := randBytes(t, dataKeyLen)
	dir := t.TempDir()
	rawFile := filepath.Join(dir, "dek.bin")
	b64File := filepath.Join(dir, "dek.b64")
	os.WriteFile(rawFile, material, 0o600)
	os.WriteFile(b64File, []byte(base64.StdEncoding.EncodeToString(material)+"\n"), 0o600)
	id2 := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--key-material-file", rawFile))
	var created map[string]any
	out := v.ok(t, "keys", "create", "--provider", "local", "--key-material-file", b64File, "--alt-name", "json", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("keys create --json printed no JSON: %v\n%s", err, out)
	}
	if mk, _ := created["masterKey"].(map[string]any); mk["provider"] != "local" || created["keyAltNames"].([]any)[0] != "json" {
		t.Fatalf("keys create --json: %s", out)
	}

	docs := v.keyDocs(t)
	if len(docs) != 3 {
		t.Fatalf("%d keys in the vault, want 3", len(docs))
	}
	if names := viewKey(docs[id1]).altNames; strings.Join(names, ",") != "billing,2026" {
		t.Fatalf("key %s has keyAltNames %v", id1, names)
	}
	// The key material of the files is the data key: a deterministic ciphertext made by the
	// binary equals one computed here from the material.
	var createdDoc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(out), false, &createdDoc); err != nil {
		t.Fatal(err)
	}
	_, id3, _ := createdDoc.Lookup("_id").BinaryOK()
	for _, id := range []string{id2, uuidString(id3)} {
		got := strings.TrimSpace(v.ok(t, "encrypt", "--key-id", id, "--algorithm", "deterministic", "--output", "base64", `"x"`))
		if want := base64.StdEncoding.EncodeToString(fle1Deterministic(t, material, id, "x")); got != want {
			t.Fatalf("key %s: ciphertext %s, want %s from the key material file", id, got, want)
		}
	}
	if k := viewKey(docs[id2]); k.provider != "local" || len(k.altNames) != 0 {
		t.Fatalf("key %s: %+v", id2, k)
	}
	// Wrong key material files are refused before anything is written.
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	checkFailure(t, v.run(t, "keys", "create", "--provider", "local", "--key-material-file", short), exitFail, "must be 96 bytes")
	checkFailure(t, v.run(t, "keys", "create", "--provider", "local", "--key-material-file", filepath.Join(dir, "absent")), exitFail, "no such file")
	// A keyAltName that another key has is refused.
	checkFailure(t, v.run(t, "keys", "create", "--provider", "local", "--alt-name", "billing"), exitFail, "billing")
	// A provider that is not configured.
	checkFailure(t, v.run(t, "keys", "create", "--provider", "aws", "--master-key", `{"region":"us-east-1","key":"arn:aws:kms:us-east-1:1:key/x"}`), exitFail, `"aws"`)
	if n := len(v.keyDocs(t)); n != 3 {
		t.Fatalf("%d keys after refused creations, want 3", n)
	}

	// keys list: a table with a row per key, oldest first, and JSON.
	table := v.ok(t, "keys", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "KEY ALT NAMES") {
		t.Fatalf("keys list:\n%s", table)
	}
	if !strings.HasPrefix(lines[1], id1) || !strings.Contains(lines[1], "billing,2026") || !strings.Contains(lines[1], "local") {
		t.Fatalf("keys list row 1:\n%s", table)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(v.ok(t, "keys", "list", "--json")), &list); err != nil || len(list) != 3 {
		t.Fatalf("keys list --json: %v %d", err, len(list))
	}
	filtered := v.ok(t, "keys", "list", "--filter", `{"keyAltNames":"billing"}`, "--json")
	if err := json.Unmarshal([]byte(filtered), &list); err != nil || len(list) != 1 {
		t.Fatalf("keys list --filter: %v\n%s", err, filtered)
	}

	// keys get: by id (three spellings) and by keyAltName.
	for _, ref := range []string{id1, strings.ReplaceAll(id1, "-", ""), `{"$uuid":"` + id1 + `"}`, "billing", "2026"} {
		out := v.ok(t, "keys", "get", ref)
		if !strings.Contains(out, "id:            "+id1) && !regexp.MustCompile(`id:\s+`+id1).MatchString(out) {
			t.Fatalf("keys get %s:\n%s", ref, out)
		}
		if !regexp.MustCompile(`keyAltNames:\s+billing, 2026`).MatchString(out) || !regexp.MustCompile(`provider:\s+local`).MatchString(out) {
			t.Fatalf("keys get %s:\n%s", ref, out)
		}
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(v.ok(t, "keys", "get", "billing", "--json")), false, &doc); err != nil {
		t.Fatal(err)
	}
	if !bytes2Equal(doc.Lookup("keyMaterial").Value, docs[id1].Lookup("keyMaterial").Value) {
		t.Fatal("keys get --json: the keyMaterial differs from the key vault's")
	}
	checkFailure(t, v.run(t, "keys", "get", "nope"), exitFail, `no key in `+v.ns+` has the id or keyAltName "nope"`)
	checkFailure(t, v.run(t, "keys", "get", "00000000-0000-4000-8000-000000000000"), exitFail, "no such data key")

	// keys add-alt-name / remove-alt-name.
	if out := v.ok(t, "keys", "add-alt-name", id2, "payroll"); !strings.Contains(out, `added keyAltName "payroll" to data key `+id2) {
		t.Fatalf("add-alt-name: %s", out)
	}
	if out := v.ok(t, "keys", "add-alt-name", "payroll", "payroll"); !strings.Contains(out, "already has") {
		t.Fatalf("add-alt-name again: %s", out)
	}
	checkFailure(t, v.run(t, "keys", "add-alt-name", id2, "billing"), exitFail, "billing")
	checkFailure(t, v.run(t, "keys", "add-alt-name", "nope", "x"), exitFail, "no such data key")
	if names := viewKey(v.keyDocs(t)[id2]).altNames; strings.Join(names, ",") != "payroll" {
		t.Fatalf("after add-alt-name: %v", names)
	}
	if out := v.ok(t, "keys", "remove-alt-name", "billing", "2026"); !strings.Contains(out, `removed keyAltName "2026" from data key `+id1) {
		t.Fatalf("remove-alt-name: %s", out)
	}
	checkFailure(t, v.run(t, "keys", "remove-alt-name", "billing", "2026"), exitFail, `has no keyAltName "2026"`)
	v.ok(t, "keys", "remove-alt-name", "payroll", "payroll")
	after := v.keyDocs(t)
	if names := viewKey(after[id1]).altNames; strings.Join(names, ",") != "billing" {
		t.Fatalf("after remove-alt-name: %v", names)
	}
	if _, err := after[id2].LookupErr("keyAltNames"); err == nil {
		t.Fatal("removing the last keyAltName left the keyAltNames field")
	}

	// keys delete, by keyAltName and by id.
	if out := v.ok(t, "keys", "delete", "billing", "--yes"); out != "deleted data key "+id1+"\n" {
		t.Fatalf("delete: %q", out)
	}
	v.ok(t, "keys", "delete", "--yes", id2)
	checkFailure(t, v.run(t, "keys", "delete", id2, "--yes"), exitFail, "no such data key")
	if docs := v.keyDocs(t); len(docs) != 1 {
		t.Fatalf("%d keys after deleting two of three", len(docs))
	}
}

func bytes2Equal(a, b []byte) bool { return string(a) == string(b) }
