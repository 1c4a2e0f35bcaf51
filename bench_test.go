package mongocrypt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const bulkFields = 1500

// bulkDocument is the specification's bulk decryption workload (client-side-encryption
// tests/benchmarks.md): {key0001: <"value 0001" deterministic>, ..., key1500: ...}.
func bulkDocument(b testing.TB, env *testEnv) bson.Raw {
	ctx := context.Background()
	id, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		b.Fatal(err)
	}
	doc := make(bson.D, 0, bulkFields)
	for i := 1; i <= bulkFields; i++ {
		ct, err := env.ce.Encrypt(ctx, rawValue(b, fmt.Sprintf("value %04d", i)),
			options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"))
		if err != nil {
			b.Fatal(err)
		}
		doc = append(doc, bson.E{Key: fmt.Sprintf("key%04d", i), Value: ct})
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkBulkDecrypt decrypts the 1500-field document through AutoEncrypter.Decrypt with 1,
// 2, 8 and 64 goroutines sharing one AutoEncrypter; docs/s is the figure to compare with
// libmongocrypt's (bench/bulkdecrypt runs both).
func BenchmarkBulkDecrypt(b *testing.B) {
	env := newEnv(b)
	doc := bulkDocument(b, env)
	a, err := NewAutoEncrypter(bypassOptions(env, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())
	ctx := context.Background()
	// Warm up: the key is fetched and cached.
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		if _, err := a.Decrypt(ctx, doc); err != nil {
			b.Fatal(err)
		}
	}
	for _, g := range []int{1, 2, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			b.ResetTimer()
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := a.Decrypt(ctx, doc); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// BenchmarkExplicit measures one explicit encryption and decryption of a short string with a
// cached key.
func BenchmarkExplicit(b *testing.B) {
	env := newEnv(b)
	ctx := context.Background()
	id, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		b.Fatal(err)
	}
	v := rawValue(b, "457-55-5462")
	for _, algo := range []string{"Deterministic", "Random"} {
		opts := options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-" + algo)
		ct, err := env.ce.Encrypt(ctx, v, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Encrypt/"+algo, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := env.ce.Encrypt(ctx, v, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Decrypt/"+algo, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := env.ce.Decrypt(ctx, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchID numbers the documents the benchmarks insert, across runs (-count).
var benchID atomic.Int64

// BenchmarkAutoEncryptThroughput inserts and finds documents with three CSFLE fields through
// an auto-encrypting client and through a plain client on the same server: the ratio of the
// two is the cost of automatic encryption (query analysis, encryption, decryption).
func BenchmarkAutoEncryptThroughput(b *testing.B) {
	env := newEnv(b)
	ctx := context.Background()
	keyID, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		b.Fatal(err)
	}
	ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
		SetSchemaMap(map[string]any{env.db + ".auto": csfleSchema(keyID), env.db + ".autofind": csfleSchema(keyID)})
	auto, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
	if err != nil {
		b.Fatal(err)
	}
	defer auto.Disconnect(ctx)
	clients := []struct {
		name string
		coll *mongo.Collection
	}{
		{"plain", env.client.Database(env.db).Collection("plain")},
		{"encrypted", auto.Database(env.db).Collection("auto")},
	}
	doc := func(i int) bson.D {
		return bson.D{{Key: "_id", Value: i}, {Key: "name", Value: "someone"}, {Key: "ssn", Value: fmt.Sprintf("%03d-55-%04d", i%1000, i%10000)},
			{Key: "record", Value: bson.D{{Key: "bloodType", Value: "AB+"}, {Key: "visits", Value: int32(i)}}}}
	}
	for _, c := range clients {
		b.Run("insert/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.coll.InsertOne(ctx, doc(int(benchID.Add(1)))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Finds run on collections of equal size (100 documents), apart from the inserts.
	clients[0].coll = env.client.Database(env.db).Collection("plainfind")
	clients[1].coll = auto.Database(env.db).Collection("autofind")
	for _, c := range clients {
		for i := 0; i < 100; i++ {
			if _, err := c.coll.InsertOne(ctx, doc(i)); err != nil && !mongo.IsDuplicateKeyError(err) {
				b.Fatal(err)
			}
		}
		b.Run("find/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				var got bson.M
				if err := c.coll.FindOne(ctx, bson.D{{Key: "ssn", Value: fmt.Sprintf("%03d-55-%04d", i%100, i%100)}}).Decode(&got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAutoEncryptCommand measures the client-side work of automatic encryption alone,
// without a server round trip: Encrypt of an insert and of a find command of a CSFLE
// collection (query analysis and encryption, keys cached) and Decrypt of the find's reply.
func BenchmarkAutoEncryptCommand(b *testing.B) {
	env := newEnv(b)
	ctx := context.Background()
	keyID, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
		SetSchemaMap(map[string]any{env.db + ".c": csfleSchema(keyID)})))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	insert, _ := bson.Marshal(bson.D{{Key: "insert", Value: "c"}, {Key: "ordered", Value: true}, {Key: "documents", Value: bson.A{
		bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "someone"}, {Key: "ssn", Value: "457-55-5462"},
			{Key: "record", Value: bson.D{{Key: "bloodType", Value: "AB+"}, {Key: "visits", Value: int32(3)}}}}}}})
	find, _ := bson.Marshal(bson.D{{Key: "find", Value: "c"}, {Key: "filter", Value: bson.D{{Key: "ssn", Value: "457-55-5462"}}}, {Key: "limit", Value: int64(1)}})
	encInsert, err := a.Encrypt(ctx, env.db, insert)
	if err != nil {
		b.Fatal(err)
	}
	doc, _ := encInsert.Lookup("documents", "0").DocumentOK()
	reply, _ := bson.Marshal(bson.D{{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: bson.A{doc}}, {Key: "id", Value: int64(0)}, {Key: "ns", Value: env.db + ".c"}}}, {Key: "ok", Value: 1.0}})
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"Encrypt/insert", func() error { _, err := a.Encrypt(ctx, env.db, insert); return err }},
		{"Encrypt/find", func() error { _, err := a.Encrypt(ctx, env.db, find); return err }},
		{"Decrypt/reply", func() error { _, err := a.Decrypt(ctx, reply); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecryptQE decrypts libmongocrypt's stored Queryable Encryption values with their keys
// cached: one indexed equality (subtype 14) or range (subtype 15) value through
// ClientEncryption.Decrypt, and a find reply of 50 documents holding one of each through
// AutoEncrypter.Decrypt. Indexed values take two keys, the second named inside the value.
func BenchmarkDecryptQE(b *testing.B) {
	ctx := context.Background()
	db, kms := libmongocryptKeyVault(b)
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		b.Fatal(err)
	}
	ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(db+".keys").SetKmsProviders(kms))
	if err != nil {
		b.Fatal(err)
	}
	defer ce.Close(ctx)
	a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(db + ".keys").SetKmsProviders(kms).SetBypassAutoEncryption(true)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	eq := readTestBlob(b, "FLE2IndexedEqualityEncryptedValueV2.json")
	rng := readTestBlob(b, "FLE2IndexedRangeEncryptedValueV2.json")
	batch := make(bson.A, 50)
	for i := range batch {
		batch[i] = bson.D{{Key: "_id", Value: int32(i)}, {Key: "eq", Value: bson.Binary{Subtype: 6, Data: eq}},
			{Key: "range", Value: bson.Binary{Subtype: 6, Data: rng}}, {Key: "__safeContent__", Value: bson.A{}}}
	}
	reply, err := bson.Marshal(bson.D{{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: batch}, {Key: "id", Value: int64(0)},
		{Key: "ns", Value: db + ".c"}}}, {Key: "ok", Value: 1.0}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"Explicit/equality", func() error { _, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: eq}); return err }},
		{"Explicit/range", func() error { _, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: rng}); return err }},
		{"Auto/reply100", func() error { _, err := a.Decrypt(ctx, reply); return err }},
	} {
		if err := c.run(); err != nil { // the keys are fetched and cached
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
