package text

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// Limits and layout constants of StrEncode.
const (
	// MaxEncodeBytes is the longest string (in bytes, before folding) that
	// StrEncode and StrQuery accept: 16 MiB.
	MaxEncodeBytes = 16 << 20
	// PaddingMarker is the byte appended to the folded string to form the
	// padding entry. 0xFF never occurs in UTF-8, so padding can never equal a
	// real prefix, suffix or substring.
	PaddingMarker = 0xFF
	// bsonStringOverhead is what a string gains as a BSON value before
	// encryption: int32 length prefix (4) and the trailing NUL (1).
	bsonStringOverhead = 5
	// aesBlockSize is the CBC block size used to size the padding.
	aesBlockSize = 16
	// substringBuckets is the bucket count of libmongocrypt's substring hash
	// set; it fixes the order in which substrings come out.
	substringBuckets = 4096
)

// Entry is one member of a prefix, suffix or substring set: a string to
// derive tokens from, and how many times it appears in the payload.
type Entry struct {
	// Value is the folded affix or substring, or, for the padding entry, the
	// whole folded string followed by the byte 0xFF ([PaddingMarker]). It is
	// not always valid UTF-8.
	Value string
	// Count is how many consecutive copies of this entry's token set the
	// payload holds: 1 for real entries, the padding amount for padding.
	Count uint32
}

// IsPadding reports whether e is the padding entry of its set.
func (e Entry) IsPadding() bool {
	return len(e.Value) > 0 && e.Value[len(e.Value)-1] == PaddingMarker
}

// Sets is the result of [StrEncode]: what an FLE2InsertUpdatePayloadV2 text
// search token set ("b") is built from.
type Sets struct {
	// Exact is the folded string; its token set is "b.e".
	Exact string
	// Substrings, Suffixes and Prefixes are the entries for "b.s", "b.u" and
	// "b.p", in payload order; each entry stands for Count consecutive
	// copies. A set is nil when its spec is absent or when the padded length
	// of the string is below its lower bound (libmongocrypt then emits none);
	// the padding entry, if any, is last.
	Substrings []Entry
	Suffixes   []Entry
	Prefixes   []Entry
	// MSize is the total tag count: 1 (exact) plus the sum of all Counts. It
	// is the msize libmongocrypt puts in the exact token set's encrypted
	// tokens (the other sets use 0).
	MSize uint32
}

// Len returns the number of payload entries of a set once counts are
// expanded.
func Len(set []Entry) uint32 {
	var n uint32
	for _, e := range set {
		n += e.Count
	}
	return n
}

