package mongocrypt

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/providers"
)

// logCapture keeps every record its handlers see, with their attributes as text, and the
// records as a JSON handler writes them.
type logCapture struct {
	mu   sync.Mutex
	recs []capturedRecord
	json bytes.Buffer
}

type capturedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r capturedRecord) String() string {
	keys := make([]string, 0, len(r.attrs))
	for k := range r.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.level, r.msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, r.attrs[k])
	}
	return b.String()
}

type captureHandler struct {
	c     *logCapture
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{c: h.c, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h captureHandler) WithGroup(string) slog.Handler { return h }

func (h captureHandler) Handle(ctx context.Context, r slog.Record) error {
	m := map[string]string{}
	add := func(a slog.Attr) bool {
		m[a.Key] = a.Value.Resolve().String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.recs = append(h.c.recs, capturedRecord{level: r.Level, msg: r.Message, attrs: m})
	return slog.NewJSONHandler(&h.c.json, &slog.HandlerOptions{Level: slog.LevelDebug}).WithAttrs(h.attrs).Handle(ctx, r)
}

func (c *logCapture) logger() *slog.Logger { return slog.New(captureHandler{c: c}) }

// find returns the records with message msg whose attributes include want.
func (c *logCapture) find(msg string, want map[string]string) []capturedRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capturedRecord
next:
	for _, r := range c.recs {
		if r.msg != msg {
			continue
		}
		for k, v := range want {
			if r.attrs[k] != v {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// text is every record, in both renderings.
func (c *logCapture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range c.recs {
		b.WriteString(r.String() + "\n")
	}
	b.Write(c.json.Bytes())
	return b.String()
}

func (c *logCapture) mustFind(t *testing.T, level slog.Level, msg string, want map[string]string) capturedRecord {
	t.Helper()
	found := c.find(msg, want)
	if len(found) == 0 {
		t.Fatalf("no record %q with %v; records:\n%s", msg, want, c.text())
	}
	if found[0].level != level {
		t.Errorf("record %s: level %s, want %s", found[0], found[0].level, level)
	}
	return found[0]
}

// secretForms are the renderings of secret bytes that a log could hold.
func secretForms(b []byte) []string {
	return []string{
		string(b),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		fmt.Sprint(b), fmt.Sprintf("%q", b),
	}
}

// TestLoggerRecords runs explicit and automatic encryption with a Config whose Logger captures
// every record: the records of each step are there, with key ids as UUIDs, provider names and
// durations, and no record holds the plaintext, a keyAltName, the master key or the data key.
func TestLoggerRecords(t *testing.T) {
	ctx := t.Context()
	var capt logCapture
	cfg := Config{Logger: capt.logger()}
	db := uniqueDB(t)
	const plaintext = "plaintext-457-55-5462-never-logged"
	const altName = "alt-name-of-a-person@example.com"
	det := "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"

	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := cfg.NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(db+".datakeys").
		SetKmsProviders(localProviders()).SetTLSConfig(map[string]*tls.Config{"aws": {}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = connect(t).Database(db).Drop(context.Background())
		_ = ce.Close(context.Background())
	})
	capt.mustFind(t, slog.LevelInfo, "client encryption ready", map[string]string{
		"component": "mongocrypt", "key_vault": db + ".datakeys", "kms_providers": "[local local:other]", "key_expiration": "1m0s"})
	capt.mustFind(t, slog.LevelWarn, "KMS TLS options ignored", map[string]string{"kms_provider": "aws"})

	id, err := ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{altName}))
	if err != nil {
		t.Fatal(err)
	}
	uuid := uuidString([16]byte(id.Data))
	capt.mustFind(t, slog.LevelDebug, "KMS encrypt", map[string]string{"key_id": uuid, "kms_provider": "local"})
	capt.mustFind(t, slog.LevelInfo, "data key created", map[string]string{"key_id": uuid, "kms_provider": "local", "key_alt_names": "1"})

	ct, err := ce.Encrypt(ctx, rawValue(t, plaintext), options.Encrypt().SetKeyAltName(altName).SetAlgorithm(det))
	if err != nil {
		t.Fatal(err)
	}
	capt.mustFind(t, slog.LevelDebug, "key cache miss", map[string]string{"by": "keyAltName"})
	find := capt.mustFind(t, slog.LevelDebug, "key vault find", map[string]string{"key_ids": "[]", "key_alt_names": "1", "found": "1"})
	if _, err := time.ParseDuration(find.attrs["duration"]); err != nil {
		t.Errorf("key vault find without a duration: %s", find)
	}
	capt.mustFind(t, slog.LevelDebug, "KMS decrypt", map[string]string{"key_id": uuid, "kms_provider": "local"})
	if _, err := ce.Encrypt(ctx, rawValue(t, plaintext), options.Encrypt().SetKeyID(id).SetAlgorithm(det)); err != nil {
		t.Fatal(err)
	}
	capt.mustFind(t, slog.LevelDebug, "key cache hit", map[string]string{"key_id": uuid})
	if got, err := ce.Decrypt(ctx, ct); err != nil || got.StringValue() != plaintext {
		t.Fatalf("decrypt: %v %v", got, err)
	}
	dk, ok := ce.e.cache.Get([16]byte(id.Data))
	if !ok {
		t.Fatal("the data key is not cached")
	}
	if _, err := ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local:other")); err != nil {
		t.Fatal(err)
	}
	capt.mustFind(t, slog.LevelDebug, "KMS encrypt", map[string]string{"key_id": uuid, "kms_provider": "local:other"})
	capt.mustFind(t, slog.LevelInfo, "data keys rewrapped", map[string]string{"keys": "1", "kms_provider": "local:other"})

	// Automatic encryption, through the driver.
	schema := bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{{Key: "ssn", Value: bson.D{
		{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{id}}, {Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: det}}}}}}}}
	client, err := cfg.Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(db + ".datakeys").SetKmsProviders(localProviders()).
		SetSchemaMap(map[string]any{db + ".coll": schema}).
		SetExtraOptions(map[string]any{"bogusOption": 1, "mongocryptdBypassSpawn": true})))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	capt.mustFind(t, slog.LevelWarn, "extra option ignored", map[string]string{"option": "bogusOption"})
	capt.mustFind(t, slog.LevelDebug, "extra option has no effect", map[string]string{"option": "mongocryptdBypassSpawn"})
	capt.mustFind(t, slog.LevelInfo, "auto encryption ready", map[string]string{"key_vault": db + ".datakeys", "bypass_auto_encryption": "false"})
	coll := client.Database(db).Collection("coll")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "ssn", Value: plaintext}}); err != nil {
		t.Fatal(err)
	}
	capt.mustFind(t, slog.LevelDebug, "command analyzed", map[string]string{"command": "insert", "database": db, "outcome": "rewritten"})
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "ssn", Value: plaintext}}).Decode(&got); err != nil || got["ssn"] != plaintext {
		t.Fatalf("find: %v %v", got, err)
	}
	capt.mustFind(t, slog.LevelDebug, "command analyzed", map[string]string{"command": "find", "outcome": "rewritten"})
	if err := client.Database(db).Collection("other").FindOne(ctx, bson.D{}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatal(err)
	}
	capt.mustFind(t, slog.LevelDebug, "collection options read", map[string]string{"namespace": db + ".other", "schema": "none"})
	capt.mustFind(t, slog.LevelDebug, "command analyzed", map[string]string{"command": "find", "outcome": "unchanged"})
	if err := coll.FindOne(ctx, bson.D{{Key: "ssn", Value: bson.D{{Key: "$gt", Value: plaintext}}}}).Err(); err == nil {
		t.Fatal("a range query on a deterministic field was accepted")
	}
	refused := capt.mustFind(t, slog.LevelDebug, "command analyzed", map[string]string{"command": "find", "outcome": "refused"})
	if !strings.Contains(refused.attrs["error"], "ssn") {
		t.Errorf("the refusal does not name the field: %s", refused)
	}

	all := capt.text()
	for _, r := range capt.recs {
		if r.attrs["component"] != "mongocrypt" {
			t.Errorf("record without component=mongocrypt: %s", r)
		}
	}
	secrets := map[string][]string{
		"the plaintext":      {plaintext},
		"the keyAltName":     {altName},
		"the master key":     secretForms(localMasterKey),
		"the other master":   secretForms(make([]byte, 96))[1:], // its raw bytes are NULs
		"the data key":       secretForms(dk.raw),
		"the data key's MAC": secretForms(dk.raw[:32]),
	}
	for what, forms := range secrets {
		for _, f := range forms {
			if strings.Contains(all, f) {
				t.Errorf("%s (%.20q...) is in the records", what, f)
			}
		}
	}
	if len(capt.recs) < 20 {
		t.Errorf("only %d records:\n%s", len(capt.recs), all)
	}
}

