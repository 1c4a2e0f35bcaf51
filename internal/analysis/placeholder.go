package analysis

import (
	"math"
	"math/bits"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// binSubtypeEncrypted is the BSON binary subtype of encrypted values and placeholders.
const binSubtypeEncrypted byte = 6

// Range operators of a FLE2RangeFindSpec (firstOperator / secondOperator).
const (
	rangeOpGt  int32 = 1
	rangeOpGte int32 = 2
	rangeOpLt  int32 = 3
	rangeOpLte int32 = 4
)

// fle1Placeholder builds the FLE1 intent-to-encrypt marking:
//
//	BinData(6, 0x00 || BSON{a: int32 algorithm, ki: UUID | ka: keyAltName, v: value})
func fle1Placeholder(f *fle1Field, v bsoncore.Value, keyAltName bsoncore.Value) bsoncore.Value {
	d := newDoc().int32("a", f.algorithm)
	if f.keyAltPointer != "" {
		d.value("ka", keyAltName)
	} else {
		d.binary("ki", uuidSubtype, f.keyID)
	}
	d.value("v", v)
	return wrapPlaceholder(fleblob.FLE1EncryptionPlaceholder, d.build())
}

func wrapPlaceholder(blob fleblob.Subtype, doc []byte) bsoncore.Value {
	data := make([]byte, 0, len(doc)+1)
	data = append(data, byte(blob))
	data = append(data, doc...)
	return binaryValue(binSubtypeEncrypted, data)
}

// fle2Placeholder builds the FLE2 encryption placeholder:
//
//	BinData(6, 0x03 || BSON{t: int32 type, a: int32 algorithm, ki: UUID, ku: UUID,
//	                        v: value or spec, cm: int64 contention [, s: int64 sparsity]})
//
// For automatic encryption the index key (ki) and the user key (ku) are both
// the field's keyId.
func fle2Placeholder(q *qeField, typ, alg int32, v bsoncore.Value, contention int64) bsoncore.Value {
	d := newDoc().int32("t", typ).int32("a", alg).
		binary("ki", uuidSubtype, q.keyID).binary("ku", uuidSubtype, q.keyID).
		value("v", v).int64("cm", contention)
	if alg == fle2Range {
		d.int64("s", q.rng.sparsityOrDefault())
	}
	return wrapPlaceholder(fleblob.FLE2EncryptionPlaceholder, d.build())
}

func (r *rangeConfig) sparsityOrDefault() int64 {
	if r.hasSparsity {
		return r.sparsity
	}
	return defaultSparsity
}

// largestDecimal128 is the largest finite Decimal128 (9.99...E+6144), the
// default bound of a decimal range index.
var largestDecimal128, _ = bson.ParseDecimal128("9.999999999999999999999999999999999E+6144")

// typeDomain returns the default [min, max] of a range index of a type.
func typeDomain(t string) (bsoncore.Value, bsoncore.Value) {
	switch t {
	case "int":
		return bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, math.MinInt32)},
			bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, math.MaxInt32)}
	case "long":
		return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, math.MinInt64)},
			bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, math.MaxInt64)}
	case "date":
		return bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, math.MinInt64)},
			bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, math.MaxInt64)}
	case "double":
		return doubleValue(-math.MaxFloat64), doubleValue(math.MaxFloat64)
	case "decimal":
		h, l := largestDecimal128.GetBytes()
		return bsoncore.Value{Type: bsoncore.TypeDecimal128, Data: bsoncore.AppendDecimal128(nil, h|1<<63, l)},
			bsoncore.Value{Type: bsoncore.TypeDecimal128, Data: bsoncore.AppendDecimal128(nil, h, l)}
	}
	return bsoncore.Value{}, bsoncore.Value{}
}

// bounds returns the index bounds of a range field, defaults filled in.
func (q *qeField) bounds() (bsoncore.Value, bsoncore.Value) {
	if q.rng.min.Type != 0 {
		return q.rng.min, q.rng.max
	}
	return typeDomain(q.bsonType)
}

// rangeInsertSpec builds FLE2RangeInsertSpec {v, min, max [, precision] [, trimFactor]}.
func rangeInsertSpec(q *qeField, v bsoncore.Value) bsoncore.Value {
	lo, hi := q.bounds()
	d := newDoc().value("v", v).value("min", lo).value("max", hi)
	if q.rng.hasPrecision {
		d.int32("precision", q.rng.precision)
	}
	if q.rng.hasTrim {
		d.int32("trimFactor", q.rng.trimFactor)
	}
	return docValue(d.build())
}

