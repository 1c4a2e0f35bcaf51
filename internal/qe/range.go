package qe

import (
	"fmt"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe/rangeenc"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Range operators of FLE2RangeFindSpec (firstOperator, secondOperator).
const (
	rangeOpNone int32 = 0
	rangeOpGt   int32 = 1
	rangeOpGte  int32 = 2
	rangeOpLt   int32 = 3
	rangeOpLte  int32 = 4
)

// rangeInsertSpec is the "v" of a range insert placeholder, an FLE2RangeInsertSpec:
//
//	{v: value, min: index min, max: index max, precision: int32 (optional), trimFactor: int32 (optional)}
type rangeInsertSpec struct {
	v, min, max bsoncore.Value
	precision   *int32
	trimFactor  *int32
}

const (
	rangeInsertSpecName = "FLE2RangeInsertSpec"
	rangeFindSpecName   = "FLE2RangeFindSpec"
	edgesInfoName       = "FLE2RangeFindSpecEdgesInfo"
)

// nonNegativeInt32 reads an optional int32 option that must be >= 0.
func nonNegativeInt32(v bsoncore.Value, what, key string) (*int32, error) {
	n, err := int32Field(v, what, key)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	if n < 0 {
		return nil, fmt.Errorf("qe: %s: '%s' must be non-negative", what, key)
	}
	return &n, nil
}

func parseRangeInsertSpec(v bsoncore.Value) (*rangeInsertSpec, error) {
	doc, err := subDocument(v, rangeInsertSpecName)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	elems, err := docElements(doc)
	if err != nil {
		return nil, fmt.Errorf("qe: %s: %w", rangeInsertSpecName, err)
	}
	s := &rangeInsertSpec{}
	seen := fieldSet{}
	for _, e := range elems {
		key, ev := e.Key(), e.Value()
		switch key {
		case "v", "min", "max", "precision", "trimFactor":
			if err := seen.add("qe: "+rangeInsertSpecName, key); err != nil {
				return nil, err
			}
		default:
			continue
		}
		switch key {
		case "v":
			s.v = ev
		case "min":
			s.min = ev
		case "max":
			s.max = ev
		case "precision":
			if s.precision, err = nonNegativeInt32(ev, rangeInsertSpecName, key); err != nil {
				return nil, err
			}
		case "trimFactor":
			if s.trimFactor, err = nonNegativeInt32(ev, rangeInsertSpecName, key); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"v", "min", "max"} {
		if !seen[k] {
			return nil, fmt.Errorf("qe: %s: missing field '%s'", rangeInsertSpecName, k)
		}
	}
	return s, nil
}

// rangeEdgesInfo is the "edgesInfo" of an FLE2RangeFindSpec: the query bounds and the index
// parameters the mincover is computed with.
type rangeEdgesInfo struct {
	lowerBound, upperBound bsoncore.Value
	lbIncluded, ubIncluded bool
	indexMin, indexMax     bsoncore.Value
	precision, trimFactor  *int32
}

// rangeFindSpec is the "v" of a range find placeholder, an FLE2RangeFindSpec:
//
//	{edgesInfo: {...} (absent in the second payload of a pair), payloadId: int32,
//	 firstOperator: int32, secondOperator: int32 (optional)}
type rangeFindSpec struct {
	edgesInfo      *rangeEdgesInfo
	payloadID      int32
	firstOperator  int32
	secondOperator int32
}

func parseRangeOperator(v bsoncore.Value, key string) (int32, error) {
	n, err := int32Field(v, rangeFindSpecName, key)
	if err != nil {
		return 0, fmt.Errorf("qe: %w", err)
	}
	if n < rangeOpNone || n > rangeOpLte {
		return 0, fmt.Errorf("qe: %s: '%s' must be between %d and %d", rangeFindSpecName, key, rangeOpNone, rangeOpLte)
	}
	return n, nil
}

func parseRangeFindSpec(v bsoncore.Value) (*rangeFindSpec, error) {
	doc, err := subDocument(v, rangeFindSpecName)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	elems, err := docElements(doc)
	if err != nil {
		return nil, fmt.Errorf("qe: %s: %w", rangeFindSpecName, err)
	}
	s := &rangeFindSpec{}
	seen := fieldSet{}
	for _, e := range elems {
		key, ev := e.Key(), e.Value()
		switch key {
		case "edgesInfo", "payloadId", "firstOperator", "secondOperator":
			if err := seen.add("qe: "+rangeFindSpecName, key); err != nil {
				return nil, err
			}
		default:
			continue
		}
		switch key {
		case "edgesInfo":
			if s.edgesInfo, err = parseEdgesInfo(ev); err != nil {
				return nil, err
			}
		case "payloadId":
			if s.payloadID, err = int32Field(ev, rangeFindSpecName, key); err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
		case "firstOperator":
			if s.firstOperator, err = parseRangeOperator(ev, key); err != nil {
				return nil, err
			}
		case "secondOperator":
			if s.secondOperator, err = parseRangeOperator(ev, key); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"payloadId", "firstOperator"} {
		if !seen[k] {
			return nil, fmt.Errorf("qe: %s: missing field '%s'", rangeFindSpecName, k)
		}
	}
	return s, nil
}

func parseEdgesInfo(v bsoncore.Value) (*rangeEdgesInfo, error) {
	doc, err := subDocument(v, edgesInfoName)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	elems, err := docElements(doc)
	if err != nil {
		return nil, fmt.Errorf("qe: %s: %w", edgesInfoName, err)
	}
	info := &rangeEdgesInfo{}
	seen := fieldSet{}
	for _, e := range elems {
		key, ev := e.Key(), e.Value()
		switch key {
		case "lowerBound", "lbIncluded", "upperBound", "ubIncluded", "indexMin", "indexMax", "precision", "trimFactor":
			if err := seen.add("qe: "+edgesInfoName, key); err != nil {
				return nil, err
			}
		default:
			continue
		}
		switch key {
		case "lowerBound":
			info.lowerBound = ev
		case "upperBound":
			info.upperBound = ev
		case "lbIncluded":
			if info.lbIncluded, err = boolField(ev, edgesInfoName, key); err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
		case "ubIncluded":
			if info.ubIncluded, err = boolField(ev, edgesInfoName, key); err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
		case "indexMin":
			info.indexMin = ev
		case "indexMax":
			info.indexMax = ev
		case "precision":
			if info.precision, err = nonNegativeInt32(ev, edgesInfoName, key); err != nil {
				return nil, err
			}
		case "trimFactor":
			if info.trimFactor, err = nonNegativeInt32(ev, edgesInfoName, key); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"lowerBound", "lbIncluded", "upperBound", "ubIncluded", "indexMin", "indexMax"} {
		if !seen[k] {
			return nil, fmt.Errorf("qe: %s: missing field '%s'", edgesInfoName, k)
		}
	}
	return info, nil
}

// rawValue converts a bsoncore value to the driver's RawValue.
func rawValue(v bsoncore.Value) bson.RawValue {
	return bson.RawValue{Type: bson.Type(v.Type), Value: v.Data}
}

// rangeEdges returns the edges of a range insert (libmongocrypt's get_edges): doubles and
// decimals use min, max and precision only when precision is set.
func rangeEdges(s *rangeInsertSpec, sparsity int64) (*rangeenc.EdgeSet, error) {
	edges, err := rangeenc.EdgesForInsert(rawValue(s.v), rangeenc.Index{
		Min: rawValue(s.min), Max: rawValue(s.max), Precision: s.precision, Sparsity: sparsity, TrimFactor: s.trimFactor})
	if err != nil {
		return nil, fmt.Errorf("qe: range insert: %w", err)
	}
	return edges, nil
}

// encryptRangeInsert returns the FLE2InsertUpdatePayloadV2 of a range insert placeholder: the
// equality fields for the value, then one token set per edge, then the range parameters.
func (p *Placeholder) encryptRangeInsert(keys KeyFunc, rng io.Reader) ([]byte, error) {
	spec, err := parseRangeInsertSpec(p.value())
	if err != nil {
		return nil, err
	}
	edges, err := rangeEdges(spec, p.Sparsity)
	if err != nil {
		return nil, err
	}
	payload, ik, err := insertCommon(p, keys, rng, byte(spec.v.Type), spec.v.Data, isLeafSuffix(false))
	if err != nil {
		return nil, err
	}
	d := ik.root.equalityDeriver()
	payload.edges = make([]tokenSet, len(edges.Edges))
	for i, edge := range edges.Edges {
		t := d.forInsert([]byte(edge), uint64(payload.contention))
		enc, err := ik.encryptTokens(rng, t.esc, isLeafSuffix(edges.IsLeaf(edge)))
		if err != nil {
			return nil, err
		}
		payload.edges[i] = tokenSet{edc: t.edc, esc: t.esc, server: t.server, encrypted: enc}
	}
	payload.isRange = true
	payload.sparsity = p.Sparsity
	payload.precision = spec.precision
	payload.trimFactor = edges.TrimFactor
	payload.indexMin, payload.indexMax = spec.min, spec.max
	return payload.marshal(), nil
}

// findRangePayload is an FLE2FindRangePayloadV2 (blob subtype 13):
//
//	{payload: {g: [{d, s, l}, ...], cm: int64} (absent in the second of a pair),
//	 payloadId: int32, firstOperator: int32, secondOperator: int32 (when set),
//	 sp: int64, pn: int32 (optional), tf: int32, mn: any, mx: any (with payload only)}
type findRangePayload struct {
	edges          []tokenSet
	hasPayload     bool
	contention     int64
	payloadID      int32
	firstOperator  int32
	secondOperator int32
	sparsity       int64
	precision      *int32
	trimFactor     int32
	indexMin       bsoncore.Value
	indexMax       bsoncore.Value
}

func (p *findRangePayload) marshal() []byte {
	idx, doc := bsoncore.AppendDocumentStart(make([]byte, 1, 128+len(p.edges)*120))
	doc[0] = byte(fleblob.FLE2FindRangePayloadV2)
	if p.hasPayload {
		pidx, d := bsoncore.AppendDocumentElementStart(doc, "payload")
		d = appendTokenSets(d, "g", p.edges)
		d = bsoncore.AppendInt64Element(d, "cm", p.contention)
		doc, _ = bsoncore.AppendDocumentEnd(d, pidx)
	}
	doc = bsoncore.AppendInt32Element(doc, "payloadId", p.payloadID)
	doc = bsoncore.AppendInt32Element(doc, "firstOperator", p.firstOperator)
	if p.secondOperator != rangeOpNone {
		doc = bsoncore.AppendInt32Element(doc, "secondOperator", p.secondOperator)
	}
	if p.hasPayload {
		doc = bsoncore.AppendInt64Element(doc, "sp", p.sparsity)
		if p.precision != nil {
			doc = bsoncore.AppendInt32Element(doc, "pn", *p.precision)
		}
		doc = bsoncore.AppendInt32Element(doc, "tf", p.trimFactor)
		doc = bsoncore.AppendValueElement(doc, "mn", p.indexMin)
		doc = bsoncore.AppendValueElement(doc, "mx", p.indexMax)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// rangeMincover returns the mincover of a range find (libmongocrypt's
// mc_get_mincover_from_FLE2RangeFindSpec): an infinite double bound stands for the index
// bound, included.
func rangeMincover(info *rangeEdgesInfo, sparsity int64) (*rangeenc.Mincover, error) {
	mc, err := rangeenc.MincoverForFind(
		rangeenc.Interval[bson.RawValue]{Lower: rawValue(info.lowerBound), Upper: rawValue(info.upperBound),
			IncludeLower: info.lbIncluded, IncludeUpper: info.ubIncluded},
		rangeenc.Index{Min: rawValue(info.indexMin), Max: rawValue(info.indexMax), Precision: info.precision,
			Sparsity: sparsity, TrimFactor: info.trimFactor})
	if err != nil {
		return nil, fmt.Errorf("qe: range find: %w", err)
	}
	return mc, nil
}

// encryptRangeFind returns the FLE2FindRangePayloadV2 of a range find placeholder. It uses no
// randomness.
func (p *Placeholder) encryptRangeFind(keys KeyFunc) ([]byte, error) {
	spec, err := parseRangeFindSpec(p.value())
	if err != nil {
		return nil, err
	}
	out := &findRangePayload{payloadID: spec.payloadID, firstOperator: spec.firstOperator, secondOperator: spec.secondOperator}
	if info := spec.edgesInfo; info != nil {
		mc, err := rangeMincover(info, p.Sparsity)
		if err != nil {
			return nil, err
		}
		ik, err := loadIndexKeys(keys, p.IndexKeyID)
		if err != nil {
			return nil, err
		}
		d := ik.root.equalityDeriver()
		out.edges = make([]tokenSet, len(mc.Edges))
		for i, edge := range mc.Edges {
			t := d.forFind([]byte(edge))
			out.edges[i] = tokenSet{edc: t.edc, esc: t.esc, server: t.server}
		}
		out.hasPayload = true
		out.contention = p.MaxContentionFactor
		out.sparsity = p.Sparsity
		out.precision = info.precision
		out.trimFactor = mc.TrimFactor
		out.indexMin, out.indexMax = info.indexMin, info.indexMax
	}
	return out.marshal(), nil
}
