// The ClientEncryption: its construction and Close, and the management of the key documents of
// the key vault (CreateDataKey, GetKey, GetKeys, DeleteKey, AddKeyAltName, RemoveKeyAltName,
// RewrapManyDataKey). Encrypt and EncryptExpression are in explicitencrypt.go, Decrypt in
// decrypt.go, CreateEncryptedCollection in collection.go.

package mongocrypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// ClientEncryption creates and manages data keys and encrypts and decrypts values explicitly.
// It has the method set of the driver's mongo.ClientEncryption, with the same signatures and
// the driver's option types, and needs neither cgo nor libmongocrypt.
type ClientEncryption struct {
	e              *engine
	keyVaultClient *mongo.Client
	closed         atomic.Bool
}

// ErrClientDisconnected is wrapped by the errors of the methods of a closed ClientEncryption or
// AutoEncrypter, as the driver returns it: errors.Is(err, mongo.ErrClientDisconnected) holds.
// It is the driver's error of the same name.
var ErrClientDisconnected = mongo.ErrClientDisconnected

// NewClientEncryption returns a ClientEncryption whose key vault is read and written through
// keyVaultClient. The options are the driver's: KeyVaultNamespace ("db.coll"), KmsProviders,
// TLSConfig, HTTPClient, KeyExpiration and AWSCredentialsProvider. As in the driver, a negative
// KeyExpiration keeps data keys cached until Close, like 0; TLSConfig entries of KMS providers
// that KmsProviders does not name are ignored; an AWSCredentialsProvider needs an empty "aws"
// KMS provider (on-demand credentials); masterKey documents and RewrapManyDataKey filters are
// encoded with the Registry and BSONOptions of keyVaultClient.
//
// It is the method of the zero [Config]: nothing is logged.
func NewClientEncryption(keyVaultClient *mongo.Client, opts ...options.Lister[options.ClientEncryptionOptions]) (*ClientEncryption, error) {
	return Config{}.NewClientEncryption(keyVaultClient, opts...)
}

// NewClientEncryption is [NewClientEncryption] with the settings of cfg: its records go to
// cfg.Logger.
func (cfg Config) NewClientEncryption(keyVaultClient *mongo.Client, opts ...options.Lister[options.ClientEncryptionOptions]) (_ *ClientEncryption, err error) {
	defer classifyErr(&err)
	if keyVaultClient == nil {
		return nil, clientErr("keyVaultClient must not be nil")
	}
	args, err := listerOptions(opts)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(keyVaultClient, engineConfig{
		keyVaultNamespace: args.KeyVaultNamespace,
		kmsProviders:      args.KmsProviders,
		tls:               args.TLSConfig,
		httpClient:        args.HTTPClient,
		keyExpiration:     args.KeyExpiration,
		awsCreds:          args.AWSCredentialsProvider,
		codec:             codecOf(keyVaultClient),
		log:               newLogger(cfg.Logger),
	})
	if err != nil {
		return nil, err
	}
	e.log.log(context.Background(), slog.LevelInfo, "client encryption ready", slog.String("key_vault", args.KeyVaultNamespace),
		slog.Any("kms_providers", providerNames(args.KmsProviders)), expirationAttr(e.cacheTTL))
	return &ClientEncryption{e: e, keyVaultClient: keyVaultClient}, nil
}

func (ce *ClientEncryption) check() error {
	if ce.closed.Load() {
		return errClosed("the ClientEncryption")
	}
	return nil
}

// Close releases the ClientEncryption and disconnects the key vault client, as the driver's
// ClientEncryption does.
func (ce *ClientEncryption) Close(ctx context.Context) error {
	if ce.closed.Swap(true) {
		return errClosed("the ClientEncryption")
	}
	ce.e.kms.Close()
	if err := ce.keyVaultClient.Disconnect(ctx); err != nil {
		return &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "disconnect", Err: err}}
	}
	return nil
}

// checkMasterKeyProvider refuses a masterKey whose "provider" names another provider than the
// one the key is made with.
func checkMasterKeyProvider(masterKey bson.Raw, provider string) error {
	if masterKey == nil {
		return nil
	}
	v, err := masterKey.LookupErr("provider")
	if err != nil {
		return nil
	}
	if s, ok := v.StringValueOK(); !ok || s != provider {
		return clientErr("masterKey.provider %s does not match the KMS provider %q", v, provider)
	}
	return nil
}

