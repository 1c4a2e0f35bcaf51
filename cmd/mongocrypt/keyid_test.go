package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestKeyIDsAsUUIDs checks that every output that names a key names it by the same UUID:
// create, list (table and JSON), get (details and JSON), the dry run of rewrap, add-alt-name,
// delete, and the errors of the library and of the tool (a keyAltName of another key, a missing
// key, a key that cannot be rewrapped); and that no error shows the library's error code.
func TestKeyIDsAsUUIDs(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	id := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "a"))
	if !uuidRE.MatchString(id) {
		t.Fatalf("keys create printed %q", id)
	}
	var created struct {
		ID map[string]string `json:"_id"`
	}
	out := v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "b", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || !uuidRE.MatchString(created.ID["$uuid"]) || len(created.ID) != 1 {
		t.Fatalf("keys create --json: %v\n%s", err, out)
	}
	other := created.ID["$uuid"]
	// The {"$uuid": ...} of the JSON outputs reads back as the key's binary id.
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(out), false, &doc); err != nil {
		t.Fatal(err)
	}
	if st, data, ok := doc.Lookup("_id").BinaryOK(); !ok || st != bson.TypeBinaryUUID || uuidString(data) != other {
		t.Fatalf("the _id of keys create --json reads back as %v", doc.Lookup("_id"))
	}

	hasIDs := func(what, out string, ids ...string) {
		t.Helper()
		checkPlainErrors(t, result{stdout: out})
		for _, id := range ids {
			if !strings.Contains(out, id) {
				t.Fatalf("%s does not show %s:\n%s", what, id, out)
			}
		}
	}
	hasIDs("keys list", v.ok(t, "keys", "list"), id, other)
	list := v.ok(t, "keys", "list", "--json")
	hasIDs("keys list --json", list, `{"_id":{"$uuid":"`+id+`"}`, `{"_id":{"$uuid":"`+other+`"}`)
	hasIDs("keys get", v.ok(t, "keys", "get", "a"), "id:", id)
	hasIDs("keys get --json", v.ok(t, "keys", "get", "a", "--json"), "{\n  \"_id\": {\n    \"$uuid\": \""+id+"\"\n  },")
	hasIDs("keys rewrap --dry-run", v.ok(t, "keys", "rewrap", "--dry-run"), id, other)
	hasIDs("keys add-alt-name", v.ok(t, "keys", "add-alt-name", id, "c"), `added keyAltName "c" to data key `+id)

	// The key that has a keyAltName already is named by its UUID.
	r := v.run(t, "keys", "add-alt-name", other, "a")
	checkFailure(t, r, exitFail, fmt.Sprintf(`adding keyAltName "a" to data key %s: keyAltName "a" already used by key %s`, other, id))
	r = v.run(t, "keys", "create", "--provider", "local", "--alt-name", "b")
	checkFailure(t, r, exitFail, `keyAltName "b" already used by key `+other)
	// A key the library cannot find, and one it cannot rewrap.
	missing := "00000000-0000-4000-8000-000000000000"
	checkFailure(t, v.run(t, "encrypt", "--key-id", missing, "--algorithm", "random", "1"), exitFail,
		"encrypting with "+algoRandom+": not all keys requested were satisfied: data key not found in the key vault: key id "+missing)
	r = cli(t, append(append([]string(nil), v.env...), "MONGOCRYPT_LOCAL_KEY_new="+strings.Repeat("A", 128)), "",
		"keys", "rewrap", "--provider", "local:new", "--master-key", `{"bogus":1}`)
	checkFailure(t, r, exitFail, "the first: rewrapping key ")
	if !regexp.MustCompile(`rewrapping key (` + id + `|` + other + `): `).MatchString(r.stderr) {
		t.Fatalf("the rewrap error does not name the key by its UUID: %s", r.stderr)
	}
	hasIDs("keys delete", v.ok(t, "keys", "delete", "--yes", "a"), "deleted data key "+id+"\n")
}
