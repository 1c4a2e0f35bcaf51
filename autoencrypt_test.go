package mongocrypt

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// wireRecorder keeps every byte a client writes to the server.
type wireRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type recordingConn struct {
	net.Conn
	r *wireRecorder
}

func (c recordingConn) Write(p []byte) (int, error) {
	c.r.mu.Lock()
	c.r.buf.Write(p)
	c.r.mu.Unlock()
	return c.Conn.Write(p)
}

func (r *wireRecorder) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return recordingConn{c, r}, nil
}

func (r *wireRecorder) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.buf.Bytes(), []byte(s))
}

type autoEnv struct {
	*testEnv
	keyID  bson.Binary
	client *mongo.Client // auto-encrypting
	wire   *wireRecorder
	sent   *commandLog
}

// commandLog keeps the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []bson.Raw
}

func (l *commandLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		l.mu.Lock()
		l.cmds = append(l.cmds, append(bson.Raw(nil), e.Command...))
		l.mu.Unlock()
	}}
}

func (l *commandLog) last(name string) bson.Raw {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.cmds) - 1; i >= 0; i-- {
		if e, err := l.cmds[i].IndexErr(0); err == nil && e.Key() == name {
			return l.cmds[i]
		}
	}
	return nil
}

// newAutoEnv makes a key and an auto-encrypting client whose options are set by configure.
func newAutoEnv(t *testing.T, configure func(env *autoEnv, ae *options.AutoEncryptionOptions)) *autoEnv {
	t.Helper()
	env := &autoEnv{testEnv: newEnv(t), wire: &wireRecorder{}, sent: &commandLog{}}
	id, err := env.ce.CreateDataKey(t.Context(), "local", options.DataKey().SetKeyAltNames([]string{"altname"}))
	if err != nil {
		t.Fatal(err)
	}
	env.keyID = id
	ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders())
	configure(env, ae)
	c, err := Connect(options.Client().ApplyURI(testURI).SetDialer(env.wire).SetMonitor(env.sent.monitor()).SetAutoEncryptionOptions(ae))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	env.client = c
	return env
}

func csfleSchema(keyID bson.Binary) bson.D {
	return bson.D{
		{Key: "bsonType", Value: "object"},
		{Key: "encryptMetadata", Value: bson.D{{Key: "keyId", Value: bson.A{keyID}}}},
		{Key: "properties", Value: bson.D{
			{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}},
			{Key: "record", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "object"}, {Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}},
			{Key: "byName", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}, {Key: "keyId", Value: "/keyName"}}}}},
		}},
	}
}