// TestLoggerNil: the zero Config and a Config with a logger that wants nothing log nothing and
// work as the functions do.
func TestLoggerNil(t *testing.T) {
	var capt logCapture
	quiet := slog.New(levelFilter{captureHandler{c: &capt}, slog.LevelError})
	env := newEnv(t)
	for _, cfg := range []Config{{}, {Logger: quiet}} {
		ce, err := cfg.NewClientEncryption(connect(t), options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
		if err != nil {
			t.Fatal(err)
		}
		id, err := ce.CreateDataKey(t.Context(), "local")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ce.Encrypt(t.Context(), rawValue(t, "x"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(capt.recs); n != 0 {
		t.Fatalf("%d records below the handler's level:\n%s", n, capt.text())
	}
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(_ context.Context, l slog.Level) bool { return l >= f.min }

func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(as), f.min}
}

// TestKeyExpirationNegative: the driver reads a negative keyExpiration as libmongocrypt's 0, keys
// never expire (x/mongo/driver/mongocrypt/mongocrypt.go, NewMongoCrypt); so does this package,
// for ClientEncryption and automatic encryption. A key is still usable from the cache once its
// key document is gone; with a tiny positive keyExpiration it is not.
func TestKeyExpirationNegative(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		exp    time.Duration
		cached bool
	}{{-time.Second, true}, {-1, true}, {0, true}, {time.Nanosecond, false}} {
		t.Run(tc.exp.String(), func(t *testing.T) {
			env := newEnv(t, func(o *options.ClientEncryptionOptionsBuilder) { o.SetKeyExpiration(tc.exp) })
			if want := max(tc.exp, 0); env.ce.e.cacheTTL != want {
				t.Fatalf("cache expiration %v, want %v", env.ce.e.cacheTTL, want)
			}
			id, err := env.ce.CreateDataKey(ctx, "local")
			if err != nil {
				t.Fatal(err)
			}
			opts := options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")
			ct, err := env.ce.Encrypt(ctx, rawValue(t, "v"), opts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
				SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).SetBypassAutoEncryption(true).SetKeyExpiration(tc.exp)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(ctx)
			if want := max(tc.exp, 0); a.e.cacheTTL != want {
				t.Fatalf("auto encryption cache expiration %v, want %v", a.e.cacheTTL, want)
			}
			reply, _ := bson.Marshal(bson.D{{Key: "v", Value: ct}})
			if _, err := a.Decrypt(ctx, reply); err != nil {
				t.Fatal(err)
			}
			// The key document goes, behind the back of the caches.
			if _, err := env.kv.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
			_, err = env.ce.Encrypt(ctx, rawValue(t, "v"), opts)
			_, aerr := a.Decrypt(ctx, reply)
			for _, err := range []error{err, aerr} {
				if tc.cached && err != nil {
					t.Errorf("the cached key expired: %v", err)
				}
				if !tc.cached && !errors.Is(err, ErrKeyNotFound) {
					t.Errorf("the key did not expire: %v", err)
				}
			}
		})
	}
}

// TestTLSConfigOfUnconfiguredProvider: the driver looks up the TLS configuration of a KMS
// request by the name of its provider (x/mongo/driver/crypt.go) and never looks at others; TLS
// options for a provider that is not configured are ignored here too, even insecure ones, with
// a Warn record.
func TestTLSConfigOfUnconfiguredProvider(t *testing.T) {
	var capt logCapture
	cfg := Config{Logger: capt.logger()}
	tlsOpts := map[string]*tls.Config{"aws": {InsecureSkipVerify: true}, "kmip:named": {}}
	ce, err := cfg.NewClientEncryption(connect(t), options.ClientEncryption().SetKeyVaultNamespace("db.keys").
		SetKmsProviders(localProviders()).SetTLSConfig(tlsOpts))
	if err != nil {
		t.Fatal(err)
	}
	_ = ce.Close(t.Context())
	a, err := cfg.NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace("db.keys").SetKmsProviders(localProviders()).SetTLSConfig(tlsOpts)))
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Close(t.Context())
	for _, name := range []string{"aws", "kmip:named"} {
		if n := len(capt.find("KMS TLS options ignored", map[string]string{"kms_provider": name})); n != 2 {
			t.Errorf("%d records for the TLS options of %s, want 2:\n%s", n, name, capt.text())
		}
	}
	// The TLS options of a configured provider are still checked.
	_, err = NewClientEncryption(connect(t), options.ClientEncryption().SetKeyVaultNamespace("db.keys").
		SetKmsProviders(localProviders()).SetTLSConfig(map[string]*tls.Config{"local": {InsecureSkipVerify: true}}))
	if err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Fatalf("insecure TLS options of a configured provider: %v", err)
	}
}

