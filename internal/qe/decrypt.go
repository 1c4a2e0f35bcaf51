package qe

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Layouts of the stored values a client decrypts.
//
// FLE2IndexedEqualityEncryptedValueV2 (14), FLE2IndexedRangeEncryptedValueV2 (15) and
// FLE2IndexedTextEncryptedValue (17), written by the server:
//
//	subtype (1) || S_KeyId (16) || original BSON type (1)
//	|| edge_count (1, range only) || edge_count, substr_count, suffix_count (3 x uint32 LE, text only)
//	|| ServerEncryptedValue (>= 17) || metadata (96 each: 1 for equality, edge_count otherwise)
//
//	ServerEncryptedValue = EncryptCTR(ServerDataEncryptionLevel1Token of S_Key, K_KeyId || ClientEncryptedValue)
//	ClientEncryptedValue = FLE2v2AEAD(K_Key, value, AAD = K_KeyId)
//
// FLE2IndexedEqualityEncryptedValue (7) and FLE2IndexedRangeEncryptedValue (9), v1:
//
//	subtype (1) || S_KeyId (16) || original BSON type (1) || InnerEncrypted
//	InnerEncrypted = EncryptCTR(ServerDataEncryptionLevel1Token, Inner)
//	Inner = length (uint64 LE, 16 + len(ClientEncryptedValue)) || K_KeyId (16)
//	        || ClientEncryptedValue || counter and tokens (ignored)
//	ClientEncryptedValue = FLE2AEAD(K_Key, value, AAD = K_KeyId)
//
// FLE2InsertUpdatePayload (4) and FLE2InsertUpdatePayloadV2 (11): a BSON document whose "v"
// is the user key id followed by FLE2AEAD (v1) or FLE2v2AEAD (v2) of the value with the user
// key id as AAD, and whose "t" is the BSON type.
//
// FLE2UnindexedEncryptedValue (6) and V2 (16): see unindexed.go.
const (
	metadataBlockLen      = 96 // encryptedCount (32) || tag (32) || encryptedZeros (32)
	minServerEncryptedLen = 17 // IV (16) and at least one byte
	uuidLen               = 16
)

// storedValue is a parsed value that a client can decrypt.
type storedValue struct {
	subtype   fleblob.Subtype
	keyID     KeyID  // S_KeyId for indexed values, the user key otherwise
	valueType byte   // original BSON type
	encrypted []byte // ServerEncryptedValue, InnerEncrypted, UEV ciphertext, or IUP ciphertext
	aad       []byte // UEV header
}

// IsQE reports whether blob (the data of a BSON binary of subtype 6) is a Queryable
// Encryption value that [Decrypt] handles: subtypes 4, 6, 7, 9, 11, 14, 15, 16 and 17.
func IsQE(blob []byte) bool {
	if len(blob) == 0 {
		return false
	}
	switch fleblob.Subtype(blob[0]) {
	case fleblob.FLE2InsertUpdatePayload, fleblob.FLE2UnindexedEncryptedValue, fleblob.FLE2IndexedEqualityEncryptedValue,
		fleblob.FLE2IndexedRangeEncryptedValue, fleblob.FLE2InsertUpdatePayloadV2, fleblob.FLE2IndexedEqualityEncryptedValueV2,
		fleblob.FLE2IndexedRangeEncryptedValueV2, fleblob.FLE2UnindexedEncryptedValueV2, fleblob.FLE2IndexedTextEncryptedValue:
		return true
	}
	return false
}

// indexed reports whether the value is encrypted twice (S_Key outside, K_Key inside).
func (s *storedValue) indexed() bool {
	switch s.subtype {
	case fleblob.FLE2IndexedEqualityEncryptedValue, fleblob.FLE2IndexedRangeEncryptedValue, fleblob.FLE2IndexedEqualityEncryptedValueV2,
		fleblob.FLE2IndexedRangeEncryptedValueV2, fleblob.FLE2IndexedTextEncryptedValue:
		return true
	}
	return false
}

