package mongocrypt

import (
	"context"
	"errors"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/keyvault"
)

// AutoEncrypter encrypts the commands and decrypts the replies of a client configured with
// the driver's AutoEncryptionOptions: the counterpart of the AutoEncrypter of the Node.js
// driver. [Connect] installs one in a driver client; it is also usable alone, for instance by
// a proxy or a benchmark.
type AutoEncrypter struct {
	e                   *engine
	bypass              bool
	bypassQueryAnalysis bool
	schemas             *schemaSource
	// owned are the internal clients this AutoEncrypter made and disconnects on Close.
	owned  []*mongo.Client
	closed atomic.Bool
}

// NewAutoEncrypter builds an AutoEncrypter from client options whose AutoEncryptionOptions are
// set. The key vault is read through a client made from KeyVaultClientOptions when given, else
// through an internal client made from clientOpts without their encryption options; that
// internal client also reads collection options (listCollections) for schemas that are not in
// SchemaMap or EncryptedFieldsMap.
//
// ExtraOptions are accepted for compatibility and have no effect: query analysis runs in this
// process, so there is no mongocryptd to spawn (mongocryptdURI, mongocryptdBypassSpawn,
// mongocryptdSpawnPath, mongocryptdSpawnArgs) and no crypt_shared library to load
// (cryptSharedLibPath, cryptSharedLibRequired).
func NewAutoEncrypter(clientOpts *options.ClientOptions) (_ *AutoEncrypter, err error) {
	defer classifyErr(&err)
	if clientOpts == nil || clientOpts.AutoEncryptionOptions == nil {
		return nil, clientErr("the client options have no AutoEncryptionOptions")
	}
	ae := clientOpts.AutoEncryptionOptions
	a := &AutoEncrypter{
		bypass:              ae.BypassAutoEncryption != nil && *ae.BypassAutoEncryption,
		bypassQueryAnalysis: ae.BypassQueryAnalysis != nil && *ae.BypassQueryAnalysis,
	}
	if err := checkExtraOptions(ae.ExtraOptions); err != nil {
		return nil, err
	}
	schemaMap, err := marshalMap(ae.SchemaMap, "schemaMap")
	if err != nil {
		return nil, err
	}
	efMap, err := marshalMap(ae.EncryptedFieldsMap, "encryptedFieldsMap")
	if err != nil {
		return nil, err
	}
	internal, err := mongo.Connect(internalClientOptions(clientOpts))
	if err != nil {
		return nil, &Error{Code: CodeClient, Message: "connecting the internal client", Err: err}
	}
	a.owned = append(a.owned, internal)
	kv := internal
	if ae.KeyVaultClientOptions != nil {
		if kv, err = mongo.Connect(ae.KeyVaultClientOptions); err != nil {
			_ = a.Close(context.Background())
			return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "connect", Err: err}}
		}
		a.owned = append(a.owned, kv)
	}
	a.e, err = newEngine(kv, engineConfig{
		keyVaultNamespace: ae.KeyVaultNamespace,
		kmsProviders:      ae.KmsProviders,
		tls:               ae.TLSConfig,
		httpClient:        ae.HTTPClient,
		keyExpiration:     ae.KeyExpiration,
		awsCreds:          ae.AWSCredentialsProvider,
	})
	if err != nil {
		_ = a.Close(context.Background())
		return nil, err
	}
	a.schemas = &schemaSource{efMap: efMap, schemaMap: schemaMap, meta: internal, ttl: keyvault.DefaultExpiration, cache: map[string]cachedSchema{}}
	return a, nil
}

// checkExtraOptions accepts the extra options of the driver: they configure mongocryptd and
// crypt_shared, which this module does not use.
func checkExtraOptions(extra map[string]any) error {
	for k := range extra {
		switch k {
		case "mongocryptdURI", "mongocryptdBypassSpawn", "mongocryptdSpawnPath", "mongocryptdSpawnArgs",
			"cryptSharedLibPath", "cryptSharedLibRequired", "__cryptSharedLibDisabledForTestOnly":
		default:
			return clientErr("unknown extra option %q", k)
		}
	}
	return nil
}

// internalClientOptions copies client options without their encryption settings, for the
// internal clients that read the key vault and collection metadata.
func internalClientOptions(o *options.ClientOptions) *options.ClientOptions {
	c := *o
	c.AutoEncryptionOptions = nil
	c.Crypt = nil
	return &c
}

// Encrypt returns the command to send for cmd, a command on database db: every value that the
// schema of its collection marks for encryption is encrypted, or the command is refused with an
// error naming the field and the reason, before anything is sent. Commands that need no
// encryption (hello, getMore, ...) are returned unchanged; so is every command with
// bypassAutoEncryption.
func (a *AutoEncrypter) Encrypt(ctx context.Context, db string, cmd bson.Raw) (bson.Raw, error) {
	if a.closed.Load() {
		return nil, errClosed("the AutoEncrypter")
	}
	if a.bypass {
		return cmd, nil
	}
	out, err := a.encryptCommand(ctx, db, cmd)
	return out, errorOf(err)
}

// Decrypt decrypts every encrypted value (binary subtype 6) anywhere in a server reply, with
// one key vault query for all the keys that are not cached. A reply without encrypted values
// is returned as it is.
func (a *AutoEncrypter) Decrypt(ctx context.Context, reply bson.Raw) (_ bson.Raw, err error) {
	defer classifyErr(&err)
	if a.closed.Load() {
		return nil, errClosed("the AutoEncrypter")
	}
	// The decrypted reply is smaller than the reply by at least the AEAD overhead of each
	// FLE1 value (associated data 18, IV 16, tag 32, padding 1): size the output for that.
	size := len(reply)
	ks, found, err := a.e.keysForDecrypt(ctx, func(fn func([]byte) error) error {
		return visitEncrypted(reply, func(blob []byte) error {
			if classify(blob) == blobFLE1 {
				size -= 18 + 16 + 32 + 1
			}
			return fn(blob)
		})
	})
	if err != nil {
		if errors.Is(err, errMalformed) {
			return nil, &Error{Code: CodeClient, Message: "decrypting a reply", Err: err}
		}
		return nil, err
	}
	if !found {
		return reply, nil
	}
	out, err := replaceEncrypted(make([]byte, 0, max(size, 16)), reply, 0, ks.appendDecrypted)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close disconnects the internal clients and closes idle KMS connections. Encrypt and Decrypt
// fail after Close, with an error wrapping [ErrClientDisconnected]; so does a second Close.
func (a *AutoEncrypter) Close(ctx context.Context) error {
	if a.closed.Swap(true) {
		return errClosed("the AutoEncrypter")
	}
	if a.e != nil {
		a.e.kms.Close()
	}
	var errs []error
	for _, c := range a.owned {
		errs = append(errs, c.Disconnect(ctx))
	}
	a.owned = nil
	if err := errors.Join(errs...); err != nil {
		return &Error{Code: CodeClient, Message: "disconnecting the internal clients", Err: err}
	}
	return nil
}
