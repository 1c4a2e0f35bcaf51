package mongocrypt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// testURI is the server the integration tests use: MONGODB_URI when set, else the embedded
// FerretDB that internal/testenv runs for the test process.
var (
	testURI       string
	realMongoDB   bool
	testDBCounter atomic.Int64
)

func TestMain(m *testing.M) {
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		testURI, realMongoDB = uri, true
		fmt.Fprintln(os.Stderr, "mongocrypt tests: using MONGODB_URI")
		os.Exit(m.Run())
	}
	a, err := testenv.Servers()
	if errors.Is(err, testenv.ErrNoServerModule) {
		// The module's zip: the package's tests need the servers of a clone.
		fmt.Fprintln(os.Stderr, "mongocrypt tests: skipped:", err)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongocrypt tests: starting the embedded server:", err)
		os.Exit(1)
	}
	testURI = a.MongoDB
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// uniqueDB returns a database name of its own for a test.
func uniqueDB(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", testDBCounter.Add(1), name)
}

// localMasterKey is LOCAL_MASTERKEY of the specification's prose tests.
var localMasterKey = mustB64("Mng0NCt4ZHVUYUJCa1kxNkVyNUR1QURhZ2h2UzR2d2RrZzh0cFBwM3R6NmdWMDFBMUN3YkQ5aXRRMkhGRGdQV09wOGVNYUMxT2k3NjZKelhaQmRCZGJkTXVyZG9uSjFk")

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func connect(t testing.TB, opts ...*options.ClientOptions) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(append([]*options.ClientOptions{options.Client().ApplyURI(testURI)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

type testEnv struct {
	client *mongo.Client // plain client
	ce     *ClientEncryption
	kvNS   string
	kv     *mongo.Collection
	db     string
}

func localProviders() map[string]map[string]any {
	return map[string]map[string]any{
		"local":       {"key": localMasterKey},
		"local:other": {"key": make([]byte, 96)},
	}
}

// newEnv makes a ClientEncryption over a key vault in a database of the test's own.
func newEnv(t testing.TB, extra ...func(*options.ClientEncryptionOptionsBuilder)) *testEnv {
	t.Helper()
	db := uniqueDB(t)
	plain := connect(t)
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	o := options.ClientEncryption().SetKeyVaultNamespace(db + ".datakeys").SetKmsProviders(localProviders())
	for _, f := range extra {
		f(o)
	}
	ce, err := NewClientEncryption(kvClient, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = plain.Database(db).Drop(context.Background())
		_ = ce.Close(context.Background())
	})
	return &testEnv{client: plain, ce: ce, kvNS: db + ".datakeys", kv: plain.Database(db).Collection("datakeys"), db: db}
}

func rawValue(t testing.TB, v any) bson.RawValue {
	t.Helper()
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return bson.RawValue{Type: typ, Value: data}
}