// TestAutoEncryptCSFLE runs every command kind of a CSFLE collection (schemaMap) through a
// Connect client: the stored values are ciphertexts byte-equal to explicit encryption, queries
// on the deterministic field match, reads come back decrypted, refusals happen before sending,
// and no plaintext of an encrypted field is ever written to the connection.
func TestAutoEncryptCSFLE(t *testing.T) {
	env := newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
		ae.SetSchemaMap(map[string]any{e.db + ".people": csfleSchema(e.keyID)})
	})
	ctx := t.Context()
	coll := env.client.Database(env.db).Collection("people")
	secrets := []string{"457-55-5462", "123-45-6789", "SECRET-RECORD-VALUE", "SECRET-BY-NAME"}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "Jon"}, {Key: "ssn", Value: secrets[0]},
		{Key: "record", Value: bson.D{{Key: "note", Value: secrets[2]}}}, {Key: "keyName", Value: "altname"}, {Key: "byName", Value: secrets[3]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: 2}, {Key: "name", Value: "Ana"}, {Key: "ssn", Value: secrets[1]}}}); err != nil {
		t.Fatal(err)
	}
	// Stored: the deterministic value is exactly the explicit ciphertext.
	stored, err := env.testEnv.client.Database(env.db).Collection("people").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := env.ce.Encrypt(ctx, rawValue(t, secrets[0]), options.Encrypt().SetKeyID(env.keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"))
	if st, data, _ := stored.Lookup("ssn").BinaryOK(); st != 6 || !bytes.Equal(data, want.Data) {
		t.Fatalf("stored ssn is not the deterministic ciphertext: %s", stored.Lookup("ssn"))
	}
	for _, f := range []string{"record", "byName"} {
		if st, data, ok := stored.Lookup(f).BinaryOK(); !ok || st != 6 || data[0] != 2 {
			t.Fatalf("stored %s is not a random ciphertext: %s", f, stored.Lookup(f))
		}
	}
	// Queries on the deterministic field, in several forms.
	for _, filter := range []bson.D{
		{{Key: "ssn", Value: secrets[0]}},
		{{Key: "ssn", Value: bson.D{{Key: "$eq", Value: secrets[0]}}}},
		{{Key: "ssn", Value: bson.D{{Key: "$in", Value: bson.A{secrets[0], "nobody"}}}}},
		{{Key: "$or", Value: bson.A{bson.D{{Key: "ssn", Value: secrets[0]}}, bson.D{{Key: "name", Value: "nobody"}}}}},
	} {
		var got bson.M
		if err := coll.FindOne(ctx, filter).Decode(&got); err != nil {
			t.Fatalf("find %v: %v", filter, err)
		}
		if got["ssn"] != secrets[0] || got["byName"] != secrets[3] {
			t.Fatalf("find %v: %v", filter, got)
		}
	}
	ne := bson.D{{Key: "ssn", Value: bson.D{{Key: "$ne", Value: secrets[0]}}}}
	if realMongoDB {
		// CountDocuments is an aggregate whose $group literals analysis writes as {$const: v},
		// as mongocryptd does; the embedded server does not know $const.
		n, err := coll.CountDocuments(ctx, ne)
		if err != nil || n != 1 {
			t.Fatalf("count $ne: %d %v", n, err)
		}
	} else {
		cur, err := coll.Find(ctx, ne)
		if err != nil {
			t.Fatal(err)
		}
		var all []bson.Raw
		if err := cur.All(ctx, &all); err != nil || len(all) != 1 {
			t.Fatalf("find $ne: %d %v", len(all), err)
		}
	}
	vals, err := coll.Distinct(ctx, "name", bson.D{{Key: "ssn", Value: secrets[1]}}).Raw()
	if err != nil || !strings.Contains(vals.String(), "Ana") {
		t.Fatalf("distinct: %v %v", vals, err)
	}
	// Updates: $set of an encrypted field, findAndModify, replacement.
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "ssn", Value: secrets[1]}}, bson.D{{Key: "$set", Value: bson.D{{Key: "ssn", Value: "999-99-9999"}}}}); err != nil {
		t.Fatal(err)
	}
	var after bson.M
	if err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "ssn", Value: "999-99-9999"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "Ann"}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&after); err != nil {
		t.Fatal(err)
	}
	if after["name"] != "Ann" || after["ssn"] != "999-99-9999" {
		t.Fatalf("findAndModify: %v", after)
	}
	if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: 2}}, bson.D{{Key: "name", Value: "Ann"}, {Key: "ssn", Value: "888-88-8888"}}); err != nil {
		t.Fatal(err)
	}
	cur, err := coll.Aggregate(ctx, mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "ssn", Value: "888-88-8888"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var agg []bson.M
	if err := cur.All(ctx, &agg); err != nil || len(agg) != 1 || agg[0]["ssn"] != "888-88-8888" {
		t.Fatalf("aggregate: %v %v", agg, err)
	}
	if res, err := coll.DeleteOne(ctx, bson.D{{Key: "ssn", Value: "888-88-8888"}}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("delete: %v %v", res, err)
	}
	// Refusals, before anything is sent.
	refusals := []struct {
		name string
		run  func() error
		want string
	}{
		{"comparison on deterministic", func() error {
			return coll.FindOne(ctx, bson.D{{Key: "ssn", Value: bson.D{{Key: "$gt", Value: "1"}}}}).Err()
		}, "ssn"},
		{"query on random", func() error {
			return coll.FindOne(ctx, bson.D{{Key: "record", Value: bson.D{{Key: "note", Value: "x"}}}}).Err()
		}, "record"},
		{"regex", func() error { return coll.FindOne(ctx, bson.D{{Key: "ssn", Value: bson.Regex{Pattern: "^4"}}}).Err() }, "ssn"},
		{"$inc", func() error {
			_, err := coll.UpdateOne(ctx, bson.D{}, bson.D{{Key: "$inc", Value: bson.D{{Key: "ssn", Value: 1}}}})
			return err
		}, "ssn"},
		{"wrong type", func() error {
			_, err := coll.InsertOne(ctx, bson.D{{Key: "ssn", Value: int32(5)}})
			return err
		}, "ssn"},
		{"unsupported command", func() error {
			return env.client.Database(env.db).RunCommand(ctx, bson.D{{Key: "mapReduce", Value: "people"}}).Err()
		}, "mapReduce"},
	}
	for _, r := range refusals {
		err := r.run()
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeAnalysis || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: err = %v, want a query-analysis refusal naming %q", r.name, err, r.want)
		}
	}
	for _, s := range append(secrets, "999-99-9999", "888-88-8888") {
		if env.wire.contains(s) {
			t.Errorf("the plaintext %q was sent to the server", s)
		}
	}
}

