package text

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Character classes of libmongocrypt's test/test-mc-text-search-str-encode.c:
// "normal" characters keep one code point under folding; "diacritics" are
// pure diacritics that diacritic folding drops.
var (
	normalASCIIStrings = strings.Split("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "")
	asciiDiacritics    = []string{"^", "`"}
	// Hiragana, Cyrillic (several with diacritics that fold to a base letter)
	// and Egyptian hieroglyphs (4-byte sequences).
	normalUnicodeStrings = strings.Split("ぁあぃいぅうぇえぉおかがきぎくけЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ𓀀𓀁𓀂𓀃𓀄𓀅𓀆𓀇𓀈𓀉𓀊𓀋𓀌𓀍𓀎𓀏", "")
	unicodeDiacritics    = splitRunes("\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030d\u030e\u030f" +
		"\u1dc4\u1dc5\u1dc6\u1dc7\u1dc8\u1dc9\u1dca\u1dcb\u1dcc\u1dcd\u1dce\u1dcf" +
		"\ufe20\ufe21\ufe22\ufe23\ufe24\ufe25\ufe26\ufe27\ufe28\ufe29\ufe2a\ufe2b\ufe2c\ufe2d\ufe2e\ufe2f")
)

func splitRunes(s string) []string {
	var out []string
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

// buildStringToFold returns a random string of unfoldedLen code points that
// diacritic folding shortens to foldedLen (build_random_string_to_fold).
func buildStringToFold(t testing.TB, rng *rand.Rand, foldedLen, unfoldedLen int) string {
	t.Helper()
	asciiRatio := rng.IntN(3) // 0: all Unicode, 1: half, 2: all ASCII
	diacritics := unfoldedLen - foldedLen
	diaProb := 0
	if unfoldedLen > 0 {
		diaProb = diacritics * 1000 / unfoldedLen
	}
	var b strings.Builder
	folded := 0
	for n := 0; n < unfoldedLen; n++ {
		mustDia := folded == foldedLen
		mustNormal := n-folded == diacritics
		if mustDia || (!mustNormal && rng.IntN(1000) < diaProb) {
			if rng.IntN(2) < asciiRatio {
				b.WriteString(asciiDiacritics[rng.IntN(len(asciiDiacritics))])
			} else {
				b.WriteString(unicodeDiacritics[rng.IntN(len(unicodeDiacritics))])
			}
		} else {
			if rng.IntN(2) < asciiRatio {
				b.WriteString(normalASCIIStrings[rng.IntN(len(normalASCIIStrings))])
			} else {
				b.WriteString(normalUnicodeStrings[rng.IntN(len(normalUnicodeStrings))])
			}
			folded++
		}
	}
	s := b.String()
	if utf8.RuneCountInString(s) != unfoldedLen {
		t.Fatalf("built %d code points, want %d", utf8.RuneCountInString(s), unfoldedLen)
	}
	f, err := Fold(s, false, true)
	if err != nil || utf8.RuneCountInString(f) != foldedLen {
		t.Fatalf("built string folds to %d code points (%v), want %d", utf8.RuneCountInString(f), err, foldedLen)
	}
	return s
}

// paddedLenRef is the test's own padded length: BSON value length (len + 5)
// through AES-CBC with PKCS#7 (always at least one byte of padding), minus 5.
func paddedLenRef(byteLen int) int {
	bsonLen := byteLen + 5
	return (bsonLen/16+1)*16 - 5
}

// runeOffsets returns the byte offset of each code point of s and len(s).
func runeOffsets(s string) []int {
	var off []int
	for i := range s {
		off = append(off, i)
	}
	return append(off, len(s))
}

// checkAffixCase is test_nofold_suffix_prefix_case: the prefix and the
// suffix sets of str, checked entry by entry.
func checkAffixCase(t *testing.T, str string, lb, ub int, casef, diacf bool, foldable int) (checked int) {
	t.Helper()
	byteLen := len(str)
	unfoldedRunes := utf8.RuneCountInString(str)
	foldedRunes := unfoldedRunes - foldable
	padded := paddedLenRef(byteLen)
	maxAffix := min(ub, foldedRunes)
	nReal := 0
	if maxAffix >= lb {
		nReal = maxAffix - lb + 1
	}
	nAffixes := min(ub, padded) - lb + 1
	nPadding := nAffixes - nReal

	for _, suffix := range []bool{false, true} {
		name := fmt.Sprintf("%q lb=%d ub=%d casef=%t diacf=%t suffix=%t", str, lb, ub, casef, diacf, suffix)
		spec := &Spec{Value: str, CaseFold: casef, DiacriticFold: diacf}
		if suffix {
			spec.Suffix = &AffixSpec{LB: int32(lb), UB: int32(ub)}
		} else {
			spec.Prefix = &AffixSpec{LB: int32(lb), UB: int32(ub)}
		}
		sets, err := StrEncode(spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checked++
		folded := sets.Exact
		if utf8.RuneCountInString(folded) != foldedRunes {
			t.Fatalf("%s: folded to %d code points, want %d", name, utf8.RuneCountInString(folded), foldedRunes)
		}
		if !casef && !diacf && folded != str {
			t.Fatalf("%s: exact %q without folding", name, folded)
		}
		if sets.Substrings != nil {
			t.Fatalf("%s: unexpected substring set", name)
		}
		set, other := sets.Prefixes, sets.Suffixes
		if suffix {
			set, other = other, set
		}
		if other != nil {
			t.Fatalf("%s: the other affix set is not nil", name)
		}
		if lb > padded {
			if set != nil || sets.MSize != 1 {
				t.Fatalf("%s: lb > padded length: set %v, msize %d; want nil, 1", name, set, sets.MSize)
			}
			continue
		}
		if int(sets.MSize) != nAffixes+1 {
			t.Fatalf("%s: msize %d, want %d", name, sets.MSize, nAffixes+1)
		}
		off := runeOffsets(folded)
		idx := 0
		for i, e := range set {
			if e.IsPadding() {
				if i != len(set)-1 {
					t.Fatalf("%s: padding is not last", name)
				}
				if e.Value != folded+"\xff" || int(e.Count) != nPadding {
					t.Fatalf("%s: padding %q x%d, want %q x%d", name, e.Value, e.Count, folded+"\xff", nPadding)
				}
				continue
			}
			var want string
			if suffix {
				want = folded[off[foldedRunes-(lb+idx)]:]
			} else {
				want = folded[:off[lb+idx]]
			}
			if e.Value != want || e.Count != 1 {
				t.Fatalf("%s: entry %d = %q x%d, want %q x1", name, idx, e.Value, e.Count, want)
			}
			idx++
		}
		if idx != nReal {
			t.Fatalf("%s: %d real affixes, want %d", name, idx, nReal)
		}
		if nPadding > 0 && !set[len(set)-1].IsPadding() {
			t.Fatalf("%s: no padding, want %d", name, nPadding)
		}
	}
	return checked
}

// substringCountRef counts substrings the long way (calc_number_of_substrings
// of the C test).
func substringCountRef(length, lb, ub int) int {
	n := 0
	for i := 0; i < length; i++ {
		maxSub := min(ub, length-i)
		if maxSub >= lb {
			n += maxSub - lb + 1
		}
	}
	return n
}

// substringOrderRef models libmongocrypt's substring hash set directly: 4096
// chained buckets indexed by FNV-1a mod 4096, new strings appended to their
// chain, iteration bucket by bucket. It returns the distinct substrings in
// that order.
func substringOrderRef(folded string, lb, ub int) []string {
	var buckets [4096][]string
	off := runeOffsets(folded)
	n := len(off) - 1
	for i := 0; i+lb <= n; i++ {
		for j := i + lb; j <= min(n, i+ub); j++ {
			s := folded[off[i]:off[j]]
			h := uint32(2166136261)
			for k := 0; k < len(s); k++ {
				h = (h ^ uint32(s[k])) * 16777619
			}
			b := &buckets[h%4096]
			dup := false
			for _, x := range *b {
				dup = dup || x == s
			}
			if !dup {
				*b = append(*b, s)
			}
		}
	}
	var out []string
	for _, b := range buckets {
		out = append(out, b...)
	}
	return out
}

// checkSubstringCase is test_nofold_substring_case, plus the exact order of
// the entries against substringOrderRef.
func checkSubstringCase(t *testing.T, str string, lb, ub, mlen int, casef, diacf bool, foldable int) {
	t.Helper()
	name := fmt.Sprintf("%q lb=%d ub=%d mlen=%d casef=%t diacf=%t", str, lb, ub, mlen, casef, diacf)
	byteLen := len(str)
	unfoldedRunes := utf8.RuneCountInString(str)
	foldedRunes := unfoldedRunes - foldable
	padded := paddedLenRef(byteLen)
	nSubstrings := substringCountRef(min(padded, mlen), lb, ub)

	spec := &Spec{Value: str, CaseFold: casef, DiacriticFold: diacf,
		Substring: &SubstringSpec{MLen: int32(mlen), LB: int32(lb), UB: int32(ub)}}
	// libmongocrypt's unit test calls StrEncode directly, also with mlen < ub,
	// which the placeholder parser (and so the public StrEncode) refuses.
	if mlen < ub {
		if _, err := StrEncode(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("%s: StrEncode accepted mlen < ub: %v", name, err)
		}
	}
	sets, err := strEncode(spec)
	if unfoldedRunes > mlen {
		if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "longer than the maximum length") {
			t.Fatalf("%s: error %v, want 'longer than the maximum length'", name, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	folded := sets.Exact
	if utf8.RuneCountInString(folded) != foldedRunes {
		t.Fatalf("%s: folded to %d code points, want %d", name, utf8.RuneCountInString(folded), foldedRunes)
	}
	if !casef && !diacf && folded != str {
		t.Fatalf("%s: exact %q without folding", name, folded)
	}
	if sets.Prefixes != nil || sets.Suffixes != nil {
		t.Fatalf("%s: unexpected affix sets", name)
	}
	if lb > padded {
		if sets.Substrings != nil || sets.MSize != 1 {
			t.Fatalf("%s: lb > padded length: msize %d, set %v", name, sets.MSize, sets.Substrings)
		}
		return
	}
	if sets.Substrings == nil {
		t.Fatalf("%s: nil substring set", name)
	}
	if int(sets.MSize) != nSubstrings+1 {
		t.Fatalf("%s: msize %d, want %d", name, sets.MSize, nSubstrings+1)
	}
	want := substringOrderRef(folded, lb, ub)
	nPadding := nSubstrings - len(want)
	var got []string
	for i, e := range sets.Substrings {
		if e.IsPadding() {
			if i != len(sets.Substrings)-1 || e.Value != folded+"\xff" || int(e.Count) != nPadding {
				t.Fatalf("%s: padding at %d of %d: %q x%d, want %q x%d", name, i, len(sets.Substrings), e.Value, e.Count, folded+"\xff", nPadding)
			}
			continue
		}
		if e.Count != 1 || e.Value == "" || !strings.Contains(folded, e.Value) {
			t.Fatalf("%s: bad entry %q x%d", name, e.Value, e.Count)
		}
		got = append(got, e.Value)
	}
	if nPadding > 0 && !sets.Substrings[len(sets.Substrings)-1].IsPadding() {
		t.Fatalf("%s: padding missing, want %d", name, nPadding)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d real substrings, want %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: substring %d = %q, want %q (hash set order)", name, i, got[i], want[i])
		}
	}
}

// checkSubstringMultipleMlen is test_nofold_substring_case_multiple_mlen.
func checkSubstringMultipleMlen(t *testing.T, str string, lb, ub, unfoldedRunes int, casef, diacf bool, foldable int) int {
	t.Helper()
	var mlens []int
	if unfoldedRunes > 1 {
		mlens = append(mlens, unfoldedRunes-1)
	}
	mlens = append(mlens, unfoldedRunes, unfoldedRunes+1, unfoldedRunes+64)
	byteLen := len(str)
	if byteLen > 1 {
		mlens = append(mlens, byteLen-1)
	}
	if byteLen > 0 {
		mlens = append(mlens, byteLen)
	}
	mlens = append(mlens, byteLen+1, 16*((byteLen+5+15)/16)-5, byteLen+64)
	n := 0
	for _, mlen := range mlens {
		checkSubstringCase(t, str, lb, ub, mlen, casef, diacf, foldable)
		n++
	}
	return n
}

// The (lb, ub) pairs of libmongocrypt's suffix/prefix and substring tests,
// for strings of 9 (short), 16 (medium) and 27 (long) folded code points.
var (
	shortBounds  = [][2]int{{17, 19}, {2, 4}, {3, 6}, {2, 2}, {9, 9}, {2, 9}, {2, 14}, {2, 16}, {2, 19}, {2, 35}, {12, 19}, {12, 16}, {16, 19}, {12, 35}, {16, 35}}
	mediumBounds = [][2]int{{17, 19}, {2, 4}, {3, 6}, {2, 2}, {16, 16}, {2, 16}, {2, 19}, {2, 32}, {2, 35}, {16, 19}, {16, 35}}
	longBounds   = [][2]int{{33, 38}, {2, 4}, {3, 6}, {3, 18}, {3, 16}, {3, 27}, {18, 24}, {16, 24}, {18, 27}, {16, 27}, {3, 3}, {16, 16}, {27, 27},
		{3, 29}, {18, 29}, {3, 32}, {18, 32}, {27, 32}, {3, 35}, {18, 35}, {27, 32}, {3, 49}, {18, 49}, {27, 32},
		{28, 30}, {28, 28}, {28, 32}, {28, 34}, {28, 49}, {32, 32}, {32, 34}, {32, 49}}
	unfoldedCases = []int{0, 1, 3, 16}
)

const (
	shortLen  = 9
	mediumLen = 16
	longLen   = 27
)

// testSeeds replaces the C tests' time-based seed with fixed ones (the seed is
// in each subtest name).
var testSeeds = []uint64{1, 20250101, 0xC0FFEE}

// _test_text_search_str_encode_suffix_prefix.
func TestStrEncodeSuffixPrefix(t *testing.T) {
	total := 0
	for _, seed := range testSeeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			run := func(short, medium, long string, casef, diacf bool, foldable int) {
				for _, b := range shortBounds {
					total += checkAffixCase(t, short, b[0], b[1], casef, diacf, foldable)
				}
				for _, b := range mediumBounds {
					total += checkAffixCase(t, medium, b[0], b[1], casef, diacf, foldable)
				}
				for _, b := range longBounds {
					total += checkAffixCase(t, long, b[0], b[1], casef, diacf, foldable)
				}
			}
			for _, extra := range unfoldedCases {
				short := buildStringToFold(t, rng, shortLen, shortLen+extra)
				medium := buildStringToFold(t, rng, mediumLen, mediumLen+extra)
				long := buildStringToFold(t, rng, longLen, longLen+extra)
				for _, casef := range []bool{false, true} {
					run(short, medium, long, casef, true, extra)
				}
			}
			short := buildStringToFold(t, rng, shortLen, shortLen)
			medium := buildStringToFold(t, rng, mediumLen, mediumLen)
			long := buildStringToFold(t, rng, longLen, longLen)
			for _, casef := range []bool{false, true} {
				run(short, medium, long, casef, false, 0)
			}
		})
	}
	// MONGOCRYPT-917: byte_len + 5 a multiple of 16.
	total += checkAffixCase(t, "abcdefghijk", 1, 30, false, false, 0)
	t.Logf("%d prefix/suffix sets checked", total)
}

// _test_text_search_str_encode_substring.
func TestStrEncodeSubstring(t *testing.T) {
	total := 0
	for _, seed := range testSeeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			run := func(short, medium, long string, extra int, casef, diacf bool) {
				for _, b := range shortBounds {
					total += checkSubstringMultipleMlen(t, short, b[0], b[1], shortLen+extra, casef, diacf, extra)
				}
				for _, b := range mediumBounds {
					total += checkSubstringMultipleMlen(t, medium, b[0], b[1], mediumLen+extra, casef, diacf, extra)
				}
				for _, b := range longBounds {
					total += checkSubstringMultipleMlen(t, long, b[0], b[1], longLen+extra, casef, diacf, extra)
				}
			}
			for _, extra := range unfoldedCases {
				short := buildStringToFold(t, rng, shortLen, shortLen+extra)
				medium := buildStringToFold(t, rng, mediumLen, mediumLen+extra)
				long := buildStringToFold(t, rng, longLen, longLen+extra)
				for _, casef := range []bool{false, true} {
					run(short, medium, long, extra, casef, true)
				}
			}
			short := buildStringToFold(t, rng, shortLen, shortLen)
			medium := buildStringToFold(t, rng, mediumLen, mediumLen)
			long := buildStringToFold(t, rng, longLen, longLen)
			for _, casef := range []bool{false, true} {
				run(short, medium, long, 0, casef, false)
			}
		})
	}
	// MONGOCRYPT-917.
	checkSubstringCase(t, "abcdefghijk", 1, 30, 16, false, false, 0)
	total++
	t.Logf("%d substring encodings checked", total)
}

