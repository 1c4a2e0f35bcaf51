package qe

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/mongocrypt-go/mongocrypt/internal/qe/rangeenc"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Payload ids pair the two FLE2FindRangePayloadV2 of one range query. As libmongocrypt's
// mc_getNextPayloadId, the counter is process-wide, starts at 0 and wraps from INT32_MAX to 0.
var (
	payloadIDMu   sync.Mutex
	nextPayloadID int32
)

func takePayloadID() int32 {
	payloadIDMu.Lock()
	defer payloadIDMu.Unlock()
	id := nextPayloadID
	if nextPayloadID < math.MaxInt32 {
		nextPayloadID++
	} else {
		nextPayloadID = 0
	}
	return id
}

// rangeOperatorNames maps the operators of a range expression to FLE2RangeOperator values.
var rangeOperatorNames = map[string]int32{"$gt": rangeOpGt, "$gte": rangeOpGte, "$lt": rangeOpLt, "$lte": rangeOpLte}

func rangeOperatorName(op int32) string {
	for name, v := range rangeOperatorNames {
		if v == op {
			return name
		}
	}
	return "none"
}

// rangeBound is one end of a range expression.
type rangeBound struct {
	set      bool
	value    bsoncore.Value
	included bool
}

// rangeDriverSpec is a parsed range expression (libmongocrypt's FLE2RangeFindDriverSpec).
type rangeDriverSpec struct {
	lower, upper  rangeBound
	field         string
	firstOp       int32
	secondOp      int32
	nOps          int
	isAggregation bool
}

const exprErr = "qe: range expression"

// parseRangeExpression parses one of
//
//	{$and: [{<field>: {$gt: <value>}}, {<field>: {$lt: <value>}}]}      (match expression)
//	{$and: [{$gt: ["$<field>", <value>]}, {$lt: ["$<field>", <value>]}]} (aggregate expression)
//
// with $gte for $gt and $lte for $lt, and one or two operators.
func parseRangeExpression(expr bsoncore.Document) (*rangeDriverSpec, error) {
	elems, err := docElements(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", exprErr, err)
	}
	if len(elems) == 0 || elems[0].Key() != "$and" {
		return nil, fmt.Errorf("%s: unable to find '$and'", exprErr)
	}
	if len(elems) > 1 {
		return nil, fmt.Errorf("%s: unexpected extra key '%s' after '$and'", exprErr, elems[1].Key())
	}
	arr, ok := elems[0].Value().ArrayOK()
	if !ok {
		return nil, fmt.Errorf("%s: expected '$and' to be array", exprErr)
	}
	items, err := docElements(bsoncore.Document(arr))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", exprErr, err)
	}
	s := &rangeDriverSpec{}
	known := false
	for _, item := range items {
		doc, ok := item.Value().DocumentOK()
		if !ok {
			return nil, fmt.Errorf("%s: expected document in '$and' array", exprErr)
		}
		inner, err := docElements(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", exprErr, err)
		}
		if len(inner) == 0 {
			return nil, fmt.Errorf("%s: unexpected empty '$and' array document", exprErr)
		}
		// As in libmongocrypt, only the first key of each document of the array is read.
		if !known {
			_, s.isAggregation = rangeOperatorNames[inner[0].Key()]
			known = true
		}
		var opName, field string
		var value bsoncore.Value
		if s.isAggregation {
			opName, field, value, err = parseAggregateOperand(inner[0])
		} else {
			opName, field, value, err = parseMatchOperand(inner[0])
		}
		if err != nil {
			return nil, err
		}
		op, ok := rangeOperatorNames[opName]
		if !ok {
			return nil, fmt.Errorf("%s: unsupported operator type %s", exprErr, opName)
		}
		bound := rangeBound{set: true, value: value, included: op == rangeOpGte || op == rangeOpLte}
		if op == rangeOpGt || op == rangeOpGte {
			if s.lower.set {
				return nil, fmt.Errorf("%s: unexpected duplicate bound %s", exprErr, opName)
			}
			s.lower = bound
		} else {
			if s.upper.set {
				return nil, fmt.Errorf("%s: unexpected duplicate bound %s", exprErr, opName)
			}
			s.upper = bound
		}
		if s.field != "" && s.field != field {
			return nil, fmt.Errorf("%s: unexpected field mismatch. Expected all fields to be %s, but got %s", exprErr, s.field, field)
		}
		s.field = field
		s.nOps++
		switch s.nOps {
		case 1:
			s.firstOp = op
		case 2:
			s.secondOp = op
		default:
			return nil, fmt.Errorf("%s: expected 1 or 2 operators, got > 2: %s", exprErr, opName)
		}
	}
	return s, nil
}