// TestExtraOptions: ExtraOptions keys the driver does not know are ignored with a Warn record;
// the crypt_shared options are checked as the driver checks them (mongo/client.go,
// newMongoCrypt), and cryptSharedLibRequired: true fails, as it does in the driver when no
// crypt_shared is loaded, saying that none is needed.
func TestExtraOptions(t *testing.T) {
	known := map[string]any{
		"mongocryptdURI": "mongodb://localhost:27020", "mongocryptdBypassSpawn": true, "mongocryptdPath": "/bin/mongocryptd",
		"mongocryptdSpawnPath": "/bin/mongocryptd", "mongocryptdSpawnArgs": []string{"--idleShutdownTimeoutSecs=60"},
		"cryptSharedLibPath": "/lib/mongo_crypt_v1.so", "cryptSharedLibRequired": false, "__cryptSharedLibDisabledForTestOnly": true,
	}
	for _, tc := range []struct {
		name    string
		extra   map[string]any
		wantErr []string
		warn    []string
	}{
		{name: "unknown", extra: map[string]any{"bogus": 1, "mongocryptdSpawnarg": "typo"}, warn: []string{"bogus", "mongocryptdSpawnarg"}},
		{name: "known", extra: known},
		{name: "required", extra: map[string]any{"cryptSharedLibRequired": true},
			wantErr: []string{`"cryptSharedLibRequired" is true`, "needs none", "query analysis is built in"}},
		{name: "required-not-bool", extra: map[string]any{"cryptSharedLibRequired": "true"},
			wantErr: []string{`expected AutoEncryption extra option "cryptSharedLibRequired" to be a bool, but is a string`}},
		{name: "path-not-string", extra: map[string]any{"cryptSharedLibPath": 3},
			wantErr: []string{`expected AutoEncryption extra option "cryptSharedLibPath" to be a string, but is a int`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var capt logCapture
			a, err := Config{Logger: capt.logger()}.NewAutoEncrypter(options.Client().ApplyURI(testURI).
				SetAutoEncryptionOptions(options.AutoEncryption().SetKeyVaultNamespace("db.keys").
					SetKmsProviders(localProviders()).SetExtraOptions(tc.extra)))
			if tc.wantErr != nil {
				if err == nil {
					_ = a.Close(t.Context())
					t.Fatal("accepted")
				}
				var me *Error
				if !errors.As(err, &me) || me.Code != CodeClient {
					t.Errorf("not a client *Error: %#v", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = a.Close(t.Context())
			warned := capt.find("extra option ignored", nil)
			if len(warned) != len(tc.warn) {
				t.Fatalf("%d records of ignored options, want %d:\n%s", len(warned), len(tc.warn), capt.text())
			}
			for i, w := range tc.warn {
				if warned[i].attrs["option"] != w || warned[i].level != slog.LevelWarn {
					t.Errorf("record %s, want a Warn for %s", warned[i], w)
				}
			}
			if n := len(capt.find("extra option has no effect", nil)); tc.name == "known" && n != len(known) {
				t.Errorf("%d records of the known options, want %d", n, len(known))
			}
		})
	}
}

type staticAWSCreds struct{}

func (staticAWSCreds) Retrieve(context.Context) (options.AWSCredentials, error) {
	return options.AWSCredentials{AccessKeyID: "id", SecretAccessKey: "secret"}, nil
}

// TestAWSCredentialsProviderNeedsOnDemandAWS: the driver refuses an AWS credentials provider
// unless kmsProviders has "aws" with an empty document (x/mongo/driver/mongocrypt/mongocrypt.go,
// NewMongoCrypt), with the same words, for ClientEncryption and automatic encryption.
func TestAWSCredentialsProviderNeedsOnDemandAWS(t *testing.T) {
	creds := map[string]any{"accessKeyId": "id", "secretAccessKey": "secret"}
	for _, tc := range []struct {
		name string
		kms  map[string]map[string]any
		ok   bool
	}{
		{"no-aws", localProviders(), false},
		{"named-aws-only", map[string]map[string]any{"aws:named": creds}, false},
		{"aws-with-credentials", map[string]map[string]any{"aws": creds}, false},
		{"aws-on-demand", map[string]map[string]any{"aws": {}}, true},
		{"aws-on-demand-and-named", map[string]map[string]any{"aws": {}, "aws:named": creds, "local": {"key": localMasterKey}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if tc.ok {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					return
				}
				if !errors.Is(err, providers.ErrAWSCredentialsProvider) ||
					!strings.Contains(err.Error(), "can only provide a custom AWS credential provider when the state machine is configured for automatic AWS credential fetching") {
					t.Errorf("%s: %v", what, err)
				}
			}
			ce, err := NewClientEncryption(connect(t), options.ClientEncryption().SetKeyVaultNamespace("db.keys").
				SetKmsProviders(tc.kms).SetAWSCredentialsProvider(staticAWSCreds{}))
			check("ClientEncryption", err)
			if err == nil {
				_ = ce.Close(t.Context())
			}
			a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
				SetKeyVaultNamespace("db.keys").SetKmsProviders(tc.kms).SetAWSCredentialsProvider(staticAWSCreds{})))
			check("AutoEncrypter", err)
			if err == nil {
				_ = a.Close(t.Context())
			}
		})
	}
}

