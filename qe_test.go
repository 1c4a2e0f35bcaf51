package mongocrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func readTestBlob(t testing.TB, name string) []byte {
	t.Helper()
	js, err := os.ReadFile("testdata/libmongocrypt/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
		t.Fatal(err)
	}
	st, data, ok := doc.Lookup("v").BinaryOK()
	if !ok || st != 6 {
		t.Fatalf("%s: v is not BinData 6", name)
	}
	return data
}

// TestDecryptLibmongocryptQE decrypts libmongocrypt's stored Queryable Encryption values (v1
// and v2) through ClientEncryption, with the key documents in the key vault: indexed values
// need two keys, the second named inside the value.
func TestDecryptLibmongocryptQE(t *testing.T) {
	ctx := t.Context()
	var kvCmds commandCounter
	db := uniqueDB(t)
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI).SetMonitor(kvCmds.monitor()))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(db+".keys").
		SetKmsProviders(map[string]map[string]any{"local": {"key": make([]byte, 96)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(ctx)
	plain := connect(t)
	defer plain.Database(db).Drop(ctx)
	for _, f := range []string{"12345678123498761234123456789012-local-document.json", "ABCDEFAB123498761234123456789012-local-document.json"} {
		js, _ := os.ReadFile("testdata/libmongocrypt/" + f)
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Database(db).Collection("keys").InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		file string
		want any
	}{
		{"FLE2InsertUpdatePayload-RangeV1.json", int32(123456)},
		{"FLE2UnindexedEncryptedValue.json", "value123"},
		{"FLE2IndexedEqualityEncryptedValue.json", "value123"},
		{"FLE2IndexedRangeEncryptedValue.json", int32(123456)},
		{"FLE2InsertUpdatePayloadV2.json", "value123"},
		{"FLE2InsertUpdatePayloadV2-RangeV1.json", int32(123456)},
		{"FLE2InsertUpdatePayloadV2-RangeV2.json", int32(123456)},
		{"FLE2UnindexedEncryptedValueV2.json", "foo"},
		{"FLE2IndexedEqualityEncryptedValueV2.json", "foo"},
		{"FLE2IndexedRangeEncryptedValueV2.json", int32(123)},
	}
	for _, c := range cases {
		got, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: readTestBlob(t, c.file)})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !got.Equal(rawValue(t, c.want)) {
			t.Errorf("%s: decrypted %v, want %v", c.file, got, c.want)
		}
	}
	// Placeholders and query payloads are returned as they are.
	for _, f := range []string{"FLE2EncryptionPlaceholder.json", "FLE2FindEqualityPayload.json", "FLE2FindEqualityPayloadV2.json"} {
		blob := readTestBlob(t, f)
		got, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: blob})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st, data := got.Binary(); st != 6 || !bytes.Equal(data, blob) {
			t.Fatalf("%s: not returned unchanged", f)
		}
	}
	// A tampered indexed value fails authentication: byte 40 is inside the server-encrypted
	// value (after subtype 1, S_KeyId 16 and the original type 1).
	blob := readTestBlob(t, "FLE2IndexedEqualityEncryptedValueV2.json")
	bad := bytes.Clone(blob)
	bad[40] ^= 1
	if _, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: bad}); err == nil {
		t.Fatal("a tampered indexed value decrypted")
	}
	for n := 0; n < len(blob); n += 13 {
		if _, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: blob[:n]}); err == nil {
			t.Fatalf("indexed value truncated to %d bytes decrypted", n)
		}
	}
}

