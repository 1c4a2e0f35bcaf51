package analysis

import (
	"bytes"
	"math"
	"math/big"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// canonicalRank orders BSON types the way the server compares values of
// different types (MinKey < null < numbers < strings < objects < arrays <
// BinData < ObjectId < bool < date < timestamp < regex < ... < MaxKey).
func canonicalRank(t bsoncore.Type) int {
	switch t {
	case bsoncore.TypeMinKey:
		return -1
	case bsoncore.TypeUndefined:
		return 0
	case bsoncore.TypeNull:
		return 5
	case bsoncore.TypeDouble, bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDecimal128:
		return 10
	case bsoncore.TypeString, bsoncore.TypeSymbol:
		return 15
	case bsoncore.TypeEmbeddedDocument:
		return 20
	case bsoncore.TypeArray:
		return 25
	case bsoncore.TypeBinary:
		return 30
	case bsoncore.TypeObjectID:
		return 35
	case bsoncore.TypeBoolean:
		return 40
	case bsoncore.TypeDateTime:
		return 45
	case bsoncore.TypeTimestamp:
		return 47
	case bsoncore.TypeRegex:
		return 50
	case bsoncore.TypeDBPointer:
		return 55
	case bsoncore.TypeJavaScript:
		return 60
	case bsoncore.TypeCodeWithScope:
		return 65
	case bsoncore.TypeMaxKey:
		return 127
	}
	return 200
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// compareValues compares two validated BSON values in the server's order.
func compareValues(a, b bsoncore.Value, depth int) int {
	ra, rb := canonicalRank(a.Type), canonicalRank(b.Type)
	if ra != rb {
		return sign(ra - rb)
	}
	if depth > maxDepth {
		return bytes.Compare(a.Data, b.Data)
	}
	switch a.Type {
	case bsoncore.TypeMinKey, bsoncore.TypeMaxKey, bsoncore.TypeNull, bsoncore.TypeUndefined:
		return 0
	case bsoncore.TypeDouble, bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDecimal128:
		return compareNumbers(a, b)
	case bsoncore.TypeString, bsoncore.TypeSymbol:
		return strings.Compare(stringOf(a), stringOf(b))
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		return compareDocs(a.Data, b.Data, depth)
	case bsoncore.TypeBinary:
		sa, da, _ := a.BinaryOK()
		sb, db, _ := b.BinaryOK()
		if len(da) != len(db) {
			return sign(len(da) - len(db))
		}
		if sa != sb {
			return sign(int(sa) - int(sb))
		}
		return bytes.Compare(da, db)
	case bsoncore.TypeObjectID:
		x, y := a.ObjectID(), b.ObjectID()
		return bytes.Compare(x[:], y[:])
	case bsoncore.TypeBoolean:
		x, y := a.Boolean(), b.Boolean()
		if x == y {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	case bsoncore.TypeDateTime:
		x, y := a.DateTime(), b.DateTime()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bsoncore.TypeTimestamp:
		ta, ia := a.Timestamp()
		tb, ib := b.Timestamp()
		x, y := uint64(ta)<<32|uint64(ia), uint64(tb)<<32|uint64(ib)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bsoncore.TypeRegex:
		pa, oa := a.Regex()
		pb, ob := b.Regex()
		if c := strings.Compare(pa, pb); c != 0 {
			return c
		}
		return strings.Compare(oa, ob)
	}
	return bytes.Compare(a.Data, b.Data)
}

func stringOf(v bsoncore.Value) string {
	if v.Type == bsoncore.TypeSymbol {
		return v.Symbol()
	}
	return v.StringValue()
}

func compareDocs(a, b []byte, depth int) int {
	ea, eb := elements(a), elements(b)
	for i := 0; i < len(ea) && i < len(eb); i++ {
		va, vb := ea[i].Value(), eb[i].Value()
		if c := sign(canonicalRank(va.Type) - canonicalRank(vb.Type)); c != 0 {
			return c
		}
		if c := strings.Compare(ea[i].Key(), eb[i].Key()); c != 0 {
			return c
		}
		if c := compareValues(va, vb, depth+1); c != 0 {
			return c
		}
	}
	return sign(len(ea) - len(eb))
}

// compareNumbers compares numbers of any numeric type exactly.
func compareNumbers(a, b bsoncore.Value) int {
	x, xnan := numberRat(a)
	y, ynan := numberRat(b)
	switch {
	case xnan && ynan:
		return 0
	case xnan:
		return -1 // NaN sorts before all numbers
	case ynan:
		return 1
	}
	return x.Cmp(y)
}

// numberRat converts a number to an extended rational (infinities as big values).
func numberRat(v bsoncore.Value) (*big.Float, bool) {
	f := new(big.Float).SetPrec(256)
	switch v.Type {
	case bsoncore.TypeInt32:
		return f.SetInt64(int64(v.Int32())), false
	case bsoncore.TypeInt64:
		return f.SetInt64(v.Int64()), false
	case bsoncore.TypeDouble:
		d := v.Double()
		if math.IsNaN(d) {
			return f, true
		}
		return f.SetFloat64(d), false
	case bsoncore.TypeDecimal128:
		h, l := v.Decimal128()
		d := bson.NewDecimal128(h, l)
		s := d.String()
		switch s {
		case "NaN", "-NaN":
			return f, true
		case "Infinity":
			return f.SetInf(false), false
		case "-Infinity":
			return f.SetInf(true), false
		}
		if _, ok := f.SetString(s); !ok {
			return f, true
		}
		return f, false
	}
	return f, true
}
