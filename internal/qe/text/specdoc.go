package text

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const specPrefix = "Error parsing FLE2TextSearchInsertSpec: "

// ParseSpec parses the "v" of a text search placeholder, a
// FLE2TextSearchInsertSpec document
//
//	{v: string, casef: bool, diacf: bool,
//	 substr?: {mlen: int32, ub: int32, lb: int32},
//	 suffix?: {ub: int32, lb: int32},
//	 prefix?: {ub: int32, lb: int32}}
//
// with libmongocrypt's rules and messages (mc_FLE2TextSearchInsertSpec_parse):
// v, casef and diacf are required; the lengths are int32 > 0 with ub >= lb and
// mlen >= ub; a duplicate field is refused; unknown fields are ignored. It
// does not require an index spec (an insert needs one, a query at most one:
// the payload builder checks that). Errors wrap [ErrInvalidSpec]. It never
// panics on malformed input.
func ParseSpec(in bson.RawValue) (Spec, error) {
	var s Spec
	doc, ok := bsoncore.Value{Type: bsoncore.Type(in.Type), Data: in.Value}.DocumentOK()
	if !ok {
		return s, newError(ErrInvalidSpec, specPrefix+"must be an iterator to a document")
	}
	elems, err := documentElements(doc)
	if err != nil {
		return s, newError(ErrInvalidSpec, specPrefix+"invalid BSON: "+err.Error())
	}
	seen := map[string]bool{}
	for _, e := range elems {
		key := e.Key()
		switch key {
		case "v", "casef", "diacf", "substr", "suffix", "prefix":
		default:
			continue // unknown fields are ignored, as in libmongocrypt
		}
		if seen[key] {
			return s, newError(ErrInvalidSpec, specPrefix+"Duplicate field '"+key+"' in placeholder bson")
		}
		seen[key] = true
		v := e.Value()
		switch key {
		case "v":
			str, ok := v.StringValueOK()
			if !ok {
				return s, newError(ErrInvalidSpec, fmt.Sprintf(specPrefix+"unsupported BSON type: %s for text search", bsonTypeName(v.Type)))
			}
			s.Value = str
		case "casef", "diacf":
			b, ok := v.BooleanOK()
			if !ok {
				return s, newError(ErrInvalidSpec, specPrefix+"'"+key+"' must be a bool")
			}
			if key == "casef" {
				s.CaseFold = b
			} else {
				s.DiacriticFold = b
			}
		case "substr":
			f, err := parseBounds("FLE2SubstringInsertSpec", v, true)
			if err != nil {
				return s, err
			}
			s.Substring = &SubstringSpec{MLen: f[0], UB: f[1], LB: f[2]}
		case "suffix":
			f, err := parseBounds("FLE2SuffixInsertSpec", v, false)
			if err != nil {
				return s, err
			}
			s.Suffix = &AffixSpec{UB: f[1], LB: f[2]}
		case "prefix":
			f, err := parseBounds("FLE2PrefixInsertSpec", v, false)
			if err != nil {
				return s, err
			}
			s.Prefix = &AffixSpec{UB: f[1], LB: f[2]}
		}
	}
	for _, key := range []string{"v", "casef", "diacf"} {
		if !seen[key] {
			return s, newError(ErrInvalidSpec, specPrefix+"Missing field '"+key+"' in placeholder")
		}
	}
	return s, nil
}

// parseBounds parses {mlen?, ub, lb} into [mlen, ub, lb].
func parseBounds(name string, v bsoncore.Value, withMlen bool) ([3]int32, error) {
	var out [3]int32
	p := "Error parsing " + name + ": "
	doc, ok := v.DocumentOK()
	if !ok {
		return out, newError(ErrInvalidSpec, p+"must be an iterator to a document")
	}
	elems, err := documentElements(doc)
	if err != nil {
		return out, newError(ErrInvalidSpec, p+"invalid BSON: "+err.Error())
	}
	names := [3]string{"mlen", "ub", "lb"}
	var seen [3]bool
	for _, e := range elems {
		key := e.Key()
		idx := -1
		for i, n := range names {
			if key == n && (i > 0 || withMlen) {
				idx = i
			}
		}
		if idx < 0 {
			continue
		}
		if seen[idx] {
			return out, newError(ErrInvalidSpec, p+"Duplicate field '"+key+"' in placeholder bson")
		}
		seen[idx] = true
		n, ok := e.Value().Int32OK()
		if !ok {
			return out, newError(ErrInvalidSpec, p+"'"+key+"' must be an int32")
		}
		if n <= 0 {
			return out, newError(ErrInvalidSpec, p+"'"+key+"' must be greater than zero")
		}
		out[idx] = n
	}
	for i, n := range names {
		if (i > 0 || withMlen) && !seen[i] {
			return out, newError(ErrInvalidSpec, p+"Missing field '"+n+"' in placeholder")
		}
	}
	if out[1] < out[2] {
		return out, newError(ErrInvalidSpec, p+"upper bound cannot be less than the lower bound")
	}
	if withMlen && out[0] < out[1] {
		return out, newError(ErrInvalidSpec, p+"maximum indexed length cannot be less than the upper bound")
	}
	return out, nil
}

// AppendSpec appends s as a FLE2TextSearchInsertSpec document, in the field
// order libmongocrypt writes it from TextOpts: v, casef, diacf,
// prefix {ub, lb}, suffix {ub, lb}, substr {mlen, ub, lb}. ParseSpec reads it
// back.
func AppendSpec(dst []byte, s *Spec) []byte {
	idx, dst := bsoncore.AppendDocumentStart(dst)
	dst = bsoncore.AppendStringElement(dst, "v", s.Value)
	dst = bsoncore.AppendBooleanElement(dst, "casef", s.CaseFold)
	dst = bsoncore.AppendBooleanElement(dst, "diacf", s.DiacriticFold)
	if s.Prefix != nil {
		dst = appendBounds(dst, "prefix", nil, s.Prefix.UB, s.Prefix.LB)
	}
	if s.Suffix != nil {
		dst = appendBounds(dst, "suffix", nil, s.Suffix.UB, s.Suffix.LB)
	}
	if s.Substring != nil {
		mlen := s.Substring.MLen
		dst = appendBounds(dst, "substr", &mlen, s.Substring.UB, s.Substring.LB)
	}
	dst, _ = bsoncore.AppendDocumentEnd(dst, idx)
	return dst
}

func appendBounds(dst []byte, key string, mlen *int32, ub, lb int32) []byte {
	idx, dst := bsoncore.AppendDocumentElementStart(dst, key)
	if mlen != nil {
		dst = bsoncore.AppendInt32Element(dst, "mlen", *mlen)
	}
	dst = bsoncore.AppendInt32Element(dst, "ub", ub)
	dst = bsoncore.AppendInt32Element(dst, "lb", lb)
	dst, _ = bsoncore.AppendDocumentEnd(dst, idx)
	return dst
}
