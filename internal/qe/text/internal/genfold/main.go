// Command genfold writes fold_tables.go, the case-folding and
// diacritic-folding tables of package text.
//
// The tables must hold exactly the code point mappings that libmongocrypt
// 1.20 uses (which come from the Unicode version MongoDB's server pinned, not
// the one Go ships). Those mappings are kept in the repository as facts, one
// number pair a line, in testdata/case-fold.txt and testdata/diacritic-fold.txt
// (SOURCE.txt there names where they come from); a mapping to 0 marks a pure
// diacritic that folding drops.
//
// Usage (from the package directory, as its go:generate line runs it):
//
//	go run ./internal/genfold -data internal/genfold/testdata -o fold_tables.go
//
// To re-extract the pairs from a libmongocrypt checkout (its generated C switch
// tables src/unicode/case-fold-map.c and src/unicode/diacritic-fold-map.c, where
// every line "case 0xFROM: return 0xTO;" is one mapping, and nothing but these
// number pairs is taken), add -src; the data files are rewritten first:
//
//	go run ./internal/genfold -src /path/to/libmongocrypt/src/unicode -data internal/genfold/testdata -o fold_tables.go
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// tables are the two mapping sets: the libmongocrypt C file each is
// extracted from and the data file it is kept in.
var tables = []struct{ cFile, dataFile, header string }{
	{"case-fold-map.c", "case-fold.txt", "Simple case folding of non-ASCII code points, as libmongocrypt 1.20 applies it."},
	{"diacritic-fold-map.c", "diacritic-fold.txt", "Diacritic folding: code point to base character, 0 for a pure diacritic that is dropped."},
}

type pair struct{ from, to uint32 }

var caseLine = regexp.MustCompile(`^\s*case\s+0x([0-9a-fA-F]+)\s*:\s*return\s+0x([0-9a-fA-F]+)\s*;`)

// parseC returns the mappings of a libmongocrypt fold-map C file: the
// number pairs of its "case 0xFROM: return 0xTO;" lines, in file order.
func parseC(name string, r io.Reader) ([]pair, error) {
	var out []pair
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := caseLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		p, err := parsePair(m[1], m[2])
		if err != nil {
			return nil, fmt.Errorf("%s: %v in %q", name, err, sc.Text())
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return checkPairs(name, out)
}

// parseData returns the mappings of a data file: lines "FROM TO" of two
// hexadecimal code points; blank lines and lines starting with # are skipped.
func parseData(name string, r io.Reader) ([]pair, error) {
	var out []pair
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want two hexadecimal code points, have %q", name, n, line)
		}
		p, err := parsePair(f[0], f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return checkPairs(name, out)
}

func parsePair(from, to string) (pair, error) {
	f, err := strconv.ParseUint(from, 16, 32)
	if err != nil {
		return pair{}, err
	}
	t, err := strconv.ParseUint(to, 16, 32)
	if err != nil {
		return pair{}, err
	}
	if f > 0x10FFFF || t > 0x10FFFF {
		return pair{}, errors.New("code point out of range")
	}
	return pair{uint32(f), uint32(t)}, nil
}

// checkPairs refuses an empty set and a code point mapped twice, and
// returns the pairs sorted by source code point.
func checkPairs(name string, pairs []pair) ([]pair, error) {
	if len(pairs) == 0 {
		return nil, errors.New(name + ": no mappings found")
	}
	seen := map[uint32]bool{}
	for _, p := range pairs {
		if seen[p.from] {
			return nil, fmt.Errorf("%s: duplicate mapping for U+%04X", name, p.from)
		}
		seen[p.from] = true
	}
	slices.SortFunc(pairs, func(a, b pair) int { return int(a.from) - int(b.from) })
	return pairs, nil
}

// writeData returns the data file text of pairs.
func writeData(header string, pairs []pair) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s\n# One mapping a line: source and target code point, hexadecimal. See SOURCE.txt.\n", header)
	for _, p := range pairs {
		fmt.Fprintf(&buf, "%04x %04x\n", p.from, p.to)
	}
	return buf.Bytes()
}

func writeTable(buf *bytes.Buffer, name, doc string, pairs []pair) {
	fmt.Fprintf(buf, "// %s %s\n// %d entries, sorted by source code point.\n", name, doc, len(pairs))
	fmt.Fprintf(buf, "var %s = [...]runeMapping{\n", name)
	for i, p := range pairs {
		if i%4 == 0 {
			buf.WriteString("\t")
		}
		fmt.Fprintf(buf, "{0x%04x, 0x%04x},", p.from, p.to)
		if i%4 == 3 || i == len(pairs)-1 {
			buf.WriteString("\n")
		} else {
			buf.WriteString(" ")
		}
	}
	buf.WriteString("}\n\n")
}

// generate returns the Go source of fold_tables.go.
func generate(casePairs, diaPairs []pair) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("// Code generated by internal/genfold; DO NOT EDIT.\n\n")
	buf.WriteString("package text\n\n")
	writeTable(&buf, "caseFoldTable", "maps a non-ASCII code point to its simple case fold (ASCII A-Z is handled in code).", casePairs)
	writeTable(&buf, "diacriticFoldTable", "maps a code point to its base character, or to 0 for a pure diacritic that is dropped.", diaPairs)
	return format.Source(buf.Bytes())
}

func readFile(path string, parse func(string, io.Reader) ([]pair, error)) ([]pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(path, f)
}

func main() {
	src := flag.String("src", "", "libmongocrypt's src/unicode directory: re-extract the data files from its case-fold-map.c and diacritic-fold-map.c first")
	data := flag.String("data", "internal/genfold/testdata", "directory of the data files case-fold.txt and diacritic-fold.txt")
	out := flag.String("o", "fold_tables.go", "output file")
	flag.Parse()
	if flag.NArg() != 0 {
		log.Fatal("genfold: unexpected arguments")
	}
	var sets [][]pair
	for _, tb := range tables {
		dataPath := filepath.Join(*data, tb.dataFile)
		if *src != "" {
			pairs, err := readFile(filepath.Join(*src, tb.cFile), parseC)
			if err != nil {
				log.Fatal(err)
			}
			if err := os.WriteFile(dataPath, writeData(tb.header, pairs), 0o644); err != nil {
				log.Fatal(err)
			}
		}
		pairs, err := readFile(dataPath, parseData)
		if err != nil {
			log.Fatal(err)
		}
		sets = append(sets, pairs)
	}
	formatted, err := generate(sets[0], sets[1])
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, formatted, 0o644); err != nil {
		log.Fatal(err)
	}
}
