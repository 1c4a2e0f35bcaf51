package text

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldModes are the three option sets libmongocrypt's fold tests run.
var foldModes = []struct {
	name                string
	caseFold, diacritic bool
}{
	{"case", true, false},
	{"diacritic", false, true},
	{"both", true, true},
}

// checkFoldAll asserts the three results of folding in: case only,
// diacritics only, both.
func checkFoldAll(t *testing.T, in, caseFolded, diaFolded, bothFolded string) {
	t.Helper()
	for i, want := range []string{caseFolded, diaFolded, bothFolded} {
		m := foldModes[i]
		got, err := Fold(in, m.caseFold, m.diacritic)
		if err != nil {
			t.Errorf("Fold(%q, %s): %v", in, m.name, err)
			continue
		}
		if got != want {
			t.Errorf("Fold(%q, %s) = %q, want %q", in, m.name, got, want)
		}
	}
}

// Expectations of libmongocrypt test/test-unicode-fold.c (test_unicode_fold):
// 128 ASCII characters, then 8 fixed strings.
func TestFoldASCII(t *testing.T) {
	for c := 0; c <= 0x7f; c++ {
		in := string(rune(c))
		switch {
		case 'A' <= c && c <= 'Z':
			lower := string(rune(c + 0x20))
			checkFoldAll(t, in, lower, in, lower)
		case c == '^' || c == '`':
			checkFoldAll(t, in, in, "", "")
		default:
			checkFoldAll(t, in, in, in, in)
		}
	}
}

func TestFoldStrings(t *testing.T) {
	checkFoldAll(t, "abc", "abc", "abc", "abc")
	// Composed Unicode.
	checkFoldAll(t, "¿CUÁNTOS AÑOS tienes Tú?",
		"¿cuántos años tienes tú?", "¿CUANTOS ANOS tienes Tu?", "¿cuantos anos tienes tu?")
	checkFoldAll(t, "СКОЛЬКО ТЕБЕ ЛЕТ?", "сколько тебе лет?", "СКОЛЬКО ТЕБЕ ЛЕТ?", "сколько тебе лет?")
	checkFoldAll(t, "Πόσο χρονών είσαι?", "πόσο χρονών είσαι?", "Ποσο χρονων εισαι?", "ποσο χρονων εισαι?")
	// Decomposed Unicode.
	checkFoldAll(t, "Cafe\xcc\x81", "cafe\xcc\x81", "Cafe", "cafe")
	checkFoldAll(t, "CafE\xcc\x81", "cafe\xcc\x81", "CafE", "cafe")
	// A NUL byte is kept (Fold itself allows it; StrEncode refuses it).
	if got, err := Fold("fo\x00bar", true, true); err != nil || got != "fo\x00bar" {
		t.Errorf("Fold with NUL = %q, %v", got, err)
	}
	// Folded forms longer in bytes than the input.
	if got, err := Fold("\xc8\xbe", true, false); err != nil || got != "\xe2\xb1\xa6" {
		t.Errorf("Fold(U+023E, case) = %x, %v; want e2b1a6", got, err)
	}
	if got, err := Fold("\xef\xa9\xac", false, true); err != nil || got != "\xf0\xa4\x8b\xae" {
		t.Errorf("Fold(U+FA6C, diacritic) = %x, %v; want f0a48bae", got, err)
	}
	// From test-mc-text-search-str-encode.c (_test_text_search_str_query_folding).
	checkFoldAll(t, "Düsseldorf", "düsseldorf", "Dusseldorf", "dusseldorf")
	// No option: unchanged.
	if got, err := Fold("ÀB^", false, false); err != nil || got != "ÀB^" {
		t.Errorf("Fold without options = %q, %v", got, err)
	}
}

