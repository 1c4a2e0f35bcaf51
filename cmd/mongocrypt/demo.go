package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver"
)

const (
	demoDB       = "mongocrypt_demo"
	demoColl     = "patients"
	demoKeyVault = demoDB + ".__keyVault"
	demoQEColl   = "records"
)

func demoSpec() *cmdSpec {
	return &cmdSpec{
		path:    "demo",
		summary: "encrypt, store and read back documents on an embedded server",
		desc: `Creates a local master key and a data key, inserts documents whose sensitive fields are
encrypted on the client, and prints what the server stores next to what an auto-decrypting
client reads back. Without --uri it starts an embedded MongoDB-compatible server (FerretDB);
with --uri it uses the database mongocrypt_demo of that server, dropping it first.`,
		examples: []string{"mongocrypt demo", "mongocrypt demo --uri mongodb://localhost:27017"},
		maxArgs:  0,
		setup: func(fs *flag.FlagSet) runFunc {
			uri := fs.String("uri", "", "the MongoDB connection `URI` (default: start an embedded server)")
			return func(ctx context.Context, a *app, _ []string, _ *connFlags) error {
				a.secrets = append(a.secrets, uriSecrets(*uri)...)
				ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				defer cancel()
				return demo(ctx, *uri, a.stdout)
			}
		},
	}
}

func demo(ctx context.Context, uri string, out io.Writer) error {
	if uri == "" {
		fmt.Fprintln(out, "Starting an embedded MongoDB-compatible server (FerretDB)...")
		s, err := testserver.Start()
		if err != nil {
			return err
		}
		defer s.Stop()
		uri = s.URI()
	}
	fmt.Fprintln(out, "Server:", redactURI(uri))

	// 1. A local master key. A real deployment keeps it in a KMS or a secret store.
	masterKey := make([]byte, 96)
	if _, err := rand.Read(masterKey); err != nil {
		return err
	}
	kmsProviders := map[string]map[string]any{"local": {"key": masterKey}}

	plain, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer plain.Disconnect(context.Background())
	if err := plain.Database(demoDB).Drop(ctx); err != nil {
		return err
	}

	// 2. A data key, stored in the key vault wrapped by the master key.
	kvClient, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	ce, err := mongocrypt.NewClientEncryption(kvClient, options.ClientEncryption().
		SetKeyVaultNamespace(demoKeyVault).SetKmsProviders(kmsProviders))
	if err != nil {
		return err
	}
	defer ce.Close(context.Background())
	keyID, err := ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"demo-key"}))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created data key %s (keyAltName \"demo-key\")\n\n", uuidString(keyID.Data))

	// 3. Documents whose sensitive fields are encrypted before they leave the process.
	encrypt := func(v any, algo string) (bson.Binary, error) {
		t, data, err := bson.MarshalValue(v)
		if err != nil {
			return bson.Binary{}, err
		}
		return ce.Encrypt(ctx, bson.RawValue{Type: t, Value: data},
			options.Encrypt().SetKeyAltName("demo-key").SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-"+algo))
	}
	patients := []struct {
		name, ssn string
		blood     string
		visits    int32
	}{
		{"Jon Doe", "457-55-5462", "AB+", 3},
		{"Ana Roe", "123-45-6789", "O-", 1},
	}
	coll := plain.Database(demoDB).Collection(demoColl)
	for i, p := range patients {
		ssn, err := encrypt(p.ssn, "Deterministic")
		if err != nil {
			return err
		}
		record, err := encrypt(bson.D{{Key: "bloodType", Value: p.blood}, {Key: "visits", Value: p.visits}}, "Random")
		if err != nil {
			return err
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: i + 1}, {Key: "name", Value: p.name}, {Key: "ssn", Value: ssn}, {Key: "medicalRecord", Value: record}}); err != nil {
			return err
		}
	}

	// 4. An auto-decrypting client: replies are decrypted transparently.
	auto, err := mongocrypt.Connect(options.Client().ApplyURI(uri).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(demoKeyVault).SetKmsProviders(kmsProviders).SetBypassAutoEncryption(true)))
	if err != nil {
		return err
	}
	defer auto.Disconnect(context.Background())

	// The deterministic field can be queried by its ciphertext.
	ssn, err := encrypt("457-55-5462", "Deterministic")
	if err != nil {
		return err
	}
	for _, filter := range []bson.D{{{Key: "_id", Value: 1}}, {{Key: "ssn", Value: ssn}}, {{Key: "_id", Value: 2}}} {
		stored, err := coll.FindOne(ctx, filter).Raw()
		if err != nil {
			return err
		}
		read, err := auto.Database(demoDB).Collection(demoColl).FindOne(ctx, filter).Raw()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "find %s\n  stored on the server: %s\n  read by the client:   %s\n\n", bsonString(filter), shorten(stored), read)
	}
	fmt.Fprintln(out, "The server never saw the SSNs or the medical records in plaintext.")
	fmt.Fprintln(out)
	return demoQE(ctx, uri, plain, ce, kmsProviders, out)
}

