package mongocrypt

import (
	"bytes"
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
