package proxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
	"github.com/mongocrypt-go/mongocrypt/proxy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

var serverURI string

func TestMain(m *testing.M) {
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		serverURI = uri
		os.Exit(m.Run())
	}
	a, err := testenv.Servers()
	if errors.Is(err, testenv.ErrNoServerModule) {
		fmt.Fprintln(os.Stderr, "proxy tests: skipped:", err)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy tests: starting the embedded server:", err)
		os.Exit(1)
	}
	serverURI = a.MongoDB
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// env is a proxy in front of the test server with a CSFLE schema on db.people (ssn
// deterministic, secret random) and a direct plain client to the server.
type env struct {
	db        string
	proxyURI  string
	direct    *mongo.Client
	srv       *proxy.Server
	done      chan error
	keyID     bson.Binary
	ce        *mongocrypt.ClientEncryption
	encrypter *mongocrypt.AutoEncrypter
	creds     *connstring.ConnString // the server's connection string, for its credentials
	addr      string                 // the proxy's host:port
}

// primary returns the address of the server to proxy: the one host of the test server, or the
// primary of a replica set (MONGODB_URI), as it answers hello.
func (e *env) primary(t testing.TB) string {
	t.Helper()
	if len(e.creds.Hosts) == 1 && (e.creds.DirectConnection || e.creds.ReplicaSet == "") {
		return e.creds.Hosts[0]
	}
	var hello struct {
		Primary string `bson:"primary"`
	}
	if err := e.direct.Database("admin").RunCommand(t.Context(), bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil || hello.Primary == "" {
		t.Fatalf("finding the primary: %v (%q)", err, hello.Primary)
	}
	return hello.Primary
}

// uriFor returns the connection string of a proxy listening at addr. With a server that
// authenticates (MONGODB_URI with credentials), the proxy's clients authenticate with the same
// credentials, through the proxy, on their own server connections (SCRAM and speculative
// authentication forwarded).
func (e *env) uriFor(addr string) string {
	if e.creds == nil || e.creds.Username == "" {
		return "mongodb://" + addr + "/?directConnection=true"
	}
	src := e.creds.AuthSource
	if src == "" {
		src = "admin"
	}
	return "mongodb://" + url.UserPassword(e.creds.Username, e.creds.Password).String() + "@" + addr +
		"/?directConnection=true&authSource=" + url.QueryEscape(src)
}

func newEnv(t testing.TB, extra ...func(e *env, ae *options.AutoEncryptionOptions)) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{db: fmt.Sprintf("proxy_%d", time.Now().UnixNano())}
	var err error
	e.direct, err = mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.direct.Database(e.db).Drop(context.Background())
		_ = e.direct.Disconnect(context.Background())
	})
	master := make([]byte, 96)
	_, _ = rand.Read(master)
	kms := map[string]map[string]any{"local": {"key": master}}
	kvNS := e.db + ".datakeys"
	ce, err := mongocrypt.NewClientEncryption(e.direct, options.ClientEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(kms))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ce.Close(context.Background()) })
	e.ce = ce
	if e.keyID, err = ce.CreateDataKey(ctx, "local"); err != nil {
		t.Fatal(err)
	}
	enc := func(alg string) bson.D {
		return bson.D{{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{e.keyID}}, {Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: alg}}}}
	}
	schema := bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{
		{Key: "ssn", Value: enc("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic")},
		{Key: "secret", Value: enc("AEAD_AES_256_CBC_HMAC_SHA_512-Random")},
	}}}
	ae := options.AutoEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(kms).
		SetSchemaMap(map[string]any{e.db + ".people": schema})
	for _, f := range extra {
		f(e, ae)
	}
	a, err := mongocrypt.NewAutoEncrypter(options.Client().ApplyURI(serverURI).SetAutoEncryptionOptions(ae))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	e.encrypter = a
	cs, err := connstring.ParseAndValidate(serverURI)
	if err != nil {
		t.Fatal(err)
	}
	e.creds = cs
	e.srv, err = proxy.New(proxy.Config{Upstream: e.primary(t), Encrypter: a})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.done = make(chan error, 1)
	go func() { e.done <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(ctx)
	})
	e.creds, e.addr = cs, ln.Addr().String()
	e.proxyURI = e.uriFor(e.addr)
	return e
}

