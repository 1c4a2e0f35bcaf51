// Command bulkdecrypt runs the bulk decryption benchmark of the client-side encryption
// specification (source/client-side-encryption/tests/benchmarks.md) through
// mongocrypt.AutoEncrypter.Decrypt, and the same kind of measurement of explicit encryption
// and decryption through ClientEncryption.
//
// Workload: the data key of libmongocrypt's bindings/python/test/performance/keyDocument.json
// (local KMS provider) encrypts the strings "value 0001" .. "value 1500" with
// AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic into {key0001: ..., ..., key1500: ...}. The
// document is decrypted repeatedly for the warm-up time; then, for each thread count, that many
// goroutines share one AutoEncrypter and decrypt the document repeatedly for the trial time;
// the trial's figure is the number of decryptions over the trial's wall time; the median of
// the trials is printed.
//
// Output, one line per figure (bench/bulkdecrypt/run.sh reads it; peer.c prints the same):
//
//	version impl=go version=go1.26.8
//	bulkdecrypt impl=go threads=1 median_ops_per_sec=123.4 min=120.1 max=125.0 trials=10
//	explicit impl=go op=encrypt-deterministic threads=1 median_ops_per_sec=... min=... max=... trials=10
//
// The key vault is an embedded FerretDB (internal/testserver) unless -uri names a server.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver"
)

// keyDocumentJSON is the data key of libmongocrypt's Python binding benchmark, wrapped by
// localMasterKey.
//
//go:embed testdata/keyDocument.json
var keyDocumentJSON []byte

// localMasterKeyB64 is LOCAL_MASTER_KEY of libmongocrypt's
// bindings/python/test/performance/perf_test.py (96 bytes).
const localMasterKeyB64 = "nZRLDZPQxUSlcv0yG5QwkCM1c3zw9sL02iNW548EzPredbRRh/OLl9dLRDusOaLGTZEAPtH6SjDB0sZe+6xB8kgTPJtQ/Kckei4CY6PGFiVRUHg+D9huhKbsjS0kR+Wv"

const (
	// numFields is the number of encrypted fields of the bulk document.
	numFields = 1500
	// algorithm is the algorithm of the bulk document's values.
	algorithm = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	// keyVaultNS is where the key document is inserted.
	keyVaultNS = "bulkdecrypt_keyvault.datakeys"
)

type config struct {
	uri      string
	warmup   time.Duration
	trial    time.Duration
	trials   int
	threads  []int
	explicit bool
	writeDoc string
	onlyDoc  bool
}

func main() {
	var c config
	threads := flag.String("threads", "1,2,8,64", "comma-separated goroutine counts")
	flag.StringVar(&c.uri, "uri", "", "key vault server (default: an embedded FerretDB)")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "warm-up time (decrypting the bulk document)")
	flag.DurationVar(&c.trial, "duration", time.Second, "length of one trial")
	flag.IntVar(&c.trials, "trials", 10, "trials per thread count; the median is printed")
	flag.BoolVar(&c.explicit, "explicit", true, "also measure explicit encryption and decryption of one value (1 goroutine)")
	flag.StringVar(&c.writeDoc, "write-doc", "", "write the encrypted bulk document (BSON) to this file")
	flag.BoolVar(&c.onlyDoc, "only-doc", false, "build (and write) the document, then exit without measuring")
	flag.Parse()
	var err error
	if c.threads, err = parseThreads(*threads); err != nil {
		fmt.Fprintln(os.Stderr, "bulkdecrypt:", err)
		os.Exit(2)
	}
	if c.trials < 1 {
		fmt.Fprintln(os.Stderr, "bulkdecrypt: -trials must be at least 1")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bulkdecrypt:", err)
		os.Exit(1)
	}
}