// TestCodecOfDriver: the Registry and BSONOptions of a driver client and database are read
// from the driver's fields; a change of the driver that hides them fails here.
func TestCodecOfDriver(t *testing.T) {
	reg := bson.NewRegistry()
	bo := &options.BSONOptions{UseJSONStructTags: true}
	c := connect(t, options.Client().SetRegistry(reg).SetBSONOptions(bo))
	if got := codecOf(c); got.reg != reg || got.opts != bo {
		t.Fatalf("client codec %+v, want %p %p", got, reg, bo)
	}
	dbReg := bson.NewRegistry()
	if got := codecOf(c.Database("x", options.Database().SetRegistry(dbReg))); got.reg != dbReg || got.opts != bo {
		t.Fatalf("database codec %+v, want %p %p", got, dbReg, bo)
	}
	if got := codecOf(connect(t)); got.reg == nil || got.opts != nil {
		t.Fatalf("default client codec %+v", got)
	}
	if got := codecOf((*mongo.Client)(nil)); got != (bsonCodec{}) {
		t.Fatalf("nil client codec %+v", got)
	}
}

// jsonMasterKey is a local masterKey whose field name is in its json tag only.
type jsonMasterKey struct {
	P string `json:"provider"`
}

// jsonIDFilter is a key vault filter on _id, named by its json tag only.
type jsonIDFilter struct {
	ID bson.Binary `json:"_id"`
}