// parseAggregateOperand parses {$gt: ["$age", 5]}.
func parseAggregateOperand(e bsoncore.Element) (op, field string, value bsoncore.Value, err error) {
	op = e.Key()
	arr, ok := e.Value().ArrayOK()
	if !ok {
		return "", "", value, fmt.Errorf("%s: expected argument to be array", exprErr)
	}
	vals, err := bsoncore.Document(arr).Values()
	if err != nil {
		return "", "", value, fmt.Errorf("%s: %w", exprErr, err)
	}
	if len(vals) != 2 {
		return "", "", value, fmt.Errorf("%s: expected 2 elements in operand %s, got %d", exprErr, op, len(vals))
	}
	field, ok = vals[0].StringValueOK()
	if !ok {
		return "", "", value, fmt.Errorf("%s: expected UTF-8 as first element in %s", exprErr, op)
	}
	return op, field, vals[1], nil
}

// parseMatchOperand parses {age: {$gt: 5}}.
func parseMatchOperand(e bsoncore.Element) (op, field string, value bsoncore.Value, err error) {
	field = e.Key()
	doc, ok := e.Value().DocumentOK()
	if !ok {
		return "", "", value, fmt.Errorf("%s: expected argument to be document", exprErr)
	}
	elems, err := docElements(doc)
	if err != nil {
		return "", "", value, fmt.Errorf("%s: %w", exprErr, err)
	}
	if len(elems) == 0 {
		return "", "", value, fmt.Errorf("%s: expected 1 elements in operand %s, got 0", exprErr, field)
	}
	op = elems[0].Key()
	if _, ok := rangeOperatorNames[op]; !ok {
		return "", "", value, fmt.Errorf("%s: unsupported operator: %s", exprErr, op)
	}
	if len(elems) > 1 {
		return "", "", value, fmt.Errorf("%s: expected 1 elements in operand %s, got > 1", exprErr, field)
	}
	return op, field, elems[0].Value(), nil
}

// rangeFindPlaceholders returns the placeholders of a range expression: the first carries the
// query bounds and index parameters (edgesInfo), the second, when there are two operators, is
// a stub with the same payload id.
func rangeFindPlaceholders(s *rangeDriverSpec, ro *rangeenc.RangeOpts, contention int64, userKey, indexKey KeyID, payloadID int32) ([]*Placeholder, error) {
	var t bson.Type
	switch {
	case s.lower.set:
		t = bson.Type(s.lower.value.Type)
	case s.upper.set:
		t = bson.Type(s.upper.value.Type)
	default:
		return nil, errors.New("qe: expected lower or upper bound to be set")
	}
	indexMin, err := ro.IndexMin(t)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	indexMax, err := ro.IndexMax(t)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	lower, upper := s.lower, s.upper
	if !lower.set {
		lower = rangeBound{value: bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, math.Inf(-1))}, included: true}
	}
	if !upper.set {
		upper = rangeBound{value: bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, math.Inf(1))}, included: true}
	}
	idx, info := bsoncore.AppendDocumentStart(nil)
	info = bsoncore.AppendValueElement(info, "lowerBound", lower.value)
	info = bsoncore.AppendBooleanElement(info, "lbIncluded", lower.included)
	info = bsoncore.AppendValueElement(info, "upperBound", upper.value)
	info = bsoncore.AppendBooleanElement(info, "ubIncluded", upper.included)
	info = bsoncore.AppendValueElement(info, "indexMin", bsoncore.Value{Type: bsoncore.Type(indexMin.Type), Data: indexMin.Value})
	info = bsoncore.AppendValueElement(info, "indexMax", bsoncore.Value{Type: bsoncore.Type(indexMax.Type), Data: indexMax.Value})
	if ro.Precision != nil {
		info = bsoncore.AppendInt32Element(info, "precision", *ro.Precision)
	}
	if ro.TrimFactor != nil {
		info = bsoncore.AppendInt32Element(info, "trimFactor", *ro.TrimFactor)
	}
	info, _ = bsoncore.AppendDocumentEnd(info, idx)

	spec := func(edgesInfo []byte) bson.RawValue {
		idx, v := bsoncore.AppendDocumentStart(nil)
		if edgesInfo != nil {
			v = bsoncore.AppendDocumentElement(v, "edgesInfo", edgesInfo)
		}
		v = bsoncore.AppendInt32Element(v, "payloadId", payloadID)
		v = bsoncore.AppendInt32Element(v, "firstOperator", s.firstOp)
		if s.secondOp != rangeOpNone {
			v = bsoncore.AppendInt32Element(v, "secondOperator", s.secondOp)
		}
		v, _ = bsoncore.AppendDocumentEnd(v, idx)
		return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: v}
	}
	newPlaceholder := func(v bson.RawValue) *Placeholder {
		return &Placeholder{Type: PlaceholderFind, Algorithm: AlgorithmRange, IndexKeyID: indexKey, UserKeyID: userKey,
			Value: v, MaxContentionFactor: contention, Sparsity: ro.Sparsity}
	}
	out := []*Placeholder{newPlaceholder(spec(info))}
	if s.nOps == 2 {
		out = append(out, newPlaceholder(spec(nil)))
	}
	return out, nil
}