// domainBits is the number of bits needed to represent the index domain, used
// to clamp the default trimFactor (as libmongocrypt's trimFactorDefault does).
func (q *qeField) domainBits() int {
	lo, hi := q.bounds()
	switch q.bsonType {
	case "int":
		if lo.Type == bsoncore.TypeInt32 && hi.Type == bsoncore.TypeInt32 {
			return bits.Len32(uint32(hi.Int32()) - uint32(lo.Int32()))
		}
		return 32
	case "long", "date":
		var a, b int64
		if lo.Type == bsoncore.TypeInt64 {
			a, b = lo.Int64(), hi.Int64()
		} else {
			a, b = lo.DateTime(), hi.DateTime()
		}
		return bits.Len64(uint64(b) - uint64(a))
	case "double":
		if q.rng.hasPrecision && lo.Type == bsoncore.TypeDouble {
			span := (hi.Double() - lo.Double()) * math.Pow10(int(q.rng.precision))
			if span >= 0 && span < 1<<53 {
				return bits.Len64(uint64(span))
			}
		}
		return 64
	case "decimal":
		return 128
	}
	return 64
}

// findTrimFactor is the trimFactor mongocryptd writes into edgesInfo.
func (q *qeField) findTrimFactor() int32 {
	if q.rng.hasTrim {
		return q.rng.trimFactor
	}
	n := int32(q.domainBits())
	if defaultTrimFactor > n-1 {
		if n-1 < 0 {
			return 0
		}
		return n - 1
	}
	return defaultTrimFactor
}

// rangeBound is one side of a range query.
type rangeBound struct {
	set      bool
	value    bsoncore.Value
	included bool
}

// rangeFindPlaceholders builds the placeholders of a range query: the first
// carries the FLE2RangeFindSpec with edgesInfo, the second (two-sided queries
// only) is a stub with payloadId and the operators.
func rangeFindPlaceholders(q *qeField, lower, upper rangeBound, first, second int32, payloadID int32) (bsoncore.Value, bsoncore.Value) {
	lo, hi := q.bounds()
	edges := newDoc()
	if lower.set {
		edges.value("lowerBound", lower.value).boolean("lbIncluded", lower.included)
	} else {
		edges.value("lowerBound", doubleValue(math.Inf(-1))).boolean("lbIncluded", true)
	}
	if upper.set {
		edges.value("upperBound", upper.value).boolean("ubIncluded", upper.included)
	} else {
		edges.value("upperBound", doubleValue(math.Inf(1))).boolean("ubIncluded", true)
	}
	if q.rng.hasPrecision {
		edges.int32("precision", q.rng.precision)
	}
	edges.int32("trimFactor", q.findTrimFactor())
	edges.value("indexMin", lo).value("indexMax", hi)

	v := newDoc().doc("edgesInfo", edges.build()).int32("payloadId", payloadID).int32("firstOperator", first)
	if second != 0 {
		v.int32("secondOperator", second)
	}
	p1 := fle2Placeholder(q, fle2Find, fle2Range, docValue(v.build()), q.contention)
	if second == 0 {
		return p1, bsoncore.Value{}
	}
	stub := newDoc().int32("payloadId", payloadID).int32("firstOperator", first).int32("secondOperator", second)
	p2 := fle2Placeholder(q, fle2Find, fle2Range, docValue(stub.build()), q.contention)
	return p1, p2
}

// textSpec builds FLE2TextSearchInsertSpec {v, casef, diacf [, prefix] [, suffix] [, substr]}
// with the given sub-specs.
func textSpec(q *qeField, v bsoncore.Value, prefix, suffix, substr *textIndex) bsoncore.Value {
	d := newDoc().value("v", v).boolean("casef", q.casef).boolean("diacf", q.diacf)
	if prefix != nil {
		d.doc("prefix", newDoc().int32("ub", prefix.ub).int32("lb", prefix.lb).build())
	}
	if suffix != nil {
		d.doc("suffix", newDoc().int32("ub", suffix.ub).int32("lb", suffix.lb).build())
	}
	if substr != nil {
		d.doc("substr", newDoc().int32("mlen", substr.mlen).int32("ub", substr.ub).int32("lb", substr.lb).build())
	}
	return docValue(d.build())
}

// textContention returns the contention of the first configured text index.
func (q *qeField) textContention() int64 {
	for _, t := range []*textIndex{q.prefix, q.suffix, q.substr} {
		if t != nil {
			return t.contention
		}
	}
	return defaultContention
}
