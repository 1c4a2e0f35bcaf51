package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	a := &app{secrets: []string{"abc", "s3cr3t", "s3cr3t-longer", ""}}
	err := fmt.Errorf("wrapping: %w", errors.New("token s3cr3t-longer and s3cr3t\nsecond line\r\n  abc"))
	got := a.oneLine(err)
	// "abc" is shorter than 4 bytes: too short to redact without mangling ordinary words.
	want := "wrapping: token [redacted] and [redacted]; second line; abc"
	if got != want {
		t.Fatalf("oneLine = %q, want %q", got, want)
	}
}

func TestURISecrets(t *testing.T) {
	for uri, want := range map[string][]string{
		"mongodb://user:p%40ss@host/db":                  {"p%40ss", "p@ss"},
		"mongodb+srv://user:pw@cluster.example.net/?x=1": {"pw"},
		"mongodb://user:a:b@h1:27017,h2:27018/?tls=true": {"a:b"},
		"mongodb://user@host/":                           nil,
		"mongodb://host/?authMechanism=MONGODB-X509":     nil,
		"mongodb://u:pw@host/path@x":                     {"pw"},
		"not a uri":                                      nil,
	} {
		if got := uriSecrets(uri); !slices.Equal(got, want) {
			t.Errorf("uriSecrets(%q) = %q, want %q", uri, got, want)
		}
	}
	if got := redactURI("mongodb://user:p%40ss@host/db"); got != "mongodb://user:[redacted]@host/db" {
		t.Errorf("redactURI = %q", got)
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, c := range []struct {
		args    []string
		pos     []string
		json    bool
		altName string
	}{
		{[]string{"a", "--json", "b"}, []string{"a", "b"}, true, ""},
		{[]string{"--alt-name", "x", "a"}, []string{"a"}, false, "x"},
		{[]string{"a", "--", "--json", "-x"}, []string{"a", "--json", "-x"}, false, ""},
		{[]string{"--json", "--", "-dash"}, []string{"-dash"}, true, ""},
		{nil, nil, false, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		n := fs.String("alt-name", "", "")
		pos, err := parseInterleaved(fs, c.args)
		if err != nil || !slices.Equal(pos, c.pos) || *j != c.json || *n != c.altName {
			t.Errorf("%q: pos %q json %v alt-name %q err %v", c.args, pos, *j, *n, err)
		}
	}
}

func TestParseUUID(t *testing.T) {
	const id = "0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b"
	for _, s := range []string{id, strings.ToUpper(id), strings.ReplaceAll(id, "-", ""), `{"$uuid":"` + id + `"}`,
		`{"$binary":{"base64":"DzxfTlodTFKaCxwtPk9aaw==","subType":"04"}}`, " " + id + "\n"} {
		b, ok := parseUUID(s)
		if !ok || uuidString(b.Data) != id || b.Subtype != 4 {
			t.Errorf("parseUUID(%q) = %x %v", s, b.Data, ok)
		}
	}
	for _, s := range []string{"", "billing", id[:35], id + "0", "0f3c5f4e_5a1d-4c52-9a0b-1c2d3e4f5a6b", strings.Repeat("g", 32),
		`{"$binary":{"base64":"DzxfTlodTFKaCxwtPk9aaw==","subType":"00"}}`, `{"$uuid":"nope"}`, `{"a":1}`} {
		if _, ok := parseUUID(s); ok {
			t.Errorf("parseUUID(%q) accepted", s)
		}
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]string{
		`"x"`:                                    `"x"`,
		`42`:                                     `{"$numberInt":"42"}`,
		`4294967296`:                             `{"$numberLong":"4294967296"}`,
		`1.5`:                                    `{"$numberDouble":"1.5"}`,
		`{"$numberDecimal":"1.10"}`:              `{"$numberDecimal":"1.10"}`,
		`[1,"a"]`:                                `[{"$numberInt":"1"},"a"]`,
		`{"b":{"$date":"1970-01-01T00:00:01Z"}}`: `{"b":{"$date":{"$numberLong":"1000"}}}`,
		"  true \n":                              `true`,
	} {
		v, err := parseValue(in)
		if err != nil {
			t.Fatalf("parseValue(%q): %v", in, err)
		}
		if got, err := formatValue(v, true); err != nil || got != want {
			t.Errorf("parseValue(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
	for _, in := range []string{``, `{`, `1, "v": 2`, `1 } , {"v": 2`, `nope`, `{"$numberInt":"x"}`} {
		if _, err := parseValue(in); err == nil {
			t.Errorf("parseValue(%q) accepted", in)
		}
	}
}

func TestSplitSetting(t *testing.T) {
	name, field, val, err := splitSetting("local:old.key=a=b", "--kms")
	if err != nil || name != "local:old" || field != "key" || val != "a=b" {
		t.Fatalf("splitSetting = %q %q %q %v", name, field, val, err)
	}
	for _, bad := range []string{"local.key", "local=x", ".key=x", "local.=x", "local.a.b=x"} {
		_, _, _, err := splitSetting(bad+"SECRET", "--kms")
		if err == nil && !strings.Contains(bad, "=") {
			t.Errorf("splitSetting(%q) accepted", bad)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") && strings.Contains(bad, "=") {
			t.Errorf("splitSetting(%q) shows the value: %v", bad, err)
		}
	}
}

func TestPlainErrorText(t *testing.T) {
	const id = "0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b"
	const b64 = "DzxfTlodTFKaCxwtPk9aaw=="
	for in, want := range map[string]string{
		"decrypting: mongocrypt error 3: not all keys requested were satisfied":                     "decrypting: not all keys requested were satisfied",
		"mongocrypt error 1: 2 of 2 keys failed: mongocrypt error 2: kms local: decrypt":            "2 of 2 keys failed: kms local: decrypt",
		`keyAltName already used by key {"$binary":{"base64":"` + b64 + `","subType":"04"}}: ["a"]`: "keyAltName already used by key " + id + `: ["a"]`,
		`key { "$binary" : { "subType" : "4", "base64" : "` + b64 + `" } }`:                         "key " + id,
		// Not UUIDs: another subtype, another length.
		`{"$binary":{"base64":"` + b64 + `","subType":"00"}}`:          `{"$binary":{"base64":"` + b64 + `","subType":"00"}}`,
		`{"$binary":{"base64":"DzxfTlodTFKaCxwtPk9a","subType":"04"}}`: `{"$binary":{"base64":"DzxfTlodTFKaCxwtPk9a","subType":"04"}}`,
		"mongocrypt error: not a code":                                 "mongocrypt error: not a code",
	} {
		if got := plainErrorText(in); got != want {
			t.Errorf("plainErrorText(%q) = %q, want %q", in, got, want)
		}
	}
	doc := `{"_id":{"$binary":{"base64":"` + b64 + `","subType":"04"}},"keyAltNames":["{\"$binary\":{\"base64\":\"` + b64 + `\",\"subType\":\"04\"}}"]}`
	want := `{"_id":{"$uuid":"` + id + `"},"keyAltNames":["{\"$binary\":{\"base64\":\"` + b64 + `\",\"subType\":\"04\"}}"]}`
	if got := string(uuidJSON([]byte(doc))); got != want {
		t.Errorf("uuidJSON = %s, want %s", got, want)
	}
}
