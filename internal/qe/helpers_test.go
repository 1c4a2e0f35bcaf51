package qe

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Test key ids of libmongocrypt's test/data/keys.
var (
	key12345678 = mustKeyID("12345678123498761234123456789012")
	keyABCDEFAB = mustKeyID("ABCDEFAB123498761234123456789012")
)

func mustKeyID(h string) KeyID {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		panic("bad key id " + h)
	}
	return KeyID(b)
}

// testKeys returns the KeyFunc over testdata/keys/*-key-material.txt (the plaintext key
// material of the key documents encrypted with the all-zero local master key).
func testKeys(t testing.TB) KeyFunc {
	t.Helper()
	files, err := filepath.Glob("testdata/keys/*-key-material.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no key material in testdata/keys: %v", err)
	}
	m := map[KeyID][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id := mustKeyID(strings.TrimSuffix(filepath.Base(f), "-key-material.txt"))
		m[id] = mustHex(t, strings.TrimSpace(string(data)))
	}
	return func(id KeyID) ([]byte, error) {
		k, ok := m[id]
		if !ok {
			return nil, fmt.Errorf("test key %s not found", id)
		}
		return k, nil
	}
}

// readExtJSON reads a canonical or relaxed extended JSON document.
func readExtJSON(t testing.TB, path string) bson.Raw {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return extJSON(t, string(data))
}

func extJSON(t testing.TB, s string) bson.Raw {
	t.Helper()
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &doc); err != nil {
		t.Fatalf("extended JSON: %v\n%s", err, s)
	}
	return doc
}

// blobAt is one BSON binary of subtype 6 found in a document.
type blobAt struct {
	path string
	data []byte
}

// encryptedBlobList returns the data of every BSON binary of subtype 6 in doc, in document
// order, with its dotted path.
func encryptedBlobList(doc bsoncore.Document) []blobAt {
	var out []blobAt
	var walk func(prefix string, d bsoncore.Document)
	walk = func(prefix string, d bsoncore.Document) {
		elems, _ := d.Elements()
		for _, e := range elems {
			v := e.Value()
			path := prefix + e.Key()
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
				walk(path+".", v.Data)
			case bsoncore.TypeBinary:
				if st, data, ok := v.BinaryOK(); ok && st == binaryEncrypted {
					out = append(out, blobAt{path, data})
				}
			}
		}
	}
	walk("", doc)
	return out
}

// encryptedBlobs returns the data of every BSON binary of subtype 6 in doc, by dotted path.
func encryptedBlobs(doc bsoncore.Document) map[string][]byte {
	out := map[string][]byte{}
	for _, b := range encryptedBlobList(doc) {
		out[b.path] = b.data
	}
	return out
}

var rngByte = regexp.MustCompile(`\\x([0-9a-fA-F]{2})`)

// readRNGData reads the bytes of the RNG_DATA string literal of a libmongocrypt RNG_DATA.h.
func readRNGData(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, m := range rngByte.FindAllStringSubmatch(string(data), -1) {
		n, _ := strconv.ParseUint(m[1], 16, 8)
		out = append(out, byte(n))
	}
	if len(out) == 0 {
		t.Fatalf("%s: no bytes", path)
	}
	return out
}

// fixedRNG replays fixed bytes and fails once they run out, like libmongocrypt's test RNG.
type fixedRNG struct {
	data []byte
	pos  int
}

var errOutOfRandom = errors.New("test RNG: out of random data")

func (r *fixedRNG) Read(p []byte) (int, error) {
	if r.pos+len(p) > len(r.data) {
		return 0, errOutOfRandom
	}
	copy(p, r.data[r.pos:])
	r.pos += len(p)
	return len(p), nil
}

// testBin returns libmongocrypt's TEST_BIN(n): 1, 2, 3, 1, 2, 3, ...
func testBin(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%3 + 1)
	}
	return b
}
