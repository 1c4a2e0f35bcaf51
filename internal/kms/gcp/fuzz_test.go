package gcp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmshttp"
)

func replyBodies(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/kms-gcp/*.txt")
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
			out = append(out, b[i+2:])
		}
	}
	if len(out) != 3 {
		f.Fatalf("%d seed replies, want 3", len(out))
	}
	return out
}

// FuzzReplies: encrypt, decrypt and token replies give a result or an error, never a panic.
func FuzzReplies(f *testing.F) {
	for _, b := range replyBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, field := range []string{"plaintext", "ciphertext"} {
			if out, err := decodeResult("gcp", OpDecrypt, body, field); err == nil && out == nil {
				t.Fatal("nil result without error")
			}
		}
		if tok, err := kmshttp.ParseTokenReply(body, time.Now(), tokenMargin); err == nil && tok.Value == "" {
			t.Fatal("empty token without error")
		}
	})
}

// FuzzParseMasterKey: masterKey documents parse or fail; a parsed one is stored and parses
// again to the same bytes; building the request path never panics.
func FuzzParseMasterKey(f *testing.F) {
	for _, d := range []bson.D{
		{{Key: "provider", Value: "gcp"}, {Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}},
		{{Key: "projectId", Value: "p"}, {Key: "location", Value: "l"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: "1"}, {Key: "endpoint", Value: "kms.example.com:443"}},
	} {
		b, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := &Provider{name: "gcp"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		mk, err := p.parseMasterKey(doc)
		if err != nil {
			return
		}
		mk.path(OpEncrypt)
		stored, err := mk.stored("gcp")
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.parseMasterKey(stored)
		if err != nil {
			t.Fatalf("stored %s does not parse: %v", bson.Raw(stored), err)
		}
		if s2, _ := again.stored("gcp"); !bytes.Equal(s2, stored) {
			t.Fatal("stored masterKey not stable")
		}
	})
}
