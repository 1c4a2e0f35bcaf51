// Queryable Encryption collections: ClientEncryption.CreateEncryptedCollection and
// DropEncryptedCollection, and the create and drop commands of encryptedFieldsMap collections
// sent through an auto-encrypting client, with their state collections (ESC and ECOC).

package mongocrypt

import (
	"bytes"
	"context"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/analysis"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// CreateEncryptedCollection creates a Queryable Encryption collection: it makes a data key with
// kmsProvider and masterKey for every field of the EncryptedFields option whose keyId is null,
// then creates the state collections enxcol_.<coll>.esc and .ecoc, the collection with its
// encryptedFields and the index on __safeContent__. It returns the collection and the
// encryptedFields used.
//
// When a data key cannot be made, the error is a *[CreateDataKeyError]; when the collection
// cannot be created, a *[CreateEncryptedCollectionError]. Both carry the encryptedFields with
// the keys made so far, so that they can be used or deleted.
func (ce *ClientEncryption) CreateEncryptedCollection(ctx context.Context, db *mongo.Database, coll string,
	createOpts options.Lister[options.CreateCollectionOptions], kmsProvider string, masterKey any,
) (_ *mongo.Collection, _ bson.M, err error) {
	defer classifyErr(&err)
	if err := ce.check(); err != nil {
		return nil, nil, err
	}
	if db == nil {
		return nil, nil, clientErr("the database must not be nil")
	}
	if createOpts == nil {
		return nil, nil, clientErr("the create collection options must not be nil: they hold the encryptedFields")
	}
	args, err := listerOptions([]options.Lister[options.CreateCollectionOptions]{createOpts})
	if err != nil {
		return nil, nil, err
	}
	if args.EncryptedFields == nil {
		return nil, nil, clientErr("the create collection options have no encryptedFields")
	}
	// Encoded with the database's Registry and BSONOptions, as the driver does.
	raw, err := codecOf(db).marshal(args.EncryptedFields, "encryptedFields")
	if err != nil {
		return nil, nil, err
	}
	// Decode nested documents as bson.M too, as the driver does.
	dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(raw)))
	dec.DefaultDocumentM()
	var ef bson.M
	if err := dec.Decode(&ef); err != nil {
		return nil, nil, clientErr("encryptedFields: %w", err)
	}
	if fields, ok := ef["fields"].(bson.A); ok {
		for _, f := range fields {
			field, ok := f.(bson.M)
			if !ok {
				continue
			}
			if v, has := field["keyId"]; !has || v != nil {
				continue
			}
			dk := options.DataKey()
			if masterKey != nil {
				dk.SetMasterKey(masterKey)
			}
			id, err := ce.CreateDataKey(ctx, kmsProvider, dk)
			if err != nil {
				return nil, ef, &CreateDataKeyError{EncryptedFields: ef, Err: err}
			}
			field["keyId"] = id
		}
	}
	final, err := bson.Marshal(ef)
	if err != nil {
		return nil, ef, &CreateEncryptedCollectionError{EncryptedFields: ef, Err: clientErr("encoding the encryptedFields: %w", err)}
	}
	parsed, err := qe.ParseEncryptedFields(final)
	if err != nil {
		return nil, ef, &CreateEncryptedCollectionError{EncryptedFields: ef, Err: &Error{Code: CodeClient, Err: err}}
	}
	// Text search fields get the strEncodeVersion libmongocrypt adds to a create command.
	if final, err = parsed.WithStrEncodeVersion(final); err != nil {
		return nil, ef, &CreateEncryptedCollectionError{EncryptedFields: ef, Err: &Error{Code: CodeClient, Err: err}}
	}
	args.EncryptedFields = final
	if err := db.CreateCollection(ctx, coll, optionsOf(args)); err != nil {
		return nil, ef, &CreateEncryptedCollectionError{EncryptedFields: ef, Err: withMessage(err, "creating "+db.Name()+"."+coll)}
	}
	if err := checkEncryptedFieldsKept(ctx, db, coll, final); err != nil {
		return nil, ef, &CreateEncryptedCollectionError{EncryptedFields: ef, Err: err}
	}
	return db.Collection(coll), ef, nil
}

// optionsOf turns options back into a Lister.
func optionsOf(args *options.CreateCollectionOptions) *options.CreateCollectionOptionsBuilder {
	b := options.CreateCollection()
	b.Opts = append(b.Opts, func(o *options.CreateCollectionOptions) error {
		*o = *args
		return nil
	})
	return b
}