// validStrEncodeInput is libbson's bson_utf8_validate(s, len, allow_null=false):
// well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF) without NUL bytes.
func validStrEncodeInput(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// paddedLen is the longest byte length of a string whose BSON value encrypts
// (AES-CBC with PKCS#7) to the same length as one of byteLen bytes.
func paddedLen(byteLen uint32) uint32 {
	encrypted := aesBlockSize * ((byteLen + bsonStringOverhead + aesBlockSize) / aesBlockSize)
	return encrypted - bsonStringOverhead
}

// baseString is the folded string with 0xFF appended, and the byte offset of
// each of its code points (the 0xFF counts as the last one).
type baseString struct {
	buf     string
	offsets []uint32
}

func newBaseString(folded string) baseString {
	offsets := make([]uint32, 0, utf8.RuneCountInString(folded)+1)
	for i := range folded {
		offsets = append(offsets, uint32(i))
	}
	offsets = append(offsets, uint32(len(folded)))
	return baseString{buf: folded + string([]byte{PaddingMarker}), offsets: offsets}
}

// runes is the number of code points of the folded string (without 0xFF).
func (b *baseString) runes() uint32 { return uint32(len(b.offsets) - 1) }

// slice returns code points [start, end) of the folded string.
func (b *baseString) slice(start, end uint32) string {
	return b.buf[b.offsets[start]:b.offsets[end]]
}

// StrEncode computes the exact string and the prefix, suffix and substring
// sets of spec.Value for an insert, exactly as libmongocrypt 1.20
// (mc_text_search_str_encode), including the order of entries and the padding
// that hides the string's length.
//
// The string must be valid UTF-8 without NUL bytes and at most
// [MaxEncodeBytes] long; with a substring spec its code point count (before
// folding) must not exceed MLen. spec must pass [Spec.Validate]. Unlike a
// payload, StrEncode does not require an index spec: with none, only Exact
// and MSize 1 come back.
//
// Padding: for each set, msize is computed from the padded length of the
// unfolded byte length, p = 16*floor((len+5+16)/16) - 5: prefixes and
// suffixes get min(p, ub) - lb + 1 entries, substrings
// Σ_{k=lb..min(ub, p')} (p' - k + 1) with p' = min(mlen, p); the missing
// entries are one padding entry with that count. Sets are empty when p < lb.
func StrEncode(spec *Spec) (*Sets, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return strEncode(spec)
}

// strEncode is StrEncode on a spec whose bounds are known to be positive with
// lb <= ub (mlen may be below ub, as libmongocrypt's own unit tests use it).
func strEncode(spec *Spec) (*Sets, error) {
	v := spec.Value
	if len(v) > MaxEncodeBytes {
		return nil, newError(ErrTooLong, fmt.Sprintf(
			"StrEncode: String passed in was too long: String was %d bytes, but max is %d bytes", len(v), MaxEncodeBytes))
	}
	if !validStrEncodeInput(v) {
		return nil, newError(ErrInvalidUTF8, "StrEncode: String passed in was not valid UTF-8")
	}
	folded := fold(v, spec.CaseFold, spec.DiacriticFold)
	base := newBaseString(folded)
	unfoldedBytes := uint32(len(v))

	sets := &Sets{Exact: folded}
	msize := uint64(1) // the exact string
	if spec.Suffix != nil {
		sets.Suffixes = affixSet(&base, unfoldedBytes, uint32(spec.Suffix.LB), uint32(spec.Suffix.UB), false, &msize)
	}
	if spec.Prefix != nil {
		sets.Prefixes = affixSet(&base, unfoldedBytes, uint32(spec.Prefix.LB), uint32(spec.Prefix.UB), true, &msize)
	}
	if spec.Substring != nil {
		unfoldedRunes := uint32(utf8.RuneCountInString(v))
		mlen := uint32(spec.Substring.MLen)
		if unfoldedRunes > mlen {
			return nil, newError(ErrTooLong, fmt.Sprintf(
				"StrEncode: String passed in was longer than the maximum length for substring indexing -- String len: %d, max len: %d",
				unfoldedRunes, mlen))
		}
		lb, ub := uint32(spec.Substring.LB), uint32(spec.Substring.UB)
		// Refuse tag counts libmongocrypt's uint32 arithmetic cannot hold
		// before enumerating anything.
		if padded := paddedLen(unfoldedBytes); padded >= lb && msize+substringCount(min(mlen, padded), lb, ub) > math.MaxUint32 {
			return nil, newError(ErrTooLong, "StrEncode: substring parameters produce more than 2^32-1 tags")
		}
		sets.Substrings = substringSet(&base, unfoldedBytes, mlen, lb, ub, &msize)
	}
	sets.MSize = uint32(msize)
	return sets, nil
}

// affixSet builds the prefix (isPrefix) or suffix set: real affixes from
// length lb up to min(len, ub), shortest first, then one padding entry.
func affixSet(base *baseString, unfoldedBytes, lb, ub uint32, isPrefix bool, msize *uint64) []Entry {
	padded := paddedLen(unfoldedBytes)
	if padded < lb {
		return nil
	}
	total := min(padded, ub) - lb + 1
	n := base.runes()
	realMax := min(n, ub)
	var real uint32
	if realMax >= lb {
		real = realMax - lb + 1
	}
	size := real
	if real != total {
		size++
	}
	set := make([]Entry, 0, size)
	for k := lb; k <= realMax; k++ {
		if isPrefix {
			set = append(set, Entry{Value: base.slice(0, k), Count: 1})
		} else {
			set = append(set, Entry{Value: base.slice(n-k, n), Count: 1})
		}
	}
	if total != real {
		set = append(set, Entry{Value: base.buf, Count: total - real})
	}
	*msize += uint64(total)
	return set
}

// substringCount is the number of substrings of length lb..ub of a string of
// length strLen: Σ_{k=lb..min(ub,strLen)} (strLen - k + 1).
func substringCount(strLen, lb, ub uint32) uint64 {
	if lb > strLen {
		return 0
	}
	largest := min(strLen, ub)
	fewest := uint64(strLen - largest + 1)
	most := uint64(strLen - lb + 1)
	return (fewest + most) * (most - fewest + 1) / 2
}

// fnv1a is 32-bit FNV-1a; libmongocrypt buckets substrings by it.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// substringSet builds the substring set: every distinct substring of length
// lb..ub (by start, then length), ordered as libmongocrypt's hash set
// iterates (by FNV-1a(bytes) mod 4096, then insertion order), then one
// padding entry.
func substringSet(base *baseString, unfoldedBytes, mlen, lb, ub uint32, msize *uint64) []Entry {
	padded := paddedLen(unfoldedBytes)
	if padded < lb {
		return nil
	}
	padded = min(mlen, padded)
	total := substringCount(padded, lb, ub)
	n := base.runes()

	var items []substringItem
	if n >= lb {
		// Distinct substrings are found with an open-addressing table keyed
		// by the FNV-1a hash, which is computed incrementally as a substring
		// grows; bytes are compared only when hashes match.
		want := substringCount(n, lb, ub)
		items = make([]substringItem, 0, want)
		tableBits := bits.Len64(want) + 1
		table := make([]uint32, 1<<tableBits) // item index + 1; 0 is empty
		mask := uint32(len(table) - 1)
		for i := uint32(0); i+lb <= n; i++ {
			start := base.offsets[i]
			h := uint32(fnvOffset)
			pos := start
			for j := i + lb; j <= min(n, i+ub); j++ {
				end := base.offsets[j]
				for ; pos < end; pos++ {
					h = (h ^ uint32(base.buf[pos])) * fnvPrime
				}
				s := base.buf[start:end]
				slot := (h * 0x9E3779B1) >> (32 - tableBits) & mask
				for {
					k := table[slot]
					if k == 0 {
						items = append(items, substringItem{start: start, end: end, hash: h})
						table[slot] = uint32(len(items))
						break
					}
					it := &items[k-1]
					if it.hash == h && it.end-it.start == end-start && base.buf[it.start:it.end] == s {
						break // duplicate
					}
					slot = (slot + 1) & mask
				}
			}
		}
	}
	// Stable counting sort by bucket.
	var counts [substringBuckets + 1]uint32
	for _, it := range items {
		counts[it.hash%substringBuckets+1]++
	}
	for b := 1; b <= substringBuckets; b++ {
		counts[b] += counts[b-1]
	}
	real := uint64(len(items))
	size := real
	if total != real {
		size++
	}
	set := make([]Entry, size)
	for _, it := range items {
		b := it.hash % substringBuckets
		set[counts[b]] = Entry{Value: base.buf[it.start:it.end], Count: 1}
		counts[b]++
	}
	if total != real {
		set[real] = Entry{Value: base.buf, Count: uint32(total - real)}
	}
	*msize += total
	return set
}

// substringItem is a distinct substring: its byte range in the base string
// and its FNV-1a hash.
type substringItem struct {
	start, end, hash uint32
}

// StrQuery returns the folded string a find payload is derived from, exactly
// as libmongocrypt (mc_text_search_str_query), after the marking's check that
// at most one of prefix, suffix and substring is given. With an index spec,
// the folded string must have between lb and ub code points (and not be
// empty); with none (an exact-match query) any length is accepted.
//
// The checks come in libmongocrypt's order: [Spec.Validate], more than one
// spec, length above [MaxEncodeBytes], invalid UTF-8 (or a NUL byte), then the
// folded length.
func StrQuery(spec *Spec) (string, error) {
	n := 0
	for _, set := range []bool{spec.Substring != nil, spec.Suffix != nil, spec.Prefix != nil} {
		if set {
			n++
		}
	}
	if err := spec.Validate(); err != nil {
		return "", err
	}
	if n > 1 {
		return "", newError(ErrInvalidSpec, "Text search query specification cannot contain multiple query type specifications")
	}
	v := spec.Value
	if len(v) > MaxEncodeBytes {
		return "", newError(ErrTooLong, fmt.Sprintf(
			"StrQuery: String passed in was too long: String was %d bytes, but max is %d bytes", len(v), MaxEncodeBytes))
	}
	if !validStrEncodeInput(v) {
		return "", newError(ErrInvalidUTF8, "StrQuery: String passed in was not valid UTF-8")
	}
	folded := fold(v, spec.CaseFold, spec.DiacriticFold)
	if lb, ub, ok := spec.queryBounds(); ok {
		runes := uint32(utf8.RuneCountInString(folded))
		if runes == 0 {
			return "", newError(ErrQueryLength, "StrQuery: string value cannot be empty for substring, suffix, or prefix queries")
		}
		if runes > ub {
			return "", newError(ErrQueryLength, fmt.Sprintf(
				"StrQuery: string value was longer than the maximum query length for this field after folding -- folded codepoint len: %d, max query len: %d",
				runes, ub))
		}
		if runes < lb {
			return "", newError(ErrQueryLength, fmt.Sprintf(
				"StrQuery: string value was shorter than the minimum query length for this field after folding -- folded codepoint len: %d, min query len: %d",
				runes, lb))
		}
	}
	return folded, nil
}

// AppendBSONString appends s as a BSON string value (int32 little-endian
// length including the NUL, the bytes, NUL): the "v" that text search tokens
// are derived from. It accepts any bytes, including a padding entry's 0xFF.
func AppendBSONString(dst []byte, s string) []byte {
	l := uint32(len(s) + 1)
	dst = append(dst, byte(l), byte(l>>8), byte(l>>16), byte(l>>24))
	dst = append(dst, s...)
	return append(dst, 0)
}
