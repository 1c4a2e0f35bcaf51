package text

import (
	"unicode/utf8"
)

//go:generate go run ./internal/genfold -data internal/genfold/testdata -o fold_tables.go

// runeMapping is one entry of a generated fold table.
type runeMapping struct{ from, to uint32 }

// lookup returns the mapping of r in table, and whether r has one.
func lookup(table []runeMapping, r rune) (rune, bool) {
	lo, hi := 0, len(table)
	c := uint32(r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if table[m].from < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(table) && table[lo].from == c {
		return rune(table[lo].to), true
	}
	return r, false
}

// CaseFoldRune returns the case fold of r as libmongocrypt computes it: ASCII
// A-Z to a-z, other code points through MongoDB's simple case folding table;
// code points without a mapping are returned unchanged.
func CaseFoldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r | 0x20
		}
		return r
	}
	out, _ := lookup(caseFoldTable[:], r)
	return out
}

// RemoveDiacriticsRune returns the base character of r with its diacritics
// removed, as libmongocrypt computes it. ok is false when r is itself a pure
// diacritic (for example U+0301 COMBINING ACUTE ACCENT, or ASCII '^' and '`'),
// which diacritic folding drops.
func RemoveDiacriticsRune(r rune) (base rune, ok bool) {
	out, _ := lookup(diacriticFoldTable[:], r)
	return out, out != 0
}

// Fold applies case folding (caseFold) and diacritic folding (diacriticFold)
// to the UTF-8 string s, exactly as libmongocrypt's unicode_fold: each code
// point is case folded first, then stripped of diacritics; pure diacritics are
// dropped. Folding never turns one code point into several, so the result has
// at most as many code points as s (its byte length may grow: U+023E folds to
// the 3-byte U+2C66).
//
// s must be valid UTF-8 (NUL bytes are allowed here); otherwise Fold returns
// an error wrapping [ErrInvalidUTF8]. With neither option set, Fold returns s
// unchanged (libmongocrypt's unicode_fold refuses that call; its callers
// never make it).
func Fold(s string, caseFold, diacriticFold bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", newError(ErrInvalidUTF8, "unicode_fold: Text contains invalid UTF-8")
	}
	if !caseFold && !diacriticFold {
		return s, nil
	}
	return fold(s, caseFold, diacriticFold), nil
}

// fold is Fold for input already known to be valid UTF-8.
func fold(s string, caseFold, diacriticFold bool) string {
	// Fast path: return s itself when nothing changes.
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if (caseFold && 'A' <= c && c <= 'Z') || (diacriticFold && (c == '^' || c == '`')) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if f, keep := foldRune(r, caseFold, diacriticFold); !keep || f != r {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	// Folding a 2-byte sequence may yield a 3-byte one, so the result is at
	// most 1.5 times longer; reserve the common case.
	out := make([]byte, i, len(s)+len(s)/8+4)
	copy(out, s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case caseFold && 'A' <= c && c <= 'Z':
				out = append(out, c|0x20)
			case diacriticFold && (c == '^' || c == '`'):
				// pure ASCII diacritic: dropped
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if f, keep := foldRune(r, caseFold, diacriticFold); keep {
			out = utf8.AppendRune(out, f)
		}
	}
	return string(out)
}

// foldRune folds one non-ASCII code point; keep is false when it is dropped.
func foldRune(r rune, caseFold, diacriticFold bool) (f rune, keep bool) {
	f = r
	if caseFold {
		f, _ = lookup(caseFoldTable[:], f)
	}
	if diacriticFold {
		f, _ = lookup(diacriticFoldTable[:], f)
		if f == 0 {
			return 0, false
		}
	}
	return f, true
}
