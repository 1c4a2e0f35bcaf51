package mongocrypt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// noQEServerURI is a server that does not do the server side of Queryable Encryption: the
// embedded FerretDB without the project's layer. It accepts create with encryptedFields and
// drops them, and refuses encryptionInformation.
func noQEServerURI(t *testing.T) string {
	t.Helper()
	if realMongoDB {
		t.Skip("needs a server without Queryable Encryption: the embedded FerretDB without its layer")
	}
	a, err := testenv.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if a.FerretDB == "" {
		t.Fatal("the test servers did not report FerretDB's own address")
	}
	return a.FerretDB
}

// TestCreateEncryptedCollectionServerWithoutQE: a server that drops encryptedFields makes
// CreateEncryptedCollection fail with ErrQueryableEncryptionUnsupported, and leaves no
// collection behind that clients would fill with plaintext.
func TestCreateEncryptedCollectionServerWithoutQE(t *testing.T) {
	uri := noQEServerURI(t)
	ctx := t.Context()
	plain, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Disconnect(context.Background())
	dbName := uniqueDB(t)
	db := plain.Database(dbName)
	defer db.Drop(context.Background())
	ce, err := NewClientEncryption(plain, options.ClientEncryption().SetKeyVaultNamespace(dbName+".datakeys").SetKmsProviders(localProviders()))
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(context.Background())
	ef := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}},
	}}}
	_, got, err := ce.CreateEncryptedCollection(ctx, db, "patients", options.CreateCollection().SetEncryptedFields(ef), "local", nil)
	if err == nil {
		t.Fatal("CreateEncryptedCollection succeeded on a server that drops encryptedFields")
	}
	if !errors.Is(err, ErrQueryableEncryptionUnsupported) {
		t.Fatalf("error is not ErrQueryableEncryptionUnsupported: %v", err)
	}
	var cece *CreateEncryptedCollectionError
	if !errors.As(err, &cece) || cece.EncryptedFields == nil || got == nil {
		t.Fatalf("the error does not carry the encryptedFields with the new key ids: %v", err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeClient {
		t.Fatalf("not a client *Error: %v", err)
	}
	for _, want := range []string{"does not support Queryable Encryption", dbName + ".patients", "dropped again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error text lacks %q: %v", want, err)
		}
	}
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n != "datakeys" {
			t.Errorf("collection %s left behind (have %v)", n, names)
		}
	}
}

// TestEncryptionInformationRefused: automatic encryption with an encryptedFieldsMap against a
// server that refuses encryptionInformation fails with an error that says the server does not
// support Queryable Encryption, keeps the server's CommandError in the chain, stores nothing,
// and shows the command monitor no probe.
func TestEncryptionInformationRefused(t *testing.T) {
	uri := noQEServerURI(t)
	ctx := t.Context()
	env := newEnv(t)
	key, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	dbName := uniqueDB(t)
	ef := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: key}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}},
	}}}
	var mu sync.Mutex
	var started []string
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		started = append(started, e.CommandName+" "+e.Command.String())
		mu.Unlock()
	}}
	// The key vault is on the test server, the data on the server without Queryable Encryption.
	kvOpts := options.Client().ApplyURI(testURI)
	auto := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
		SetKeyVaultClientOptions(kvOpts).
		SetEncryptedFieldsMap(map[string]any{dbName + ".patients": ef})
	c, err := Connect(options.Client().ApplyURI(uri).SetMonitor(mon).SetAutoEncryptionOptions(auto))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	plain, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Disconnect(context.Background())
	defer plain.Database(dbName).Drop(context.Background())

	const secret = "457-55-5462"
	_, err = c.Database(dbName).Collection("patients").InsertOne(ctx, bson.D{{Key: "ssn", Value: secret}})
	if err == nil {
		t.Fatal("insert with encryptionInformation succeeded on a server without Queryable Encryption")
	}
	if !errors.Is(err, ErrQueryableEncryptionUnsupported) {
		t.Fatalf("error is not ErrQueryableEncryptionUnsupported: %v", err)
	}
	var cmdErr mongo.CommandError
	if !errors.As(err, &cmdErr) {
		t.Fatalf("the server's CommandError is not in the chain: %v", err)
	}
	for _, want := range []string{"does not support Queryable Encryption", "encryptionInformation", dbName + ".patients"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error text lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error text carries the plaintext: %v", err)
	}
	n, err := plain.Database(dbName).Collection("patients").CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d documents stored", n)
	}
	// A second insert gets the same answer without asking again.
	_, err = c.Database(dbName).Collection("patients").InsertOne(ctx, bson.D{{Key: "ssn", Value: secret}})
	if !errors.Is(err, ErrQueryableEncryptionUnsupported) {
		t.Fatalf("second insert: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range started {
		if strings.Contains(s, "encryptionInformation") {
			t.Errorf("the command monitor saw a command with encryptionInformation: %.200s", s)
		}
		if strings.Contains(s, secret) {
			t.Errorf("the command monitor saw the plaintext: %.200s", s)
		}
	}
}