// CreateDataKey makes a data key, wraps it with the named KMS provider ("local", "aws:prod",
// ...) under the master key of the options, inserts its key document into the key vault and
// returns its id (a UUID). The options may give keyAltNames, which must not name another key,
// and keyMaterial: the 96 bytes of the data key instead of random ones.
func (ce *ClientEncryption) CreateDataKey(ctx context.Context, kmsProvider string, opts ...options.Lister[options.DataKeyOptions]) (_ bson.Binary, err error) {
	defer classifyErr(&err)
	if err := ce.check(); err != nil {
		return bson.Binary{}, err
	}
	args, err := listerOptions(opts)
	if err != nil {
		return bson.Binary{}, err
	}
	start := time.Now()
	doc, id, err := ce.e.newKeyDocument(ctx, kmsProvider, args)
	if err != nil {
		return bson.Binary{}, err
	}
	if err := ce.e.insertKey(ctx, doc, args.KeyAltNames); err != nil {
		return bson.Binary{}, err
	}
	ce.e.log.log(ctx, slog.LevelInfo, "data key created", keyIDAttr(id), slog.String("kms_provider", kmsProvider),
		slog.Int("key_alt_names", len(args.KeyAltNames)), durationSince(start))
	return bson.Binary{Subtype: 4, Data: id[:]}, nil
}

// newKeyDocument makes the key document of a new data key, field for field as libmongocrypt
// writes it.
func (e *engine) newKeyDocument(ctx context.Context, kmsProvider string, args *options.DataKeyOptions) (bson.D, [16]byte, error) {
	var id [16]byte
	p, err := e.kms.Get(kmsProvider)
	if err != nil {
		return nil, id, &Error{Code: CodeClient, Err: err}
	}
	masterKey, err := e.codec.marshal(args.MasterKey, "masterKey")
	if err != nil {
		return nil, id, err
	}
	if err := checkMasterKeyProvider(masterKey, kmsProvider); err != nil {
		return nil, id, err
	}
	seen := map[string]bool{}
	for _, n := range args.KeyAltNames {
		if seen[n] {
			return nil, id, clientErr("keyAltNames holds %q twice", n)
		}
		seen[n] = true
	}
	dek := args.KeyMaterial
	if dek == nil {
		dek = make([]byte, kms.DataKeyLen)
		if _, err := io.ReadFull(e.rng, dek); err != nil {
			return nil, id, clientErr("generating a data key: %w", err)
		}
	} else if len(dek) != kms.DataKeyLen {
		return nil, id, clientErr("keyMaterial must be %d bytes, got %d", kms.DataKeyLen, len(dek))
	}
	start := time.Now()
	material, stored, err := p.Wrap(ctx, masterKey, dek)
	if err != nil {
		e.log.kms(ctx, "KMS encrypt", id, kmsProvider, start, err)
		return nil, id, wrapKMS(err)
	}
	if _, err := io.ReadFull(e.rng, id[:]); err != nil {
		return nil, id, clientErr("generating a key id: %w", err)
	}
	id[6] = id[6]&0x0f | 0x40 // UUID version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	e.log.kms(ctx, "KMS encrypt", id, kmsProvider, start, nil)
	now := bson.NewDateTimeFromTime(time.Now())
	doc := bson.D{{Key: "_id", Value: bson.Binary{Subtype: 4, Data: append([]byte(nil), id[:]...)}}}
	if len(args.KeyAltNames) > 0 {
		names := make(bson.A, len(args.KeyAltNames))
		for i, n := range args.KeyAltNames {
			names[i] = n
		}
		doc = append(doc, bson.E{Key: "keyAltNames", Value: names})
	}
	doc = append(doc,
		bson.E{Key: "keyMaterial", Value: bson.Binary{Subtype: 0, Data: material}},
		bson.E{Key: "creationDate", Value: now},
		bson.E{Key: "updateDate", Value: now},
		bson.E{Key: "status", Value: int32(0)},
		bson.E{Key: "masterKey", Value: stored},
	)
	return doc, id, nil
}