// parseStored parses a stored value without decrypting it. The v1 indexed and the unindexed
// values are
//
//	subtype (1) | S_KeyId or key UUID (16) | original BSON type (1) | ciphertext
//
// (uevHeaderLen is those 18 bytes; for unindexed values they are also the associated data);
// the v2 indexed values are parsed by parseIndexedV2, insert payloads by
// parseInsertPayloadForDecrypt, each with its layout.
func parseStored(blob []byte) (storedValue, error) {
	if len(blob) == 0 {
		return storedValue{}, errors.New("qe: empty encrypted value")
	}
	switch st := fleblob.Subtype(blob[0]); st {
	case fleblob.FLE2IndexedEqualityEncryptedValueV2, fleblob.FLE2IndexedRangeEncryptedValueV2, fleblob.FLE2IndexedTextEncryptedValue:
		return parseIndexedV2(blob)
	case fleblob.FLE2IndexedEqualityEncryptedValue, fleblob.FLE2IndexedRangeEncryptedValue:
		if len(blob) < uevHeaderLen {
			return storedValue{}, fmt.Errorf("qe: indexed encrypted value (subtype %d) too short: %d bytes", st, len(blob))
		}
		return storedValue{subtype: st, keyID: KeyID(blob[1:17]), valueType: blob[17], encrypted: blob[uevHeaderLen:]}, nil
	case fleblob.FLE2UnindexedEncryptedValue, fleblob.FLE2UnindexedEncryptedValueV2:
		if len(blob) < uevHeaderLen {
			return storedValue{}, fmt.Errorf("qe: unindexed encrypted value (subtype %d) too short: %d bytes", st, len(blob))
		}
		return storedValue{subtype: st, keyID: KeyID(blob[1:17]), valueType: blob[17], encrypted: blob[uevHeaderLen:], aad: blob[:uevHeaderLen]}, nil
	case fleblob.FLE2InsertUpdatePayload, fleblob.FLE2InsertUpdatePayloadV2:
		return parseInsertPayloadForDecrypt(blob)
	case fleblob.FLE2EncryptionPlaceholder, fleblob.FLE1EncryptionPlaceholder:
		return storedValue{}, fmt.Errorf("qe: cannot decrypt a placeholder (subtype %d)", st)
	default:
		return storedValue{}, fmt.Errorf("qe: blob subtype %d is not a decryptable Queryable Encryption value", st)
	}
}

// parseIndexedV2 parses subtypes 14, 15 and 17:
//
//	subtype (1) | S_KeyId (16) | original BSON type (1) | counts | ServerEncryptedValue | metadata
//
// where counts is nothing for equality (one edge), one byte of edge count for range, and three
// little-endian uint32 for text (total edges, substring edges, suffix edges), and metadata is
// one metadataBlockLen block per edge at the end of the blob.
func parseIndexedV2(blob []byte) (storedValue, error) {
	st := fleblob.Subtype(blob[0])
	rest := blob[1:]
	if len(rest) < uuidLen+1 {
		return storedValue{}, fmt.Errorf("qe: indexed encrypted value (subtype %d) too short: %d bytes", st, len(blob))
	}
	s := storedValue{subtype: st, keyID: KeyID(rest[:uuidLen]), valueType: rest[uuidLen]}
	rest = rest[uuidLen+1:]
	edges := uint64(1)
	switch st {
	case fleblob.FLE2IndexedRangeEncryptedValueV2:
		if len(rest) < 1 {
			return storedValue{}, errors.New("qe: range encrypted value truncated before edge count")
		}
		if rest[0] == 0 {
			return storedValue{}, errors.New("qe: range encrypted value has edge count 0")
		}
		edges, rest = uint64(rest[0]), rest[1:]
	case fleblob.FLE2IndexedTextEncryptedValue:
		if len(rest) < 12 {
			return storedValue{}, errors.New("qe: text encrypted value truncated before tag counts")
		}
		total := uint64(binary.LittleEndian.Uint32(rest[0:]))
		substr := uint64(binary.LittleEndian.Uint32(rest[4:]))
		suffix := uint64(binary.LittleEndian.Uint32(rest[8:]))
		if total < substr+suffix+1 {
			return storedValue{}, fmt.Errorf("qe: text encrypted value: edge count %d smaller than substring count %d + suffix count %d + 1", total, substr, suffix)
		}
		edges, rest = total, rest[12:]
	}
	metadata := edges * metadataBlockLen
	if uint64(len(rest)) < minServerEncryptedLen+metadata {
		return storedValue{}, fmt.Errorf("qe: indexed encrypted value (subtype %d): %d bytes left, need at least %d", st, len(rest), minServerEncryptedLen+metadata)
	}
	s.encrypted = rest[:uint64(len(rest))-metadata]
	return s, nil
}

