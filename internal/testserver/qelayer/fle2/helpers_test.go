package fle2

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/local"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// specDir holds the MongoDB specification's client-side encryption tests.
const specDir = "../../testdata/spec/tests/unified"

// mapESC is an in-memory ESC; it counts reads.
type mapESC struct {
	mu    sync.Mutex
	docs  map[string][]byte // _id -> value (nil: none)
	reads int
}

func newMapESC() *mapESC { return &mapESC{docs: map[string][]byte{}} }

func (m *mapESC) Get(_ context.Context, id []byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	v, ok := m.docs[string(id)]
	return v, ok, nil
}

func (m *mapESC) Insert(_ context.Context, id, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.docs[string(id)]; dup {
		return &Error{Code: 11000, CodeName: "DuplicateKey", Msg: "duplicate ESC _id"}
	}
	m.docs[string(id)] = bytes.Clone(value)
	return nil
}

func (m *mapESC) Delete(_ context.Context, ids [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.docs, string(id))
	}
	return nil
}

func (m *mapESC) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.docs)
}

// apply inserts a Write's ESC documents, as the server does after ProcessInsert.
func (m *mapESC) apply(t testing.TB, w *Write) {
	t.Helper()
	for _, id := range w.ESCIDs {
		if err := m.Insert(context.Background(), id, nil); err != nil {
			t.Fatal(err)
		}
	}
}

var _ ESCWriter = (*mapESC)(nil)

// specKey is the data key of the specification tests, 12345678-1234-9876-1234-123456789012,
// unwrapped from a test file's key vault data with its local master key.
type specKey struct {
	id       qe.KeyID
	material []byte
}

func (k *specKey) keys(id qe.KeyID) ([]byte, error) {
	if id != k.id {
		return nil, os.ErrNotExist
	}
	return k.material, nil
}

// loadSpecKey reads the local master key and the key document of a spec test file.
func loadSpecKey(t testing.TB, file string) *specKey {
	t.Helper()
	var doc bson.Raw
	data, err := os.ReadFile(filepath.Join(specDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := bson.UnmarshalExtJSON(data, false, &doc); err != nil {
		t.Fatal(err)
	}
	kek := doc.Lookup("createEntities", "0", "client", "autoEncryptOpts", "kmsProviders", "local", "key")
	_, kekBytes, isBinary := kek.BinaryOK()
	if !isBinary {
		kekBytes, err = base64.StdEncoding.DecodeString(kek.StringValue())
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := local.NewWithKey("local", kekBytes)
	if err != nil {
		t.Fatal(err)
	}
	initial, _ := doc.Lookup("initialData").Array().Values()
	for _, v := range initial {
		d := v.Document()
		if d.Lookup("collectionName").StringValue() != "datakeys" {
			continue
		}
		keyDoc := d.Lookup("documents", "0").Document()
		_, id := keyDoc.Lookup("_id").Binary()
		_, wrapped := keyDoc.Lookup("keyMaterial").Binary()
		material, err := p.Unwrap(context.Background(), nil, wrapped)
		if err != nil {
			t.Fatal(err)
		}
		return &specKey{id: qe.KeyID(id), material: material}
	}
	t.Fatalf("%s: no key vault data", file)
	return nil
}

// specTags returns the __safeContent__ tags of each document of the first unencrypted
// find's expected result in a spec test file's first test, by _id.
func specTags(t testing.TB, file string, test int) map[int32][][]byte {
	t.Helper()
	var doc bson.Raw
	data, err := os.ReadFile(filepath.Join(specDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := bson.UnmarshalExtJSON(data, false, &doc); err != nil {
		t.Fatal(err)
	}
	ops, _ := doc.Lookup("tests", itoa(test), "operations").Array().Values()
	out := map[int32][][]byte{}
	for _, op := range ops {
		o := op.Document()
		if o.Lookup("object").StringValue() != "coll_unencrypted" {
			continue
		}
		results, _ := o.Lookup("expectResult").Array().Values()
		for _, r := range results {
			rd := r.Document()
			id := rd.Lookup("_id").Int32()
			sc, _ := rd.Lookup("__safeContent__").Array().Values()
			for _, tag := range sc {
				_, b := tag.Binary()
				out[id] = append(out[id], b)
			}
		}
		return out
	}
	t.Fatalf("%s: no unencrypted find", file)
	return nil
}

func itoa(i int) string { return string(rune('0' + i)) }

// payloadFor encrypts an explicit-encryption value into a payload (insert or find).
func payloadFor(t testing.TB, k *specKey, value bson.RawValue, opts *options.EncryptOptions) []byte {
	t.Helper()
	p, err := qe.ExplicitPlaceholder(value, k.id, opts)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := p.Encrypt(k.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

func i64(n int64) *int64 { return &n }

func rawString(s string) bson.RawValue {
	return bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, s)}
}

func rawInt32(n int32) bson.RawValue {
	return bson.RawValue{Type: bson.TypeInt32, Value: bsoncore.AppendInt32(nil, n)}
}

func equalityInsert(t testing.TB, k *specKey, v bson.RawValue, cf int64) []byte {
	return payloadFor(t, k, v, &options.EncryptOptions{Algorithm: "Indexed", ContentionFactor: i64(cf)})
}

func equalityFind(t testing.TB, k *specKey, v bson.RawValue, cf int64) []byte {
	return payloadFor(t, k, v, &options.EncryptOptions{Algorithm: "Indexed", QueryType: "equality", ContentionFactor: i64(cf)})
}

func equalityField(k *specKey, bsonType string, cf int64) Field {
	return Field{Path: "encryptedIndexed", BSONType: bsonType, KeyID: k.id[:], QueryType: "equality", Contention: cf}
}

// hexSet returns the tags as a sorted list of hex strings.
func hexSet(tags [][]byte) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = hex.EncodeToString(t)
	}
	sort.Strings(out)
	return out
}

func sameSet(a, b [][]byte) bool {
	x, y := hexSet(a), hexSet(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
