package fle2

import (
	"context"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Find payloads:
//
//	FLE2FindEqualityPayloadV2 (12): {d: EDCDerivedFromDataToken, s: ESCDerivedFromDataToken,
//	    l: ServerDerivedFromDataToken, cm: int64 max contention factor}
//	FLE2FindRangePayloadV2 (13): {payload: {g: [{d, s, l}], cm: int64} (absent in a stub),
//	    payloadId: int32, firstOperator: int32, secondOperator: int32 (optional),
//	    sp, pn, tf, mn, mx}
//	FLE2FindTextPayload (18): {ts: {e | s | u | p: {d, s, l}}, cm: int64, cf: bool,
//	    df: bool, ss | fs | ps: {...}}
//
// For each token pair (d, s) and each contention factor cf in 0..cm, the server derives
// EDC..AndContentionFactor = HMAC(d, cf) and ESC..AndContentionFactor = HMAC(s, cf), counts
// the chain's non-anchors (anchors included) and matches the tags 1..count (fle_tags.cpp
// readTags).

const (
	// rewriteMemoryLimit is internalQueryFLERewriteMemoryLimit's default, 14 MiB.
	rewriteMemoryLimit = 14 * 1024 * 1024
	// maxFindContention bounds cm: each contention factor costs ESC reads.
	maxFindContention = 1 << 16
)

// findPair is the (d, s) of one find token set.
type findPair struct {
	edc, esc token
}

// FindRange is the header of an FLE2FindRangePayloadV2.
type FindRange struct {
	PayloadID      int32
	FirstOperator  int32
	SecondOperator int32 // 0 when absent
	// HasEdges is false for a stub, the second payload of a pair, which has no "payload".
	HasEdges bool

	pairs      []findPair
	contention int64
}

// ParseFindRange parses an FLE2FindRangePayloadV2 (blob subtype 13, subtype byte first).
func ParseFindRange(blob []byte) (*FindRange, error) {
	if len(blob) == 0 || fleblob.Subtype(blob[0]) != fleblob.FLE2FindRangePayloadV2 {
		return nil, errorf(codeBadValue, "Not an FLE2FindRangePayloadV2")
	}
	const name = "FLE2FindRangePayloadV2"
	r := newDocReader(name)
	elems, err := r.elements(blob[1:])
	if err != nil {
		return nil, err
	}
	fr := &FindRange{}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "payload":
			var d bsoncore.Document
			if d, err = r.document(k, v); err == nil {
				fr.pairs, fr.contention, err = parseRangeEdges(d)
				fr.HasEdges = true
			}
		case "payloadId":
			fr.PayloadID, err = r.int32(k, v)
		case "firstOperator":
			fr.FirstOperator, err = r.int32(k, v)
		case "secondOperator":
			fr.SecondOperator, err = r.int32(k, v)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := r.require("payloadId", "firstOperator"); err != nil {
		return nil, err
	}
	return fr, nil
}

func parseRangeEdges(doc bsoncore.Document) ([]findPair, int64, error) {
	r := newDocReader("FLE2FindRangePayloadEdgesInfoV2")
	elems, err := r.elements(doc)
	if err != nil {
		return nil, 0, err
	}
	var pairs []findPair
	var cm int64
	budget := maxTokenSets
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "g":
			var sets []tokenSet
			sets, err = parseTokenSets(r, k, v, "EdgeFindTokenSetV2", false, &budget)
			for _, s := range sets {
				pairs = append(pairs, findPair{edc: s.edc, esc: s.esc})
			}
		case "cm":
			cm, err = r.int64(k, v)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return pairs, cm, r.require("g", "cm")
}

// IsRangeStub reports whether blob is an FLE2FindRangePayloadV2 without edges, the second
// bound of a pair, which matches no tags of its own.
func IsRangeStub(blob []byte) bool {
	fr, err := ParseFindRange(blob)
	return err == nil && !fr.HasEdges
}

// FindTags computes the tags a find payload (subtype 12 equality, 13 range, 18 text)
// matches, reading the ESC for counts, for every contention factor 0..cm. For a range
// payload that is only a stub (the second bound of a pair, no edges) it returns nil, nil and
// [IsRangeStub] reports it.
func FindTags(ctx context.Context, blob []byte, esc ESC) ([][]byte, error) {
	if esc == nil {
		return nil, errNilESC
	}
	if len(blob) == 0 {
		return nil, errorf(codeBadValue, "Empty encrypted find payload")
	}
	var pairs []findPair
	var cm int64
	var err error
	switch st := fleblob.Subtype(blob[0]); st {
	case fleblob.FLE2FindEqualityPayloadV2:
		pairs, cm, err = parseFindEquality(blob[1:])
	case fleblob.FLE2FindRangePayloadV2:
		var fr *FindRange
		if fr, err = ParseFindRange(blob); err == nil {
			if !fr.HasEdges {
				return nil, nil
			}
			pairs, cm = fr.pairs, fr.contention
		}
	case fleblob.FLE2FindTextPayload:
		pairs, cm, err = parseFindText(blob[1:])
	default:
		return nil, errorf(codeBadValue, "Unexpected encrypted find payload type: %d", st)
	}
	if err != nil {
		return nil, err
	}
	if cm < 0 || cm > maxFindContention {
		return nil, errorf(codeBadValue, "Invalid max contention factor %d in find payload", cm)
	}
	return readTags(ctx, esc, pairs, cm)
}

// readTags is readTags of fle_tags.cpp over several token pairs: count every chain first,
// check that the tags fit the rewrite memory limit, then generate them.
func readTags(ctx context.Context, esc ESC, pairs []findPair, cm int64) ([][]byte, error) {
	type chain struct {
		edc   token
		count uint64
	}
	var chains []chain
	var total uint64
	for _, p := range pairs {
		for cf := int64(0); cf <= cm; cf++ {
			escCF := prf1(p.esc[:], uint64(cf))
			t := escTokensOf(escCF)
			n, err := nextCount(ctx, esc, &t)
			if err != nil {
				return nil, err
			}
			total += n
			if arrayElementsMemory(total) > rewriteMemoryLimit {
				return nil, errorf(codeFLEMaxTagLimitExceeded, "Encrypted rewrite memory limit exceeded")
			}
			if n > 0 {
				chains = append(chains, chain{edc: prf1(p.edc[:], uint64(cf)), count: n})
			}
		}
	}
	tags := make([][]byte, 0, total)
	for _, c := range chains {
		twice := prf1(c.edc[:], labelTwiceDerivedTag)
		for i := uint64(1); i <= c.count; i++ {
			t := prf1(twice[:], i)
			tags = append(tags, t[:])
		}
	}
	return tags, nil
}

// arrayElementsMemory is sizeArrayElementsMemory: the BSON size of an array of tagCount
// BinData tags, each element type (1) + key digits + NUL (1) + length (4) + subtype (1) + 32.
func arrayElementsMemory(tagCount uint64) uint64 {
	var size, accounted uint64
	power, digits := uint64(1), uint64(1)
	for tagCount >= power {
		power *= 10
		n := min(tagCount, power) - accounted
		size += (1 + 4 + 1 + digits + 1 + tokenLen) * n
		accounted += n
		digits++
	}
	return size
}

func parseFindEquality(doc bsoncore.Document) ([]findPair, int64, error) {
	r := newDocReader("FLE2FindEqualityPayloadV2")
	elems, err := r.elements(doc)
	if err != nil {
		return nil, 0, err
	}
	var p findPair
	var cm int64
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "d":
			p.edc, err = r.token(k, v)
		case "s":
			p.esc, err = r.token(k, v)
		case "l":
			_, err = r.token(k, v)
		case "cm":
			cm, err = r.int64(k, v)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if err := r.require("d", "s", "l"); err != nil {
		return nil, 0, err
	}
	return []findPair{p}, cm, nil
}

func parseFindText(doc bsoncore.Document) ([]findPair, int64, error) {
	r := newDocReader("FLE2FindTextPayload")
	elems, err := r.elements(doc)
	if err != nil {
		return nil, 0, err
	}
	var pairs []findPair
	var cm int64
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "ts":
			var d bsoncore.Document
			if d, err = r.document(k, v); err == nil {
				pairs, err = parseTextFindSets(d)
			}
		case "cm":
			cm, err = r.int64(k, v)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if err := r.require("ts", "cm"); err != nil {
		return nil, 0, err
	}
	if len(pairs) == 0 {
		return nil, 0, errorf(codeBadValue, "FLE2FindTextPayload has no token set")
	}
	return pairs, cm, nil
}

func parseTextFindSets(doc bsoncore.Document) ([]findPair, error) {
	r := newDocReader("TextSearchFindTokenSets")
	elems, err := r.elements(doc)
	if err != nil {
		return nil, err
	}
	var pairs []findPair
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "e", "s", "u", "p":
			d, err := r.document(k, v)
			if err != nil {
				return nil, err
			}
			s, err := parseTokenSet("TextSearchFindTokenSets."+k, d, false)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, findPair{edc: s.edc, esc: s.esc})
		}
	}
	return pairs, nil
}
