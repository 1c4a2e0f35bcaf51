package kmip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// TTLV, the KMIP binary encoding (KMIP 1.0 specification, section 9.1). Every item is
//
//	tag (3) || type (1) || length (4, big-endian) || value (length) || zero padding to 8 bytes
//
// The value of a Structure is the concatenation of its child items. Integer, Enumeration and
// Interval values are 4 bytes followed by 4 bytes of padding; Long Integer, Boolean and Date-Time
// values are 8 bytes; Text Strings and Byte Strings are padded to a multiple of 8 bytes.

// itemType is the type byte of a TTLV item.
type itemType byte

// Item types.
const (
	typeStructure        itemType = 0x01
	typeInteger          itemType = 0x02
	typeLongInteger      itemType = 0x03
	typeBigInteger       itemType = 0x04
	typeEnumeration      itemType = 0x05
	typeBoolean          itemType = 0x06
	typeTextString       itemType = 0x07
	typeByteString       itemType = 0x08
	typeDateTime         itemType = 0x09
	typeInterval         itemType = 0x0A
	typeDateTimeExtended itemType = 0x0B // KMIP 2.0
)

func (t itemType) String() string {
	switch t {
	case typeStructure:
		return "Structure"
	case typeInteger:
		return "Integer"
	case typeLongInteger:
		return "LongInteger"
	case typeBigInteger:
		return "BigInteger"
	case typeEnumeration:
		return "Enumeration"
	case typeBoolean:
		return "Boolean"
	case typeTextString:
		return "TextString"
	case typeByteString:
		return "ByteString"
	case typeDateTime:
		return "DateTime"
	case typeInterval:
		return "Interval"
	case typeDateTimeExtended:
		return "DateTimeExtended"
	}
	return fmt.Sprintf("type 0x%02x", byte(t))
}

// tag is a 3-byte KMIP tag: 0x42xxxx for the tags of the specification, 0x54xxxx for
// extensions.
type tag uint32

// The tags the provider writes or reads (KMIP 1.2 specification, section 9.1.3.1).
const (
	tagAttribute               tag = 0x420008
	tagAttributeName           tag = 0x42000A
	tagAttributeValue          tag = 0x42000B
	tagBatchCount              tag = 0x42000D
	tagBatchItem               tag = 0x42000F
	tagBlockCipherMode         tag = 0x420011
	tagCryptographicAlgorithm  tag = 0x420028
	tagCryptographicParameters tag = 0x42002B
	tagIVCounterNonce          tag = 0x42003D
	tagKeyBlock                tag = 0x420040
	tagKeyFormatType           tag = 0x420042
	tagKeyMaterial             tag = 0x420043
	tagKeyValue                tag = 0x420045
	tagObjectType              tag = 0x420057
	tagOperation               tag = 0x42005C
	tagPaddingMethod           tag = 0x42005F
	tagProtocolVersion         tag = 0x420069
	tagProtocolVersionMajor    tag = 0x42006A
	tagProtocolVersionMinor    tag = 0x42006B
	tagRequestHeader           tag = 0x420077
	tagRequestMessage          tag = 0x420078
	tagRequestPayload          tag = 0x420079
	tagResponseHeader          tag = 0x42007A
	tagResponseMessage         tag = 0x42007B
	tagResponsePayload         tag = 0x42007C
	tagResultMessage           tag = 0x42007D
	tagResultReason            tag = 0x42007E
	tagResultStatus            tag = 0x42007F
	tagSecretData              tag = 0x420085
	tagSecretDataType          tag = 0x420086
	tagTemplateAttribute       tag = 0x420091
	tagTimeStamp               tag = 0x420092
	tagUniqueIdentifier        tag = 0x420094
	tagData                    tag = 0x4200C2
	tagRandomIV                tag = 0x4200C5
)