// libmongocryptKeyVault inserts libmongocrypt's two test key documents (wrapped by a local
// master key of 96 zero bytes) into the key vault db.keys of a database of the test's own, and
// returns the database and the KMS providers that unwrap them.
func libmongocryptKeyVault(t testing.TB) (string, map[string]map[string]any) {
	t.Helper()
	ctx := context.Background()
	db := uniqueDB(t)
	plain := connect(t)
	t.Cleanup(func() { _ = plain.Database(db).Drop(context.Background()) })
	for _, f := range []string{"12345678123498761234123456789012-local-document.json", "ABCDEFAB123498761234123456789012-local-document.json"} {
		js, err := os.ReadFile("testdata/libmongocrypt/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Database(db).Collection("keys").InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	return db, map[string]map[string]any{"local": {"key": make([]byte, 96)}}
}

// TestAutoDecryptQEParsedOnce decrypts a reply mixing indexed, unindexed and insert-payload QE
// values with placeholders and query payloads (left as they are), at several depths: every
// value comes out as ClientEncryption.Decrypt gives it, and the replacing pass takes every QE
// value from the key-collecting pass, none parsed again.
func TestAutoDecryptQEParsedOnce(t *testing.T) {
	ctx := t.Context()
	db, kms := libmongocryptKeyVault(t)
	a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(db + ".keys").SetKmsProviders(kms).SetBypassAutoEncryption(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(db+".keys").SetKmsProviders(kms))
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(ctx)
	files := []string{"FLE2IndexedEqualityEncryptedValueV2.json", "FLE2FindEqualityPayloadV2.json", "FLE2IndexedRangeEncryptedValueV2.json",
		"FLE2UnindexedEncryptedValueV2.json", "FLE2EncryptionPlaceholder.json", "FLE2InsertUpdatePayloadV2.json",
		"FLE2IndexedEqualityEncryptedValue.json", "FLE2IndexedRangeEncryptedValue.json"}
	var doc, want bson.D
	for i, f := range files {
		blob := readTestBlob(t, f)
		// Alone in a reply, the value decrypts as it does explicitly (left as it is when it is
		// not a stored value).
		one, err := a.Decrypt(ctx, mustMarshalDoc(t, bson.D{{Key: "v", Value: bson.Binary{Subtype: 6, Data: blob}}}))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		plain := one.Lookup("v")
		explicit, err := ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: blob})
		if err != nil || !plain.Equal(explicit) {
			t.Fatalf("%s: AutoEncrypter.Decrypt gave %v, ClientEncryption.Decrypt %v, %v", f, plain, explicit, err)
		}
		key := fmt.Sprintf("f%d", i)
		doc = append(doc, bson.E{Key: key, Value: bson.Binary{Subtype: 6, Data: blob}},
			bson.E{Key: key + "a", Value: bson.A{bson.D{{Key: "x", Value: bson.Binary{Subtype: 6, Data: blob}}}}})
		want = append(want, bson.E{Key: key, Value: plain}, bson.E{Key: key + "a", Value: bson.A{bson.D{{Key: "x", Value: plain}}}})
	}
	reply := mustMarshalDoc(t, doc)
	got, err := a.Decrypt(ctx, reply)
	if err != nil {
		t.Fatal(err)
	}
	if w := mustMarshalDoc(t, want); !bytes.Equal(got, w) {
		t.Fatalf("decrypted reply\n%v\nwant\n%v", got, w)
	}
	d, found, err := a.e.keysForDecrypt(ctx, func(fn func([]byte) error) error { return visitEncrypted(reply, fn) })
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if _, err := replaceEncrypted(nil, reply, 0, d.appendDecrypted); err != nil {
		t.Fatal(err)
	}
	if d.next != len(d.qe) || len(d.qe) != 2*6 {
		t.Fatalf("the replacing pass took %d of the %d parsed QE values, want all 12", d.next, len(d.qe))
	}
}

// TestQEExplicitRoundTrip encrypts with every Queryable Encryption algorithm and decrypts the
// insert payloads; query payloads are not values and come back unchanged.
func TestQEExplicitRoundTrip(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	contention := int64(0)
	rangeOpts := options.Range().SetMin(rawValue(t, int32(0))).SetMax(rawValue(t, int32(200))).SetSparsity(1).SetTrimFactor(1)
	cases := []struct {
		name    string
		val     any
		opts    *options.EncryptOptionsBuilder
		subtype byte
	}{
		{"indexed insert", "value123", options.Encrypt().SetAlgorithm("Indexed").SetContentionFactor(contention), 11},
		{"indexed find", "value123", options.Encrypt().SetAlgorithm("Indexed").SetQueryType("equality").SetContentionFactor(contention), 12},
		{"unindexed", bson.D{{Key: "doc", Value: true}}, options.Encrypt().SetAlgorithm("Unindexed"), 16},
		{"range insert", int32(42), options.Encrypt().SetAlgorithm("Range").SetContentionFactor(contention).SetRangeOptions(rangeOpts), 11},
		{"text insert", "Hello World", options.Encrypt().SetAlgorithm("String").SetContentionFactor(contention).
			SetStringOptions(options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 10}).
				SetCaseSensitive(true).SetDiacriticSensitive(true)), 11},
		{"text find", "Hel", options.Encrypt().SetAlgorithm("String").SetQueryType("prefix").SetContentionFactor(contention).
			SetStringOptions(options.String().SetPrefix(options.PrefixOptions{StrMinQueryLength: 2, StrMaxQueryLength: 10}).
				SetCaseSensitive(true).SetDiacriticSensitive(true)), 18},
	}
	for _, c := range cases {
		ct, err := env.ce.Encrypt(ctx, rawValue(t, c.val), c.opts.SetKeyID(id))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ct.Subtype != 6 || ct.Data[0] != c.subtype {
			t.Fatalf("%s: blob subtype %d, want %d", c.name, ct.Data[0], c.subtype)
		}
		got, err := env.ce.Decrypt(ctx, ct)
		if err != nil {
			t.Fatalf("%s: decrypt: %v", c.name, err)
		}
		if c.subtype == 11 || c.subtype == 16 {
			if !got.Equal(rawValue(t, c.val)) {
				t.Fatalf("%s: decrypted %v", c.name, got)
			}
		} else if st, data := got.Binary(); st != 6 || !bytes.Equal(data, ct.Data) {
			t.Fatalf("%s: a query payload was not returned unchanged", c.name)
		}
	}
	refusals := []struct {
		name string
		opts *options.EncryptOptionsBuilder
		want string
	}{
		{"rangePreview", options.Encrypt().SetAlgorithm("RangePreview").SetKeyID(id), "Range"},
		{"keyAltName", options.Encrypt().SetAlgorithm("Indexed").SetKeyAltName("x"), "key id"},
		{"range without options", options.Encrypt().SetAlgorithm("Range").SetKeyID(id), "range"},
		{"bad query type", options.Encrypt().SetAlgorithm("Indexed").SetQueryType("nope").SetKeyID(id), "nope"},
	}
	for _, r := range refusals {
		_, err := env.ce.Encrypt(ctx, rawValue(t, int32(1)), r.opts)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(r.want)) {
			t.Errorf("%s: err = %v, want one mentioning %q", r.name, err, r.want)
		}
	}
}

