// The AutoEncrypter: its construction from the driver's AutoEncryptionOptions (the internal
// clients, the extra options) and Close. Its Encrypt is in autoencrypt.go, its Decrypt in
// decrypt.go; connect.go installs it in a driver client.

package mongocrypt

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync/atomic"

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
	// probe asks the server once whether it takes encryptionInformation (qeserver.go).
	probe qeProbe
	// stateDrops are the state collections the driver dropped through this AutoEncrypter
	// (collection.go).
	stateDrops stateDropLog
}

// NewAutoEncrypter builds an AutoEncrypter from client options whose AutoEncryptionOptions are
// set. The key vault is read through a client made from KeyVaultClientOptions when given, else
// through an internal client made from clientOpts without their encryption options; that
// internal client also reads collection options (listCollections) for schemas that are not in
// SchemaMap or EncryptedFieldsMap.
//
// ExtraOptions are accepted for compatibility and have no effect: query analysis runs in this
// process, so there is no mongocryptd to spawn (mongocryptdURI, mongocryptdBypassSpawn,
// mongocryptdPath, mongocryptdSpawnPath, mongocryptdSpawnArgs) and no crypt_shared library to
// load (cryptSharedLibPath, which must be a string, as in the driver). cryptSharedLibRequired
// must be a bool; true is refused, as the driver refuses it when it loaded no crypt_shared:
// this package loads none, and needs none. Other keys are ignored, as the driver ignores them
// (with a record at Warn for a [Config] with a Logger).
//
// As in the driver, a negative KeyExpiration keeps data keys cached until Close, like 0; TLSConfig
// entries of KMS providers that KmsProviders does not name are ignored; an
// AWSCredentialsProvider needs an empty "aws" KMS provider (on-demand credentials); SchemaMap,
// EncryptedFieldsMap and KmsProviders are encoded with the Registry and BSONOptions of
// clientOpts.
//
// It is the method of the zero [Config]: nothing is logged.
func NewAutoEncrypter(clientOpts *options.ClientOptions) (*AutoEncrypter, error) {
	return Config{}.NewAutoEncrypter(clientOpts)
}

// NewAutoEncrypter is [NewAutoEncrypter] with the settings of cfg: its records go to cfg.Logger.
func (cfg Config) NewAutoEncrypter(clientOpts *options.ClientOptions) (_ *AutoEncrypter, err error) {
	defer classifyErr(&err)
	if clientOpts == nil || clientOpts.AutoEncryptionOptions == nil {
		return nil, clientErr("the client options have no AutoEncryptionOptions")
	}
	ae := clientOpts.AutoEncryptionOptions
	a := &AutoEncrypter{
		bypass:              ae.BypassAutoEncryption != nil && *ae.BypassAutoEncryption,
		bypassQueryAnalysis: ae.BypassQueryAnalysis != nil && *ae.BypassQueryAnalysis,
	}
	log := newLogger(cfg.Logger)
	if err := checkExtraOptions(log, ae.ExtraOptions); err != nil {
		return nil, err
	}
	codec := clientCodec(clientOpts)
	schemaMap, err := marshalMap(codec, ae.SchemaMap, "schemaMap")
	if err != nil {
		return nil, err
	}
	efMap, err := marshalMap(codec, ae.EncryptedFieldsMap, "encryptedFieldsMap")
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
		codec:             codec,
		kmsCodec:          codec,
		log:               log,
	})
	if err != nil {
		_ = a.Close(context.Background())
		return nil, err
	}
	a.schemas = &schemaSource{efMap: efMap, schemaMap: schemaMap, meta: internal, ttl: keyvault.DefaultExpiration, cache: map[string]cachedSchema{}, log: log}
	log.log(context.Background(), slog.LevelInfo, "auto encryption ready", slog.String("key_vault", ae.KeyVaultNamespace),
		slog.Any("kms_providers", providerNames(ae.KmsProviders)), expirationAttr(a.e.cacheTTL),
		slog.Bool("bypass_auto_encryption", a.bypass), slog.Bool("bypass_query_analysis", a.bypassQueryAnalysis))
	return a, nil
}

// checkExtraOptions checks the extra options of the driver, which configure mongocryptd and
// crypt_shared: this module uses neither. The driver checks the types of cryptSharedLibPath
// and cryptSharedLibRequired and refuses cryptSharedLibRequired when it loaded no crypt_shared
// (mongo/client.go, newMongoCrypt); it reads no other key than those below.
func checkExtraOptions(log logger, extra map[string]any) error {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := extra[k]
		switch k {
		case "cryptSharedLibPath":
			if _, ok := v.(string); !ok {
				return clientErr(`expected AutoEncryption extra option "cryptSharedLibPath" to be a string, but is a %T`, v)
			}
		case "cryptSharedLibRequired":
			b, ok := v.(bool)
			if !ok {
				return clientErr(`expected AutoEncryption extra option "cryptSharedLibRequired" to be a bool, but is a %T`, v)
			}
			if b {
				return clientErr(`AutoEncryption extra option "cryptSharedLibRequired" is true, but no crypt_shared library is loaded: ` +
					`this package needs none (query analysis is built in), so the requirement cannot be met; leave the option out`)
			}
		case "mongocryptdURI", "mongocryptdBypassSpawn", "mongocryptdPath", "mongocryptdSpawnPath", "mongocryptdSpawnArgs",
			"__cryptSharedLibDisabledForTestOnly":
		default:
			log.log(context.Background(), slog.LevelWarn, "extra option ignored", slog.String("option", k),
				slog.String("reason", "not an option of the driver"))
			continue
		}
		log.log(context.Background(), slog.LevelDebug, "extra option has no effect", slog.String("option", k),
			slog.String("reason", "no mongocryptd or crypt_shared is used: query analysis is built in"))
	}
	return nil
}

// internalClientOptions copies client options without their encryption settings, for the
// internal clients that read the key vault and collection metadata.
func internalClientOptions(o *options.ClientOptions) *options.ClientOptions {
	c := *o
	c.AutoEncryptionOptions = nil
	//lint:ignore SA1019 a copy given to mongo.Connect must not carry a Crypt hook, and
	// xoptions.SetInternalClientOptions, the field's replacement, cannot unset it.
	c.Crypt = nil
	c.Monitor = hideProbes(o.Monitor)
	return &c
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