// secretKey is a local master key that only a custom registry encodes as binary (the default
// encodes a struct without exported fields as an empty document).
type secretKey struct{ b []byte }

func secretKeyRegistry() *bson.Registry {
	reg := bson.NewRegistry()
	reg.RegisterTypeEncoder(reflect.TypeOf(secretKey{}), bson.ValueEncoderFunc(func(_ bson.EncodeContext, vw bson.ValueWriter, v reflect.Value) error {
		return vw.WriteBinary(v.Interface().(secretKey).b)
	}))
	return reg
}

// TestCallerDocumentsWithClientCodec: the masterKey of CreateDataKey and RewrapManyDataKey and
// the RewrapManyDataKey filter are encoded with the key vault client's Registry and
// BSONOptions (mongo/client_encryption.go, CreateDataKey and RewrapManyDataKey); schemaMap,
// encryptedFieldsMap and kmsProviders of automatic encryption with the client's
// (mongo/client.go, newMongoCrypt); kmsProviders of ClientEncryption with the default registry,
// as the driver (mongo/client_encryption.go, NewClientEncryption).
func TestCallerDocumentsWithClientCodec(t *testing.T) {
	ctx := t.Context()
	env := newEnv(t)
	jsonTags := &options.BSONOptions{UseJSONStructTags: true}
	// A registry of its own: the driver's struct codec caches the description of a struct type
	// with the tag mode of its first use, so the json tags of a client of the default registry
	// would reach bson.Marshal and the other clients too.
	ce, err := NewClientEncryption(connect(t, options.Client().SetRegistry(bson.NewRegistry()).SetBSONOptions(jsonTags)),
		options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
	if err != nil {
		t.Fatal(err)
	}
	id, err := ce.CreateDataKey(ctx, "local", options.DataKey().SetMasterKey(jsonMasterKey{"local"}))
	if err != nil {
		t.Fatalf("masterKey with json tags: %v", err)
	}
	if _, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetMasterKey(jsonMasterKey{"local"})); err == nil {
		t.Fatal("without json tags the masterKey is {p: local}, which the local provider refuses")
	}
	res, err := ce.RewrapManyDataKey(ctx, jsonIDFilter{id}, options.RewrapManyDataKey().
		SetProvider("local:other").SetMasterKey(jsonMasterKey{"local:other"}))
	if err != nil || res.BulkWriteResult == nil || res.BulkWriteResult.ModifiedCount != 1 {
		t.Fatalf("rewrap by a json-tagged filter: %+v %v", res, err)
	}
	if res, err := env.ce.RewrapManyDataKey(ctx, jsonIDFilter{id}); err != nil || res.BulkWriteResult != nil {
		t.Fatalf("without json tags the filter is {id: ...}, which matches no key: %+v %v", res, err)
	}

	// Automatic encryption: the client's codec, for kmsProviders too.
	reg := secretKeyRegistry()
	type jsonSchema struct {
		BSONType string `json:"bsonType"`
	}
	type jsonEF struct {
		Fields []any `json:"fields"`
	}
	kms := map[string]map[string]any{"local": {"key": secretKey{localMasterKey}}}
	a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetRegistry(reg).SetBSONOptions(jsonTags).
		SetAutoEncryptionOptions(options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(kms).
			SetSchemaMap(map[string]any{"db.s": jsonSchema{"object"}}).
			SetEncryptedFieldsMap(map[string]any{"db.e": jsonEF{Fields: []any{}}})))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if v, err := a.schemas.schemaMap["db.s"].LookupErr("bsonType"); err != nil || v.StringValue() != "object" {
		t.Errorf("schemaMap entry %s", a.schemas.schemaMap["db.s"])
	}
	if _, err := a.schemas.efMap["db.e"].LookupErr("fields"); err != nil {
		t.Errorf("encryptedFieldsMap entry %s", a.schemas.efMap["db.e"])
	}
	// The local master key went through the registry: a key made under it decrypts.
	id2, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	ct2, err := env.ce.Encrypt(ctx, rawValue(t, "w"), options.Encrypt().SetKeyID(id2).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := bson.Marshal(bson.D{{Key: "v", Value: ct2}})
	out, err := a.Decrypt(ctx, reply)
	if err != nil || bson.Raw(out).Lookup("v").StringValue() != "w" {
		t.Fatalf("decrypt with the registry-encoded master key: %s %v", out, err)
	}
	// ClientEncryption encodes kmsProviders with the default registry, whatever the client's.
	if _, err := NewClientEncryption(connect(t, options.Client().SetRegistry(reg)),
		options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(kms)); err == nil {
		t.Fatal("ClientEncryption encoded kmsProviders with the key vault client's registry")
	}
}

// TestErrAttrLeavesOutKeyAltNames: the error attribute of a record quotes no keyAltName (one
// may be a value of a document, through a JSON schema keyId "/field").
func TestErrAttrLeavesOutKeyAltNames(t *testing.T) {
	for _, err := range []error{
		&Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: keyAltName %q", ErrKeyNotFound, `alice@example.com "x\"y"`)},
		clientErr("keyAltName %q names more than one key (%s and %s)", "alice@example.com", uuidString([16]byte{1}), uuidString([16]byte{2})),
	} {
		got := errAttr(err).Value.String()
		if strings.Contains(got, "alice") || !strings.Contains(got, "keyAltName (not logged)") {
			t.Errorf("error attribute %q of %q", got, err)
		}
	}
	if got := errAttr(clientErr("field ssn: refused")).Value.String(); !strings.Contains(got, "field ssn: refused") {
		t.Errorf("error attribute %q", got)
	}
}
