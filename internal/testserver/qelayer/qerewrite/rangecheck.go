package qerewrite

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// The range payload checks of src/mongo/db/query/fle/range_validator.cpp: a
// one-sided range is one full payload under the operator it was made for; a
// two-sided range is a full payload and a stub with the same payloadId, under
// the two operators they were made for, in one $and.

// pred is one predicate of a match expression as the server's parser sees it:
// a document with one predicate is that predicate, one with several is their
// $and.
type pred struct {
	cmpOp   string              // $gt, $gte, $lt, $lte: a comparison of value
	value   bsoncore.Value      // the comparison's operand
	and     []pred              // an $and of these (explicit, or a document of several)
	each    []bsoncore.Document // $or / $nor: documents checked one by one
	not     []pred              // $not of the $and of these
	expr    *bsoncore.Value     // $expr
	isAnd   bool
	isOther bool
}

// preds returns the predicates of a match expression document.
func preds(d bsoncore.Document) []pred {
	elems, err := d.Elements()
	if err != nil {
		return nil
	}
	var out []pred
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		switch key {
		case "$and":
			p := pred{isAnd: true}
			for _, cd := range docsOf(v) {
				if cp := preds(cd); len(cp) == 1 {
					p.and = append(p.and, cp[0])
				} else {
					p.and = append(p.and, pred{isAnd: true, and: cp})
				}
			}
			out = append(out, p)
		case "$or", "$nor":
			out = append(out, pred{each: docsOf(v)})
		case "$expr":
			ev := v
			out = append(out, pred{expr: &ev})
		default:
			if strings.HasPrefix(key, "$") {
				out = append(out, pred{isOther: true})
				continue
			}
			ops, ok := v.DocumentOK()
			if !ok || !isOperatorDoc(ops) {
				out = append(out, pred{isOther: true})
				continue
			}
			oe, _ := ops.Elements()
			for _, o := range oe {
				switch o.Key() {
				case "$gt", "$gte", "$lt", "$lte":
					out = append(out, pred{cmpOp: o.Key(), value: o.Value()})
				case "$not":
					if nd, ok := o.Value().DocumentOK(); ok && isOperatorDoc(nd) {
						out = append(out, pred{not: preds(elementDoc(key, o.Value()))})
					} else {
						out = append(out, pred{isOther: true})
					}
				default:
					out = append(out, pred{isOther: true})
				}
			}
		}
	}
	return out
}

// docsOf returns the documents of an array value.
func docsOf(v bsoncore.Value) []bsoncore.Document {
	arr, ok := v.ArrayOK()
	if !ok {
		return nil
	}
	vals, _ := arr.Values()
	var out []bsoncore.Document
	for _, x := range vals {
		if d, ok := x.DocumentOK(); ok {
			out = append(out, d)
		}
	}
	return out
}

// validateRanges checks the range payloads of a filter.
func validateRanges(d bsoncore.Document) error {
	return validateList(preds(d))
}

// validateList checks a document's predicates: one is checked alone, several
// are an $and.
func validateList(ps []pred) error {
	if len(ps) == 1 {
		return validatePred(ps[0])
	}
	return validateAnd(ps, 7030715)
}

func validatePred(p pred) error {
	switch {
	case p.cmpOp != "":
		rf, err := rangePayloadOf(p.value)
		if err != nil || rf == nil {
			return err
		}
		return validateOneSided(rangeOps[p.cmpOp], rf)
	case p.isAnd:
		return validateAnd(p.and, 7030715)
	case p.each != nil:
		for _, d := range p.each {
			if err := validateList(preds(d)); err != nil {
				return err
			}
		}
	case p.not != nil:
		return validateList(p.not)
	case p.expr != nil:
		return validateExprRanges(*p.expr)
	}
	return nil
}

// rangePayloadOf returns the range find payload v is, or nil.
func rangePayloadOf(v bsoncore.Value) (*rangeFind, error) {
	st, data, ok := blobOf(v)
	if !ok || st != fleblob.FLE2FindRangePayloadV2 {
		return nil, nil
	}
	return parseRangeFind(data)
}

// validateOneSided checks a payload without a second operator found under op.
func validateOneSided(op int32, rf *rangeFind) error {
	if rf.stub {
		return newError(7030709, "One-sided range comparison cannot be a stub payload.")
	}
	if rf.secondOperator != 0 {
		return newError(7030710, "One-sided range comparison can only have one valid operator.")
	}
	if op != rf.firstOperator {
		return newError(7030711, "Payload generated for %d but was found under %d", rf.firstOperator, op)
	}
	return nil
}

// pairCheck follows the payloads of one payloadId in an $and (RangePayloadValidator).
type pairCheck struct {
	first, second                       int32
	seenFirst, seenSecond, seenP, seenS bool
}