// TestAutoEncryptBypassedCommands: commands that need no encryption go through unchanged.
func TestAutoEncryptBypassedCommands(t *testing.T) {
	env := newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
		ae.SetSchemaMap(map[string]any{e.db + ".people": csfleSchema(e.keyID)})
	})
	ctx := t.Context()
	if err := env.client.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Database(env.db).ListCollectionNames(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	// A collection without a schema is not touched.
	other := env.client.Database(env.db).Collection("plain")
	if _, err := other.InsertOne(ctx, bson.D{{Key: "ssn", Value: "visible"}}); err != nil {
		t.Fatal(err)
	}
	if !env.wire.contains("visible") {
		t.Fatal("a value of an unencrypted collection was not sent as it is")
	}
}

// newQEAutoEnv is an auto-encrypting env whose encryptedFieldsMap names db.qe: ssn (string,
// equality, contention 0, the env's key) and notes (string, unindexed, a key of its own by
// keyAltName "qe-notes").
func newQEAutoEnv(t *testing.T) *autoEnv {
	t.Helper()
	return newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
		if _, err := e.ce.CreateDataKey(t.Context(), "local", options.DataKey().SetKeyAltNames([]string{"qe-notes"})); err != nil {
			t.Fatal(err)
		}
		ef := bson.D{{Key: "fields", Value: bson.A{
			bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: e.keyID}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}, {Key: "contention", Value: int64(0)}}}},
			bson.D{{Key: "path", Value: "notes"}, {Key: "bsonType", Value: "string"}, {Key: "keyAltName", Value: "qe-notes"}},
		}}}
		ae.SetEncryptedFieldsMap(map[string]any{e.db + ".qe": ef})
	})
}

// TestAutoEncryptQEInsert inserts into a Queryable Encryption collection of encryptedFieldsMap:
// the command carries the insert payload and encryptionInformation, and the value reads back.
// The embedded server's layer runs the server side of QE, as MongoDB 7.0+ does. Each field has
// its own data key (a server refuses one key for two fields, code 6338401).
func TestAutoEncryptQEInsert(t *testing.T) {
	env := newQEAutoEnv(t)
	ctx := t.Context()
	coll := env.client.Database(env.db).Collection("qe")
	if err := env.client.Database(env.db).CreateCollection(ctx, "qe"); err != nil {
		t.Fatalf("create through the map: %v", err)
	}
	names, _ := env.testEnv.client.Database(env.db).ListCollectionNames(ctx, bson.D{})
	for _, want := range []string{"enxcol_.qe.esc", "enxcol_.qe.ecoc", "qe"} {
		if !strings.Contains(strings.Join(names, ","), want) {
			t.Fatalf("%s not created: %v", want, names)
		}
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "QE-SECRET-1"}, {Key: "notes", Value: "QE-NOTE-1"}}); err != nil {
		t.Fatal(err)
	}
	cmd := env.sent.last("insert")
	if cmd == nil {
		t.Fatal("no insert sent")
	}
	if _, err := cmd.LookupErr("encryptionInformation"); err != nil {
		t.Fatalf("the insert has no encryptionInformation: %s", cmd)
	}
	doc := cmd.Lookup("documents", "0").Document()
	if st, data, _ := doc.Lookup("ssn").BinaryOK(); st != 6 || data[0] != 11 {
		t.Fatalf("ssn is not an insert payload: %s", doc.Lookup("ssn"))
	}
	if st, data, _ := doc.Lookup("notes").BinaryOK(); st != 6 || data[0] != 16 {
		t.Fatalf("notes is not an unindexed value: %s", doc.Lookup("notes"))
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "ssn", Value: "QE-SECRET-1"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["ssn"] != "QE-SECRET-1" || got["notes"] != "QE-NOTE-1" {
		t.Fatalf("read back %v", got)
	}
	// A find on the equality field sends a find payload.
	_ = coll.FindOne(ctx, bson.D{{Key: "ssn", Value: "QE-SECRET-1"}}).Err()
	find := env.sent.last("find")
	if !bytes.Contains(find, []byte{6, 12}) { // binary subtype 6 whose blob subtype is 12
		t.Fatalf("the find has no FindEqualityPayloadV2: %s", find)
	}
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	names, _ = env.testEnv.client.Database(env.db).ListCollectionNames(ctx, bson.D{})
	for _, gone := range []string{"enxcol_.qe.esc", "enxcol_.qe.ecoc"} {
		if strings.Contains(strings.Join(names, ","), gone) {
			t.Fatalf("%s not dropped: %v", gone, names)
		}
	}
	for _, s := range []string{"QE-SECRET-1", "QE-NOTE-1"} {
		if env.wire.contains(s) {
			t.Errorf("the plaintext %q was sent to the server", s)
		}
	}
}

