// The walk over a BSON document without decoding it: visit every binary subtype 6 value
// (visitEncrypted), or copy the document with some of them replaced (replaceEncrypted).
// Decryption (decrypt.go) and the encryption of placeholders (autoencrypt.go) use it.

package mongocrypt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A document is walked without decoding it: an element is
//
//	type (1) || key (cstring) || value
//
// and a document or array value is int32 length || elements || 0x00. A binary value is
// int32 length || subtype (1) || data.

var errMalformed = errors.New("malformed BSON document")

// visitEncrypted calls fn with the data of every binary subtype 6 value in doc, at any depth of
// documents and arrays.
func visitEncrypted(doc []byte, fn func(data []byte) error) error {
	return visitEncryptedDepth(doc, 0, fn)
}

func visitEncryptedDepth(doc []byte, depth int, fn func(data []byte) error) error {
	return walkElems(doc, depth, func(t bson.Type, key, val []byte) error {
		switch t {
		case bson.TypeBinary:
			if val[4] == 6 {
				return fn(val[5:])
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			return visitEncryptedDepth(val, depth+1, fn)
		}
		return nil
	})
}

// maxDepth bounds the nesting of documents walked, as the server does.
const maxDepth = 200

// walkElems calls fn for each element of the document doc with its type, key and value bytes.
func walkElems(doc []byte, depth int, fn func(t bson.Type, key, val []byte) error) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested more than %d levels", errMalformed, maxDepth)
	}
	if len(doc) < 5 || int(binary.LittleEndian.Uint32(doc)) != len(doc) || doc[len(doc)-1] != 0 {
		return errMalformed
	}
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		t := bson.Type(rest[0])
		rest = rest[1:]
		k := indexByte(rest, 0)
		if k < 0 {
			return errMalformed
		}
		key := rest[:k]
		rest = rest[k+1:]
		n, err := valueLen(t, rest)
		if err != nil {
			return err
		}
		if err := fn(t, key, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// valueLen returns the length of the value of type t at the start of b.
func valueLen(t bson.Type, b []byte) (int, error) {
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, errMalformed
		}
		return n, nil
	}
	lenPrefixed := func(extra int) (int, error) {
		if len(b) < 4 {
			return 0, errMalformed
		}
		l := int(int32(binary.LittleEndian.Uint32(b)))
		if l < 0 || l+extra > len(b) {
			return 0, errMalformed
		}
		return l + extra, nil
	}
	switch t {
	case bson.TypeDouble, bson.TypeDateTime, bson.TypeTimestamp, bson.TypeInt64:
		return fixed(8)
	case bson.TypeString, bson.TypeJavaScript, bson.TypeSymbol:
		n, err := lenPrefixed(4)
		if err != nil || n < 5 || b[n-1] != 0 {
			return 0, errMalformed
		}
		return n, nil
	case bson.TypeEmbeddedDocument, bson.TypeArray, bson.TypeCodeWithScope:
		n, err := lenPrefixed(0)
		if err != nil || n < 5 {
			return 0, errMalformed
		}
		return n, nil
	case bson.TypeBinary:
		n, err := lenPrefixed(5)
		if err != nil {
			return 0, errMalformed
		}
		return n, nil
	case bson.TypeUndefined, bson.TypeNull, bson.TypeMinKey, bson.TypeMaxKey:
		return 0, nil
	case bson.TypeObjectID:
		return fixed(12)
	case bson.TypeBoolean:
		return fixed(1)
	case bson.TypeRegex:
		a := indexByte(b, 0)
		if a < 0 {
			return 0, errMalformed
		}
		o := indexByte(b[a+1:], 0)
		if o < 0 {
			return 0, errMalformed
		}
		return a + 1 + o + 1, nil
	case bson.TypeDBPointer:
		n, err := lenPrefixed(4)
		if err != nil || n+12 > len(b) {
			return 0, errMalformed
		}
		return n + 12, nil
	case bson.TypeInt32:
		return fixed(4)
	case bson.TypeDecimal128:
		return fixed(16)
	}
	return 0, fmt.Errorf("%w: unknown element type 0x%02x", errMalformed, byte(t))
}

// replacer appends to dst the value bytes that replace an encrypted value whose data is data,
// and returns the type of that value, or ok false to leave the encrypted value in place.
type replacer func(dst, data []byte) (out []byte, t bson.Type, ok bool, err error)

// replaceEncrypted appends to dst a copy of doc where every binary subtype 6 value for which
// repl returns ok is replaced by the value it appends.
func replaceEncrypted(dst, doc []byte, depth int, repl replacer) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	err := walkElems(doc, depth, func(t bson.Type, key, val []byte) error {
		switch t {
		case bson.TypeBinary:
			if val[4] == 6 {
				mark := len(dst)
				dst = append(dst, 0) // the type, known after the value
				dst = append(dst, key...)
				dst = append(dst, 0)
				out, vt, ok, err := repl(dst, val[5:])
				if err != nil {
					return err
				}
				if ok {
					out[mark] = byte(vt)
					dst = out
					return nil
				}
				dst = dst[:mark]
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			dst = append(dst, byte(t))
			dst = append(dst, key...)
			dst = append(dst, 0)
			var err error
			dst, err = replaceEncrypted(dst, val, depth+1, repl)
			return err
		}
		dst = append(dst, byte(t))
		dst = append(dst, key...)
		dst = append(dst, 0)
		dst = append(dst, val...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst, nil
}

// appendBinary appends the value bytes of a BSON binary of subtype 6 holding data.
func appendBinary(dst, data []byte) []byte {
	n := len(data)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), byte(n>>24), 6)
	return append(dst, data...)
}

func putLen(b []byte, n int) {
	b[0], b[1], b[2], b[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
}