func newPairCheck(first, second int32) (*pairCheck, error) {
	lower := func(op int32) bool { return op == rangeGt || op == rangeGte }
	if lower(first) && lower(second) {
		return nil, newError(7030700, "Two-sided range predicate must have both lower and upper bounds.")
	}
	if !lower(first) && !lower(second) {
		return nil, newError(7030701, "Two-sided range predicate must have both lower and upper bounds.")
	}
	return &pairCheck{first: first, second: second}, nil
}

func (c *pairCheck) update(op int32, rf *rangeFind) error {
	if rf.firstOperator != c.first {
		return newError(7030702, "Both payloads in a two-sided range must be generated together.")
	}
	if rf.secondOperator != c.second {
		return newError(7030704, "Both payloads in a two-sided range must be generated together.")
	}
	switch op {
	case c.first:
		if c.seenFirst {
			return newError(7030705, "A payload cannot appear under multiple %d operators.", op)
		}
		c.seenFirst = true
	case c.second:
		if c.seenSecond {
			return newError(7030706, "A payload cannot appear under multiple %d operators.", op)
		}
		c.seenSecond = true
	default:
		return newError(7030716, "Payload generated for %d and %d but was found under %d.", c.first, c.second, op)
	}
	if !rf.stub {
		if c.seenP {
			return newError(7030707, "Payload should only appear once in query.")
		}
		c.seenP = true
	} else {
		if c.seenS {
			return newError(7030708, "Stub should only appear once in query.")
		}
		c.seenS = true
	}
	return nil
}

func (c *pairCheck) valid() bool { return c.seenFirst && c.seenSecond && c.seenP && c.seenS }

// pairs is the pair checks of one $and by payloadId, in the order seen.
type pairs struct {
	byID  map[int32]*pairCheck
	order []int32
}

// add records a range payload found under op in the $and.
func (ps *pairs) add(op int32, rf *rangeFind) error {
	if rf.secondOperator == 0 {
		return validateOneSided(op, rf)
	}
	if ps.byID == nil {
		ps.byID = map[int32]*pairCheck{}
	}
	c := ps.byID[rf.payloadID]
	if c == nil {
		var err error
		if c, err = newPairCheck(rf.firstOperator, rf.secondOperator); err != nil {
			return err
		}
		ps.byID[rf.payloadID] = c
		ps.order = append(ps.order, rf.payloadID)
	}
	return c.update(op, rf)
}

func (ps *pairs) done(code int32) error {
	for _, id := range ps.order {
		if !ps.byID[id].valid() {
			return newError(code, "Payloads must be regenerated every time a query is modified.")
		}
	}
	return nil
}

// validateAnd checks the predicates of one $and.
func validateAnd(list []pred, code int32) error {
	var ps pairs
	for _, p := range list {
		if p.cmpOp != "" {
			rf, err := rangePayloadOf(p.value)
			if err != nil {
				return err
			}
			if rf != nil {
				if err := ps.add(rangeOps[p.cmpOp], rf); err != nil {
					return err
				}
			}
			continue
		}
		if err := validatePred(p); err != nil {
			return err
		}
	}
	return ps.done(code)
}

// validateExprRanges checks the range payloads of an aggregation expression
// (validateRanges(const Expression&) of range_validator.cpp).
func validateExprRanges(v bsoncore.Value) error {
	d, ok := v.DocumentOK()
	if !ok {
		if v.Type == bsoncore.TypeArray {
			vals, _ := v.Array().Values()
			for _, x := range vals {
				if err := validateExprRanges(x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	elems, _ := d.Elements()
	if len(elems) == 1 {
		op, args := elems[0].Key(), elems[0].Value()
		if _, isCmp := rangeOps[op]; isCmp {
			if rf, err := exprRangeOperand(args); err != nil || rf == nil {
				return err
			} else {
				return validateOneSided(rangeOps[op], rf)
			}
		}
		if op == "$and" {
			var ps pairs
			for _, child := range operands(args) {
				if cop, cargs, ok := singleOp(child); ok {
					if _, isCmp := rangeOps[cop]; isCmp {
						rf, err := exprRangeOperand(cargs)
						if err != nil {
							return err
						}
						if rf != nil {
							if err := ps.add(rangeOps[cop], rf); err != nil {
								return err
							}
						}
						continue
					}
				}
				if err := validateExprRanges(child); err != nil {
					return err
				}
			}
			return ps.done(7030718)
		}
	}
	for _, e := range elems {
		if err := validateExprRanges(e.Value()); err != nil {
			return err
		}
	}
	return nil
}

// exprRangeOperand returns the range payload of a comparison's arguments
// when they are a field path and a constant payload, in either order.
func exprRangeOperand(args bsoncore.Value) (*rangeFind, error) {
	ops := operands(args)
	if len(ops) != 2 {
		return nil, nil
	}
	for i := range 2 {
		if _, ok := fieldPathOf(ops[1-i]); ok {
			if c, ok := constantOf(ops[i]); ok {
				return rangePayloadOf(c)
			}
		}
	}
	return nil, nil
}
