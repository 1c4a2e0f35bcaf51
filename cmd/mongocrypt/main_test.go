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
	stored := strings.Split(s, "stored on the server:")
	for _, part := range stored[1:] {
		line := strings.SplitN(part, "\n", 2)[0]
		if strings.Contains(line, "457-55-5462") || strings.Contains(line, "AB+") {
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