func TestEncryptExpression(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, _ := env.ce.CreateDataKey(ctx, "local")
	rangeOpts := options.Range().SetMin(rawValue(t, int32(0))).SetMax(rawValue(t, int32(200))).SetSparsity(1).SetTrimFactor(1)
	opts := options.Encrypt().SetKeyID(id).SetAlgorithm("Range").SetQueryType("range").SetContentionFactor(0).SetRangeOptions(rangeOpts)
	match := bson.D{{Key: "$and", Value: bson.A{
		bson.D{{Key: "age", Value: bson.D{{Key: "$gte", Value: int32(6)}}}},
		bson.D{{Key: "age", Value: bson.D{{Key: "$lte", Value: int32(200)}}}},
	}}}
	var got bson.Raw
	if err := env.ce.EncryptExpression(ctx, match, &got, opts); err != nil {
		t.Fatal(err)
	}
	arr, ok := got.Lookup("$and").ArrayOK()
	if !ok {
		t.Fatalf("result %s", got)
	}
	vals, _ := arr.Values()
	if len(vals) != 2 {
		t.Fatalf("result %s", got)
	}
	first := vals[0].Document().Lookup("age", "$gte")
	if st, data, ok := first.BinaryOK(); !ok || st != 6 || data[0] != 13 {
		t.Fatalf("lower bound is not a FindRangePayloadV2: %s", first)
	}
	agg := bson.D{{Key: "$and", Value: bson.A{
		bson.D{{Key: "$gt", Value: bson.A{"$age", int32(6)}}},
		bson.D{{Key: "$lt", Value: bson.A{"$age", int32(100)}}},
	}}}
	var m bson.M
	if err := env.ce.EncryptExpression(ctx, agg, &m, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["$and"]; !ok {
		t.Fatalf("aggregate result %v", m)
	}
	if err := env.ce.EncryptExpression(ctx, bson.D{{Key: "$or", Value: bson.A{}}}, &got, opts); err == nil {
		t.Fatal("an expression that is not $and was accepted")
	}
	if err := env.ce.EncryptExpression(ctx, match, nil, opts); err == nil {
		t.Fatal("nil result accepted")
	}
}

func TestCreateEncryptedCollection(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	db := env.client.Database(env.db)
	ef := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}, {Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}},
		bson.D{{Key: "path", Value: "notes"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}},
	}}}
	coll, got, err := env.ce.CreateEncryptedCollection(ctx, db, "patients", options.CreateCollection().SetEncryptedFields(ef), "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	fields := got["fields"].(bson.A)
	for _, f := range fields {
		if _, ok := f.(bson.M)["keyId"].(bson.Binary); !ok {
			t.Fatalf("keyId not filled: %v", f)
		}
	}
	if coll.Name() != "patients" {
		t.Fatal(coll.Name())
	}
	names, _ := db.ListCollectionNames(ctx, bson.D{})
	have := strings.Join(names, ",")
	for _, want := range []string{"patients", "enxcol_.patients.esc", "enxcol_.patients.ecoc"} {
		if !strings.Contains(have, want) {
			t.Errorf("collection %s missing (have %s)", want, have)
		}
	}
	// The server keeps encryptedFields in the collection options (the embedded server's layer
	// does, as MongoDB): the drop reads them from there and removes the state collections too.
	if err := DropEncryptedCollection(ctx, coll, nil); err != nil {
		t.Fatal(err)
	}
	names, _ = db.ListCollectionNames(ctx, bson.D{})
	if len(names) > 1 { // the key vault remains
		t.Errorf("collections left after drop: %v", names)
	}
}

func TestCreateEncryptedCollectionRefusals(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	db := env.client.Database(env.db)
	if _, _, err := env.ce.CreateEncryptedCollection(ctx, db, "c", nil, "local", nil); err == nil {
		t.Fatal("nil options accepted")
	}
	if _, _, err := env.ce.CreateEncryptedCollection(ctx, db, "c", options.CreateCollection(), "local", nil); err == nil || !strings.Contains(err.Error(), "encryptedFields") {
		t.Fatalf("no encryptedFields: %v", err)
	}
	// A data key that cannot be made: the error carries the encryptedFields made so far.
	ef := bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "a"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}}}}}
	_, _, err := env.ce.CreateEncryptedCollection(ctx, db, "c", options.CreateCollection().SetEncryptedFields(ef), "aws", nil)
	var dke *CreateDataKeyError
	if !errors.As(err, &dke) || dke.EncryptedFields == nil {
		t.Fatalf("err = %v, want a *CreateDataKeyError with the encryptedFields", err)
	}
}