// insertKey inserts a key document, refusing keyAltNames that another key has.
func (e *engine) insertKey(ctx context.Context, doc bson.D, names []string) error {
	if err := e.checkAltNamesFree(ctx, names, nil); err != nil {
		return err
	}
	if _, err := e.keyVault.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return clientErr("a keyAltName of %q is already used by another key: %w", names, err)
		}
		return &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "insert", Err: err}}
	}
	id := doc[0].Value.(bson.Binary)
	// Without a unique index (servers that cannot express the partial index), two writers may
	// both have passed the check above: the later one backs out.
	for _, n := range names {
		if err := e.checkAltNameUnique(ctx, n, id); err != nil {
			if _, derr := e.keyVault.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); derr != nil {
				return errors.Join(err, &KeyVaultError{Op: "delete", Err: derr})
			}
			return err
		}
	}
	return nil
}

// checkAltNamesFree refuses keyAltNames that name a key other than except.
func (e *engine) checkAltNamesFree(ctx context.Context, names []string, except *bson.Binary) error {
	if len(names) == 0 {
		return nil
	}
	filter := bson.D{{Key: "keyAltNames", Value: bson.D{{Key: "$in", Value: names}}}}
	if except != nil {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: *except}}})
	}
	var other bson.Raw
	err := e.keyVault.FindOne(ctx, filter).Decode(&other)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil
	case err != nil:
		return &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: err}}
	}
	// The caller's names that the other key holds, and that key by its UUID, the form of the
	// CLI and of key ids elsewhere; not the other key's other names.
	held := map[string]bool{}
	if arr, ok := other.Lookup("keyAltNames").ArrayOK(); ok {
		vals, _ := arr.Values()
		for _, v := range vals {
			if s, ok := v.StringValueOK(); ok {
				held[s] = true
			}
		}
	}
	var taken []string
	for _, n := range names {
		if held[n] {
			taken = append(taken, n)
		}
	}
	owner := "another key"
	if sub, data, ok := other.Lookup("_id").BinaryOK(); ok && sub == 4 && len(data) == 16 {
		owner = "key " + uuidString([16]byte(data))
	}
	return clientErr("keyAltName %s already used by %s", strings.Trim(fmt.Sprintf("%q", taken), "[]"), owner)
}

// checkAltNameUnique verifies after a write that only key id holds the keyAltName.
func (e *engine) checkAltNameUnique(ctx context.Context, name string, id bson.Binary) error {
	n, err := e.keyVault.CountDocuments(ctx, bson.D{{Key: "keyAltNames", Value: name}})
	if err != nil {
		return &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "count", Err: err}}
	}
	if n > 1 {
		return clientErr("keyAltName %q is already used by another key", name)
	}
	return nil
}

// GetKey returns the key document with the given id (a UUID).
func (ce *ClientEncryption) GetKey(ctx context.Context, id bson.Binary) *mongo.SingleResult {
	if err := ce.check(); err != nil {
		return errResult(err)
	}
	return keyVaultResult(ce.e.keyVault.FindOne(ctx, bson.D{{Key: "_id", Value: id}}), "find")
}

// GetKeyByAltName returns the key document that has the given keyAltName.
func (ce *ClientEncryption) GetKeyByAltName(ctx context.Context, keyAltName string) *mongo.SingleResult {
	if err := ce.check(); err != nil {
		return errResult(err)
	}
	return keyVaultResult(ce.e.keyVault.FindOne(ctx, bson.D{{Key: "keyAltNames", Value: keyAltName}}), "find")
}

// GetKeys returns a cursor over every key document of the key vault.
func (ce *ClientEncryption) GetKeys(ctx context.Context) (*mongo.Cursor, error) {
	if err := ce.check(); err != nil {
		return nil, err
	}
	cur, err := ce.e.keyVault.Find(ctx, bson.D{})
	if err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: err}}
	}
	return cur, nil
}

// DeleteKey removes the key document with the given id and forgets the key if it is cached.
func (ce *ClientEncryption) DeleteKey(ctx context.Context, id bson.Binary) (*mongo.DeleteResult, error) {
	if err := ce.check(); err != nil {
		return nil, err
	}
	res, err := ce.e.keyVault.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if u, uerr := uuidFromBinary(id, "id"); uerr == nil {
		ce.e.cache.Evict(u)
	}
	if err != nil {
		return res, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "delete", Err: err}}
	}
	return res, nil
}