var tagNames = map[tag]string{
	tagAttribute:               "Attribute",
	tagAttributeName:           "AttributeName",
	tagAttributeValue:          "AttributeValue",
	tagBatchCount:              "BatchCount",
	tagBatchItem:               "BatchItem",
	tagBlockCipherMode:         "BlockCipherMode",
	tagCryptographicAlgorithm:  "CryptographicAlgorithm",
	tagCryptographicParameters: "CryptographicParameters",
	tagIVCounterNonce:          "IVCounterNonce",
	tagKeyBlock:                "KeyBlock",
	tagKeyFormatType:           "KeyFormatType",
	tagKeyMaterial:             "KeyMaterial",
	tagKeyValue:                "KeyValue",
	tagObjectType:              "ObjectType",
	tagOperation:               "Operation",
	tagPaddingMethod:           "PaddingMethod",
	tagProtocolVersion:         "ProtocolVersion",
	tagProtocolVersionMajor:    "ProtocolVersionMajor",
	tagProtocolVersionMinor:    "ProtocolVersionMinor",
	tagRequestHeader:           "RequestHeader",
	tagRequestMessage:          "RequestMessage",
	tagRequestPayload:          "RequestPayload",
	tagResponseHeader:          "ResponseHeader",
	tagResponseMessage:         "ResponseMessage",
	tagResponsePayload:         "ResponsePayload",
	tagResultMessage:           "ResultMessage",
	tagResultReason:            "ResultReason",
	tagResultStatus:            "ResultStatus",
	tagSecretData:              "SecretData",
	tagSecretDataType:          "SecretDataType",
	tagTemplateAttribute:       "TemplateAttribute",
	tagTimeStamp:               "TimeStamp",
	tagUniqueIdentifier:        "UniqueIdentifier",
	tagData:                    "Data",
	tagRandomIV:                "RandomIV",
}

func (t tag) String() string {
	if n, ok := tagNames[t]; ok {
		return n
	}
	return fmt.Sprintf("tag 0x%06x", uint32(t))
}

const (
	headerLen = 8 // tag (3) || type (1) || length (4)
	// maxDepth caps the nesting of structures in a decoded message. The replies the provider
	// reads nest 6 deep (ResponseMessage > BatchItem > ResponsePayload > SecretData > KeyBlock >
	// KeyValue).
	maxDepth = 16
)

// padded returns n rounded up to a multiple of 8.
func padded(n int) int { return (n + 7) &^ 7 }

// encoder writes TTLV items. Structures are opened with begin and closed with end, which
// writes their length.
type encoder struct {
	buf  []byte
	open []int // offsets of the length fields of the open structures
}

func (e *encoder) header(t tag, typ itemType, n int) {
	e.buf = append(e.buf, byte(t>>16), byte(t>>8), byte(t), byte(typ))
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
}

func (e *encoder) pad() {
	for len(e.buf)%8 != 0 {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) begin(t tag) {
	e.header(t, typeStructure, 0)
	e.open = append(e.open, len(e.buf)-4)
}

func (e *encoder) end() {
	at := e.open[len(e.open)-1]
	e.open = e.open[:len(e.open)-1]
	binary.BigEndian.PutUint32(e.buf[at:], uint32(len(e.buf)-at-4))
}

func (e *encoder) integer(t tag, v int32) {
	e.header(t, typeInteger, 4)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v))
	e.pad()
}

func (e *encoder) enumeration(t tag, v uint32) {
	e.header(t, typeEnumeration, 4)
	e.buf = binary.BigEndian.AppendUint32(e.buf, v)
	e.pad()
}

func (e *encoder) boolean(t tag, v bool) {
	e.header(t, typeBoolean, 8)
	var u uint64
	if v {
		u = 1
	}
	e.buf = binary.BigEndian.AppendUint64(e.buf, u)
}

func (e *encoder) text(t tag, s string) {
	e.header(t, typeTextString, len(s))
	e.buf = append(e.buf, s...)
	e.pad()
}

func (e *encoder) bytes(t tag, b []byte) {
	e.header(t, typeByteString, len(b))
	e.buf = append(e.buf, b...)
	e.pad()
}

// bytes returns the encoded items; every structure must be closed.
func (e *encoder) finish() []byte {
	if len(e.open) != 0 {
		panic("kmip: unclosed TTLV structure") // programmer error, never input-driven
	}
	return e.buf
}

// item is a decoded TTLV item.
type item struct {
	tag   tag
	typ   itemType
	value []byte // the value without padding; nil for a structure
	items []item // the children of a structure
}

// errTruncated reports a message that ends inside an item.
var errTruncated = errors.New("TTLV truncated")

