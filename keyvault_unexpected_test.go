package mongocrypt

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// countingProvider counts the unwraps of the provider it wraps.
type countingProvider struct {
	kms.Provider
	unwraps atomic.Int64
}

func (p *countingProvider) Unwrap(ctx context.Context, masterKey bson.Raw, keyMaterial []byte) ([]byte, error) {
	p.unwraps.Add(1)
	return p.Provider.Unwrap(ctx, masterKey, keyMaterial)
}

// TestUnexpectedKeyReturned plays a key vault that answers a key query with a key document it
// was not asked for (through engine.findKeysHook): the operation fails with a CodeKeyVault
// error saying "unexpected key returned", before any KMS unwrap, and no key is cached.
func TestUnexpectedKeyReturned(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	rnd := "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
	wantedID, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"wanted"}))
	if err != nil {
		t.Fatal(err)
	}
	intruderID, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"intruder"}))
	if err != nil {
		t.Fatal(err)
	}
	intruderDoc, err := env.ce.GetKey(ctx, intruderID).Raw()
	if err != nil {
		t.Fatal(err)
	}
	// A ciphertext under the wanted key, made before the key vault turns bad.
	ct, err := env.ce.Encrypt(ctx, rawValue(t, "S3CRET"), options.Encrypt().SetKeyID(wantedID).SetAlgorithm(rnd))
	if err != nil {
		t.Fatal(err)
	}

	// A fresh ClientEncryption over the same key vault: its cache is empty.
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ce.Close(context.Background()) })
	local, err := ce.e.kms.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingProvider{Provider: local}
	ce.e.kms = kms.NewSet(counter)
	var finds atomic.Int64
	ce.e.findKeysHook = func(ctx context.Context, filter any) ([]bson.Raw, error) {
		finds.Add(1)
		docs, err := ce.e.findKeys(ctx, filter)
		if err != nil {
			return nil, err
		}
		return append(docs, intruderDoc), nil
	}

	var intruder [16]byte
	copy(intruder[:], intruderID.Data)
	var wanted [16]byte
	copy(wanted[:], wantedID.Data)
	check := func(t *testing.T, err error) {
		t.Helper()
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeKeyVault || !strings.Contains(err.Error(), "unexpected key returned") {
			t.Fatalf("err = %v, want a CodeKeyVault error saying \"unexpected key returned\"", err)
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Fatalf("the error shows the plaintext: %v", err)
		}
		if n := counter.unwraps.Load(); n != 0 {
			t.Fatalf("%d KMS unwraps, want none", n)
		}
		if _, ok := ce.e.cache.Get(intruder); ok {
			t.Fatal("the unexpected key is cached by id")
		}
		if _, _, ok := ce.e.cache.GetByName("intruder"); ok {
			t.Fatal("the unexpected key is cached by name")
		}
		if _, ok := ce.e.cache.Get(wanted); ok {
			t.Fatal("the requested key is cached although the reply was refused")
		}
	}

	t.Run("by keyAltName", func(t *testing.T) {
		_, err := ce.Encrypt(ctx, rawValue(t, "S3CRET"), options.Encrypt().SetKeyAltName("wanted").SetAlgorithm(rnd))
		check(t, err)
	})
	t.Run("by id", func(t *testing.T) {
		_, err := ce.Encrypt(ctx, rawValue(t, "S3CRET"), options.Encrypt().SetKeyID(wantedID).SetAlgorithm(rnd))
		check(t, err)
	})
	t.Run("decrypt", func(t *testing.T) {
		_, err := ce.Decrypt(ctx, ct)
		check(t, err)
	})
	if finds.Load() != 3 {
		t.Fatalf("%d key vault queries through the hook, want 3", finds.Load())
	}

	// The same key vault, answering only what it is asked: the key is unwrapped and cached.
	ce.e.findKeysHook = nil
	got, err := ce.Decrypt(ctx, ct)
	if err != nil || got.StringValue() != "S3CRET" {
		t.Fatalf("decrypt with an honest key vault: %v %v", got, err)
	}
	if n := counter.unwraps.Load(); n != 1 {
		t.Fatalf("%d KMS unwraps, want 1", n)
	}
	if _, ok := ce.e.cache.Get(wanted); !ok {
		t.Fatal("the requested key is not cached")
	}
	if _, ok := ce.e.cache.Get(intruder); ok {
		t.Fatal("a key never requested is cached")
	}
}