func TestFoldRunes(t *testing.T) {
	cases := []struct {
		in, caseFolded rune
		base           rune
		baseOK         bool
	}{
		{'A', 'a', 'A', true},
		{'^', '^', 0, false},
		{0xB5, 0x3BC, 0xB5, true},         // MICRO SIGN folds to GREEK SMALL LETTER MU
		{0xC0, 0xE0, 'A', true},           // À
		{0x1E9E, 0xDF, 0x1E9E, true},      // ẞ folds to ß
		{0x212A, 'k', 'K', true},          // KELVIN SIGN
		{0x0301, 0x0301, 0, false},        // COMBINING ACUTE ACCENT
		{0x10400, 0x10428, 0x10400, true}, // DESERET CAPITAL LONG I
		{0xFA6C, 0xFA6C, 0x242EE, true},
		{0x0DDD, 0x0DDD, 0x0DDC, true}, // only the trailing diacritic is removed
	}
	for _, c := range cases {
		if got := CaseFoldRune(c.in); got != c.caseFolded {
			t.Errorf("CaseFoldRune(%U) = %U, want %U", c.in, got, c.caseFolded)
		}
		base, ok := RemoveDiacriticsRune(c.in)
		if ok != c.baseOK || (ok && base != c.base) {
			t.Errorf("RemoveDiacriticsRune(%U) = %U, %t; want %U, %t", c.in, base, ok, c.base, c.baseOK)
		}
	}
}

func TestFoldInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "ab\xc3", "\xe0\x81\xa1", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"} {
		for _, m := range foldModes {
			if _, err := Fold(s, m.caseFold, m.diacritic); !errors.Is(err, ErrInvalidUTF8) {
				t.Errorf("Fold(%x, %s) error = %v, want ErrInvalidUTF8", s, m.name, err)
			}
		}
	}
}

// The generated tables agree with Go's Unicode data wherever both know the
// code point: every case mapping stays in the code point's SimpleFold orbit
// and is already folded; every dropped code point has the Diacritic
// property; every base character is the first code point of the canonical
// decomposition, except U+0DDD (decomposes to three code points of which
// libmongocrypt strips only the last).
func TestFoldTablesAgainstUnicode(t *testing.T) {
	if len(caseFoldTable) != 1388 || len(diacriticFoldTable) != 2845 {
		t.Fatalf("table sizes %d, %d; libmongocrypt 1.20 has 1388 and 2845", len(caseFoldTable), len(diacriticFoldTable))
	}
	for i, m := range caseFoldTable {
		if i > 0 && caseFoldTable[i-1].from >= m.from {
			t.Fatalf("caseFoldTable not sorted at %d", i)
		}
		from, to := rune(m.from), rune(m.to)
		if from < utf8.RuneSelf {
			t.Errorf("caseFoldTable has ASCII %U", from)
		}
		if !inFoldOrbit(from, to) {
			t.Errorf("case fold %U -> %U leaves the SimpleFold orbit", from, to)
		}
		if CaseFoldRune(to) != to {
			t.Errorf("case fold %U -> %U is not idempotent", from, to)
		}
	}
	exceptions := 0
	for i, m := range diacriticFoldTable {
		if i > 0 && diacriticFoldTable[i-1].from >= m.from {
			t.Fatalf("diacriticFoldTable not sorted at %d", i)
		}
		from, to := rune(m.from), rune(m.to)
		if to == 0 {
			if !unicode.Is(unicode.Diacritic, from) {
				t.Errorf("%U is dropped but lacks the Diacritic property", from)
			}
			continue
		}
		if base, ok := RemoveDiacriticsRune(to); !ok || base != to {
			t.Errorf("diacritic fold %U -> %U is not idempotent", from, to)
		}
		if d := []rune(norm.NFD.String(string(from))); d[0] != to {
			exceptions++
			if from != 0x0DDD {
				t.Errorf("diacritic fold %U -> %U, NFD starts with %U", from, to, d[0])
			}
		}
	}
	if exceptions != 1 {
		t.Errorf("%d decomposition exceptions, want 1 (U+0DDD)", exceptions)
	}
}

