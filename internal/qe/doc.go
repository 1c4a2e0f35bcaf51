// Package qe implements the client side of MongoDB Queryable Encryption (FLE2): the tokens,
// the payloads a client sends to the server, and the decryption of the values the server
// stores, byte for byte as libmongocrypt 1.20 produces and reads them.
//
// Data keys are never fetched here: every operation first names the key ids it needs, the
// caller fetches and unwraps those keys, then passes a [KeyFunc] returning the 96-byte key
// material. Random bytes (IVs, the contention factor of inserts) come from an io.Reader
// parameter, crypto/rand.Reader when nil; given the same keys and random bytes the output is
// libmongocrypt's.
//
// # Encryption
//
// Automatic encryption: query analysis marks each value with a placeholder (BSON binary
// subtype 6, first byte 3). [ParsePlaceholder] reads it, [Placeholder.KeyIDs] names its keys,
// [Placeholder.Encrypt] returns the payload that replaces it:
//
//	FLE2InsertUpdatePayloadV2 (11)     insert of an equality, range ("g") or text ("b") field
//	FLE2FindEqualityPayloadV2 (12)     equality query
//	FLE2FindRangePayloadV2 (13)        range query (paired by payloadId)
//	FLE2UnindexedEncryptedValueV2 (16) insert of an unindexed field
//	FLE2FindTextPayload (18)           prefix, suffix or substring query
//
// Explicit encryption: [ExplicitPlaceholder] turns a value and the driver's
// options.EncryptOptions (algorithms Indexed, Unindexed, Range and String) into the same kind
// of placeholder; [IsQEAlgorithm] tells these algorithms from CSFLE's. Range queries go
// through [EncryptExpression].
//
// # Decryption
//
// [IsQE] recognizes the stored values this package decrypts: subtypes 14, 15, 16, 17 and 11
// (and the QE v1 subtypes 4, 6, 7, 9). Indexed values (7, 9, 14, 15, 17) are encrypted twice:
// [DecryptKeyIDs] names the outer key (S_Key, the index key), then [DecryptValueKeyID] opens
// the outer layer and names the inner key (K_Key, the user key); [Decrypt] returns the BSON
// value. A caller that fetches the keys of many values before decrypting them parses each once
// with [ParseStored]: the [Stored] keeps its opened outer layer between [Stored.ValueKeyID]
// and [Stored.Decrypt]. Placeholders and find payloads are not stored values: callers leave
// them alone.
//
// # Collections
//
// [ParseEncryptedFields] reads and checks an encryptedFields document the way libmongocrypt
// does (for create, compaction and auto encryption); [EncryptedFields.CompactionTokens] gives
// the compactionTokens of compactStructuredEncryptionData and the cleanupTokens of
// cleanupStructuredEncryptionData; [EncryptedFields.WithStrEncodeVersion] fixes up the
// encryptedFields of a create command.
//
// # Tokens and ciphers
//
// Every index token is an HMAC-SHA-256 chain rooted at the TokenKey, the last 32 bytes of a
// data key (see tokens.go). Values are encrypted with FLE2v2AEAD (AES-256-CBC and
// HMAC-SHA-256) under the user key; server envelopes and encrypted ESC tokens with AES-256-CTR
// under a token (package internal/aead). Range edges and mincovers come from
// internal/qe/rangeenc, string folding and substring sets from internal/qe/text.
package qe
