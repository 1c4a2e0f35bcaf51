package azure

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func replyBodies(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/kms-azure/*.txt")
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

// FuzzDecodeResult: any wrapkey/unwrapkey reply gives a value or an error, never a panic.
func FuzzDecodeResult(f *testing.F) {
	for _, b := range replyBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if out, err := decodeResult("azure", OpUnwrap, body); err == nil && out == nil {
			t.Fatal("nil value without error")
		}
	})
}

// FuzzParseMasterKey: masterKey documents from key documents parse or fail; a parsed one is
// stored and parses again to the same bytes.
func FuzzParseMasterKey(f *testing.F) {
	for _, d := range []bson.D{
		{{Key: "provider", Value: "azure"}, {Key: "keyVaultEndpoint", Value: "kv.vault.azure.net"}, {Key: "keyName", Value: "k"}},
		{{Key: "keyVaultEndpoint", Value: "https://kv.vault.azure.net:443/"}, {Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: "v"}},
	} {
		b, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := &Provider{name: "azure"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		mk, err := p.parseMasterKey(doc)
		if err != nil {
			return
		}
		stored, err := mk.stored("azure")
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.parseMasterKey(stored)
		if err != nil {
			t.Fatalf("stored %s does not parse: %v", bson.Raw(stored), err)
		}
		if s2, _ := again.stored("azure"); !bytes.Equal(s2, stored) {
			t.Fatal("stored masterKey not stable")
		}
	})
}
