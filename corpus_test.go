package mongocrypt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// specDir is the specification's client-side encryption test data.
const specDir = "internal/testserver/testdata/spec"

func readSpecExtJSON(t *testing.T, rel string) bson.Raw {
	t.Helper()
	path := filepath.Join(specDir, rel)
	js, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			t.Skipf("the specification's test data is not here (%s): skipping", path)
		}
		t.Fatal(err)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return doc
}

// TestCorpusLocal runs the local entries of the specification's corpus (corpus.json with its
// encrypted twin corpus-encrypted.json): every allowed value encrypts, deterministic ones to
// exactly the corpus ciphertext; every corpus ciphertext decrypts to its value; every
// disallowed value is refused.
func TestCorpusLocal(t *testing.T) {
	corpus := readSpecExtJSON(t, "corpus/corpus.json")
	encrypted := readSpecExtJSON(t, "corpus/corpus-encrypted.json")
	keyDoc := readSpecExtJSON(t, "corpus/corpus-key-local.json")
	env := newEnv(t)
	ctx := t.Context()
	if _, err := env.kv.InsertOne(ctx, keyDoc); err != nil {
		t.Fatal(err)
	}
	keyID := bson.Binary{Subtype: 4, Data: mustB64("LOCALAAAAAAAAAAAAAAAAA==")}
	elems, _ := corpus.Elements()
	var allowed, refused, detSame, decrypted int
	for _, e := range elems {
		entry, ok := e.Value().DocumentOK()
		if !ok || entry.Lookup("kms").StringValue() != "local" {
			continue
		}
		name := e.Key()
		algo := "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
		if entry.Lookup("algo").StringValue() == "det" {
			algo = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
		}
		opts := options.Encrypt().SetAlgorithm(algo)
		if entry.Lookup("identifier").StringValue() == "id" {
			opts.SetKeyID(keyID)
		} else {
			opts.SetKeyAltName("local")
		}
		value := entry.Lookup("value")
		isAllowed := entry.Lookup("allowed").Boolean()
		want := encrypted.Lookup(name, "value")
		if !isAllowed {
			if _, err := env.ce.Encrypt(ctx, value, opts); err == nil {
				t.Errorf("%s: a disallowed value was encrypted", name)
			}
			if !want.Equal(value) {
				t.Errorf("%s: the encrypted corpus holds a ciphertext for a disallowed value", name)
			}
			refused++
			continue
		}
		allowed++
		ct, err := env.ce.Encrypt(ctx, value, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		st, wantData, ok := want.BinaryOK()
		if !ok || st != 6 {
			t.Fatalf("%s: corpus-encrypted value is not BinData 6", name)
		}
		if algo == "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic" {
			if !bytes.Equal(ct.Data, wantData) {
				t.Errorf("%s: deterministic ciphertext differs from the corpus", name)
			}
			detSame++
		}
		for _, blob := range [][]byte{wantData, ct.Data} {
			got, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: blob})
			if err != nil {
				t.Errorf("%s: decrypt: %v", name, err)
				continue
			}
			if !got.Equal(value) {
				t.Errorf("%s: decrypted %s, want %s", name, got, value)
			}
		}
		decrypted++
	}
	t.Logf("corpus local entries: %d allowed (%d deterministic byte for byte, %d decrypted), %d refused", allowed, detSame, decrypted, refused)
	if allowed == 0 || refused == 0 || detSame == 0 {
		t.Fatal("the corpus held no local entries")
	}
}