// DropEncryptedCollection drops a Queryable Encryption collection with its state collections
// (enxcol_.<coll>.esc and .ecoc, or the names its encryptedFields give). encryptedFields may be
// nil: it is then read from the server.
func DropEncryptedCollection(ctx context.Context, coll *mongo.Collection, encryptedFields any) (err error) {
	defer classifyErr(&err)
	if coll == nil {
		return clientErr("the collection must not be nil")
	}
	ns := coll.Database().Name() + "." + coll.Name()
	if encryptedFields == nil {
		specs, err := coll.Database().ListCollectionSpecifications(ctx, bson.D{{Key: "name", Value: coll.Name()}})
		if err != nil {
			return withMessage(err, "reading the collection options of "+ns)
		}
		if len(specs) == 0 {
			return nil // nothing to drop, as Drop
		}
		v, err := specs[0].Options.LookupErr("encryptedFields")
		if err != nil {
			return clientErr("collection %s has no encryptedFields: drop it with Collection.Drop", ns)
		}
		encryptedFields = v.Document()
	}
	if err := coll.Drop(ctx, options.DropCollection().SetEncryptedFields(encryptedFields)); err != nil {
		return withMessage(err, "dropping "+ns)
	}
	return nil
}

// drop and create handle the drop and create of Queryable Encryption collections. The driver
// creates and drops the state collections itself only when the encryptedFields are in the
// options of the call; those of encryptedFieldsMap and of the server's listCollections it
// cannot see (Connect keeps the auto encryption options from it), so they are handled here: a
// create gets the state collections, the encryptedFields and the __safeContent__ index; a drop
// drops the state collections first.

