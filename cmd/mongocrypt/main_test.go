package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemo runs the demo on the embedded server and checks that the stored documents hold
// ciphertexts while the client reads plaintext.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run([]string{"demo"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{`"ssn": BinData(6, 01`, `"medicalRecord": BinData(6, 02`, `"ssn": "457-55-5462"`, `"bloodType": "AB+"`, `"ssn": "123-45-6789"`} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	// Queryable Encryption: the server stores indexed values (blob subtypes 14, equality, and
	// 15, range) with their tags, and answers an equality and a range query.
	_, qe, ok := strings.Cut(s, "Queryable Encryption\n")
	if !ok {
		t.Fatalf("demo output has no Queryable Encryption part:\n%s", s)
	}
	for _, want := range []string{`"ssn": BinData(6, 0e`, `"age": BinData(6, 0f`, `"__safeContent__": [`, "enxcol_.records.esc holds"} {
		if !strings.Contains(qe, want) {
			t.Errorf("the Queryable Encryption part lacks %q:\n%s", want, qe)
		}
	}
	eq, rng, ok := strings.Cut(qe, "find (range)")
	if !ok {
		t.Fatalf("no range query in:\n%s", qe)
	}
	if _, eq, ok = strings.Cut(eq, "find (equality)"); !ok {
		t.Fatalf("no equality query in:\n%s", qe)
	}
	if strings.Count(eq, "read by the client") != 1 || !strings.Contains(eq, `"name": "Ana Roe"`) {
		t.Errorf("the equality query should find Ana Roe alone:\n%s", eq)
	}
	if strings.Count(rng, "read by the client") != 2 || !strings.Contains(rng, `"name": "Jon Doe"`) || !strings.Contains(rng, `"name": "Max Poe"`) || strings.Contains(rng, "Ana Roe") {
		t.Errorf("the range query (30..50) should find Jon Doe (42) and Max Poe (35):\n%s", rng)
	}
	stored := strings.Split(s, "stored on the server:")
	for _, part := range stored[1:] {
		line := strings.SplitN(part, "\n", 2)[0]
		if strings.Contains(line, "457-55-5462") || strings.Contains(line, "AB+") || strings.Contains(line, `"age": 42`) {
			t.Errorf("plaintext stored on the server: %s", line)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != exitUsage {
		t.Fatalf("no command: exit %d", code)
	}
	if code := run([]string{"nope"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Fatalf("unknown command: exit %d, %s", code, errb.String())
	}
	if code := run([]string{"demo", "--bogus"}, &out, &errb); code != exitUsage {
		t.Fatalf("bad flag: exit %d", code)
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "demo") {
		t.Fatalf("help: exit %d", code)
	}
}
