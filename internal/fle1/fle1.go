// Package fle1 encrypts and decrypts CSFLE values: BinData subtype 6 blobs of subtypes 1
// (deterministic) and 2 (random), and parses the subtype 0 placeholders that query analysis
// leaves in a command.
//
// A blob is laid out as (client-side encryption specification, "BSON binary subtype 6"):
//
//	blob subtype (1) || key UUID (16) || original BSON type (1) || IV (16) || ciphertext || tag (32)
//
// The first 18 bytes are the associated data of the AEAD; the plaintext is the BSON value's
// bytes without type or name.
package fle1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// Algorithm is an FLE1 algorithm, numbered as in placeholders.
type Algorithm int32

// The FLE1 algorithms.
const (
	Deterministic Algorithm = 1 // AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic
	Random        Algorithm = 2 // AEAD_AES_256_CBC_HMAC_SHA_512-Random
)

// Algorithm names as the driver spells them.
const (
	DeterministicName = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	RandomName        = "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
)

// String returns the algorithm's name as the driver spells it.
func (a Algorithm) String() string {
	switch a {
	case Deterministic:
		return DeterministicName
	case Random:
		return RandomName
	}
	return fmt.Sprintf("Algorithm(%d)", int32(a))
}

const (
	keyIDLen = 16
	adLen    = 1 + keyIDLen + 1 // subtype || key UUID || original type
)

// ErrTypeNotAllowed is wrapped by the errors of CheckType.
var ErrTypeNotAllowed = errors.New("BSON type invalid for encryption")

// CheckType tells whether a value of type t may be encrypted with algorithm a. No algorithm
// encrypts null, undefined, minKey, maxKey or an already encrypted value (BinData subtype 6);
// deterministic encryption refuses double, decimal128, bool, document, array and
// javascriptWithScope, whose encodings are not unique or whose equality is not byte equality.
func CheckType(v bson.RawValue, a Algorithm) error {
	switch v.Type {
	case bson.TypeNull, bson.TypeMinKey, bson.TypeMaxKey, bson.TypeUndefined:
		return fmt.Errorf("%w: %s cannot be encrypted", ErrTypeNotAllowed, v.Type)
	case bson.TypeBinary:
		if st, _, ok := v.BinaryOK(); ok && st == 6 {
			return fmt.Errorf("%w: binary subtype 6 is already encrypted", ErrTypeNotAllowed)
		}
	case bson.TypeDouble, bson.TypeEmbeddedDocument, bson.TypeArray, bson.TypeCodeWithScope,
		bson.TypeBoolean, bson.TypeDecimal128:
		if a == Deterministic {
			return fmt.Errorf("%w: %s cannot be encrypted with %s", ErrTypeNotAllowed, v.Type, DeterministicName)
		}
	case bson.TypeString, bson.TypeObjectID, bson.TypeDateTime, bson.TypeRegex, bson.TypeDBPointer,
		bson.TypeJavaScript, bson.TypeSymbol, bson.TypeInt32, bson.TypeTimestamp, bson.TypeInt64:
	default:
		return fmt.Errorf("%w: unknown BSON type 0x%02x", ErrTypeNotAllowed, byte(v.Type))
	}
	return nil
}

// Encrypt encrypts value under key (whose UUID is keyID) and returns the blob, the data of a
// BinData subtype 6. Random encryption reads its IV from rng.
func Encrypt(key *aead.FLE1, keyID [16]byte, a Algorithm, value bson.RawValue, rng io.Reader) ([]byte, error) {
	if err := CheckType(value, a); err != nil {
		return nil, err
	}
	return AppendEncrypt(nil, key, keyID, a, value, rng)
}