// AddKeyAltName adds keyAltName to the key with the given id and returns the key document as it
// was before. A keyAltName that names another key is refused, also on servers without the
// unique index on keyAltNames.
func (ce *ClientEncryption) AddKeyAltName(ctx context.Context, id bson.Binary, keyAltName string) *mongo.SingleResult {
	if err := ce.check(); err != nil {
		return errResult(err)
	}
	if err := ce.e.checkAltNamesFree(ctx, []string{keyAltName}, &id); err != nil {
		return errResult(err)
	}
	res := ce.e.keyVault.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "keyAltNames", Value: keyAltName}}}})
	prev, err := res.Raw()
	if err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return errResult(clientErr("keyAltName %q is already used by another key: %w", keyAltName, err))
		}
		return keyVaultResult(res, "update")
	}
	if err := ce.e.checkAltNameUnique(ctx, keyAltName, id); err != nil {
		// Back out: another writer got there first.
		if !containsString(prev.Lookup("keyAltNames"), keyAltName) {
			_, _ = ce.e.keyVault.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$pull", Value: bson.D{{Key: "keyAltNames", Value: keyAltName}}}})
		}
		return errResult(err)
	}
	return mongo.NewSingleResultFromDocument(prev, nil, nil)
}

func containsString(arr bson.RawValue, s string) bool {
	a, ok := arr.ArrayOK()
	if !ok {
		return false
	}
	vals, _ := a.Values()
	for _, v := range vals {
		if x, ok := v.StringValueOK(); ok && x == s {
			return true
		}
	}
	return false
}

// RemoveKeyAltName removes keyAltName from the key with the given id and returns the key
// document as it was before; the keyAltNames field goes when its last name goes. It sends the
// specification's single findAndModify with an aggregation-pipeline update; on a server that
// cannot run pipeline updates it falls back to plain single-document updates, each atomic.
func (ce *ClientEncryption) RemoveKeyAltName(ctx context.Context, id bson.Binary, keyAltName string) *mongo.SingleResult {
	if err := ce.check(); err != nil {
		return errResult(err)
	}
	if u, err := uuidFromBinary(id, "id"); err == nil {
		ce.e.cache.Evict(u)
	}
	ce.e.cache.EvictName(keyAltName)
	if !ce.e.noPipelineUpdates.Load() {
		res := ce.e.keyVault.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, removeAltNamePipeline(keyAltName))
		if !pipelineUnsupported(res.Err()) {
			return keyVaultResult(res, "update")
		}
		ce.e.noPipelineUpdates.Store(true)
	}
	// The last name: unset the field in one step.
	last := ce.e.keyVault.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "keyAltNames", Value: bson.A{keyAltName}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "keyAltNames", Value: ""}}}})
	if err := last.Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		return keyVaultResult(last, "update")
	}
	res := ce.e.keyVault.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "keyAltNames", Value: keyAltName}}}})
	if res.Err() != nil {
		return keyVaultResult(res, "update")
	}
	// A concurrent removal may have left an empty array: drop it, only if still empty.
	_, _ = ce.e.keyVault.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "keyAltNames", Value: bson.D{{Key: "$size", Value: 0}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "keyAltNames", Value: ""}}}})
	return res
}

// removeAltNamePipeline is the specification's update of RemoveKeyAltName: keyAltNames loses
// the name, and the field goes with its last name.
func removeAltNamePipeline(name string) bson.A {
	return bson.A{bson.D{{Key: "$set", Value: bson.D{{Key: "keyAltNames", Value: bson.D{{Key: "$cond", Value: bson.A{
		bson.D{{Key: "$eq", Value: bson.A{"$keyAltNames", bson.A{name}}}},
		"$$REMOVE",
		bson.D{{Key: "$filter", Value: bson.D{
			{Key: "input", Value: "$keyAltNames"},
			{Key: "cond", Value: bson.D{{Key: "$ne", Value: bson.A{"$$this", name}}}},
		}}},
	}}}}}}}}
}

// pipelineUnsupported tells the errors of servers that cannot run an update pipeline:
// NotImplemented (the embedded server), FailedToParse and TypeMismatch (servers before 4.2).
func pipelineUnsupported(err error) bool {
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		switch ce.Code {
		case 238, 9, 14:
			return true
		}
	}
	return false
}

func errResult(err error) *mongo.SingleResult {
	return mongo.NewSingleResultFromDocument(bson.D{}, err, nil)
}

