package qe

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// rngInsertV2 is the RNG_DATA of _test_encrypt_fle2_insert_payload in
// test-mongocrypt-ctx-encrypt.c: the IV of "p", then the IV of "v".
var rngInsertV2 = mustHexBytes("c743d675769ea788d5e5c440db240df9" + "4cd964104381e661fa1fa05c498ead21")

// rngUnindexed is the RNG_DATA of _test_encrypt_fle2_unindexed_encrypted_payload: one IV.
var rngUnindexed = mustHexBytes("4d069564f5a05e9e3523b98f575acb15")

func mustHexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// autoCase is one libmongocrypt test folder of automatic encryption: the placeholders of
// mongocryptd-reply.json, encrypted with the test keys and fixed random bytes, must give the
// payloads of the expected file at the same paths.
type autoCase struct {
	dir    string
	expect string // file name of the expected command
	rng    func(t testing.TB) []byte
}

func fixed(b []byte) func(testing.TB) []byte { return func(testing.TB) []byte { return b } }

func rngFile(path string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return readRNGData(t, path) }
}

var autoCases = []autoCase{
	{"fle2-insert-v2", "encrypted-payload.json", fixed(rngInsertV2)},
	{"fle2-insert-v2-with-str-encode-version", "encrypted-payload.json", fixed(rngInsertV2)},
	{"fle2-insert-text-search", "encrypted-payload.json", fixed(rngInsertV2)},
	{"fle2-insert-text-search-with-str-encode-version", "encrypted-payload.json", fixed(rngInsertV2)},
	{"fle2-find-equality-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-insert-unindexed-v2", "encrypted-payload.json", fixed(rngUnindexed)},
	{"fle2-delete/success", "encrypted-payload-v2.json", fixed(nil)},
	{"fle2-explain/with-mongocryptd", "encrypted-payload.json", fixed(nil)},
	{"fle2-insert-range/int32-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/int32/RNG_DATA.h")},
	{"fle2-insert-range/int64-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/int64/RNG_DATA.h")},
	{"fle2-insert-range/date-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/date/RNG_DATA.h")},
	{"fle2-insert-range/double-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/double/RNG_DATA.h")},
	{"fle2-insert-range/double-precision-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/double-precision/RNG_DATA.h")},
	{"fle2-insert-range/decimal128-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/decimal128/RNG_DATA.h")},
	{"fle2-insert-range/decimal128-precision-v2", "encrypted-payload.json", rngFile("testdata/fle2-insert-range/decimal128-precision/RNG_DATA.h")},
	{"fle2-find-range/int32-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/int64-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/date-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/double-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/double-precision-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/decimal128-v2", "encrypted-payload.json", fixed(nil)},
	{"fle2-find-range/decimal128-precision-v2", "encrypted-payload.json", fixed(nil)},
	{"no-trimFactor/insert", "encrypted-payload.json", fixed(testBin(1024))},
	{"no-trimFactor/find", "encrypted-payload.json", fixed(testBin(1024))},
	{"range-sends-cryptoParams/auto-insert-int32", "encrypted-payload.json", fixed(testBin(1024))},
	{"range-sends-cryptoParams/auto-find-int32", "encrypted-payload.json", fixed(testBin(1024))},
}

// runAutoCase encrypts the placeholders of one folder and compares each payload byte for
// byte. It returns the number of payloads compared.
func runAutoCase(t *testing.T, c autoCase) int {
	dir := filepath.Join("testdata", c.dir)
	reply := bsoncore.Document(readExtJSON(t, filepath.Join(dir, "mongocryptd-reply.json")))
	expect := encryptedBlobs(bsoncore.Document(readExtJSON(t, filepath.Join(dir, c.expect))))
	rng := &fixedRNG{data: c.rng(t)}
	keys := testKeys(t)
	n := 0
	for _, b := range encryptedBlobList(reply) {
		if len(b.data) == 0 || fleblob.Subtype(b.data[0]) != fleblob.FLE2EncryptionPlaceholder {
			continue
		}
		path := strings.TrimPrefix(b.path, "result.")
		want, ok := expect[path]
		if !ok {
			t.Fatalf("%s: no payload at %s in %s", c.dir, path, c.expect)
		}
		p, err := ParsePlaceholder(b.data)
		if err != nil {
			t.Fatalf("%s %s: %v", c.dir, path, err)
		}
		got, err := p.Encrypt(keys, rng)
		if err != nil {
			t.Fatalf("%s %s: encrypt: %v", c.dir, path, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s %s: payload differs\n got %x\nwant %x", c.dir, path, got, want)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("%s: no placeholders", c.dir)
	}
	return n
}

// TestAutoEncryptionVectors runs every folder of autoCases whose algorithm is available.
func TestAutoEncryptionVectors(t *testing.T) {
	for _, c := range autoCases {
		t.Run(c.dir, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("testdata", c.dir)); err != nil {
				t.Fatal(err)
			}
			n := runAutoCase(t, c)
			t.Logf("%d payloads identical", n)
		})
	}
}