// EncryptExpression encrypts a range query expression (ClientEncryption.EncryptExpression)
// and returns it with each bound replaced by an FLE2FindRangePayloadV2 (BSON binary subtype 6):
//
//	{$and: [{<field>: {$gt: <value>}}, {<field>: {$lt: <value>}}]}       match form
//	{$and: [{$gt: ["$<field>", <value>]}, {$lt: ["$<field>", <value>]}]} aggregate form
//
// $gte and $lte may stand for $gt and $lt, and one bound may be omitted (an open range).
// opts must have algorithm "Range", query type "range", a contention factor and range
// options. The first payload carries the mincover, the second is a stub with the same payload
// id. keys must return the key of keyID; rng is unused by range finds but accepted for
// symmetry (nil means crypto/rand.Reader).
func EncryptExpression(expr bson.Raw, keyID KeyID, opts *options.EncryptOptions, keys KeyFunc, rng io.Reader) (bson.Raw, error) {
	return encryptExpression(expr, keyID, keyID, opts, keys, rng)
}

func encryptExpression(expr bson.Raw, userKey, indexKey KeyID, opts *options.EncryptOptions, keys KeyFunc, rng io.Reader) (bson.Raw, error) {
	r, err := parseExplicitOptions(opts)
	if err != nil {
		return nil, err
	}
	if r.query != queryRange {
		return nil, errors.New("qe: EncryptExpression may only be used for range queries")
	}
	if err := validateDocument(expr); err != nil {
		return nil, fmt.Errorf("%s: %w", exprErr, err)
	}
	spec, err := parseRangeExpression(bsoncore.Document(expr))
	if err != nil {
		return nil, err
	}
	placeholders, err := rangeFindPlaceholders(spec, r.rangeOpts, *r.contention, userKey, indexKey, takePayloadID())
	if err != nil {
		return nil, err
	}
	blobs := make([][]byte, len(placeholders))
	for i, p := range placeholders {
		if blobs[i], err = p.Encrypt(keys, rng); err != nil {
			return nil, err
		}
	}
	ops := []int32{spec.firstOp, spec.secondOp}
	idx, doc := bsoncore.AppendDocumentStart(nil)
	aidx, doc := bsoncore.AppendArrayElementStart(doc, "$and")
	for i, blob := range blobs {
		eidx, d := bsoncore.AppendDocumentElementStart(doc, arrayKey(i))
		op := rangeOperatorName(ops[i])
		if spec.isAggregation {
			oidx, a := bsoncore.AppendArrayElementStart(d, op)
			a = bsoncore.AppendStringElement(a, "0", spec.field)
			a = bsoncore.AppendBinaryElement(a, "1", binaryEncrypted, blob)
			d, _ = bsoncore.AppendArrayEnd(a, oidx)
		} else {
			oidx, f := bsoncore.AppendDocumentElementStart(d, spec.field)
			f = bsoncore.AppendBinaryElement(f, op, binaryEncrypted, blob)
			d, _ = bsoncore.AppendDocumentEnd(f, oidx)
		}
		doc, _ = bsoncore.AppendDocumentEnd(d, eidx)
	}
	doc, _ = bsoncore.AppendArrayEnd(doc, aidx)
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return bson.Raw(doc), nil
}