// RewrapManyDataKey decrypts every data key matching filter and encrypts it again: with the
// provider and master key of the options, or, without a provider, under its own master key.
// Every key is rewrapped before anything is written, so that a KMS failure leaves every key as
// it was; the keys are then updated in one bulk write. With no matching key it returns a result
// without a BulkWriteResult.
func (ce *ClientEncryption) RewrapManyDataKey(ctx context.Context, filter any, opts ...options.Lister[options.RewrapManyDataKeyOptions]) (_ *mongo.RewrapManyDataKeyResult, err error) {
	defer classifyErr(&err)
	if err := ce.check(); err != nil {
		return nil, err
	}
	args, err := listerOptions(opts)
	if err != nil {
		return nil, err
	}
	if filter == nil {
		return nil, clientErr("the filter must not be nil; use bson.D{} to match every key")
	}
	f, err := ce.e.codec.marshal(filter, "filter")
	if err != nil {
		return nil, err
	}
	newMaster, err := ce.e.codec.marshal(args.MasterKey, "masterKey")
	if err != nil {
		return nil, err
	}
	if args.Provider == nil && newMaster != nil {
		return nil, clientErr("a masterKey needs a provider to tell its type")
	}
	var target kms.Provider
	if args.Provider != nil {
		if target, err = ce.e.kms.Get(*args.Provider); err != nil {
			return nil, &Error{Code: CodeClient, Err: err}
		}
		if err := checkMasterKeyProvider(newMaster, *args.Provider); err != nil {
			return nil, err
		}
	}
	docs, err := ce.e.findKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return &mongo.RewrapManyDataKeyResult{}, nil
	}
	start := time.Now()
	models := make([]mongo.WriteModel, len(docs))
	err = forEachKey(len(docs), func(i int) (err error) {
		models[i], err = ce.e.rewrapOne(ctx, docs[i], target, newMaster)
		return err
	})
	if err != nil {
		return nil, err
	}
	total := &mongo.BulkWriteResult{Acknowledged: true}
	for start := 0; start < len(models); start += rewrapBatch {
		res, err := ce.e.keyVault.BulkWrite(ctx, models[start:min(start+rewrapBatch, len(models))])
		if res != nil {
			total.MatchedCount += res.MatchedCount
			total.ModifiedCount += res.ModifiedCount
			total.Acknowledged = total.Acknowledged && res.Acknowledged
		}
		if err != nil {
			return &mongo.RewrapManyDataKeyResult{BulkWriteResult: total}, &Error{Code: CodeKeyVault,
				Message: fmt.Sprintf("%d of %d keys updated", total.ModifiedCount, len(models)),
				Err:     &KeyVaultError{Op: "update", Err: err}}
		}
	}
	targetName := "" // each key's own
	if args.Provider != nil {
		targetName = *args.Provider
	}
	ce.e.log.log(ctx, slog.LevelInfo, "data keys rewrapped", slog.Int("keys", len(models)),
		slog.String("kms_provider", targetName), durationSince(start))
	return &mongo.RewrapManyDataKeyResult{BulkWriteResult: total}, nil
}

// rewrapBatch is the number of key updates per bulk write of RewrapManyDataKey. Servers take
// far more per command; the embedded server stalls from 100 on, and the cost of a command per
// 50 keys is small next to the KMS calls of a rewrap.
const rewrapBatch = 50

// rewrapOne unwraps one key and wraps it for its new master key, returning the update.
func (e *engine) rewrapOne(ctx context.Context, doc bson.Raw, target kms.Provider, newMaster bson.Raw) (mongo.WriteModel, error) {
	k, err := parseKeyDoc(doc)
	if err != nil {
		return nil, err
	}
	dk, err := e.unwrap(ctx, k)
	if err != nil {
		return nil, withMessage(err, "rewrapping key "+uuidString(k.ID))
	}
	master := newMaster
	if target == nil {
		if target, err = e.kms.Get(k.Provider); err != nil {
			return nil, &Error{Code: CodeClient, Err: err}
		}
		master = k.MasterKey
	}
	start := time.Now()
	material, stored, err := target.Wrap(ctx, master, dk.raw)
	e.log.kms(ctx, "KMS encrypt", k.ID, target.Name(), start, err)
	if err != nil {
		return nil, withMessage(wrapKMS(err), "rewrapping key "+uuidString(k.ID))
	}
	return mongo.NewUpdateOneModel().
		SetFilter(bson.D{{Key: "_id", Value: bson.Binary{Subtype: 4, Data: k.ID[:]}}}).
		SetUpdate(bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "keyMaterial", Value: bson.Binary{Subtype: 0, Data: material}},
				{Key: "masterKey", Value: stored},
			}},
			{Key: "$currentDate", Value: bson.D{{Key: "updateDate", Value: true}}},
		}), nil
}
