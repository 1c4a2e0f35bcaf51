package text

import "fmt"

// AffixSpec holds the prefix or suffix indexing parameters of a
// FLE2TextSearchInsertSpec (BSON "prefix"/"suffix": {ub, lb}). Lengths count
// UTF-8 code points.
type AffixSpec struct {
	// LB is the shortest affix indexed (strMinQueryLength), > 0.
	LB int32
	// UB is the longest affix indexed (strMaxQueryLength), >= LB.
	UB int32
}

// SubstringSpec holds the substring indexing parameters of a
// FLE2TextSearchInsertSpec (BSON "substr": {mlen, ub, lb}). Lengths count
// UTF-8 code points.
type SubstringSpec struct {
	// MLen is the longest string that may be indexed (strMaxLength), >= UB.
	MLen int32
	// LB is the shortest substring indexed (strMinQueryLength), > 0.
	LB int32
	// UB is the longest substring indexed (strMaxQueryLength), >= LB.
	UB int32
}

// Spec is libmongocrypt's FLE2TextSearchInsertSpec: the string to encode or
// query and how. It is the "v" document of a text search placeholder
// ({v, casef, diacf, prefix?, suffix?, substr?}); see [ParseSpec] and
// [AppendSpec] for its BSON form.
type Spec struct {
	// Value is the string to encode (insert) or to query.
	Value string
	// CaseFold is "casef": true when the field is case insensitive.
	CaseFold bool
	// DiacriticFold is "diacf": true when the field is diacritic insensitive.
	DiacriticFold bool
	// Prefix, Suffix and Substring are the index specifications present;
	// nil when absent. An insert needs at least one; a query has at most one
	// (none means an exact-match query).
	Prefix    *AffixSpec
	Suffix    *AffixSpec
	Substring *SubstringSpec
}

// Validate checks the bounds the way libmongocrypt's placeholder parser does
// (every length > 0 and within int32, ub >= lb, mlen >= ub), in the order it
// meets them (prefix, suffix, then substr). The error wraps [ErrInvalidSpec].
func (s *Spec) Validate() error {
	if s.Prefix != nil {
		if err := validateAffix("FLE2PrefixInsertSpec", s.Prefix); err != nil {
			return err
		}
	}
	if s.Suffix != nil {
		if err := validateAffix("FLE2SuffixInsertSpec", s.Suffix); err != nil {
			return err
		}
	}
	if s.Substring != nil {
		const p = "Error parsing FLE2SubstringInsertSpec: "
		for _, f := range []struct {
			name string
			v    int32
		}{{"mlen", s.Substring.MLen}, {"ub", s.Substring.UB}, {"lb", s.Substring.LB}} {
			if f.v <= 0 {
				return newError(ErrInvalidSpec, p+"'"+f.name+"' must be greater than zero")
			}
		}
		if s.Substring.UB < s.Substring.LB {
			return newError(ErrInvalidSpec, p+"upper bound cannot be less than the lower bound")
		}
		if s.Substring.MLen < s.Substring.UB {
			return newError(ErrInvalidSpec, p+"maximum indexed length cannot be less than the upper bound")
		}
	}
	return nil
}

func validateAffix(name string, a *AffixSpec) error {
	p := "Error parsing " + name + ": "
	if a.UB <= 0 {
		return newError(ErrInvalidSpec, p+"'ub' must be greater than zero")
	}
	if a.LB <= 0 {
		return newError(ErrInvalidSpec, p+"'lb' must be greater than zero")
	}
	if a.UB < a.LB {
		return newError(ErrInvalidSpec, p+"upper bound cannot be less than the lower bound")
	}
	return nil
}

// queryBounds returns the [min, max] query length of the one index spec
// present, in libmongocrypt's precedence (substr, suffix, prefix).
func (s *Spec) queryBounds() (lb, ub uint32, ok bool) {
	switch {
	case s.Substring != nil:
		return uint32(s.Substring.LB), uint32(s.Substring.UB), true
	case s.Suffix != nil:
		return uint32(s.Suffix.LB), uint32(s.Suffix.UB), true
	case s.Prefix != nil:
		return uint32(s.Prefix.LB), uint32(s.Prefix.UB), true
	}
	return 0, 0, false
}

// String describes the spec without its value (which may be secret).
func (s Spec) String() string {
	out := fmt.Sprintf("text.Spec{casef: %t, diacf: %t", s.CaseFold, s.DiacriticFold)
	if s.Prefix != nil {
		out += fmt.Sprintf(", prefix: {lb: %d, ub: %d}", s.Prefix.LB, s.Prefix.UB)
	}
	if s.Suffix != nil {
		out += fmt.Sprintf(", suffix: {lb: %d, ub: %d}", s.Suffix.LB, s.Suffix.UB)
	}
	if s.Substring != nil {
		out += fmt.Sprintf(", substr: {mlen: %d, lb: %d, ub: %d}", s.Substring.MLen, s.Substring.LB, s.Substring.UB)
	}
	return out + "}"
}
