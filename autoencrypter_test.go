package mongocrypt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// commandCounter counts the commands a client sends, by name and collection.
type commandCounter struct {
	mu   sync.Mutex
	seen []string
}

func (c *commandCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		coll := ""
		if v, err := e.Command.LookupErr(e.CommandName); err == nil {
			coll, _ = v.StringValueOK()
		}
		c.mu.Lock()
		c.seen = append(c.seen, e.CommandName+" "+coll)
		c.mu.Unlock()
	}}
}

func (c *commandCounter) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.seen {
		if x == s {
			n++
		}
	}
	return n
}

func bypassOptions(env *testEnv, kvMonitor *event.CommandMonitor) *options.ClientOptions {
	kvOpts := options.Client().ApplyURI(testURI)
	if kvMonitor != nil {
		kvOpts.SetMonitor(kvMonitor)
	}
	return options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(env.kvNS).
		SetKmsProviders(localProviders()).
		SetKeyVaultClientOptions(kvOpts).
		SetBypassAutoEncryption(true))
}

// TestAutoDecryption stores explicitly encrypted values (under two keys, at several depths)
// and reads them back through a Connect client: every value is decrypted, with one key vault
// query for both keys and none once they are cached.
func TestAutoDecryption(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	k1, _ := env.ce.CreateDataKey(ctx, "local")
	k2, _ := env.ce.CreateDataKey(ctx, "local:other", options.DataKey().SetKeyAltNames([]string{"k2"}))
	enc := func(v any, key bson.Binary, algo string) bson.Binary {
		b, err := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyID(key).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-"+algo))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stored := bson.D{
		{Key: "_id", Value: 1},
		{Key: "ssn", Value: enc("457-55-5462", k1, "Deterministic")},
		{Key: "plain", Value: "visible"},
		{Key: "nested", Value: bson.D{{Key: "deep", Value: bson.A{enc(int32(42), k2, "Random"), "x", bson.D{{Key: "d", Value: enc(bson.D{{Key: "obj", Value: true}}, k1, "Random")}}}}}},
	}
	if _, err := env.client.Database(env.db).Collection("coll").InsertOne(ctx, stored); err != nil {
		t.Fatal(err)
	}
	var kvCmds commandCounter
	c, err := Connect(bypassOptions(env, kvCmds.monitor()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database(env.db).Collection("coll")
	want := `{"_id": {"$numberInt":"1"},"ssn": "457-55-5462","plain": "visible","nested": {"deep": [{"$numberInt":"42"},"x",{"d": {"obj": true}}]}}`
	for i := 0; i < 2; i++ {
		got, err := coll.FindOne(ctx, bson.D{}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Fatalf("read back\n%s\nwant\n%s", got, want)
		}
	}
	if n := kvCmds.count("find datakeys"); n != 1 {
		t.Fatalf("%d key vault queries for two keys read twice, want 1", n)
	}
	// The explicitly encrypted deterministic value can be queried through the same client.
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "ssn", Value: enc("457-55-5462", k1, "Deterministic")}})
	if err != nil || n != 1 {
		t.Fatalf("query by deterministic ciphertext: %d %v", n, err)
	}
	// Writes go through unchanged with bypass: the stored document is the ciphertext.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "v", Value: enc("s", k2, "Random")}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := env.client.Database(env.db).Collection("coll").FindOne(ctx, bson.D{{Key: "_id", Value: 2}}).Raw()
	if st, _ := raw.Lookup("v").Binary(); st != 6 {
		t.Fatalf("stored value is not encrypted: %s", raw)
	}
}