// _test_text_search_str_encode_empty_string.
func TestStrEncodeEmptyString(t *testing.T) {
	bounds := [][2]int{{1, 1}, {1, 2}, {2, 3}, {1, 16}, {1, 17}, {2, 16}, {2, 17}}
	for _, casef := range []bool{false, true} {
		for _, diacf := range []bool{false, true} {
			for _, b := range bounds {
				checkAffixCase(t, "", b[0], b[1], casef, diacf, 0)
				checkSubstringMultipleMlen(t, "", b[0], b[1], 1, casef, diacf, 0)
			}
		}
	}
	// Explicitly: "" with prefix lb 1 pads to 11 - 1 + 1 = 11 copies of "\xff".
	sets, err := StrEncode(&Spec{Value: "", Prefix: &AffixSpec{LB: 1, UB: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if sets.Exact != "" || sets.MSize != 12 || len(sets.Prefixes) != 1 || sets.Prefixes[0] != (Entry{"\xff", 11}) {
		t.Fatalf("empty string: %+v", sets)
	}
}

// _test_text_search_str_encode_multiple: every set present.
func TestStrEncodeMultiple(t *testing.T) {
	sets, err := StrEncode(&Spec{Value: "123456789",
		Substring: &SubstringSpec{MLen: 20, LB: 9, UB: 9},
		Suffix:    &AffixSpec{LB: 1, UB: 5},
		Prefix:    &AffixSpec{LB: 6, UB: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if sets.Suffixes[0] != (Entry{"9", 1}) {
		t.Errorf("first suffix %+v, want {9 1}", sets.Suffixes[0])
	}
	if sets.Prefixes[0] != (Entry{"123456", 1}) {
		t.Errorf("first prefix %+v, want {123456 1}", sets.Prefixes[0])
	}
	if sets.Substrings[0] != (Entry{"123456789", 1}) {
		t.Errorf("first substring %+v, want {123456789 1}", sets.Substrings[0])
	}
	if sets.Exact != "123456789" {
		t.Errorf("exact %q", sets.Exact)
	}
	if sets.MSize != 1+3+5+3 {
		t.Errorf("msize %d, want 12 (exact + substring + suffix + prefix)", sets.MSize)
	}
	if Len(sets.Substrings) != 3 || Len(sets.Suffixes) != 5 || Len(sets.Prefixes) != 3 {
		t.Errorf("set sizes %d %d %d, want 3 5 3", Len(sets.Substrings), Len(sets.Suffixes), Len(sets.Prefixes))
	}
}

// Tag counts from libmongocrypt test-mongocrypt-marking.c
// (test_mc_marking_to_ciphertext_fle2_text_search, calculate_expected_*).
func TestStrEncodeMarkingCounts(t *testing.T) {
	cases := []struct {
		name                          string
		spec                          Spec
		substrings, suffixes, prefixs uint32
	}{
		// substring mlen 1000 ub 100 lb 10 of "foobar": padded length 11,
		// Σ_{j=10..11} (11-j+1) = 2 + 1 = 3, all padding.
		{"substring", Spec{Value: "foobar", Substring: &SubstringSpec{MLen: 1000, UB: 100, LB: 10}}, 3, 0, 0},
		// suffix and prefix ub 100 lb 10: min(100, 11) - 10 + 1 = 2 each.
		{"suffix+prefix", Spec{Value: "foobar", Suffix: &AffixSpec{UB: 100, LB: 10}, Prefix: &AffixSpec{UB: 100, LB: 10}}, 0, 2, 2},
		// empty string: beta is 1: padded length 11, 2 prefixes.
		{"empty", Spec{Value: "", Prefix: &AffixSpec{UB: 100, LB: 10}}, 0, 0, 2},
		// lb 20 above the padded length 11: nothing but the exact string.
		{"lb above padded", Spec{Value: "foobar", Substring: &SubstringSpec{MLen: 1000, UB: 100, LB: 20},
			Prefix: &AffixSpec{UB: 100, LB: 20}, Suffix: &AffixSpec{UB: 100, LB: 20}}, 0, 0, 0},
	}
	for _, c := range cases {
		sets, err := StrEncode(&c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if Len(sets.Substrings) != c.substrings || Len(sets.Suffixes) != c.suffixes || Len(sets.Prefixes) != c.prefixs {
			t.Errorf("%s: counts %d/%d/%d, want %d/%d/%d", c.name, Len(sets.Substrings), Len(sets.Suffixes), Len(sets.Prefixes),
				c.substrings, c.suffixes, c.prefixs)
		}
		if sets.MSize != 1+c.substrings+c.suffixes+c.prefixs {
			t.Errorf("%s: msize %d", c.name, sets.MSize)
		}
	}
}

func TestStrEncodeErrors(t *testing.T) {
	big := strings.Repeat("a", MaxEncodeBytes+1)
	cases := []struct {
		name string
		spec Spec
		kind error
		msg  string
	}{
		{"invalid 0xff", Spec{Value: "\xff\xff\xff\xff\xff\xff\xff\xff\xff", Substring: &SubstringSpec{20, 4, 7},
			Suffix: &AffixSpec{1, 5}, Prefix: &AffixSpec{6, 8}}, ErrInvalidUTF8, "StrEncode: String passed in was not valid UTF-8"},
		{"invalid byte in string", Spec{Value: "foob\xffr", Substring: &SubstringSpec{1<<31 - 1, 1, 1}}, ErrInvalidUTF8, "not valid UTF-8"},
		{"embedded NUL", Spec{Value: "foob\x00r", Substring: &SubstringSpec{1<<31 - 1, 1, 1}}, ErrInvalidUTF8, "not valid UTF-8"},
		{"overlong 'a'", Spec{Value: "foob\xe0\x81\xa1r", Substring: &SubstringSpec{1<<31 - 1, 1, 1}}, ErrInvalidUTF8, "not valid UTF-8"},
		{"surrogate", Spec{Value: "\xed\xa0\x80", Prefix: &AffixSpec{1, 1}}, ErrInvalidUTF8, "not valid UTF-8"},
		{"too large", Spec{Value: big, Substring: &SubstringSpec{1<<31 - 1, 1, 1}}, ErrTooLong,
			"StrEncode: String passed in was too long: String was 16777217 bytes, but max is 16777216 bytes"},
		{"exceeds mlen", Spec{Value: "foobar", Substring: &SubstringSpec{MLen: 3, UB: 1, LB: 1}}, ErrTooLong,
			"StrEncode: String passed in was longer than the maximum length for substring indexing -- String len: 6, max len: 3"},
		{"ub < lb", Spec{Value: "x", Prefix: &AffixSpec{LB: 4, UB: 3}}, ErrInvalidSpec,
			"Error parsing FLE2PrefixInsertSpec: upper bound cannot be less than the lower bound"},
		{"lb zero", Spec{Value: "x", Suffix: &AffixSpec{LB: 0, UB: 3}}, ErrInvalidSpec,
			"Error parsing FLE2SuffixInsertSpec: 'lb' must be greater than zero"},
		{"mlen < ub", Spec{Value: "x", Substring: &SubstringSpec{MLen: 2, UB: 3, LB: 1}}, ErrInvalidSpec,
			"Error parsing FLE2SubstringInsertSpec: maximum indexed length cannot be less than the upper bound"},
		{"too many tags", Spec{Value: strings.Repeat("a", 100000), Substring: &SubstringSpec{MLen: 1 << 30, UB: 1 << 30, LB: 1}}, ErrTooLong,
			"more than 2^32-1 tags"},
	}
	for _, c := range cases {
		_, err := StrEncode(&c.spec)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want %v containing %q", c.name, err, c.kind, c.msg)
		}
	}
	// The mlen limit counts code points before folding: 4 code points of
	// which 1 is dropped still exceed mlen 3.
	if _, err := StrEncode(&Spec{Value: "abc\u0301", DiacriticFold: true, Substring: &SubstringSpec{MLen: 3, UB: 3, LB: 1}}); !errors.Is(err, ErrTooLong) {
		t.Errorf("unfolded length not checked: %v", err)
	}
	// Exactly 16 MiB is accepted.
	if _, err := StrEncode(&Spec{Value: big[:MaxEncodeBytes]}); err != nil {
		t.Errorf("16 MiB string refused: %v", err)
	}
}

// StrQuery expectations of _test_text_search_str_query_* .
func TestStrQuery(t *testing.T) {
	// bad string
	if _, err := StrQuery(&Spec{Value: "\xff\xff\xff\xff\xff\xff\xff\xff\xff"}); !errors.Is(err, ErrInvalidUTF8) ||
		err.Error() != "StrQuery: String passed in was not valid UTF-8" {
		t.Errorf("bad string: %v", err)
	}
	// bounds checking: a string folding from 10 to 8 code points is always
	// too long for ub 7; one folding from 5 to 3 is too short for lb 4 only
	// when diacritics are folded.
	rng := rand.New(rand.NewPCG(7, 7))
	short := buildStringToFold(t, rng, 3, 5)
	long := buildStringToFold(t, rng, 8, 10)
	specs := []func(v string, diacf bool) *Spec{
		func(v string, d bool) *Spec {
			return &Spec{Value: v, DiacriticFold: d, Substring: &SubstringSpec{MLen: 20, LB: 4, UB: 7}}
		},
		func(v string, d bool) *Spec {
			return &Spec{Value: v, DiacriticFold: d, Suffix: &AffixSpec{LB: 4, UB: 7}}
		},
		func(v string, d bool) *Spec {
			return &Spec{Value: v, DiacriticFold: d, Prefix: &AffixSpec{LB: 4, UB: 7}}
		},
	}
	for i, mk := range specs {
		for _, d := range []bool{false, true} {
			if _, err := StrQuery(mk(long, d)); !errors.Is(err, ErrQueryLength) || !strings.Contains(err.Error(), "longer than the maximum query length") {
				t.Errorf("spec %d long diacf=%t: %v", i, d, err)
			}
		}
		if _, err := StrQuery(mk(short, true)); !errors.Is(err, ErrQueryLength) || !strings.Contains(err.Error(), "shorter than the minimum query length") {
			t.Errorf("spec %d short diacf: %v", i, err)
		}
		if got, err := StrQuery(mk(short, false)); err != nil || got != short {
			t.Errorf("spec %d short: %q, %v", i, got, err)
		}
	}
	// No bounds for exact queries.
	for _, v := range []string{short, long} {
		if _, err := StrQuery(&Spec{Value: v, DiacriticFold: true}); err != nil {
			t.Errorf("exact query %q: %v", v, err)
		}
	}
	// Empty string: refused for substring/suffix/prefix, not for exact.
	for i, mk := range specs {
		_, err := StrQuery(mk("", false))
		if !errors.Is(err, ErrQueryLength) || err.Error() != "StrQuery: string value cannot be empty for substring, suffix, or prefix queries" {
			t.Errorf("spec %d empty: %v", i, err)
		}
	}
	if got, err := StrQuery(&Spec{Value: ""}); err != nil || got != "" {
		t.Errorf("exact empty: %q, %v", got, err)
	}
	// Folding.
	for _, c := range []struct {
		casef, diacf bool
		want         string
	}{{false, true, "Dusseldorf"}, {true, false, "düsseldorf"}, {true, true, "dusseldorf"}, {false, false, "Düsseldorf"}} {
		got, err := StrQuery(&Spec{Value: "Düsseldorf", CaseFold: c.casef, DiacriticFold: c.diacf})
		if err != nil || got != c.want {
			t.Errorf("StrQuery(Düsseldorf, %t, %t) = %q, %v; want %q", c.casef, c.diacf, got, err, c.want)
		}
	}
	// Exact message of the bounds errors (folded code points are counted).
	_, err := StrQuery(&Spec{Value: "ab", Prefix: &AffixSpec{LB: 3, UB: 5}})
	if err == nil || err.Error() != "StrQuery: string value was shorter than the minimum query length for this field after folding -- folded codepoint len: 2, min query len: 3" {
		t.Errorf("short message: %v", err)
	}
	_, err = StrQuery(&Spec{Value: "ÀÀÀÀÀÀ", Suffix: &AffixSpec{LB: 1, UB: 5}})
	if err == nil || err.Error() != "StrQuery: string value was longer than the maximum query length for this field after folding -- folded codepoint len: 6, max query len: 5" {
		t.Errorf("long message: %v", err)
	}
	// More than one query type (the marking's check).
	_, err = StrQuery(&Spec{Value: "abc", Prefix: &AffixSpec{1, 5}, Suffix: &AffixSpec{1, 5}})
	if !errors.Is(err, ErrInvalidSpec) || err.Error() != "Text search query specification cannot contain multiple query type specifications" {
		t.Errorf("multiple: %v", err)
	}
	// 16 MiB limit and NUL byte.
	if _, err := StrQuery(&Spec{Value: strings.Repeat("a", MaxEncodeBytes+1)}); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
	if _, err := StrQuery(&Spec{Value: "a\x00b"}); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("NUL: %v", err)
	}
}

// Properties over random strings and bounds: the set sizes follow the
// padding formula, entries are distinct (but for padding), every real entry
// is a prefix/suffix/substring of the folded string with a length within
// bounds.
func TestStrEncodeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(99, 100))
	for range 1500 {
		s := randomFoldString(rng, rng.IntN(30))
		if strings.IndexByte(s, 0) >= 0 {
			continue
		}
		lb := 1 + rng.IntN(12)
		ub := lb + rng.IntN(20)
		mlen := max(ub, utf8.RuneCountInString(s)) + rng.IntN(20)
		casef, diacf := rng.IntN(2) == 0, rng.IntN(2) == 0
		sets, err := StrEncode(&Spec{Value: s, CaseFold: casef, DiacriticFold: diacf,
			Prefix: &AffixSpec{LB: int32(lb), UB: int32(ub)}, Suffix: &AffixSpec{LB: int32(lb), UB: int32(ub)},
			Substring: &SubstringSpec{MLen: int32(mlen), LB: int32(lb), UB: int32(ub)}})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		p := paddedLenRef(len(s))
		wantAffix, wantSub := 0, 0
		if p >= lb {
			wantAffix = min(p, ub) - lb + 1
			wantSub = substringCountRef(min(p, mlen), lb, ub)
		}
		if int(Len(sets.Prefixes)) != wantAffix || int(Len(sets.Suffixes)) != wantAffix || int(Len(sets.Substrings)) != wantSub {
			t.Fatalf("%q lb=%d ub=%d mlen=%d: sizes %d/%d/%d, want %d/%d/%d", s, lb, ub, mlen,
				Len(sets.Prefixes), Len(sets.Suffixes), Len(sets.Substrings), wantAffix, wantAffix, wantSub)
		}
		if int(sets.MSize) != 1+2*wantAffix+wantSub {
			t.Fatalf("msize %d", sets.MSize)
		}
		for kind, set := range map[string][]Entry{"prefix": sets.Prefixes, "suffix": sets.Suffixes, "substring": sets.Substrings} {
			seen := map[string]bool{}
			for _, e := range set {
				if e.IsPadding() {
					continue
				}
				n := utf8.RuneCountInString(e.Value)
				ok := seen[e.Value] == false && n >= lb && n <= ub && e.Count == 1
				switch kind {
				case "prefix":
					ok = ok && strings.HasPrefix(sets.Exact, e.Value)
				case "suffix":
					ok = ok && strings.HasSuffix(sets.Exact, e.Value)
				default:
					ok = ok && strings.Contains(sets.Exact, e.Value)
				}
				if !ok {
					t.Fatalf("%s entry %q of %q (lb %d ub %d) is wrong or repeated", kind, e.Value, sets.Exact, lb, ub)
				}
				seen[e.Value] = true
			}
		}
	}
}

func TestAppendBSONString(t *testing.T) {
	got := AppendBSONString([]byte{0xAA}, "ab\xff")
	want := []byte{0xAA, 4, 0, 0, 0, 'a', 'b', 0xff, 0}
	if string(got) != string(want) {
		t.Fatalf("AppendBSONString = %x, want %x", got, want)
	}
}

func FuzzStrEncode(f *testing.F) {
	seeds := []struct {
		s            string
		lb, ub, mlen int32
		casef, diacf bool
	}{
		{"foobar", 3, 30, 100, false, false},
		{"123456789", 1, 9, 20, true, true},
		{"¿CUÁNTOS AÑOS tienes Tú?", 2, 10, 60, true, true},
		{"", 1, 16, 16, false, false},
		{"abcdefghijk", 1, 30, 30, false, false},
		{"\xff", 1, 1, 1, false, false},
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s.s, s.lb, s.ub, s.mlen, s.casef, s.diacf)
	}
	f.Fuzz(func(t *testing.T, s string, lb, ub, mlen int32, casef, diacf bool) {
		// Keep the work bounded: the substring set is quadratic.
		if len(s) > 512 || ub > 64 || mlen > 1024 {
			return
		}
		spec := &Spec{Value: s, CaseFold: casef, DiacriticFold: diacf,
			Prefix: &AffixSpec{LB: lb, UB: ub}, Suffix: &AffixSpec{LB: lb, UB: ub},
			Substring: &SubstringSpec{MLen: mlen, LB: lb, UB: ub}}
		sets, err := StrEncode(spec)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) && !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if !utf8.ValidString(sets.Exact) {
			t.Fatalf("exact %x not UTF-8", sets.Exact)
		}
		if sets.MSize != 1+Len(sets.Prefixes)+Len(sets.Suffixes)+Len(sets.Substrings) {
			t.Fatalf("msize %d inconsistent", sets.MSize)
		}
		for _, set := range [][]Entry{sets.Prefixes, sets.Suffixes, sets.Substrings} {
			for i, e := range set {
				if e.IsPadding() != (i == len(set)-1 && e.Value == sets.Exact+"\xff") && e.IsPadding() {
					t.Fatalf("padding entry misplaced")
				}
				if !e.IsPadding() && !utf8.ValidString(e.Value) {
					t.Fatalf("entry %x not UTF-8", e.Value)
				}
			}
		}
		if _, err := StrQuery(&Spec{Value: s, CaseFold: casef, DiacriticFold: diacf}); err != nil {
			t.Fatalf("exact query of an encodable string failed: %v", err)
		}
	})
}
