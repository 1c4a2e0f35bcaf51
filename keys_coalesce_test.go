package mongocrypt

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// countHandler counts the records of one message.
type countHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestColdCacheCoalesced: 64 goroutines that decrypt with the same key, none cached, cause one
// key vault query and one KMS request (issue 13); the others wait for that fetch.
func TestColdCacheCoalesced(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := env.ce.Encrypt(ctx, rawValue(t, "coalesce"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if err != nil {
		t.Fatal(err)
	}
	var kmsCalls, finds atomic.Int64
	kv, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Disconnect(context.Background())
	cold, err := Config{Logger: slog.New(countHandler{msg: "KMS decrypt", n: &kmsCalls})}.NewClientEncryption(kv,
		options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
	if err != nil {
		t.Fatal(err)
	}
	defer cold.Close(context.Background())
	cold.e.findKeysHook = func(ctx context.Context, filter any) ([]bson.Raw, error) {
		finds.Add(1)
		return cold.e.findKeys(ctx, filter)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := cold.Decrypt(ctx, ct)
			if err == nil && v.StringValue() != "coalesce" {
				t.Errorf("decrypted %v", v)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if finds.Load() != 1 || kmsCalls.Load() != 1 {
		t.Fatalf("64 cold decryptions made %d key vault queries and %d KMS requests, want 1 and 1", finds.Load(), kmsCalls.Load())
	}
}
