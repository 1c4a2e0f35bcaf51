package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

func mustMarshal(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnwrapLibmongocryptKeys unwraps the key documents libmongocrypt made under the all-zero
// local master key and compares the data keys with the key material files.
func TestUnwrapLibmongocryptKeys(t *testing.T) {
	docs, _ := filepath.Glob("testdata/*-local-document.json")
	if len(docs) == 0 {
		t.Fatal("no key documents in testdata")
	}
	p, err := NewWithKey("local", make([]byte, 96))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range docs {
		js, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		_, wrapped := doc.Lookup("keyMaterial").Binary()
		want, err := os.ReadFile(strings.Replace(f, "-local-document.json", "-key-material.txt", 1))
		if err != nil {
			t.Fatal(err)
		}
		wantKey, err := hex.DecodeString(strings.TrimSpace(string(want)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Unwrap(context.Background(), doc.Lookup("masterKey").Document(), wrapped)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(got, wantKey) {
			t.Errorf("%s: unwrapped %x, want %x", f, got, wantKey)
		}
	}
}

func TestWrapRoundTrip(t *testing.T) {
	master := make([]byte, 96)
	rand.Read(master)
	p, err := New(kms.Config{Name: "local:a", Credentials: mustMarshal(t, bson.M{"key": base64.StdEncoding.EncodeToString(master)})})
	if err != nil {
		t.Fatal(err)
	}
	dek := make([]byte, 96)
	rand.Read(dek)
	ct, stored, err := p.Wrap(context.Background(), mustMarshal(t, bson.M{"provider": "local:a"}), dek)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustMarshal(t, bson.D{{Key: "provider", Value: "local:a"}}); !bytes.Equal(stored, want) {
		t.Errorf("stored masterKey = %s, want %s", stored, want)
	}
	if len(ct) != 16+96+16+32 {
		t.Errorf("wrapped key is %d bytes, want 160", len(ct))
	}
	got, err := p.Unwrap(context.Background(), stored, ct)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap: %v", err)
	}
	// Another master key cannot unwrap it.
	other, _ := NewWithKey("local", make([]byte, 96))
	_, err = other.Unwrap(context.Background(), stored, ct)
	var ke *kms.Error
	if !errors.As(err, &ke) || ke.Provider != "local" || ke.Op != "decrypt" {
		t.Fatalf("wrong master key: err = %v, want a *kms.Error for local decrypt", err)
	}
	// Extra masterKey fields are refused.
	if _, _, err := p.Wrap(context.Background(), mustMarshal(t, bson.M{"provider": "local", "key": "x"}), dek); err == nil {
		t.Fatal("masterKey with an extra field accepted")
	}
	if _, _, err := p.Wrap(context.Background(), nil, dek[:95]); err == nil {
		t.Fatal("95-byte data key accepted")
	}
}

func TestNewRefusals(t *testing.T) {
	for name, creds := range map[string]any{
		"empty":       bson.M{},
		"short key":   bson.M{"key": bson.Binary{Data: make([]byte, 95)}},
		"bad base64":  bson.M{"key": "!!"},
		"int key":     bson.M{"key": 5},
		"extra field": bson.M{"key": bson.Binary{Data: make([]byte, 96)}, "x": 1},
	} {
		if _, err := New(kms.Config{Name: "local", Credentials: mustMarshal(t, creds)}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(kms.Config{Name: "local", Credentials: mustMarshal(t, bson.M{"key": bson.Binary{Data: make([]byte, 96)}})}); err != nil {
		t.Errorf("binary key: %v", err)
	}
}
