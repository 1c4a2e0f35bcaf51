// Connect: a driver client whose Crypt hook is an AutoEncrypter, through the driverCrypt
// adapter.

package mongocrypt

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	mcopts "go.mongodb.org/mongo-driver/v2/x/mongo/driver/mongocrypt/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/xoptions"
)

// Connect is mongo.Connect for clients with AutoEncryptionOptions: it builds an
// [AutoEncrypter] from them, installs it in the driver through its internal Crypt hook and
// connects without the encryption options (which would need cgo). Options without
// AutoEncryptionOptions are passed to mongo.Connect as they are.
//
// The Crypt hook (x/mongo/driver/xoptions) is experimental in the driver: this module pins the
// driver version it is tested with.
//
// It is the method of the zero [Config]: nothing is logged.
func Connect(opts ...*options.ClientOptions) (*mongo.Client, error) {
	return Config{}.Connect(opts...)
}

// Connect is [Connect] with the settings of cfg: the records of the client's automatic
// encryption go to cfg.Logger.
func (cfg Config) Connect(opts ...*options.ClientOptions) (*mongo.Client, error) {
	merged := options.MergeClientOptions(opts...)
	if merged.AutoEncryptionOptions == nil {
		return mongo.Connect(opts...)
	}
	a, err := cfg.NewAutoEncrypter(merged)
	if err != nil {
		return nil, err
	}
	plain := internalClientOptions(merged)
	if err := xoptions.SetInternalClientOptions(plain, "crypt", driverCrypt{a}); err != nil {
		_ = a.Close(context.Background())
		return nil, clientErr("the driver refused the encryption hook (driver version not supported?): %w", err)
	}
	c, err := mongo.Connect(plain)
	if err != nil {
		_ = a.Close(context.Background())
		return nil, &Error{Code: CodeClient, Message: "connecting the client", Err: err}
	}
	return c, nil
}

// driverCrypt adapts an AutoEncrypter to the driver's Crypt interface. The driver calls
// Encrypt, Decrypt, BypassAutoEncryption and Close on a client's Crypt; the explicit methods
// serve only the driver's own ClientEncryption, which this module replaces.
type driverCrypt struct{ a *AutoEncrypter }

var _ driver.Crypt = driverCrypt{}

var errExplicitViaDriver = &Error{Code: CodeClient, Err: errors.New("explicit encryption through the driver's Crypt is not supported: use mongocrypt.ClientEncryption")}

// Encrypt is AutoEncrypter.Encrypt for the driver.
func (d driverCrypt) Encrypt(ctx context.Context, db string, cmd bsoncore.Document) (bsoncore.Document, error) {
	out, err := d.a.Encrypt(ctx, db, bson.Raw(cmd))
	return bsoncore.Document(out), err
}

// Decrypt is AutoEncrypter.Decrypt for the driver.
func (d driverCrypt) Decrypt(ctx context.Context, reply bsoncore.Document) (bsoncore.Document, error) {
	out, err := d.a.Decrypt(ctx, bson.Raw(reply))
	return bsoncore.Document(out), err
}

func (d driverCrypt) CreateDataKey(context.Context, string, *mcopts.DataKeyOptions) (bsoncore.Document, error) {
	return nil, errExplicitViaDriver
}

func (d driverCrypt) EncryptExplicit(context.Context, bsoncore.Value, *mcopts.ExplicitEncryptionOptions) (byte, []byte, error) {
	return 0, nil, errExplicitViaDriver
}

func (d driverCrypt) EncryptExplicitExpression(context.Context, bsoncore.Document, *mcopts.ExplicitEncryptionOptions) (bsoncore.Document, error) {
	return nil, errExplicitViaDriver
}

func (d driverCrypt) DecryptExplicit(context.Context, byte, []byte) (bsoncore.Value, error) {
	return bsoncore.Value{}, errExplicitViaDriver
}

func (d driverCrypt) RewrapDataKey(context.Context, []byte, *mcopts.RewrapManyDataKeyOptions) ([]bsoncore.Document, error) {
	return nil, errExplicitViaDriver
}

// Close closes the AutoEncrypter when the driver client disconnects.
func (d driverCrypt) Close() { _ = d.a.Close(context.Background()) }

// BypassAutoEncryption tells the driver whether commands skip Encrypt.
func (d driverCrypt) BypassAutoEncryption() bool { return d.a.bypass }