// parseInsertPayloadForDecrypt reads "t" and "v" of an FLE2InsertUpdatePayload (v1 or v2)
// after checking the document as libmongocrypt's parsers do.
func parseInsertPayloadForDecrypt(blob []byte) (storedValue, error) {
	st := fleblob.Subtype(blob[0])
	what := "FLE2InsertUpdatePayloadV2"
	required := []string{"d", "s", "p", "u", "t", "v", "e", "l", "k"}
	if st == fleblob.FLE2InsertUpdatePayload {
		what = "FLE2InsertUpdatePayload"
		required = []string{"d", "s", "c", "p", "u", "t", "v", "e"}
	}
	doc := bsoncore.Document(blob[1:])
	if err := validateDocument(doc); err != nil {
		return storedValue{}, fmt.Errorf("qe: %s: %w", what, err)
	}
	elems, err := docElements(doc)
	if err != nil {
		return storedValue{}, fmt.Errorf("qe: %s: %w", what, err)
	}
	known := map[string]bool{}
	for _, k := range required {
		known[k] = true
	}
	if st == fleblob.FLE2InsertUpdatePayloadV2 {
		for _, k := range []string{"sp", "pn", "tf", "mn", "mx"} {
			known[k] = true
		}
	}
	seen := fieldSet{}
	s := storedValue{subtype: st}
	var value []byte
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		if !known[key] {
			continue // g, b and unknown fields are not read, as in libmongocrypt
		}
		if err := seen.add("qe: "+what, key); err != nil {
			return storedValue{}, err
		}
		switch key {
		case "d", "s", "c", "p", "e", "l":
			if _, err := binaryField(v, binaryGeneric, what, key); err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
		case "v":
			if value, err = binaryField(v, binaryGeneric, what, key); err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
		case "u":
			if _, err := binaryField(v, binaryUUID, what, key); err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
		case "t":
			n, err := int32Field(v, what, key)
			if err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
			if n < 0 || n > 0xff {
				return storedValue{}, fmt.Errorf("qe: %s: field 't' must be a valid BSON type, got: %d", what, n)
			}
			s.valueType = byte(n)
		case "k":
			n, err := int64Field(v, what, key)
			if err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
			if err := validateContention(n); err != nil {
				return storedValue{}, err
			}
		case "sp":
			n, err := int64Field(v, what, key)
			if err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
			if err := validateSparsity(n); err != nil {
				return storedValue{}, err
			}
		case "pn", "tf":
			n, err := int32Field(v, what, key)
			if err != nil {
				return storedValue{}, fmt.Errorf("qe: %w", err)
			}
			if n < 0 {
				return storedValue{}, fmt.Errorf("qe: %s: field '%s' must be non-negative, got: %d", what, key, n)
			}
		}
	}
	for _, k := range required {
		if !seen[k] {
			return storedValue{}, fmt.Errorf("qe: %s: missing field '%s'", what, k)
		}
	}
	if len(value) < uuidLen {
		return storedValue{}, fmt.Errorf("qe: %s: field 'v' too short for a user key id: %d bytes", what, len(value))
	}
	s.keyID = KeyID(value[:uuidLen])
	s.encrypted = value[uuidLen:]
	return s, nil
}

