package main

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// helpAlgorithms reads the algorithm names that "encrypt --help" lists under --algorithm.
func helpAlgorithms(t *testing.T, help string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\n  --algorithm ALGORITHM\n      [^\n]*one of \(in any case\):\n(.*?)\n  --`).FindStringSubmatch(help)
	if m == nil {
		t.Fatalf("encrypt --help lists no algorithms:\n%s", help)
	}
	list := strings.Join(strings.Fields(m[1]), " ")
	names := strings.Split(list, ", ")
	if len(names) < 2 {
		t.Fatalf("encrypt --help lists the algorithms %q", list)
	}
	return names
}

// TestAlgorithmsOfHelp reads the algorithms that the help of encrypt lists and encrypts with
// each, as written there, in upper case and in lower case: each is accepted and gives a
// ciphertext of its algorithm (the blob subtype tells), so the help lists nothing that is
// refused. The list is the one the tool accepts, so the help leaves nothing out.
func TestAlgorithmsOfHelp(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "encrypt", "--help")
	if r.code != exitOK {
		t.Fatalf("encrypt --help: %s", r)
	}
	names := helpAlgorithms(t, r.stdout)
	if want := algorithmNames(); !slices.Equal(names, want) {
		t.Fatalf("the help lists %q, the tool accepts %q", names, want)
	}
	for _, short := range []string{"deterministic", "random", "indexed", "unindexed", "range", "string"} {
		if !slices.Contains(names, short) {
			t.Errorf("the help does not list %q", short)
		}
	}

	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k")
	// What each algorithm needs besides the key, and the blob subtype of its ciphertext.
	needs := map[string]struct {
		args    []string
		value   string
		subtype byte
	}{
		algoDeterministic: {nil, `"x"`, 1},
		algoRandom:        {nil, `"x"`, 2},
		"Indexed":         {[]string{"--contention-factor", "0"}, `"x"`, 11},
		"Unindexed":       {nil, `"x"`, 16},
		"Range":           {[]string{"--contention-factor", "0", "--range", `{"min":0,"max":9,"sparsity":1,"trimFactor":1}`}, `5`, 11},
		"String":          {[]string{"--contention-factor", "0", "--string", `{"caseSensitive":true,"diacriticSensitive":true,"prefix":{"strMinQueryLength":1,"strMaxQueryLength":3}}`}, `"xyz"`, 11},
	}
	for _, name := range names {
		full, err := parseAlgorithm(name)
		if err != nil {
			t.Fatalf("the help lists %q, which the tool refuses: %v", name, err)
		}
		n, ok := needs[full]
		if !ok {
			t.Fatalf("the help lists %q (%s), which this test does not know how to use", name, full)
		}
		spellings := []string{name, strings.ToUpper(name)}
		if lower := strings.ToLower(name); lower != name {
			spellings = append(spellings, lower)
		}
		for _, spelling := range spellings {
			args := append(append([]string{"encrypt", "--key-alt-name", "k", "--algorithm", spelling, "--output", "base64"}, n.args...), n.value)
			r := v.run(t, args...)
			if r.code != exitOK {
				t.Fatalf("--algorithm %s: %s", spelling, r)
			}
			blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
			if err != nil || len(blob) == 0 || blob[0] != n.subtype {
				t.Fatalf("--algorithm %s: blob %q, want subtype %d", spelling, r.stdout, n.subtype)
			}
		}
	}
}

// TestEncryptUnquotedString gives encrypt a string without its JSON quotes, as the shell
// leaves it from 457-55-5462: a usage error that says how to quote a string, without ever
// printing the value.
func TestEncryptUnquotedString(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k")
	const hint = `VALUE is not a valid Extended JSON value; to encrypt a string, quote it as JSON, as in '"text"'`
	for _, value := range []string{"457-55-5462", "Jon Doe", "S3CRET", "12abc"} {
		for _, r := range []result{
			v.run(t, "encrypt", "--key-alt-name", "k", "--algorithm", "random", value),
			cli(t, v.env, value+"\n", "encrypt", "--key-alt-name", "k", "--algorithm", "random"),
		} {
			checkFailure(t, r, exitUsage, hint)
			for _, part := range append(strings.FieldsFunc(value, func(r rune) bool { return r == '-' || r == ' ' }), value) {
				if len(part) >= 3 && strings.Contains(r.stderr, part) {
					t.Fatalf("the error shows the value: %s", r)
				}
			}
		}
	}
	// A document or a string that is not valid JSON gets no advice on quoting.
	for _, value := range []string{`{"a":`, `"unterminated`, `[1,`} {
		r := v.run(t, "encrypt", "--key-alt-name", "k", "--algorithm", "random", value)
		checkFailure(t, r, exitUsage, "VALUE is not a valid Extended JSON value (run")
	}
}