func inFoldOrbit(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// Folding is idempotent for every code point in every mode, with one
// exception that libmongocrypt has too: with both foldings, U+0130 (LATIN
// CAPITAL LETTER I WITH DOT ABOVE) has no simple case fold, so it is case
// folded as itself and then loses its dot to become 'I'; folding again gives
// 'i'.
func TestFoldIdempotentPerCodePoint(t *testing.T) {
	var exceptions []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		for _, m := range foldModes {
			f, err := Fold(s, m.caseFold, m.diacritic)
			if err != nil {
				t.Fatal(err)
			}
			if ff, _ := Fold(f, m.caseFold, m.diacritic); ff != f {
				if m.name != "both" {
					t.Errorf("%s folding of %U not idempotent: %q -> %q", m.name, r, f, ff)
				}
				exceptions = append(exceptions, r)
			}
		}
	}
	if len(exceptions) != 1 || exceptions[0] != 0x130 {
		t.Errorf("non-idempotent code points %U, want [U+0130]", exceptions)
	}
	if got, _ := Fold("İ", true, true); got != "I" {
		t.Errorf("Fold(U+0130, both) = %q, want \"I\"", got)
	}
}

// randomFoldString draws from the character classes libmongocrypt's str-encode
// tests use, plus table entries.
func randomFoldString(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		switch rng.IntN(6) {
		case 0:
			b.WriteByte(byte(0x20 + rng.IntN(0x5f)))
		case 1:
			b.WriteString(normalUnicodeStrings[rng.IntN(len(normalUnicodeStrings))])
		case 2:
			b.WriteString(unicodeDiacritics[rng.IntN(len(unicodeDiacritics))])
		case 3:
			b.WriteRune(rune(caseFoldTable[rng.IntN(len(caseFoldTable))].from))
		case 4:
			b.WriteRune(rune(diacriticFoldTable[rng.IntN(len(diacriticFoldTable))].from))
		default:
			r := rune(rng.IntN(0x110000))
			if utf8.ValidRune(r) && r != 0 {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// Properties: folding is idempotent (but for U+0130, see above), never adds
// code points, and yields valid UTF-8; folding both ways equals case folding
// then diacritic folding.
func TestFoldProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := randomFoldString(rng, rng.IntN(40))
		for _, m := range foldModes {
			f, err := Fold(s, m.caseFold, m.diacritic)
			if err != nil {
				t.Fatalf("Fold(%q): %v", s, err)
			}
			if !utf8.ValidString(f) {
				t.Fatalf("Fold(%q, %s) = %x: invalid UTF-8", s, m.name, f)
			}
			if utf8.RuneCountInString(f) > utf8.RuneCountInString(s) {
				t.Fatalf("Fold(%q, %s) = %q has more code points", s, m.name, f)
			}
			if ff, _ := Fold(f, m.caseFold, m.diacritic); ff != f && !strings.ContainsRune(s, 0x130) {
				t.Fatalf("Fold not idempotent on %q (%s): %q then %q", s, m.name, f, ff)
			}
		}
		c, _ := Fold(s, true, false)
		cd, _ := Fold(c, false, true)
		both, _ := Fold(s, true, true)
		if cd != both {
			t.Fatalf("Fold(%q, both) = %q, case then diacritic = %q", s, both, cd)
		}
	}
}

func FuzzFold(f *testing.F) {
	seeds := []string{
		"", "abc", "¿CUÁNTOS AÑOS tienes Tú?", "СКОЛЬКО ТЕБЕ ЛЕТ?", "Πόσο χρονών είσαι?",
		"Cafe\u0301", "fo\x00bar", "\xc8\xbe", "\xef\xa9\xac", "^`", "\xff", "\xe0\x81\xa1", "Düsseldorf",
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, s string, caseFold, diacriticFold bool) {
		out, err := Fold(s, caseFold, diacriticFold)
		if !utf8.ValidString(s) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("Fold(%x) on invalid UTF-8: %v", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Fold(%q): %v", s, err)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Fold(%q) = %x: invalid UTF-8", s, out)
		}
		if utf8.RuneCountInString(out) > utf8.RuneCountInString(s) {
			t.Fatalf("Fold(%q) = %q grew", s, out)
		}
		again, _ := Fold(out, caseFold, diacriticFold)
		if again != out && !strings.ContainsRune(s, 0x130) {
			t.Fatalf("Fold not idempotent: %q -> %q -> %q", s, out, again)
		}
		if third, _ := Fold(again, caseFold, diacriticFold); third != again {
			t.Fatalf("Fold does not reach a fixed point: %q -> %q -> %q -> %q", s, out, again, third)
		}
	})
}
