package main

import (
	"strings"
	"testing"
)

// cliTerminal runs the binary as cli does, with a terminal as stdin on which input is typed.
func cliTerminal(t *testing.T, env []string, input string, args ...string) result {
	t.Helper()
	control, term, err := openPTY()
	if err != nil {
		t.Skipf("no terminal for the test: %v", err)
	}
	defer control.Close()
	defer term.Close()
	// Typed before the binary starts: the terminal keeps it until the binary reads.
	if _, err := control.WriteString(input); err != nil {
		t.Fatal(err)
	}
	return cliFrom(t, env, term, args...)
}

// TestKeysDelete checks that a data key is deleted only when that is confirmed: by --yes,
// or, when stdin is a terminal, by typing the key's id or "yes". Without a terminal and
// without --yes it is a usage error, found before connecting to anything.
func TestKeysDelete(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	id := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "old", "--alt-name", "older"))
	exists := func() bool {
		_, ok := v.keyDocs(t)[id]
		return ok
	}

	// No terminal, no --yes: exit 2, even with a server that does not answer.
	for _, env := range [][]string{v.env, {"MONGODB_URI=mongodb://127.0.0.1:1/"}} {
		r := cli(t, env, "yes\n", "keys", "delete", id)
		checkFailure(t, r, exitUsage, "deleting a data key needs --yes when stdin is not a terminal")
		if r.stdout != "" || strings.Contains(r.stderr, "127.0.0.1") {
			t.Fatalf("keys delete without --yes: %s", r)
		}
	}
	if !exists() {
		t.Fatal("keys delete without --yes deleted the key")
	}

	// A terminal: the key is shown, and an answer other than its id or "yes" deletes nothing.
	for _, answer := range []string{"no\n", "\n", "y\n", "old\n", id[:35] + "\n", "\x04"} {
		r := cliTerminal(t, v.env, answer, "keys", "delete", "old")
		if r.code != exitFail || r.stdout != "" || !strings.Contains(r.stderr, "mongocrypt keys delete: not confirmed: nothing was deleted\n") {
			t.Fatalf("answer %q: %s", answer, r)
		}
		if !strings.HasPrefix(r.stderr, "Deleting data key "+id+" (keyAltNames: old, older; provider: local; created ") ||
			!strings.Contains(r.stderr, `Type its id or "yes" to delete it: `) {
			t.Fatalf("answer %q: the prompt does not show the key: %q", answer, r.stderr)
		}
		if !exists() {
			t.Fatalf("answer %q deleted the key", answer)
		}
	}

	// Its id, in any spelling parseUUID reads, or "yes" in any case, deletes it.
	for _, answerOf := range []func(id string) string{strings.ToUpper, func(id string) string { return strings.ReplaceAll(id, "-", "") },
		func(string) string { return " YES " }} {
		answer := answerOf(id)
		r := cliTerminal(t, v.env, answer+"\n", "keys", "delete", "old")
		if r.code != exitOK || r.stdout != "deleted data key "+id+"\n" {
			t.Fatalf("answer %q: %s", answer, r)
		}
		if exists() {
			t.Fatalf("answer %q: the key is still there", answer)
		}
		id = strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "old", "--alt-name", "older"))
	}

	// --yes deletes without asking, on a terminal too.
	r := cliTerminal(t, v.env, "no\n", "keys", "delete", "--yes", id)
	if r.code != exitOK || r.stdout != "deleted data key "+id+"\n" || r.stderr != "" || exists() {
		t.Fatalf("keys delete --yes on a terminal: %s", r)
	}
}