// TestQELayerServerSide checks what the embedded server's layer does as MongoDB's server side
// of Queryable Encryption: a plain client sees only encrypted values (14 equality, 16
// unindexed) and one tag per value in __safeContent__, one ESC and one ECOC document per
// value; an update pulls the tag of the value it replaced; plaintext in an encrypted field
// and a payload without encryptionInformation are refused; an equality delete finds its
// document by tag.
func TestQELayerServerSide(t *testing.T) {
	env := newQEAutoEnv(t)
	ctx := t.Context()
	db := env.client.Database(env.db)
	plainDB := env.testEnv.client.Database(env.db)
	if err := db.CreateCollection(ctx, "qe"); err != nil {
		t.Fatal(err)
	}
	coll, plain := db.Collection("qe"), plainDB.Collection("qe")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "QE-SSN-OLD"}, {Key: "notes", Value: "QE-NOTE-2"}}); err != nil {
		t.Fatal(err)
	}
	payload := env.sent.last("insert").Lookup("documents", "0", "ssn")
	stored := func() bson.Raw {
		t.Helper()
		raw, err := plain.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		for field, want := range map[string]byte{"ssn": 14, "notes": 16} {
			if st, data, ok := raw.Lookup(field).BinaryOK(); !ok || st != 6 || data[0] != want {
				t.Fatalf("%s is stored as %s, want BinData 6 of blob subtype %d", field, raw.Lookup(field).Type, want)
			}
		}
		return raw
	}
	tagsOf := func(raw bson.Raw) []bson.RawValue {
		arr, ok := raw.Lookup("__safeContent__").ArrayOK()
		if !ok {
			t.Fatalf("no __safeContent__ array: %s", raw)
		}
		vals, _ := arr.Values()
		return vals
	}
	before := tagsOf(stored())
	if len(before) != 1 {
		t.Fatalf("__safeContent__ holds %d tags, want 1 (contention 0, one equality value)", len(before))
	}
	for _, name := range []string{"enxcol_.qe.esc", "enxcol_.qe.ecoc"} {
		if n, err := plainDB.Collection(name).CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
			t.Fatalf("%s holds %d documents (%v), want 1", name, n, err)
		}
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "ssn", Value: "QE-SSN-OLD"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "ssn", Value: "QE-SSN-NEW"}}}}); err != nil {
		t.Fatal(err)
	}
	after := tagsOf(stored())
	if len(after) != 1 || bytes.Equal(after[0].Value, before[0].Value) {
		t.Fatalf("after the update __safeContent__ holds %d tags (the old one pulled: %v), want the new one only", len(after), len(after) == 1)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{{Key: "ssn", Value: "QE-SSN-OLD"}}); err != nil || n != 0 {
		t.Fatalf("the old value still matches %d documents (%v)", n, err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{{Key: "ssn", Value: "QE-SSN-NEW"}}); err != nil || n != 1 {
		t.Fatalf("the new value matches %d documents (%v), want 1", n, err)
	}
	_, err := plain.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "ssn", Value: "QE-PLAINTEXT"}})
	if err == nil || !strings.Contains(err.Error(), "Document failed validation") || strings.Contains(err.Error(), "QE-PLAINTEXT") {
		t.Fatalf("plaintext in an encrypted field: %v", err)
	}
	// MongoDB refuses it with its implicit validator (a payload is no stored value); the
	// embedded server's layer refuses any payload without encryptionInformation, first.
	_, err = plain.InsertOne(ctx, bson.D{{Key: "_id", Value: 3}, {Key: "ssn", Value: payload}})
	if err == nil || (!realMongoDB && !strings.Contains(err.Error(), "no encryptionInformation")) {
		t.Fatalf("an insert payload without encryptionInformation: %v", err)
	}
	if n, _ := plain.CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("the refused inserts stored something: %d documents", n)
	}
	res, err := coll.DeleteOne(ctx, bson.D{{Key: "ssn", Value: "QE-SSN-NEW"}})
	if err != nil || res.DeletedCount != 1 {
		t.Fatalf("equality delete: %v, %v", res, err)
	}
	for _, s := range []string{"QE-SSN-OLD", "QE-SSN-NEW", "QE-NOTE-2"} {
		if env.wire.contains(s) {
			t.Errorf("the plaintext %q was sent to the server", s)
		}
	}
}
