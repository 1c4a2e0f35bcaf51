package mongocrypt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const bulkFields = 1500

// bulkDocument is the specification's bulk decryption workload (client-side-encryption
// tests/benchmarks.md): {key0001: <"value 0001" deterministic>, ..., key1500: ...}.
func bulkDocument(b *testing.B, env *testEnv) bson.Raw {
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
