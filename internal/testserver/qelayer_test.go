package testserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// layerClient starts an embedded server and connects a plain client to its layer.
func layerClient(t *testing.T) *mongo.Client {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	c, err := mongo.Connect(options.Client().ApplyURI(s.URI()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// TestLayerBulkWrite: the client bulkWrite command, which FerretDB lacks, runs as one command
// per operation, with the server's counts and per-operation errors; an ordered bulkWrite stops
// at its first error.
func TestLayerBulkWrite(t *testing.T) {
	ctx := t.Context()
	c := layerClient(t)
	coll := c.Database("db").Collection("c")
	models := []mongo.ClientBulkWrite{
		{Database: "db", Collection: "c", Model: mongo.NewClientInsertOneModel().SetDocument(bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: 1}})},
		{Database: "db", Collection: "c", Model: mongo.NewClientInsertOneModel().SetDocument(bson.D{{Key: "_id", Value: 2}, {Key: "x", Value: 2}})},
		{Database: "db", Collection: "other", Model: mongo.NewClientInsertOneModel().SetDocument(bson.D{{Key: "_id", Value: 1}})},
		{Database: "db", Collection: "c", Model: mongo.NewClientUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: 1}}).SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 10}}}})},
		{Database: "db", Collection: "c", Model: mongo.NewClientUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: 3}}).SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 3}}}}).SetUpsert(true)},
		{Database: "db", Collection: "c", Model: mongo.NewClientDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: 2}})},
	}
	res, err := c.BulkWrite(ctx, models)
	if err != nil {
		t.Fatal(err)
	}
	if res.InsertedCount != 3 || res.MatchedCount != 1 || res.ModifiedCount != 1 || res.UpsertedCount != 1 || res.DeletedCount != 1 {
		t.Fatalf("counts: %+v", res)
	}
	var docs []bson.M
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0]["x"] != int32(10) || docs[1]["x"] != int32(3) {
		t.Fatalf("collection after the bulkWrite: %v", docs)
	}
	// A duplicate _id fails its operation; ordered, the next one does not run.
	_, err = c.BulkWrite(ctx, []mongo.ClientBulkWrite{
		{Database: "db", Collection: "c", Model: mongo.NewClientInsertOneModel().SetDocument(bson.D{{Key: "_id", Value: 1}})},
		{Database: "db", Collection: "c", Model: mongo.NewClientInsertOneModel().SetDocument(bson.D{{Key: "_id", Value: 9}})},
	})
	var be mongo.ClientBulkWriteException
	if !errorsAs(err, &be) || len(be.WriteErrors) != 1 || be.WriteErrors[0].Code != 11000 {
		t.Fatalf("duplicate key in an ordered bulkWrite: %v", err)
	}
	if n, _ := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: 9}}); n != 0 {
		t.Fatal("the operation after the failed one ran")
	}
}

// TestLayerRefusesWithoutEncryptionInformation: a collection created with encryptedFields
// refuses plaintext in an encrypted field (its implicit validator), any command carrying a
// Queryable Encryption payload without encryptionInformation is refused, and compaction
// checks its target and tokens.
func TestLayerRefusesWithoutEncryptionInformation(t *testing.T) {
	ctx := t.Context()
	c := layerClient(t)
	db := c.Database("db")
	key := bson.Binary{Subtype: 4, Data: make([]byte, 16)}
	ef := bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: key}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}}}}}
	if err := db.CreateCollection(ctx, "enc", options.CreateCollection().SetEncryptedFields(ef)); err != nil {
		t.Fatal(err)
	}
	enc := db.Collection("enc")
	_, err := enc.InsertOne(ctx, bson.D{{Key: "ssn", Value: "LAYER-PLAINTEXT"}})
	if err == nil || !strings.Contains(err.Error(), "Document failed validation") || strings.Contains(err.Error(), "LAYER-PLAINTEXT") {
		t.Fatalf("plaintext in an encrypted field: %v", err)
	}
	_, err = enc.UpdateOne(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "ssn", Value: "LAYER-PLAINTEXT"}}}}, options.UpdateOne().SetUpsert(true))
	if err == nil || !strings.Contains(err.Error(), "Document failed validation") {
		t.Fatalf("plaintext set by an upsert: %v", err)
	}
	if n, _ := enc.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d documents stored", n)
	}
	// Any client payload subtype (11 insert, 12 find) without encryptionInformation, in any
	// collection, is refused before FerretDB sees it.
	for _, sub := range []byte{11, 12} {
		payload := bson.Binary{Subtype: 6, Data: []byte{sub, 5, 0, 0, 0, 0}}
		_, err = db.Collection("plain").InsertOne(ctx, bson.D{{Key: "v", Value: payload}})
		if err == nil || !strings.Contains(err.Error(), "no encryptionInformation") {
			t.Fatalf("a payload %d in an insert without encryptionInformation: %v", sub, err)
		}
		err = db.Collection("plain").FindOne(ctx, bson.D{{Key: "v", Value: payload}}).Err()
		if err == nil || !strings.Contains(err.Error(), "no encryptionInformation") {
			t.Fatalf("a payload %d in a find without encryptionInformation: %v", sub, err)
		}
	}
	err = db.RunCommand(ctx, bson.D{{Key: "compactStructuredEncryptionData", Value: "plain"}, {Key: "compactionTokens", Value: bson.D{}}}).Err()
	if err == nil || !strings.Contains(err.Error(), "not an encrypted collection") {
		t.Fatalf("compacting a plain collection: %v", err)
	}
	err = db.RunCommand(ctx, bson.D{{Key: "compactStructuredEncryptionData", Value: "enc"}}).Err()
	if err == nil || !strings.Contains(err.Error(), "compactionTokens' is missing") {
		t.Fatalf("compaction without tokens: %v", err)
	}
	rep, err := db.RunCommand(ctx, bson.D{{Key: "compactStructuredEncryptionData", Value: "enc"}, {Key: "compactionTokens", Value: bson.D{}}}).Raw()
	if err != nil {
		t.Fatalf("compacting an empty encrypted collection: %v", err)
	}
	if _, err := rep.LookupErr("stats", "esc", "deleted"); err != nil {
		t.Fatalf("compaction reply: %v", rep)
	}
}

// TestLayerConstInAggregate: {$const: v}, as MongoDB's query analysis writes the constants
// of $group, runs on FerretDB, which knows neither $const nor $literal in $group.
func TestLayerConstInAggregate(t *testing.T) {
	ctx := t.Context()
	c := layerClient(t)
	coll := c.Database("db").Collection("c")
	if _, err := coll.InsertMany(ctx, []any{bson.D{{Key: "a", Value: 1}}, bson.D{{Key: "a", Value: 2}}}); err != nil {
		t.Fatal(err)
	}
	cur, err := coll.Aggregate(ctx, bson.A{bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$const", Value: 1}}}, {Key: "n", Value: bson.D{{Key: "$sum", Value: bson.D{{Key: "$const", Value: 1}}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []bson.M
	if err := cur.All(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["n"] != int32(2) {
		t.Fatalf("$group with $const: %v", got)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
