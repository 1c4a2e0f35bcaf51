package compat

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// sameValue tells whether two values are the same BSON type and bytes.
func sameValue(a, b bson.RawValue) bool {
	return a.Type == b.Type && bytes.Equal(a.Value, b.Value)
}

// class is what CSFLE does with a value.
type class int

const (
	both       class = iota // deterministic and random encrypt it
	randomOnly              // deterministic refuses it
	neither                 // no algorithm encrypts it
)

// allows tells whether the deterministic (or else the random) algorithm encrypts the class.
func (c class) allows(deterministic bool) bool {
	return c == both || (c == randomOnly && !deterministic)
}

type value struct {
	name  string
	v     bson.RawValue
	class class
}

func rv(t bson.Type, b []byte) bson.RawValue { return bson.RawValue{Type: t, Value: b} }

func doc(elems ...[]byte) []byte { return bsoncore.BuildDocumentFromElements(nil, elems...) }

// corpus is every BSON type CSFLE knows, with values at the edges of their encodings.
func corpus() []value {
	var vs []value
	add := func(c class, name string, t bson.Type, b []byte) {
		vs = append(vs, value{name: name, v: rv(t, b), class: c})
	}
	oid := [12]byte{0x65, 0x4f, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x92, 0xa3}

	// double: deterministic refuses it.
	for _, f := range []struct {
		name string
		f    float64
	}{{"0", 0}, {"-0", math.Copysign(0, -1)}, {"1.5", 1.5}, {"-1e308", -1e308}, {"max", math.MaxFloat64},
		{"denormal", math.SmallestNonzeroFloat64}, {"NaN", math.NaN()}, {"+Inf", math.Inf(1)}, {"-Inf", math.Inf(-1)}} {
		add(randomOnly, "double/"+f.name, bson.TypeDouble, bsoncore.AppendDouble(nil, f.f))
	}

	// string: every length around the AES block boundaries (the plaintext is int32 length ||
	// bytes || NUL, so length 11 is exactly one block), then a few shapes.
	for n := 0; n <= 40; n++ {
		add(both, fmt.Sprintf("string/len%02d", n), bson.TypeString, bsoncore.AppendString(nil, strings.Repeat("abcdefghij", 5)[:n]))
	}
	for _, s := range []struct{ name, s string }{
		{"unicode", "ÿ€𝄞 日本語 émoji 🙂"},
		{"nul-inside", "a\x00b"},
		{"4KiB", strings.Repeat("0123456789abcdef", 256)},
		{"1MiB", strings.Repeat("z", 1<<20)},
	} {
		add(both, "string/"+s.name, bson.TypeString, bsoncore.AppendString(nil, s.s))
	}

	// document and array: deterministic refuses them.
	add(randomOnly, "document/empty", bson.TypeEmbeddedDocument, doc())
	add(randomOnly, "document/one", bson.TypeEmbeddedDocument, doc(bsoncore.AppendInt32Element(nil, "a", 1)))
	nested := doc(
		bsoncore.AppendDocumentElement(nil, "a", doc(
			bsoncore.AppendArrayElement(nil, "b", doc(
				bsoncore.AppendInt32Element(nil, "0", 1),
				bsoncore.AppendDocumentElement(nil, "1", doc(bsoncore.AppendStringElement(nil, "c", "x"))))))),
		bsoncore.AppendNullElement(nil, "n"),
		bsoncore.AppendMinKeyElement(nil, "min"),
		bsoncore.AppendMaxKeyElement(nil, "max"),
		bsoncore.AppendUndefinedElement(nil, "u"),
		bsoncore.AppendDoubleElement(nil, "d", 2.5),
		bsoncore.AppendBinaryElement(nil, "enc", 6, []byte{1, 2, 3}),
	)
	add(randomOnly, "document/nested-all-kinds", bson.TypeEmbeddedDocument, nested)
	add(randomOnly, "array/empty", bson.TypeArray, doc())
	add(randomOnly, "array/mixed", bson.TypeArray, doc(
		bsoncore.AppendInt32Element(nil, "0", 1),
		bsoncore.AppendStringElement(nil, "1", "x"),
		bsoncore.AppendNullElement(nil, "2"),
		bsoncore.AppendArrayElement(nil, "3", doc(bsoncore.AppendBooleanElement(nil, "0", true)))))

	// binData, every subtype but 6 (an encrypted value: no algorithm encrypts it again).
	uuid := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	for _, b := range []struct {
		name    string
		subtype byte
		data    []byte
	}{
		{"generic-empty", 0x00, nil},
		{"generic", 0x00, []byte{0, 1, 2, 3, 0xfe, 0xff}},
		{"generic-16", 0x00, bytes.Repeat([]byte{0xa5}, 16)},
		{"function", 0x01, []byte("f")},
		{"binary-old", 0x02, []byte{9, 8, 7}},
		{"uuid-old", 0x03, uuid},
		{"uuid", 0x04, uuid},
		{"md5", 0x05, bytes.Repeat([]byte{0x5d}, 16)},
		{"compressed-column", 0x07, []byte{1, 2, 3, 4}},
		{"sensitive", 0x08, []byte("secret")},
		{"vector-int8", 0x09, []byte{0x03, 0x00, 1, 0xff, 127}},
		{"user-0x80", 0x80, []byte{0x80}},
		{"user-0xff", 0xff, bytes.Repeat([]byte{0xff}, 33)},
	} {
		add(both, "binData/"+b.name, bson.TypeBinary, bsoncore.AppendBinary(nil, b.subtype, b.data))
	}

	add(both, "objectId/zero", bson.TypeObjectID, bsoncore.AppendObjectID(nil, [12]byte{}))
	add(both, "objectId", bson.TypeObjectID, bsoncore.AppendObjectID(nil, oid))

	add(randomOnly, "bool/true", bson.TypeBoolean, bsoncore.AppendBoolean(nil, true))
	add(randomOnly, "bool/false", bson.TypeBoolean, bsoncore.AppendBoolean(nil, false))

	for _, d := range []struct {
		name string
		ms   int64
	}{{"epoch", 0}, {"-1ms", -1}, {"2023", 1700000000000}, {"max", math.MaxInt64}, {"min", math.MinInt64}} {
		add(both, "datetime/"+d.name, bson.TypeDateTime, bsoncore.AppendDateTime(nil, d.ms))
	}

	add(both, "regex/empty", bson.TypeRegex, bsoncore.AppendRegex(nil, "", ""))
	add(both, "regex/i", bson.TypeRegex, bsoncore.AppendRegex(nil, "^a.*b$", "i"))
	add(both, "regex/all-options", bson.TypeRegex, bsoncore.AppendRegex(nil, `x\d+`, "ilmsux"))

	add(both, "dbPointer", bson.TypeDBPointer, bsoncore.AppendDBPointer(nil, "db.coll", oid))
	add(both, "dbPointer/empty-ns", bson.TypeDBPointer, bsoncore.AppendDBPointer(nil, "", oid))

	add(both, "javascript", bson.TypeJavaScript, bsoncore.AppendJavaScript(nil, "function () { return 1; }"))
	add(both, "javascript/empty", bson.TypeJavaScript, bsoncore.AppendJavaScript(nil, ""))

	add(both, "symbol", bson.TypeSymbol, bsoncore.AppendSymbol(nil, "sym"))

	add(randomOnly, "javascriptWithScope", bson.TypeCodeWithScope,
		bsoncore.AppendCodeWithScope(nil, "x = y + 1", doc(bsoncore.AppendInt32Element(nil, "y", 41))))
	add(randomOnly, "javascriptWithScope/empty", bson.TypeCodeWithScope, bsoncore.AppendCodeWithScope(nil, "", doc()))

	for _, i := range []int32{0, 1, -1, math.MaxInt32, math.MinInt32} {
		add(both, fmt.Sprintf("int32/%d", i), bson.TypeInt32, bsoncore.AppendInt32(nil, i))
	}
	for _, ts := range [][2]uint32{{0, 0}, {1700000000, 1}, {math.MaxUint32, math.MaxUint32}} {
		add(both, fmt.Sprintf("timestamp/%d.%d", ts[0], ts[1]), bson.TypeTimestamp, bsoncore.AppendTimestamp(nil, ts[0], ts[1]))
	}
	for _, i := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
		add(both, fmt.Sprintf("int64/%d", i), bson.TypeInt64, bsoncore.AppendInt64(nil, i))
	}

	// decimal128: deterministic refuses it.
	for _, d := range []struct {
		name      string
		high, low uint64
	}{{"0", 0x3040000000000000, 0}, {"1", 0x3040000000000000, 1}, {"-1.5", 0xb03e000000000000, 15},
		{"max", 0x5fffed09bead87c0, 0x378d8e63ffffffff}, {"NaN", 0x7c00000000000000, 0}, {"+Inf", 0x7800000000000000, 0},
		{"-Inf", 0xf800000000000000, 0}} {
		add(randomOnly, "decimal128/"+d.name, bson.TypeDecimal128, bsoncore.AppendDecimal128(nil, d.high, d.low))
	}

	// No algorithm encrypts these.
	add(neither, "null", bson.TypeNull, nil)
	add(neither, "minKey", bson.TypeMinKey, nil)
	add(neither, "maxKey", bson.TypeMaxKey, nil)
	add(neither, "undefined", bson.TypeUndefined, nil)
	add(neither, "binData/encrypted", bson.TypeBinary, bsoncore.AppendBinary(nil, 6, []byte{1, 2, 3}))
	return vs
}