// demoQE shows Queryable Encryption: an encrypted collection with an equality field and a range
// field, what the server stores, and an equality and a range query answered through automatic
// encryption, whose schema comes from the server (listCollections).
func demoQE(ctx context.Context, uri string, plain *mongo.Client, ce *mongocrypt.ClientEncryption, kmsProviders map[string]map[string]any, out io.Writer) error {
	fmt.Fprintln(out, "Queryable Encryption")
	ef := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}},
		bson.D{{Key: "path", Value: "age"}, {Key: "bsonType", Value: "int"}, {Key: "keyId", Value: nil},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"}, {Key: "min", Value: int32(0)}, {Key: "max", Value: int32(150)}, {Key: "sparsity", Value: int64(1)}, {Key: "trimFactor", Value: int32(4)}}}},
	}}}
	if _, _, err := ce.CreateEncryptedCollection(ctx, plain.Database(demoDB), demoQEColl,
		options.CreateCollection().SetEncryptedFields(ef), "local", nil); err != nil {
		return err
	}
	fmt.Fprintf(out, "Created the encrypted collection %s.%s: ssn (equality), age (range 0..150), a data key each\n\n", demoDB, demoQEColl)

	// No schema in the options: the client reads the collection's encryptedFields from the server.
	auto, err := mongocrypt.Connect(options.Client().ApplyURI(uri).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(demoKeyVault).SetKmsProviders(kmsProviders)))
	if err != nil {
		return err
	}
	defer auto.Disconnect(context.Background())
	coll := auto.Database(demoDB).Collection(demoQEColl)
	people := []bson.D{
		{{Key: "_id", Value: 1}, {Key: "name", Value: "Jon Doe"}, {Key: "ssn", Value: "457-55-5462"}, {Key: "age", Value: int32(42)}},
		{{Key: "_id", Value: 2}, {Key: "name", Value: "Ana Roe"}, {Key: "ssn", Value: "123-45-6789"}, {Key: "age", Value: int32(29)}},
		{{Key: "_id", Value: 3}, {Key: "name", Value: "Max Poe"}, {Key: "ssn", Value: "987-65-4321"}, {Key: "age", Value: int32(35)}},
	}
	for _, p := range people {
		if _, err := coll.InsertOne(ctx, p); err != nil {
			return err
		}
	}
	stored, err := plain.Database(demoDB).Collection(demoQEColl).FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "insert %s\n  stored on the server: %s\n\n", bsonString(people[0]), shorten(stored))
	esc, err := plain.Database(demoDB).Collection("enxcol_."+demoQEColl+".esc").CountDocuments(ctx, bson.D{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "The server's state collection enxcol_.%s.esc holds %d entries (one per value and range edge).\n\n", demoQEColl, esc)

	queries := []struct {
		what   string
		filter bson.D
	}{
		{"equality", bson.D{{Key: "ssn", Value: "123-45-6789"}}},
		{"range", bson.D{{Key: "age", Value: bson.D{{Key: "$gte", Value: int32(30)}, {Key: "$lte", Value: int32(50)}}}}},
	}
	for _, q := range queries {
		cur, err := coll.Find(ctx, q.filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
			SetProjection(bson.D{{Key: "__safeContent__", Value: 0}}))
		if err != nil {
			return err
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		fmt.Fprintf(out, "find (%s) %s\n", q.what, bsonString(q.filter))
		for _, d := range docs {
			fmt.Fprintf(out, "  read by the client: %s\n", d)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "The server answered both queries from tags; it never saw an SSN or an age in plaintext.")
	return nil
}

func bsonString(d bson.D) string {
	b, _ := bson.Marshal(d)
	return shorten(b)
}

// shorten prints a document with long binary values cut short.
func shorten(doc bson.Raw) string {
	elems, err := doc.Elements()
	if err != nil {
		return doc.String()
	}
	s := "{"
	for i, e := range elems {
		if i > 0 {
			s += ", "
		}
		v := e.Value()
		if st, data, ok := v.BinaryOK(); ok && st == 6 && len(data) >= 8 {
			s += fmt.Sprintf("%q: BinData(6, %x...%d bytes)", e.Key(), data[:8], len(data))
			continue
		}
		if arr, ok := v.ArrayOK(); ok && e.Key() == "__safeContent__" {
			vals, _ := arr.Values()
			s += fmt.Sprintf("%q: [%d tags]", e.Key(), len(vals))
			continue
		}
		s += fmt.Sprintf("%q: %s", e.Key(), v)
	}
	return s + "}"
}
