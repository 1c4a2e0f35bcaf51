// Package mongocrypt is MongoDB client-side field level encryption (CSFLE) and Queryable
// Encryption for the official Go driver v2, in pure Go: no cgo, no libmongocrypt, no
// mongocryptd or crypt_shared. Its ciphertexts and key documents are byte-identical to
// libmongocrypt's, so data written by any official driver is read here and back.
//
// # A drop-in for the driver
//
// [NewClientEncryption] takes the place of mongo.NewClientEncryption and [Connect] the place of
// mongo.Connect with AutoEncryptionOptions; every option type is the driver's own. A
// [ClientEncryption] makes and manages data keys and encrypts and decrypts values explicitly. A
// client from [Connect] decrypts every reply; its [AutoEncrypter] can also be used without a
// driver client.
//
// # Algorithms
//
// AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic and -Random (CSFLE), for every BSON type the
// specification allows; deterministic encryption refuses double, decimal128, bool, document,
// array and javascriptWithScope, and no algorithm encrypts null, undefined, minKey, maxKey or an
// already encrypted value.
//
// Queryable Encryption, as libmongocrypt 1.20 does it, byte for byte: Indexed (equality),
// Unindexed, Range (int32, int64, date, double, decimal128) and String (prefix, suffix,
// substring text search), with [ClientEncryption.EncryptExpression] for range queries and
// [ClientEncryption.CreateEncryptedCollection] / [DropEncryptedCollection] for collections.
// Every stored Queryable Encryption value decrypts, including the QE v1 formats.
//
// # Keys
//
// Data keys are cached after their first use for the keyExpiration of the options (60 s by
// default; 0 keeps them until the ClientEncryption or client is closed). The status field of a
// key document is informational, as the specification says: it does not stop a key from being
// used (the specification's own corpus key has status 1).
//
// KeyAltNames are unique: a name that another key has is refused by CreateDataKey and
// AddKeyAltName, with or without the unique index on keyAltNames that MongoDB recommends (the
// check runs before and after the write). RemoveKeyAltName uses plain single-document updates
// (no aggregation-pipeline update), so it works on every server, and removes the keyAltNames
// field with its last name.
//
// # Errors
//
// Failures are *[Error] values with a Code; their causes tell a KMS failure (*[KMSError]), a key
// vault failure (*[KeyVaultError]), a missing key ([ErrKeyNotFound]) and a ciphertext that fails
// authentication ([ErrAuthentication]) apart with errors.As and errors.Is.
//
// # Automatic encryption
//
// This version decrypts replies automatically and sends commands as they are when
// BypassAutoEncryption is set; without it, [Connect] returns an error rather than send a
// command unencrypted.
package mongocrypt