// decode decodes a whole TTLV message: one item that covers all of b.
func decode(b []byte) (item, error) {
	it, rest, err := decodeItem(b, 0)
	if err != nil {
		return item{}, err
	}
	if len(rest) != 0 {
		return item{}, fmt.Errorf("%d bytes after the TTLV message", len(rest))
	}
	return it, nil
}

// decodeItem decodes the item at the start of b and returns the bytes after it.
func decodeItem(b []byte, depth int) (item, []byte, error) {
	if len(b) < headerLen {
		return item{}, nil, errTruncated
	}
	// tag (3) || type (1) || length (4)
	t := tag(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]))
	if b[0] != 0x42 && b[0] != 0x54 {
		return item{}, nil, fmt.Errorf("TTLV tag 0x%06x is neither a KMIP tag (0x42xxxx) nor an extension (0x54xxxx)", uint32(t))
	}
	typ := itemType(b[3])
	n := binary.BigEndian.Uint32(b[4:8])
	b = b[headerLen:]
	if uint64(n) > uint64(len(b)) {
		return item{}, nil, fmt.Errorf("%w: %s %s has length %d, %d bytes left", errTruncated, t, typ, n, len(b))
	}
	length := int(n)
	it := item{tag: t, typ: typ}
	switch typ {
	case typeStructure:
		if length%8 != 0 {
			return item{}, nil, fmt.Errorf("%s structure length %d is not a multiple of 8", t, length)
		}
		if depth >= maxDepth {
			return item{}, nil, fmt.Errorf("TTLV structures nested deeper than %d", maxDepth)
		}
		body := b[:length]
		it.items = []item{}
		for len(body) > 0 {
			child, rest, err := decodeItem(body, depth+1)
			if err != nil {
				return item{}, nil, err
			}
			it.items = append(it.items, child)
			body = rest
		}
		return it, b[length:], nil
	case typeInteger, typeEnumeration, typeInterval:
		if length != 4 {
			return item{}, nil, fmt.Errorf("%s %s has length %d, want 4", t, typ, length)
		}
	case typeLongInteger, typeBoolean, typeDateTime, typeDateTimeExtended:
		if length != 8 {
			return item{}, nil, fmt.Errorf("%s %s has length %d, want 8", t, typ, length)
		}
	case typeBigInteger:
		if length == 0 || length%8 != 0 {
			return item{}, nil, fmt.Errorf("%s BigInteger has length %d, want a positive multiple of 8", t, length)
		}
	case typeTextString, typeByteString:
	default:
		return item{}, nil, fmt.Errorf("%s has unknown TTLV %s", t, typ)
	}
	p := padded(length)
	if p > len(b) {
		return item{}, nil, fmt.Errorf("%w: padding of %s %s", errTruncated, t, typ)
	}
	it.value = b[:length]
	return it, b[p:], nil
}

// child returns the first direct child of a structure with tag t and type typ; it is an error
// if there is none or if it has another type.
func (it item) child(t tag, typ itemType) (item, error) {
	for _, c := range it.items {
		if c.tag == t {
			if c.typ != typ {
				return item{}, fmt.Errorf("%s in %s is a %s, want %s", t, it.tag, c.typ, typ)
			}
			return c, nil
		}
	}
	return item{}, fmt.Errorf("no %s in %s", t, it.tag)
}

// has reports whether a structure has a direct child with tag t.
func (it item) has(t tag) bool {
	for _, c := range it.items {
		if c.tag == t {
			return true
		}
	}
	return false
}

// count returns the number of direct children with tag t.
func (it item) count(t tag) int {
	n := 0
	for _, c := range it.items {
		if c.tag == t {
			n++
		}
	}
	return n
}

// enumeration returns the value of an Enumeration child.
func (it item) enumeration(t tag) (uint32, error) {
	c, err := it.child(t, typeEnumeration)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(c.value), nil
}

// text returns the value of a Text String child; it must be UTF-8.
func (it item) text(t tag) (string, error) {
	c, err := it.child(t, typeTextString)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(c.value) {
		return "", fmt.Errorf("%s in %s is not UTF-8", t, it.tag)
	}
	return string(c.value), nil
}

// byteString returns a copy of the value of a Byte String child.
func (it item) byteString(t tag) ([]byte, error) {
	c, err := it.child(t, typeByteString)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), c.value...), nil
}