func TestAutoDecryptionMissingKey(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	k, _ := env.ce.CreateDataKey(ctx, "local")
	ct, _ := env.ce.Encrypt(ctx, rawValue(t, "x"), options.Encrypt().SetKeyID(k).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if _, err := env.client.Database(env.db).Collection("c").InsertOne(ctx, bson.D{{Key: "v", Value: ct}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ce.DeleteKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(bypassOptions(env, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	err = c.Database(env.db).Collection("c").FindOne(ctx, bson.D{}).Err()
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("reading a value whose key was deleted: %v", err)
	}
}

func TestConnectWithoutEncryptionOptions(t *testing.T) {
	// Without encryption options Connect is mongo.Connect.
	c, err := Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(t.Context())
	if err := c.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	_, err = Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace("k.v").SetKmsProviders(localProviders()).SetExtraOptions(map[string]any{"cryptSharedLibRequired": true})))
	if err == nil || !strings.Contains(err.Error(), "cryptSharedLibRequired") {
		t.Fatalf("cryptSharedLibRequired: %v", err)
	}
}

func TestAutoEncrypterAlone(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	a, err := NewAutoEncrypter(bypassOptions(env, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	plain, _ := bson.Marshal(bson.D{{Key: "ok", Value: 1}, {Key: "a", Value: bson.A{1, "x"}}})
	out, err := a.Decrypt(ctx, plain)
	if err != nil || &out[0] != &plain[0] {
		t.Fatalf("a reply without encrypted values was copied or refused: %v", err)
	}
	cmd, _ := bson.Marshal(bson.D{{Key: "find", Value: "c"}})
	if got, err := a.Encrypt(ctx, "db", cmd); err != nil || &got[0] != &cmd[0] {
		t.Fatalf("bypass Encrypt changed the command: %v", err)
	}
	for _, bad := range [][]byte{{1, 2, 3}, {5, 0, 0, 0, 1}, append(plain[:len(plain)-1:len(plain)-1], 1)} {
		if _, err := a.Decrypt(ctx, bad); err == nil {
			t.Fatalf("malformed reply %x accepted", bad)
		}
	}
	if _, err := NewAutoEncrypter(options.Client()); err == nil {
		t.Fatal("options without AutoEncryptionOptions accepted")
	}
}

// FuzzReplyWalk feeds arbitrary replies to the walks of auto-decryption: malformed input gives
// errors, never panics, and a replacement gives a valid document.
func FuzzReplyWalk(f *testing.F) {
	seeds := []bson.D{
		{{Key: "ok", Value: 1}},
		{{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: bson.A{bson.D{{Key: "x", Value: bson.Binary{Subtype: 6, Data: []byte{1, 1}}}}}}}}},
		{{Key: "r", Value: bson.Regex{Pattern: "a", Options: "i"}}, {Key: "p", Value: bson.DBPointer{DB: "x", Pointer: bson.NewObjectID()}}},
		{{Key: "all", Value: bson.A{1.5, "s", bson.D{}, bson.A{}, bson.Binary{Data: []byte{1}}, bson.Undefined{}, bson.NewObjectID(), true,
			bson.DateTime(1), bson.Null{}, bson.JavaScript("j"), bson.Symbol("s"), bson.CodeWithScope{Code: "c", Scope: bson.D{}},
			int32(1), bson.Timestamp{}, int64(2), bson.NewDecimal128(1, 1), bson.MinKey{}, bson.MaxKey{}}}},
	}
	for _, s := range seeds {
		b, _ := bson.Marshal(s)
		f.Add(b)
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	replacement := rawValue(f, "decrypted")
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		verr := visitEncrypted(b, func(data []byte) error { n++; return nil })
		out, err := replaceEncrypted(nil, b, 0, func(dst, data []byte) ([]byte, bson.Type, bool, error) {
			return append(dst, replacement.Value...), replacement.Type, len(data) > 0 && data[0] == 1, nil
		})
		if (verr == nil) != (err == nil) {
			t.Fatalf("the two walks disagree: %v / %v", verr, err)
		}
		if err == nil && bson.Raw(b).Validate() == nil {
			if err := bson.Raw(out).Validate(); err != nil {
				t.Fatalf("replacement made an invalid document: %v", err)
			}
		}
	})
}
