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
// default; 0, or as the driver reads it a negative keyExpiration, keeps them until the
// ClientEncryption or client is closed). The status field of a key document is informational,
// as the specification says: it does not stop a key from being used (the specification's own
// corpus key has status 1).
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
// authentication ([ErrAuthentication]) apart with errors.As and errors.Is. The checks written
// for the driver's libmongocrypt binding hold too: an *Error is a mongo.MongocryptError, a key
// vault failure a mongo.EncryptionKeyVaultError, and the methods of a closed ClientEncryption
// or AutoEncrypter fail with mongo.ErrClientDisconnected (see [Error] for the exceptions).
//
// # Automatic encryption
//
// A client from [Connect] encrypts every command and decrypts every reply, with no mongocryptd
// or crypt_shared: query analysis runs in this process. The schema of a collection comes from
// EncryptedFieldsMap (Queryable Encryption), SchemaMap (CSFLE JSON schema) or, when neither has
// it, from the server's collection options (listCollections: encryptedFields, or the
// $jsonSchema of the validator), cached for keyExpiration. Commands that would leak or cannot
// match (a comparison on a deterministic field, any query on a random field, $regex on an
// encrypted field, updates like $inc on one, a value of another type than the schema's) are
// refused with an error naming the field and the reason, before anything is sent.
//
// Collections of EncryptedFieldsMap are created and dropped with their state collections by
// Database.CreateCollection and Collection.Drop through the client, as the driver does for
// encryptedFields given in the options. For a create, the collection and its state
// collections are made through an internal client and the command the driver then sends is
// the createIndexes of the __safeContent__ index, which command monitoring shows in place of
// create.
//
// BypassAutoEncryption sends every command as it is and still decrypts replies;
// BypassQueryAnalysis skips analysis but still adds the encryptionInformation of Queryable
// Encryption collections. ExtraOptions (mongocryptd and crypt_shared settings) are accepted and
// have no effect, except cryptSharedLibRequired: true, which is refused (there is no
// crypt_shared to require); unknown keys are ignored, as the driver ignores them.
//
// # Logging
//
// The driver's option types have no field for a logger, so a [Config] carries one: a
// *slog.Logger, used by the ClientEncryption, AutoEncrypter or client that Config's methods
// make, and by no other (there is no package-level logger). The records name key ids, KMS
// providers, namespaces and commands, with the duration of key vault queries, KMS requests
// and command analysis, and the cache hits and misses of data keys; they never hold a key,
// key material, a credential, a keyAltName or a value. See [Config.Logger] for the list.
package mongocrypt