// client connects a plain Go driver client (no encryption) to the proxy.
func (e *env) client(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(e.proxyURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// TestProxyCSFLE: a Go driver client without encryption writes and reads plaintext through
// the proxy; the server holds BinData 6 in the encrypted fields (deterministic ones equal to
// ClientEncryption's), equality finds, updates, aggregations and getMore return plaintext, and
// a refused query is an error the client shows, naming the field.
func TestProxyCSFLE(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	c := e.client(t)
	people := c.Database(e.db).Collection("people")
	var docs []any
	for i := range 25 {
		docs = append(docs, bson.D{{Key: "_id", Value: i}, {Key: "name", Value: fmt.Sprintf("p%d", i)},
			{Key: "ssn", Value: fmt.Sprintf("PROXY-SSN-%03d", i)}, {Key: "secret", Value: fmt.Sprintf("PROXY-SECRET-%03d", i)}})
	}
	if _, err := people.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// The server holds ciphertext.
	raw, err := e.direct.Database(e.db).Collection("people").FindOne(ctx, bson.D{{Key: "_id", Value: 7}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ssn", "secret"} {
		if st, data, ok := raw.Lookup(f).BinaryOK(); !ok || st != 6 || (data[0] != 1 && data[0] != 2) {
			t.Fatalf("the server stores %s as %s", f, raw.Lookup(f).Type)
		}
	}
	if bytes.Contains(raw, []byte("PROXY-")) {
		t.Fatal("plaintext stored on the server")
	}
	// Deterministic ciphertext equals ClientEncryption's.
	typ, val, _ := bson.MarshalValue("PROXY-SSN-007")
	want, err := e.ce.Encrypt(ctx, bson.RawValue{Type: typ, Value: val},
		options.Encrypt().SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic").SetKeyID(e.keyID))
	if err != nil {
		t.Fatal(err)
	}
	if _, data, _ := raw.Lookup("ssn").BinaryOK(); !bytes.Equal(data, want.Data) {
		t.Fatal("the deterministic ciphertext differs from ClientEncryption.Encrypt's")
	}
	// Equality find on the deterministic field.
	var got bson.M
	if err := people.FindOne(ctx, bson.D{{Key: "ssn", Value: "PROXY-SSN-007"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["secret"] != "PROXY-SECRET-007" || got["name"] != "p7" {
		t.Fatalf("read back %v", got)
	}
	// Update through the proxy, then read.
	if _, err := people.UpdateOne(ctx, bson.D{{Key: "ssn", Value: "PROXY-SSN-007"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "secret", Value: "PROXY-NEW-SECRET"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := people.FindOne(ctx, bson.D{{Key: "_id", Value: 7}}).Decode(&got); err != nil || got["secret"] != "PROXY-NEW-SECRET" {
		t.Fatalf("after the update: %v, %v", got, err)
	}
	// Aggregation.
	cur, err := people.Aggregate(ctx, bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "ssn", Value: "PROXY-SSN-003"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var agg []bson.M
	if err := cur.All(ctx, &agg); err != nil || len(agg) != 1 || agg[0]["secret"] != "PROXY-SECRET-003" {
		t.Fatalf("aggregate: %v, %v", agg, err)
	}
	// getMore batches are decrypted too.
	cur, err = people.Find(ctx, bson.D{}, options.Find().SetBatchSize(4).SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 || all[24]["ssn"] != "PROXY-SSN-024" || all[24]["secret"] != "PROXY-SECRET-024" {
		t.Fatalf("find with getMore: %d documents, last %v", len(all), all[len(all)-1])
	}
	// explain goes through analysis too, and its reply through decryption.
	var explain bson.M
	if err := c.Database(e.db).RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "people"},
		{Key: "filter", Value: bson.D{{Key: "ssn", Value: "PROXY-SSN-003"}}}}}}).Decode(&explain); err != nil {
		t.Fatalf("explain through the proxy: %v", err)
	}
	// A query on the random field is refused, with the field named and the value not shown.
	err = people.FindOne(ctx, bson.D{{Key: "secret", Value: "PROXY-SECRET-001"}}).Err()
	var ce2 mongo.CommandError
	if !errors.As(err, &ce2) || !strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "PROXY-SECRET-001") {
		t.Fatalf("query on a random field: %v", err)
	}
	// The connection still serves after a refusal.
	if n, err := people.CountDocuments(ctx, bson.D{{Key: "ssn", Value: "PROXY-SSN-001"}}); err != nil || n != 1 {
		t.Fatalf("count after a refusal: %d, %v", n, err)
	}
}

// TestProxyHello: the proxy's hello keeps the server's wire versions and limits and offers
// no compression, even to a client that asks for it.
func TestProxyHello(t *testing.T) {
	e := newEnv(t)
	c, err := mongo.Connect(options.Client().ApplyURI(e.proxyURI).SetCompressors([]string{"zstd", "snappy", "zlib"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	var hello bson.M
	if err := c.Database("admin").RunCommand(t.Context(), bson.D{{Key: "hello", Value: 1}, {Key: "compression", Value: bson.A{"zstd", "zlib"}}}).Decode(&hello); err != nil {
		t.Fatal(err)
	}
	if _, ok := hello["compression"]; ok {
		t.Fatalf("hello offers compression: %v", hello["compression"])
	}
	if hello["maxWireVersion"] == nil || hello["maxBsonObjectSize"] == nil {
		t.Fatalf("hello lost the server's limits: %v", hello)
	}
	// A compressing client still works (it sends nothing compressed).
	if err := c.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestProxyListenRefusesNetwork: without TLS the proxy serves loopback only.
func TestProxyListenRefusesNetwork(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("no wildcard listener:", err)
	}
	defer ln.Close()
	if err := e.srv.Serve(ln); !errors.Is(err, proxy.ErrNotLoopback) {
		t.Fatalf("Serve on 0.0.0.0 without TLS: %v", err)
	}
}

// TestProxyShutdown: Shutdown refuses new connections and ends Serve with ErrClosed.
func TestProxyShutdown(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	if err := c.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-e.done; !errors.Is(err, proxy.ErrClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	addr := e.addr
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("a connection was accepted after Shutdown")
	}
}

// python is Debian's Python with Debian's python3-pymongo (.ci/run installs it).
const python = "/usr/bin/python3"

// realClient is a client program of another driver, with no code of ours.
type realClient struct {
	name, prefix string
	available    func() error
	command      func(ctx context.Context, uri, db string) *exec.Cmd
	install      string
}

var realClients = []realClient{
	{
		name: "PyMongo", prefix: "PY",
		available: func() error { return exec.Command(python, "-c", "import pymongo").Run() },
		command: func(ctx context.Context, uri, db string) *exec.Cmd {
			return exec.CommandContext(ctx, python, "testdata/pymongo_client.py", uri, db)
		},
		install: "apt-get install python3-pymongo",
	},
	{
		name: "Node.js driver", prefix: "NODE",
		available: func() error {
			if _, err := exec.LookPath("node"); err != nil {
				return err
			}
			_, err := os.Stat("testdata/node/node_modules/mongodb/package.json")
			return err
		},
		command: func(ctx context.Context, uri, db string) *exec.Cmd {
			return exec.CommandContext(ctx, "node", "testdata/node/client.mjs", uri, db)
		},
		install: "npm install --prefix proxy/testdata/node",
	},
	{
		name: "mongosh", prefix: "SH",
		available: func() error {
			if _, err := exec.LookPath("node"); err != nil {
				return err
			}
			_, err := os.Stat("testdata/node/node_modules/.bin/mongosh")
			return err
		},
		command: func(ctx context.Context, uri, db string) *exec.Cmd {
			// The database goes in the path of the connection string, before its options.
			u := strings.Replace(uri, "/?", "/"+db+"?", 1)
			cmd := exec.CommandContext(ctx, "testdata/node/node_modules/.bin/mongosh", "--quiet", "--norc", u, "testdata/node/mongosh_client.js")
			cmd.Env = append(os.Environ(), "MONGOSH_SKIP_NODE_VERSION_CHECK=1", "DO_NOT_TRACK=1", "HOME="+os.TempDir())
			return cmd
		},
		install: "npm install --prefix proxy/testdata/node",
	},
}

// TestProxyRealClients: PyMongo (Debian's python3-pymongo, its legacy OP_QUERY handshake
// included), the Node.js driver (npm mongodb) and mongosh (npm), with no code of ours, write plaintext
// through the proxy; the server holds ciphertext, and finds, an update, an aggregation and
// getMore batches return plaintext; a refused query is an error the client shows, naming the
// field and not the value.
func TestProxyRealClients(t *testing.T) {
	for _, rc := range realClients {
		t.Run(rc.name, func(t *testing.T) {
			if err := rc.available(); err != nil {
				if os.Getenv("MONGOCRYPT_PROXY_CLIENTS_REQUIRED") != "" {
					t.Fatalf("%s is required (MONGOCRYPT_PROXY_CLIENTS_REQUIRED): %v", rc.name, err)
				}
				t.Skipf("no %s (%s): %v", rc.name, rc.install, err)
			}
			runRealClient(t, rc)
		})
	}
}

func runRealClient(t *testing.T, rc realClient) {
	e := newEnv(t)
	outb, err := rc.command(t.Context(), e.proxyURI, e.db).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("the %s client failed: %v\n%s", rc.name, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var out struct {
		Found      map[string]any `json:"found"`
		Updated    string         `json:"updated"`
		Aggregated []string       `json:"aggregated"`
		Batched    []string       `json:"batched"`
		Refused    *string        `json:"refused"`
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("the %s client printed %q: %v", rc.name, outb, err)
	}
	p := rc.prefix
	if out.Found["secret"] != p+"-SECRET-005" || out.Updated != p+"-NEW" || len(out.Aggregated) != 1 || out.Aggregated[0] != p+"-SECRET-003" {
		t.Fatalf("%s read %+v", rc.name, out)
	}
	if len(out.Batched) != 12 || out.Batched[11] != p+"-SSN-011" {
		t.Fatalf("%s's find with getMore read %v", rc.name, out.Batched)
	}
	if out.Refused == nil || !strings.Contains(*out.Refused, "secret") || strings.Contains(*out.Refused, p+"-SECRET-001") {
		t.Fatalf("the refused query: %v", out.Refused)
	}
	cur, err := e.direct.Database(e.db).Collection("people").Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for cur.Next(t.Context()) {
		n++
		if bytes.Contains(cur.Current, []byte(p+"-")) {
			t.Fatalf("plaintext stored on the server: %s", cur.Current.Lookup("_id"))
		}
		if st, _, _ := cur.Current.Lookup("ssn").BinaryOK(); st != 6 {
			t.Fatalf("ssn stored as %s", cur.Current.Lookup("ssn").Type)
		}
	}
	if n != 12 {
		t.Fatalf("%d documents stored, want 12", n)
	}
	// The deterministic field holds the bytes ClientEncryption.Encrypt gives for the value.
	raw, err := e.direct.Database(e.db).Collection("people").FindOne(t.Context(), bson.D{{Key: "_id", Value: 7}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	typ, val, _ := bson.MarshalValue(p + "-SSN-007")
	want, err := e.ce.Encrypt(t.Context(), bson.RawValue{Type: typ, Value: val},
		options.Encrypt().SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic").SetKeyID(e.keyID))
	if err != nil {
		t.Fatal(err)
	}
	if _, data, _ := raw.Lookup("ssn").BinaryOK(); !bytes.Equal(data, want.Data) {
		t.Fatalf("%s's deterministic ciphertext differs from ClientEncryption.Encrypt's", rc.name)
	}
}

// TestProxyQueryableEncryption: through the proxy, a plain client creates a Queryable
// Encryption collection of the encryptedFieldsMap (the proxy makes the state collections, as a
// driver does), inserts plaintext, and finds it by equality; the server holds an indexed
// encrypted value (blob subtype 14) and one tag in __safeContent__.
func TestProxyQueryableEncryption(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, func(e *env, ae *options.AutoEncryptionOptions) {
		ef := bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"},
			{Key: "keyId", Value: e.keyID}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}, {Key: "contention", Value: int64(0)}}}}}}}
		ae.SetEncryptedFieldsMap(map[string]any{e.db + ".patients": ef})
	})
	c := e.client(t)
	db := c.Database(e.db)
	if err := db.CreateCollection(ctx, "patients"); err != nil {
		t.Fatal(err)
	}
	patients := db.Collection("patients")
	if _, err := patients.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "QE-PROXY-SSN"}}); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	if err := patients.FindOne(ctx, bson.D{{Key: "ssn", Value: "QE-PROXY-SSN"}}).Decode(&got); err != nil || got["ssn"] != "QE-PROXY-SSN" {
		t.Fatalf("equality find through the proxy: %v, %v", got, err)
	}
	raw, err := e.direct.Database(e.db).Collection("patients").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if st, data, ok := raw.Lookup("ssn").BinaryOK(); !ok || st != 6 || data[0] != 14 {
		t.Fatalf("the server stores ssn as %s", raw.Lookup("ssn").Type)
	}
	if tags, ok := raw.Lookup("__safeContent__").ArrayOK(); !ok || len(mustValues(t, tags)) != 1 {
		t.Fatalf("__safeContent__ of the stored document: %s", raw.Lookup("__safeContent__"))
	}
	if n, err := e.direct.Database(e.db).Collection("enxcol_.patients.esc").CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("the ESC holds %d documents (%v), want 1", n, err)
	}
}

func mustValues(t *testing.T, a bson.RawArray) []bson.RawValue {
	t.Helper()
	vals, err := a.Values()
	if err != nil {
		t.Fatal(err)
	}
	return vals
}