func parseThreads(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-threads: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(c config) error {
	ctx := context.Background()
	if c.uri == "" {
		s, err := testserver.Start()
		if err != nil {
			return err
		}
		defer s.Stop()
		c.uri = s.URI()
	}
	masterKey, err := base64.StdEncoding.DecodeString(localMasterKeyB64)
	if err != nil {
		return fmt.Errorf("local master key: %w", err)
	}
	providers := map[string]map[string]any{"local": {"key": masterKey}}

	kvClient, err := mongo.Connect(options.Client().ApplyURI(c.uri))
	if err != nil {
		return fmt.Errorf("connecting to the key vault: %w", err)
	}
	defer func() { _ = kvClient.Disconnect(ctx) }()
	keyID, err := insertKey(ctx, kvClient)
	if err != nil {
		return err
	}
	ce, err := mongocrypt.NewClientEncryption(kvClient, options.ClientEncryption().
		SetKeyVaultNamespace(keyVaultNS).SetKmsProviders(providers))
	if err != nil {
		return fmt.Errorf("ClientEncryption: %w", err)
	}
	defer func() { _ = ce.Close(ctx) }()

	encOpts := options.Encrypt().SetKeyID(keyID).SetAlgorithm(algorithm)
	doc, plain, err := bulkDocument(ctx, ce, encOpts)
	if err != nil {
		return err
	}
	if c.writeDoc != "" {
		if err := os.WriteFile(c.writeDoc, doc, 0o644); err != nil {
			return fmt.Errorf("-write-doc: %w", err)
		}
	}
	if c.onlyDoc {
		return nil
	}

	ae, err := mongocrypt.NewAutoEncrypter(options.Client().ApplyURI(c.uri).
		SetAutoEncryptionOptions(options.AutoEncryption().
			SetKeyVaultNamespace(keyVaultNS).
			SetKmsProviders(providers).
			SetBypassAutoEncryption(true)))
	if err != nil {
		return fmt.Errorf("AutoEncrypter: %w", err)
	}
	defer func() { _ = ae.Close(ctx) }()
	decrypt := func() error {
		_, err := ae.Decrypt(ctx, doc)
		return err
	}

	fmt.Printf("version impl=go version=%s gomaxprocs=%d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	// Warm up: the first decryption fetches and unwraps the key, later ones use the cache.
	if _, err := loop(c.warmup, decrypt); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	out, err := ae.Decrypt(ctx, doc)
	if err != nil {
		return err
	}
	if !bytes.Equal(out, plain) {
		return errors.New("the decrypted bulk document differs from the plaintext document")
	}
	for _, n := range c.threads {
		st, err := measure(c, n, decrypt)
		if err != nil {
			return fmt.Errorf("%d goroutines: %w", n, err)
		}
		fmt.Printf("bulkdecrypt impl=go threads=%d %s\n", n, st)
	}

	if !c.explicit {
		return nil
	}
	value := bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, "value 0001")}
	ct, err := ce.Encrypt(ctx, value, encOpts)
	if err != nil {
		return err
	}
	randOpts := options.Encrypt().SetKeyID(keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")
	ops := []struct {
		name string
		f    func() error
	}{
		{"encrypt-deterministic", func() error { _, err := ce.Encrypt(ctx, value, encOpts); return err }},
		{"encrypt-random", func() error { _, err := ce.Encrypt(ctx, value, randOpts); return err }},
		{"decrypt", func() error { _, err := ce.Decrypt(ctx, ct); return err }},
	}
	for _, op := range ops {
		if _, err := loop(c.warmup/4, op.f); err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		st, err := measure(c, 1, op.f)
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		fmt.Printf("explicit impl=go op=%s threads=1 %s\n", op.name, st)
	}
	return nil
}

// insertKey stores the benchmark's key document in a fresh key vault collection and returns
// its id.
func insertKey(ctx context.Context, client *mongo.Client) (bson.Binary, error) {
	var key bson.D
	if err := bson.UnmarshalExtJSON(keyDocumentJSON, false, &key); err != nil {
		return bson.Binary{}, fmt.Errorf("key document: %w", err)
	}
	var id bson.Binary
	for _, e := range key {
		if e.Key == "_id" {
			id, _ = e.Value.(bson.Binary)
		}
	}
	if id.Subtype != 4 || len(id.Data) != 16 {
		return bson.Binary{}, errors.New("key document: _id is not a UUID")
	}
	db, coll, _ := strings.Cut(keyVaultNS, ".")
	kv := client.Database(db).Collection(coll)
	if err := kv.Drop(ctx); err != nil {
		return bson.Binary{}, fmt.Errorf("emptying the key vault: %w", err)
	}
	if _, err := kv.InsertOne(ctx, key); err != nil {
		return bson.Binary{}, fmt.Errorf("inserting the key document: %w", err)
	}
	return id, nil
}

// bulkDocument returns {key0001: <"value 0001" encrypted>, ..., key1500: ...} and its
// plaintext {key0001: "value 0001", ...}.
func bulkDocument(ctx context.Context, ce *mongocrypt.ClientEncryption, opts *options.EncryptOptionsBuilder) (enc, plain bson.Raw, err error) {
	encDoc := make(bson.D, 0, numFields)
	plainDoc := make(bson.D, 0, numFields)
	for i := 1; i <= numFields; i++ {
		name, v := fmt.Sprintf("key%04d", i), fmt.Sprintf("value %04d", i)
		ct, err := ce.Encrypt(ctx, bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, v)}, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("encrypting %s: %w", name, err)
		}
		encDoc = append(encDoc, bson.E{Key: name, Value: ct})
		plainDoc = append(plainDoc, bson.E{Key: name, Value: v})
	}
	if enc, err = bson.Marshal(encDoc); err != nil {
		return nil, nil, err
	}
	if plain, err = bson.Marshal(plainDoc); err != nil {
		return nil, nil, err
	}
	return enc, plain, nil
}

// loop calls f until d has passed and returns how many calls completed.
func loop(d time.Duration, f func() error) (int64, error) {
	var n int64
	for start := time.Now(); time.Since(start) < d; n++ {
		if err := f(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// stats are the per-trial figures (operations per second) of one thread count.
type stats []float64

func (s stats) String() string {
	v := slices.Sorted(slices.Values(s))
	return fmt.Sprintf("median_ops_per_sec=%.2f min=%.2f max=%.2f trials=%d", median(v), v[0], v[len(v)-1], len(v))
}

// median of sorted values: the middle one, or the mean of the two middle ones.
func median(v []float64) float64 {
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

// measure runs c.trials trials in which n goroutines call f repeatedly for c.trial; a
// trial's figure is the total number of calls over its wall time (goroutine start to last
// join), as libmongocrypt's Python benchmark counts.
func measure(c config, n int, f func() error) (stats, error) {
	var out stats
	for range c.trials {
		var total atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		start := time.Now()
		for range n {
			wg.Go(func() {
				k, err := loop(c.trial, f)
				total.Add(k)
				if err != nil {
					failed.Store(&err)
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if p := failed.Load(); p != nil {
			return nil, *p
		}
		out = append(out, float64(total.Load())/elapsed.Seconds())
	}
	return out, nil
}
