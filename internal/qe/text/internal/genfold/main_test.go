package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The committed fold_tables.go is what the committed data files generate.
func TestGenerateMatchesCommitted(t *testing.T) {
	var sets [][]pair
	for _, tb := range tables {
		pairs, err := readFile(filepath.Join("testdata", tb.dataFile), parseData)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, pairs)
	}
	if len(sets[0]) != 1388 || len(sets[1]) != 2845 {
		t.Errorf("pairs: %d case, %d diacritic; libmongocrypt 1.20 has 1388 and 2845", len(sets[0]), len(sets[1]))
	}
	got, err := generate(sets[0], sets[1])
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "fold_tables.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("fold_tables.go differs from what testdata generates; run go generate in internal/qe/text")
	}
}

// The C extraction takes the case lines only, in any order, and the data
// file written from them reads back to the same pairs.
func TestParseCRoundTrip(t *testing.T) {
	const src = `/* case 0x1: return 0x2; in a comment is not at the line start */
bson_unichar_t f(bson_unichar_t codepoint) {
    if (codepoint <= 0x7f) { return codepoint; }
    switch (codepoint) {
    case 0x1E9E: return 0xdf;
    case 0xc0: return 0xe0;
    case 0x301: return 0x0;
    default: return codepoint;
    }
}
`
	pairs, err := parseC("x.c", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []pair{{0xc0, 0xe0}, {0x301, 0}, {0x1e9e, 0xdf}}
	if !slices.Equal(pairs, want) {
		t.Fatalf("parseC = %x, want %x", pairs, want)
	}
	data := writeData("header", pairs)
	back, err := parseData("x.txt", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, want) {
		t.Fatalf("parseData(writeData) = %x, want %x\n%s", back, want, data)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", "# nothing\n\n"},
		{"duplicate", "00c0 00e0\n00c0 00e1\n"},
		{"three fields", "00c0 00e0 00e1\n"},
		{"not hex", "00c0 zz\n"},
		{"out of range", "110000 0041\n"},
	} {
		if _, err := parseData(tc.name, strings.NewReader(tc.in)); err == nil {
			t.Errorf("%s: parseData(%q) accepted", tc.name, tc.in)
		}
	}
	if _, err := parseC("none.c", strings.NewReader("default: return codepoint;\n")); err == nil {
		t.Error("parseC of a file without case lines accepted")
	}
}
