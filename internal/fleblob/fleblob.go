// Package fleblob names the FLE blob subtypes: the first byte of the data of
// a BSON binary of subtype 6 (Encrypted), which says what the rest of the
// bytes are. The names and numbers are libmongocrypt's mc_fle_blob_subtype_t
// (src/mc-fle-blob-subtype-private.h) without the MC_SUBTYPE_ prefix.
//
// The package depends on nothing, so that every package reading or writing
// blobs uses the one table.
package fleblob

import "strconv"

// Subtype is an FLE blob subtype.
type Subtype byte

// The blob subtypes. 8 is not assigned.
const (
	// CSFLE (FLE1).
	FLE1EncryptionPlaceholder       Subtype = 0 // query analysis marking: encrypt this value
	FLE1DeterministicEncryptedValue Subtype = 1 // AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic ciphertext
	FLE1RandomEncryptedValue        Subtype = 2 // AEAD_AES_256_CBC_HMAC_SHA_512-Random ciphertext

	// Queryable Encryption: the placeholder, and the version 1 values (decrypted, not produced).
	FLE2EncryptionPlaceholder         Subtype = 3
	FLE2InsertUpdatePayload           Subtype = 4
	FLE2FindEqualityPayload           Subtype = 5
	FLE2UnindexedEncryptedValue       Subtype = 6
	FLE2IndexedEqualityEncryptedValue Subtype = 7
	FLE2IndexedRangeEncryptedValue    Subtype = 9
	FLE2FindRangePayload              Subtype = 10

	// Queryable Encryption version 2.
	FLE2InsertUpdatePayloadV2           Subtype = 11
	FLE2FindEqualityPayloadV2           Subtype = 12
	FLE2FindRangePayloadV2              Subtype = 13
	FLE2IndexedEqualityEncryptedValueV2 Subtype = 14
	FLE2IndexedRangeEncryptedValueV2    Subtype = 15
	FLE2UnindexedEncryptedValueV2       Subtype = 16

	// Queryable Encryption text search.
	FLE2IndexedTextEncryptedValue Subtype = 17
	FLE2FindTextPayload           Subtype = 18
)

var names = [...]string{
	FLE1EncryptionPlaceholder:           "FLE1EncryptionPlaceholder",
	FLE1DeterministicEncryptedValue:     "FLE1DeterministicEncryptedValue",
	FLE1RandomEncryptedValue:            "FLE1RandomEncryptedValue",
	FLE2EncryptionPlaceholder:           "FLE2EncryptionPlaceholder",
	FLE2InsertUpdatePayload:             "FLE2InsertUpdatePayload",
	FLE2FindEqualityPayload:             "FLE2FindEqualityPayload",
	FLE2UnindexedEncryptedValue:         "FLE2UnindexedEncryptedValue",
	FLE2IndexedEqualityEncryptedValue:   "FLE2IndexedEqualityEncryptedValue",
	FLE2IndexedRangeEncryptedValue:      "FLE2IndexedRangeEncryptedValue",
	FLE2FindRangePayload:                "FLE2FindRangePayload",
	FLE2InsertUpdatePayloadV2:           "FLE2InsertUpdatePayloadV2",
	FLE2FindEqualityPayloadV2:           "FLE2FindEqualityPayloadV2",
	FLE2FindRangePayloadV2:              "FLE2FindRangePayloadV2",
	FLE2IndexedEqualityEncryptedValueV2: "FLE2IndexedEqualityEncryptedValueV2",
	FLE2IndexedRangeEncryptedValueV2:    "FLE2IndexedRangeEncryptedValueV2",
	FLE2UnindexedEncryptedValueV2:       "FLE2UnindexedEncryptedValueV2",
	FLE2IndexedTextEncryptedValue:       "FLE2IndexedTextEncryptedValue",
	FLE2FindTextPayload:                 "FLE2FindTextPayload",
}

// String returns libmongocrypt's name of s without the MC_SUBTYPE_ prefix,
// or "Subtype(n)" for a number that names no subtype.
func (s Subtype) String() string {
	if int(s) < len(names) && names[s] != "" {
		return names[s]
	}
	return "Subtype(" + strconv.Itoa(int(s)) + ")"
}