// AppendEncrypt is Encrypt without the type check, appending the blob to dst. Query analysis
// has checked the type of an auto-encrypted value already.
func AppendEncrypt(dst []byte, key *aead.FLE1, keyID [16]byte, a Algorithm, value bson.RawValue, rng io.Reader) ([]byte, error) {
	var subtype fleblob.Subtype
	switch a {
	case Deterministic:
		subtype = fleblob.FLE1DeterministicEncryptedValue
	case Random:
		subtype = fleblob.FLE1RandomEncryptedValue
	default:
		return nil, fmt.Errorf("unsupported FLE1 algorithm %d", int32(a))
	}
	if len(value.Value) == 0 {
		return nil, fmt.Errorf("cannot encrypt an empty %s value", value.Type)
	}
	start := len(dst)
	dst = append(dst, byte(subtype))
	dst = append(dst, keyID[:]...)
	dst = append(dst, byte(value.Type))
	ad := dst[start : start+adLen]
	var iv [aead.IVLen]byte
	if a == Deterministic {
		iv = key.DeterministicIV(ad, value.Value)
	} else if _, err := io.ReadFull(rng, iv[:]); err != nil {
		return nil, fmt.Errorf("reading a random IV: %w", err)
	}
	out, err := key.Encrypt(dst, iv[:], ad, value.Value)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Blob is a parsed FLE1 ciphertext blob. Its slices alias the parsed bytes.
type Blob struct {
	Subtype      fleblob.Subtype // FLE1DeterministicEncryptedValue or FLE1RandomEncryptedValue
	KeyID        [16]byte        // UUID of the data key
	OriginalType bson.Type       // type of the encrypted value
	AD           []byte          // associated data: the first 18 bytes
	Ciphertext   []byte          // IV || AES-CBC ciphertext || tag
}

// minBlobLen is the least a blob can be, as libmongocrypt parses it: subtype, key UUID,
// original type and at least one byte of ciphertext. Shorter ciphertexts are refused when they
// are decrypted, after their key has been looked up, as libmongocrypt does.
const minBlobLen = adLen + 1

// Parse parses an FLE1 blob (the data of a BinData subtype 6 whose first byte is 1 or 2).
// Errors say "malformed ciphertext", libmongocrypt's words.
func Parse(b []byte) (Blob, error) {
	if len(b) < minBlobLen {
		return Blob{}, fmt.Errorf("malformed ciphertext, too small: %d bytes", len(b))
	}
	st := fleblob.Subtype(b[0])
	if st != fleblob.FLE1DeterministicEncryptedValue && st != fleblob.FLE1RandomEncryptedValue {
		return Blob{}, fmt.Errorf("malformed ciphertext, expected blob subtype of 1 or 2, got %d", b[0])
	}
	var bl Blob
	bl.Subtype = st
	copy(bl.KeyID[:], b[1:1+keyIDLen])
	bl.OriginalType = bson.Type(b[1+keyIDLen])
	bl.AD = b[:adLen]
	bl.Ciphertext = b[adLen:]
	return bl, nil
}

// Decrypt authenticates and decrypts a parsed blob with its key and returns the value. The
// decrypted bytes must be one well-formed value of the blob's original type.
func Decrypt(key *aead.FLE1, bl Blob) (bson.RawValue, error) {
	pt, err := AppendDecrypt(nil, key, bl)
	if err != nil {
		return bson.RawValue{}, err
	}
	return bson.RawValue{Type: bl.OriginalType, Value: pt}, nil
}

// AppendDecrypt is Decrypt appending the value bytes to dst, so that a document's values can
// be decrypted straight into the document being built.
func AppendDecrypt(dst []byte, key *aead.FLE1, bl Blob) ([]byte, error) {
	out, err := key.Decrypt(dst, bl.AD, bl.Ciphertext)
	if errors.Is(err, aead.ErrAuth) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("malformed ciphertext: %w", err)
	}
	if err := checkValue(bl.OriginalType, out[len(dst):]); err != nil {
		return nil, err
	}
	return out, nil
}

// checkValue makes sure pt is exactly one valid BSON value of type t.
func checkValue(t bson.Type, pt []byte) error {
	if t == bson.TypeString && len(pt) >= 5 {
		// The common case, without the generic reader: int32 length || bytes || 0x00. Like
		// libmongocrypt, the bytes are not checked to be UTF-8.
		n := int(int32(binary.LittleEndian.Uint32(pt)))
		if n != len(pt)-4 || pt[len(pt)-1] != 0 {
			return fmt.Errorf("decrypted value is not a valid BSON %s", t)
		}
		return nil
	}
	v, rest, ok := bsoncore.ReadValue(pt, bsoncore.Type(t))
	if !ok || len(rest) != 0 {
		return fmt.Errorf("decrypted value is not a valid BSON %s", t)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("decrypted value is not a valid BSON %s: %w", t, err)
	}
	return nil
}

// Placeholder is a parsed FLE1 placeholder (blob subtype 0): the BSON document
//
//	{a: int32 algorithm, ki: UUID | ka: string keyAltName, v: value}
type Placeholder struct {
	Algorithm  Algorithm
	KeyID      *[16]byte // set when the key is named by id
	KeyAltName string    // set when the key is named by keyAltName
	Value      bson.RawValue
}

// ParsePlaceholder parses the data of a BinData subtype 6 whose first byte is 0.
func ParsePlaceholder(b []byte) (*Placeholder, error) {
	if len(b) == 0 || fleblob.Subtype(b[0]) != fleblob.FLE1EncryptionPlaceholder {
		return nil, errors.New("not an FLE1 placeholder (first byte must be 0)")
	}
	doc := bson.Raw(b[1:])
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid FLE1 placeholder: %w", err)
	}
	elems, _ := doc.Elements()
	p := &Placeholder{}
	var hasA, hasV, hasKA bool
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "a":
			n, ok := v.Int32OK()
			if !ok {
				return nil, errors.New("invalid FLE1 placeholder: 'a' must be an int32")
			}
			if Algorithm(n) != Deterministic && Algorithm(n) != Random {
				return nil, fmt.Errorf("invalid FLE1 placeholder: unknown algorithm %d", n)
			}
			p.Algorithm, hasA = Algorithm(n), true
		case "ki":
			st, data, ok := v.BinaryOK()
			if !ok || st != 4 || len(data) != keyIDLen {
				return nil, errors.New("invalid FLE1 placeholder: 'ki' must be a UUID")
			}
			var id [16]byte
			copy(id[:], data)
			p.KeyID = &id
		case "ka":
			s, ok := v.StringValueOK()
			if !ok {
				return nil, errors.New("invalid FLE1 placeholder: 'ka' must be a string")
			}
			p.KeyAltName, hasKA = s, true
		case "v":
			p.Value, hasV = v, true
		default:
			return nil, fmt.Errorf("invalid FLE1 placeholder: unknown field %q", e.Key())
		}
	}
	switch {
	case !hasA:
		return nil, errors.New("invalid FLE1 placeholder: no 'a'")
	case !hasV:
		return nil, errors.New("invalid FLE1 placeholder: no 'v'")
	case p.KeyID == nil && !hasKA:
		return nil, errors.New("invalid FLE1 placeholder: neither 'ki' nor 'ka'")
	case p.KeyID != nil && hasKA:
		return nil, errors.New("invalid FLE1 placeholder: both 'ki' and 'ka'")
	}
	return p, nil
}