// DecryptKeyIDs returns the data keys that decrypting blob needs first: the user key of
// unindexed values and insert payloads, or S_Key, the index key, of indexed values. Indexed
// values also need K_Key, whose id is only known once S_Key has opened them: see
// [DecryptValueKeyID].
func DecryptKeyIDs(blob []byte) ([]KeyID, error) {
	s, err := parseStored(blob)
	if err != nil {
		return nil, err
	}
	return []KeyID{s.keyID}, nil
}

// DecryptValueKeyID returns the id of K_Key, the key of the value inside an indexed value
// (subtypes 7, 9, 14, 15, 17), opening the server envelope with S_Key from keys. For the other
// subtypes it returns ok = false: [DecryptKeyIDs] already named every key.
func DecryptValueKeyID(blob []byte, keys KeyFunc) (id KeyID, ok bool, err error) {
	s, err := parseStored(blob)
	if err != nil || !s.indexed() {
		return KeyID{}, false, err
	}
	id, _, err = s.openEnvelope(keys)
	if err != nil {
		return KeyID{}, false, err
	}
	return id, true, nil
}

// openEnvelope decrypts the server envelope of an indexed value with S_Key and returns K_KeyId
// and ClientEncryptedValue.
func (s *storedValue) openEnvelope(keys KeyFunc) (KeyID, []byte, error) {
	sKey, err := dataKey(keys, s.keyID)
	if err != nil {
		return KeyID{}, nil, err
	}
	token := hmacU64(tokenKeyOf(sKey), labelServerDataEncryption)
	ctr, err := aead.NewFLE2CTR(token[:])
	if err != nil {
		return KeyID{}, nil, err
	}
	inner, err := ctr.Decrypt(nil, s.encrypted)
	if err != nil {
		return KeyID{}, nil, fmt.Errorf("qe: decrypting server envelope (subtype %d): %w", s.subtype, err)
	}
	if s.subtype == fleblob.FLE2IndexedEqualityEncryptedValue || s.subtype == fleblob.FLE2IndexedRangeEncryptedValue {
		// length (8) || K_KeyId (16) || ClientEncryptedValue (length - 16) || ...
		if len(inner) < 8+uuidLen {
			return KeyID{}, nil, fmt.Errorf("qe: indexed encrypted value v1: inner value too short: %d bytes", len(inner))
		}
		length := binary.LittleEndian.Uint64(inner)
		if length <= uuidLen || length > uint64(len(inner)-8) {
			return KeyID{}, nil, fmt.Errorf("qe: indexed encrypted value v1: bad inner length %d for %d bytes", length, len(inner))
		}
		return KeyID(inner[8 : 8+uuidLen]), inner[8+uuidLen : 8+length], nil
	}
	if len(inner) <= uuidLen {
		return KeyID{}, nil, fmt.Errorf("qe: invalid ServerEncryptedValue length %d, expected more than %d", len(inner), uuidLen)
	}
	return KeyID(inner[:uuidLen]), inner[uuidLen:], nil
}

// Decrypt decrypts a stored Queryable Encryption value (subtypes 4, 6, 7, 9, 11, 14, 15, 16,
// 17; see [IsQE]) and returns the original BSON value. keys must return every key of
// [DecryptKeyIDs] and [DecryptValueKeyID].
func Decrypt(blob []byte, keys KeyFunc) (bson.RawValue, error) {
	s, err := parseStored(blob)
	if err != nil {
		return bson.RawValue{}, err
	}
	v := Stored{storedValue: s}
	return v.Decrypt(keys)
}

// Stored is a stored value parsed once, for a caller that fetches the keys of many values
// before it decrypts them: [ParseStored] reads the layout, [Stored.KeyID] names the key to
// fetch first, [Stored.ValueKeyID] opens the server envelope of an indexed value and names the
// key inside, and [Stored.Decrypt] decrypts the value, without opening that envelope again.
// The package functions [DecryptKeyIDs], [DecryptValueKeyID] and [Decrypt] do the same on a
// blob, parsing it each time. A Stored refers to the bytes of its blob, and serves one
// goroutine.
type Stored struct {
	storedValue
	opened     bool   // ValueKeyID opened the envelope of an indexed value
	valueKeyID KeyID  // K_KeyId, once opened
	ciphertext []byte // ClientEncryptedValue, once opened
}