// drop handles a drop command. encryptedFields are those of encryptedFieldsMap or, as the
// driver reads them when auto encryption is on, those of the server's listCollections, read
// for each drop (not cached). A drop of a state collection, and the drop of a collection whose
// state collections the driver has just dropped through this client (it had the
// encryptedFields), read nothing.
func (a *AutoEncrypter) drop(ctx context.Context, db string, cmd bson.Raw) (bson.Raw, error) {
	coll := targetCollection(cmd)
	ns := db + "." + coll
	defer a.schemas.forget(ns)
	if a.stateDrops.note(db, coll) || a.stateDrops.take(db, coll) {
		return cmd, nil
	}
	ef := a.schemas.local(ns).EncryptedFields
	if ef == nil && !a.schemas.inMaps(ns) {
		c, err := a.schemas.fetch(ctx, ns)
		if err != nil {
			return nil, err
		}
		ef = c.s.EncryptedFields
	}
	if ef != nil {
		if err := a.dropStateCollections(ctx, db, coll, ef); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// stateDropLog remembers, per collection, the drops of its state collections (default
// names) that passed through an AutoEncrypter, so that the drop of the collection that
// follows them does not drop them again.
type stateDropLog struct {
	mu      sync.Mutex
	dropped map[string]uint8 // "db.coll" -> bit 1: its ESC, bit 2: its ECOC
}

// note records a drop of coll in db when coll is a state collection, and tells whether it is.
func (l *stateDropLog) note(db, coll string) bool {
	rest, ok := strings.CutPrefix(coll, "enxcol_.")
	if !ok {
		return false
	}
	var bit uint8
	if base, ok := strings.CutSuffix(rest, ".esc"); ok {
		rest, bit = base, 1
	} else if base, ok := strings.CutSuffix(rest, ".ecoc"); ok {
		rest, bit = base, 2
	} else {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped == nil {
		l.dropped = map[string]uint8{}
	}
	l.dropped[db+"."+rest] |= bit
	return true
}

// take tells whether both state collections of coll were dropped since its last drop, and
// forgets them.
func (l *stateDropLog) take(db, coll string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ns := db + "." + coll
	both := l.dropped[ns] == 3
	delete(l.dropped, ns)
	return both
}

// create handles a create command; schemas holds the schema of its namespace from the maps,
// whose keyAltNames create resolves. Query analysis of the create (it refuses validators that
// compare encrypted fields, and views) runs here, once the target's encryptedFields from a map
// name their keys by id. For an encryptedFieldsMap collection that is after the state
// collections exist, the order of the driver, which hands libmongocrypt the create then.
func (a *AutoEncrypter) create(ctx context.Context, db string, cmd bson.Raw, schemas map[string]analysis.Schema) (bson.Raw, error) {
	coll := targetCollection(cmd)
	ns := db + "." + coll
	defer a.schemas.forget(ns)
	// analyze runs query analysis with the target's map encryptedFields resolved to mapEF.
	analyze := func(mapEF bson.Raw) error {
		if a.bypassQueryAnalysis {
			return nil
		}
		s := schemas[ns]
		s.EncryptedFields = mapEF
		schemas[ns] = s
		if _, err := analysis.Analyze(db, cmd, schemas); err != nil {
			return analysisErr(err)
		}
		return nil
	}
	mapEF := schemas[ns].EncryptedFields
	explicit, err := cmd.LookupErr("encryptedFields")
	if err == nil {
		// The driver's CreateCollection with EncryptedFields creates the state collections
		// and the index around this command itself.
		d, ok := explicit.DocumentOK()
		if !ok {
			return nil, clientErr("create: encryptedFields must be a document")
		}
		if mapEF != nil {
			if mapEF, err = a.e.resolveAltNames(ctx, mapEF); err != nil {
				return nil, err
			}
		}
		if err := analyze(mapEF); err != nil {
			return nil, err
		}
		ef, err := a.e.resolveAltNames(ctx, d)
		if err != nil {
			return nil, err
		}
		return withEncryptedFields(cmd, ef)
	}
	if _, inMap := a.schemas.efMap[ns]; !inMap || mapEF == nil {
		if err := analyze(mapEF); err != nil {
			return nil, err
		}
		return cmd, nil
	}
	// encryptedFieldsMap: do what the driver would have done, around the command, with its
	// check of the server's version first.
	if err := a.checkQEWireVersion(ctx); err != nil {
		return nil, err
	}
	if err := a.createStateCollections(ctx, db, coll, mapEF); err != nil {
		return nil, err
	}
	if mapEF, err = a.e.resolveAltNames(ctx, mapEF); err != nil {
		return nil, err
	}
	if err := analyze(mapEF); err != nil {
		return nil, err
	}
	out, err := withEncryptedFields(cmd, mapEF)
	if err != nil {
		return nil, err
	}
	if err := a.schemas.meta.Database(db).RunCommand(ctx, out).Err(); err != nil {
		return nil, withMessage(err, "creating "+ns)
	}
	// The collection exists now. The command the driver sends in place of create makes the
	// __safeContent__ index, the last step of creating a Queryable Encryption collection, and
	// answers as create does.
	return bson.Raw(bsoncore.NewDocumentBuilder().
		AppendString("createIndexes", coll).
		AppendArray("indexes", bsoncore.NewArrayBuilder().AppendDocument(bsoncore.NewDocumentBuilder().
			AppendDocument("key", bsoncore.NewDocumentBuilder().AppendInt32("__safeContent__", 1).Build()).
			AppendString("name", "__safeContent___1").Build()).Build()).
		Build()), nil
}

// withEncryptedFields returns the create command with its encryptedFields ef checked and
// given the strEncodeVersion libmongocrypt adds.
func withEncryptedFields(cmd, ef bson.Raw) (bson.Raw, error) {
	parsed, err := qe.ParseEncryptedFields(ef)
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	if ef, err = parsed.WithStrEncodeVersion(ef); err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	return replaceOrAppend(cmd, "encryptedFields", ef), nil
}

func replaceOrAppend(doc bson.Raw, key string, sub bson.Raw) bson.Raw {
	if _, err := doc.LookupErr(key); err == nil {
		return replaceField(doc, key, bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: sub})
	}
	return appendDoc(doc, key, sub)
}

// stateCollections returns the names of the ESC and ECOC collections of coll.
func stateCollections(coll string, ef bson.Raw) (esc, ecoc string) {
	esc, ecoc = "enxcol_."+coll+".esc", "enxcol_."+coll+".ecoc"
	if s, ok := ef.Lookup("escCollection").StringValueOK(); ok {
		esc = s
	}
	if s, ok := ef.Lookup("ecocCollection").StringValueOK(); ok {
		ecoc = s
	}
	return esc, ecoc
}

func (a *AutoEncrypter) createStateCollections(ctx context.Context, db, coll string, ef bson.Raw) error {
	esc, ecoc := stateCollections(coll, ef)
	for _, name := range []string{esc, ecoc} {
		err := a.schemas.meta.Database(db).CreateCollection(ctx, name,
			options.CreateCollection().SetClusteredIndex(bson.D{{Key: "key", Value: bson.D{{Key: "_id", Value: 1}}}, {Key: "unique", Value: true}}))
		if err != nil {
			return withMessage(err, "creating the state collection "+db+"."+name)
		}
	}
	return nil
}

func (a *AutoEncrypter) dropStateCollections(ctx context.Context, db, coll string, ef bson.Raw) error {
	esc, ecoc := stateCollections(coll, ef)
	for _, name := range []string{esc, ecoc} {
		if err := a.schemas.meta.Database(db).Collection(name).Drop(ctx); err != nil {
			return withMessage(err, "dropping the state collection "+db+"."+name)
		}
	}
	return nil
}

// qeWireVersion is the first wire version of servers with Queryable Encryption as this module
// speaks it (MongoDB 7.0).
const qeWireVersion = 21

// checkQEWireVersion refuses servers older than MongoDB 7.0, as the driver does before it
// creates an encrypted collection, with the message the specification's tests expect. The
// hello it runs is not reported to the client's command monitor.
func (a *AutoEncrypter) checkQEWireVersion(ctx context.Context) error {
	var hello struct {
		MaxWireVersion int32 `bson:"maxWireVersion"`
	}
	if err := a.schemas.meta.Database("admin").RunCommand(probeCtx(ctx), bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return withMessage(err, "reading the server's wire version")
	}
	if hello.MaxWireVersion < qeWireVersion {
		return clientErr("Driver support of Queryable Encryption is incompatible with server. Upgrade server to use Queryable Encryption. Got maxWireVersion %d but need maxWireVersion >= %d", hello.MaxWireVersion, qeWireVersion)
	}
	return nil
}
