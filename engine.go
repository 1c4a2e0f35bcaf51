// The engine: the state that ClientEncryption and AutoEncrypter share (the KMS providers, the
// key vault collection, the cache of decrypted data keys, the random source, the caller's codec
// and the logger) and its construction from the options of either. The stages that use it have
// files of their own: keys.go, explicitencrypt.go, decrypt.go, autoencrypt.go, schemas.go and
// collection.go.

package mongocrypt

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/mongocrypt-go/mongocrypt/internal/keyvault"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/providers"
)

// engine is what ClientEncryption and AutoEncrypter share: the KMS providers, the key vault and
// the cache of decrypted data keys.
type engine struct {
	kms      *kms.Set
	keyVault *mongo.Collection
	cache    *keyvault.Cache[*dataKey]
	cacheTTL time.Duration // keyExpiration; 0 never expires
	rng      io.Reader
	codec    bsonCodec // encodes the caller's masterKey and filter documents
	log      logger
	// noPipelineUpdates is set once the key vault's server refused an update pipeline.
	noPipelineUpdates atomic.Bool
	// findKeysHook, when not nil, replaces the key vault query of keys. Only tests set it: it
	// plays a key vault that answers with key documents it was not asked for, which a real
	// server matching the filter does not do.
	findKeysHook func(ctx context.Context, filter any) ([]bson.Raw, error)
	// flights are the keys being fetched now (keys.go).
	flights keyFlights
}

// engineConfig is what both option types say about keys and KMS.
type engineConfig struct {
	keyVaultNamespace string
	kmsProviders      map[string]map[string]any
	tls               map[string]*tls.Config
	httpClient        *http.Client
	keyExpiration     *time.Duration
	awsCreds          options.AWSCredentialsProvider
	codec             bsonCodec // the Registry and BSONOptions of the documents of the caller
	kmsCodec          bsonCodec // that of kmsProviders
	log               logger
}

// kmsEndpoints overrides the on-demand credential endpoints; tests set it.
var kmsEndpoints map[string]string

func newEngine(kvClient *mongo.Client, c engineConfig) (*engine, error) {
	db, coll, ok := strings.Cut(c.keyVaultNamespace, ".")
	if !ok || db == "" || coll == "" {
		return nil, clientErr("the key vault namespace %q must be of the form <database>.<collection>", c.keyVaultNamespace)
	}
	// The driver gives each KMS request the TLS configuration of its provider, by name, and
	// looks at no other (x/mongo/driver/crypt.go): options for a provider that is not
	// configured are never used.
	for name := range c.tls {
		if _, ok := c.kmsProviders[name]; !ok {
			c.log.log(context.Background(), slog.LevelWarn, "KMS TLS options ignored", slog.String("kms_provider", name),
				slog.String("reason", "the KMS provider is not configured"))
		}
	}
	set, err := providers.New(providers.Options{
		KMSProviders:           c.kmsProviders,
		TLS:                    c.tls,
		HTTPClient:             c.httpClient,
		AWSCredentialsProvider: c.awsCreds,
		Endpoints:              kmsEndpoints,
		Encode:                 func(v any) (bson.Raw, error) { return c.kmsCodec.marshal(v, "kmsProviders") },
	})
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	ttl := keyvault.DefaultExpiration
	if c.keyExpiration != nil {
		// As the driver (x/mongo/driver/mongocrypt/mongocrypt.go, NewMongoCrypt): a
		// keyExpiration <= 0 is libmongocrypt's 0, keys never expire.
		ttl = max(*c.keyExpiration, 0)
	}
	kv := kvClient.Database(db).Collection(coll, options.Collection().
		SetReadConcern(readconcern.Majority()).
		SetWriteConcern(writeconcern.Majority()))
	return &engine{kms: set, keyVault: kv, cache: keyvault.NewCache[*dataKey](ttl), cacheTTL: ttl, rng: rand.Reader,
		codec: c.codec, log: c.log}, nil
}