// ParseStored parses a stored Queryable Encryption value (see [IsQE]) without decrypting it,
// with the checks of [DecryptKeyIDs].
func ParseStored(blob []byte) (Stored, error) {
	s, err := parseStored(blob)
	if err != nil {
		return Stored{}, err
	}
	return Stored{storedValue: s}, nil
}

// KeyID is the key that decrypting the value needs first: the user key of unindexed values and
// insert payloads, S_Key, the index key, of indexed values (as [DecryptKeyIDs]).
func (v *Stored) KeyID() KeyID { return v.keyID }

// ValueKeyID is [DecryptValueKeyID] of the value: the id of K_Key, the key inside an indexed
// value, opening its server envelope with S_Key from keys; ok is false for the other subtypes.
// The opened envelope is kept for [Stored.Decrypt].
func (v *Stored) ValueKeyID(keys KeyFunc) (id KeyID, ok bool, err error) {
	if !v.indexed() {
		return KeyID{}, false, nil
	}
	if !v.opened {
		id, ciphertext, err := v.openEnvelope(keys)
		if err != nil {
			return KeyID{}, false, err
		}
		v.valueKeyID, v.ciphertext, v.opened = id, ciphertext, true
	}
	return v.valueKeyID, true, nil
}

// Decrypt is [Decrypt] of the value. The envelope of an indexed value is opened with S_Key
// from keys unless [Stored.ValueKeyID] opened it already.
func (v *Stored) Decrypt(keys KeyFunc) (bson.RawValue, error) {
	s := &v.storedValue
	keyID, ciphertext, aad := s.keyID, s.encrypted, s.aad
	if s.indexed() {
		if _, _, err := v.ValueKeyID(keys); err != nil {
			return bson.RawValue{}, err
		}
		keyID, ciphertext = v.valueKeyID, v.ciphertext
		aad = keyID[:]
	} else if aad == nil {
		aad = keyID[:] // insert payloads
	}
	k, err := dataKey(keys, keyID)
	if err != nil {
		return bson.RawValue{}, err
	}
	newAEAD := aead.NewFLE2v2AEAD
	switch s.subtype {
	case fleblob.FLE2InsertUpdatePayload, fleblob.FLE2UnindexedEncryptedValue, fleblob.FLE2IndexedEqualityEncryptedValue, fleblob.FLE2IndexedRangeEncryptedValue:
		newAEAD = aead.NewFLE2AEAD
	}
	a, err := newAEAD(k)
	if err != nil {
		return bson.RawValue{}, err
	}
	plain, err := a.Decrypt(nil, aad, ciphertext)
	if err != nil {
		return bson.RawValue{}, fmt.Errorf("qe: decrypting value (subtype %d) with key %s: %w", s.subtype, keyID, err)
	}
	val := bsoncore.Value{Type: bsoncore.Type(s.valueType), Data: plain}
	if err := checkValue(val); err != nil {
		return bson.RawValue{}, fmt.Errorf("qe: decrypted value (subtype %d) is not valid BSON of type %d: %w", s.subtype, s.valueType, err)
	}
	return bson.RawValue{Type: bson.Type(s.valueType), Value: plain}, nil
}

// checkValue checks that v.Data is exactly one valid BSON value of type v.Type.
func checkValue(v bsoncore.Value) error {
	if v.Type == 0 {
		return errors.New("type 0")
	}
	doc := bsoncore.AppendValueElement(make([]byte, 4, len(v.Data)+8), "", v)
	doc = append(doc, 0)
	binary.LittleEndian.PutUint32(doc, uint32(len(doc)))
	if err := validateDocument(doc); err != nil {
		return err
	}
	elems, err := bsoncore.Document(doc).Elements()
	if err != nil || len(elems) != 1 {
		return errors.New("trailing bytes after the value")
	}
	return nil
}
