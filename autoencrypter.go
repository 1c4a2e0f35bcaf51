package mongocrypt

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// AutoEncrypter encrypts the commands and decrypts the replies of a client configured with
// the driver's AutoEncryptionOptions: the counterpart of the AutoEncrypter of the Node.js
// driver. [Connect] installs one in a driver client; it is also usable alone, for instance by
// a proxy or a benchmark.
type AutoEncrypter struct {
	e      *engine
	bypass bool
	// owned are the internal clients this AutoEncrypter made and disconnects on Close.
	owned []*mongo.Client
}

// NewAutoEncrypter builds an AutoEncrypter from client options whose AutoEncryptionOptions are
// set. The key vault is read through a client made from KeyVaultClientOptions when given, else
// through an internal client made from clientOpts without their encryption options.
func NewAutoEncrypter(clientOpts *options.ClientOptions) (*AutoEncrypter, error) {
	if clientOpts == nil || clientOpts.AutoEncryptionOptions == nil {
		return nil, clientErr("the client options have no AutoEncryptionOptions")
	}
	ae := clientOpts.AutoEncryptionOptions
	bypass := ae.BypassAutoEncryption != nil && *ae.BypassAutoEncryption
	if !bypass {
		return nil, clientErr("automatic encryption needs query analysis, which this version does not have yet: " +
			"set BypassAutoEncryption(true) and encrypt values with ClientEncryption.Encrypt; replies are still decrypted automatically")
	}
	a := &AutoEncrypter{bypass: bypass}
	kvOpts := ae.KeyVaultClientOptions
	if kvOpts == nil {
		kvOpts = internalClientOptions(clientOpts)
	}
	kv, err := mongo.Connect(kvOpts)
	if err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "connect", Err: err}}
	}
	a.owned = append(a.owned, kv)
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
	return a, nil
}

// internalClientOptions copies client options without their encryption settings, for the
// internal clients that read the key vault and collection metadata.
func internalClientOptions(o *options.ClientOptions) *options.ClientOptions {
	c := *o
	c.AutoEncryptionOptions = nil
	c.Crypt = nil
	return &c
}

// Encrypt returns the command to send for cmd, a command on database db. With
// bypassAutoEncryption the command is returned unchanged.
func (a *AutoEncrypter) Encrypt(_ context.Context, _ string, cmd bson.Raw) (bson.Raw, error) {
	if a.bypass {
		return cmd, nil
	}
	return nil, clientErr("automatic encryption needs query analysis, which this version does not have yet")
}

// Decrypt decrypts every encrypted value (binary subtype 6) anywhere in a server reply, with
// one key vault query for all the keys that are not cached. A reply without encrypted values
// is returned as it is.
func (a *AutoEncrypter) Decrypt(ctx context.Context, reply bson.Raw) (bson.Raw, error) {
	ks, found, err := a.e.keysForDecrypt(ctx, func(fn func([]byte) error) error { return visitEncrypted(reply, fn) })
	if err != nil {
		if errors.Is(err, errMalformed) {
			return nil, &Error{Code: CodeClient, Message: "decrypting a reply", Err: err}
		}
		return nil, err
	}
	if !found {
		return reply, nil
	}
	out, err := replaceEncrypted(make([]byte, 0, len(reply)), reply, 0, ks.appendDecrypted)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close disconnects the internal clients.
func (a *AutoEncrypter) Close(ctx context.Context) error {
	var errs []error
	for _, c := range a.owned {
		errs = append(errs, c.Disconnect(ctx))
	}
	a.owned = nil
	return errors.Join(errs...)
}
