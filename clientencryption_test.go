package mongocrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestCustomKeyMaterial is the specification's prose test 1: a key made from given key
// material encrypts "test" deterministically to a known ciphertext.
func TestCustomKeyMaterial(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	material := mustB64("xPTAjBRG5JiPm+d3fj6XLi2q5DMXUS/f1f+SMAlhhwkhDRL0kr8r9GDLIGTAGlvC+HVjSIgdL+RKwZCvpXSyxTICWSXTUYsWYPyu3IoHbuBZdmw2faM3WhcRIgbMReU5")
	id, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyMaterial(material))
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.D
	if err := env.kv.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, err := env.kv.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		t.Fatal(err)
	}
	zero := bson.Binary{Subtype: 4, Data: make([]byte, 16)}
	doc[0].Value = zero
	if _, err := env.kv.InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	ct, err := env.ce.Encrypt(ctx, rawValue(t, "test"), options.Encrypt().SetKeyID(zero).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"))
	if err != nil {
		t.Fatal(err)
	}
	want := "AQAAAAAAAAAAAAAAAAAAAAACz0ZOLuuhEYi807ZXTdhbqhLaS2/t9wLifJnnNYwiw79d75QYIZ6M/aYC1h9nCzCjZ7pGUpAuNnkUhnIXM3PjrA=="
	if got := base64.StdEncoding.EncodeToString(ct.Data); got != want {
		t.Fatalf("ciphertext\n got %s\nwant %s", got, want)
	}
}

// TestCreateDataKeyDocument checks the key document field for field against what
// libmongocrypt writes.
func TestCreateDataKeyDocument(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	id, err := env.ce.CreateDataKey(ctx, "local:other", options.DataKey().SetKeyAltNames([]string{"a", "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subtype != 4 || len(id.Data) != 16 || id.Data[6]>>4 != 4 {
		t.Fatalf("id is not a version 4 UUID: %x", id.Data)
	}
	raw, err := env.ce.GetKey(ctx, id).Raw()
	if err != nil {
		t.Fatal(err)
	}
	elems, _ := raw.Elements()
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	if got := strings.Join(keys, ","); got != "_id,keyAltNames,keyMaterial,creationDate,updateDate,status,masterKey" {
		t.Fatalf("fields %s", got)
	}
	if mk := raw.Lookup("masterKey").Document().String(); mk != `{"provider": "local:other"}` {
		t.Errorf("masterKey %s", mk)
	}
	if st, ok := raw.Lookup("status").Int32OK(); !ok || st != 0 {
		t.Errorf("status %v", raw.Lookup("status"))
	}
	if st, km := raw.Lookup("keyMaterial").Binary(); st != 0 || len(km) != 160 {
		t.Errorf("keyMaterial subtype %d, %d bytes", st, len(km))
	}
	if cd := raw.Lookup("creationDate").Time(); cd.Before(before) || !cd.Equal(raw.Lookup("updateDate").Time()) {
		t.Errorf("dates %v %v", cd, raw.Lookup("updateDate").Time())
	}
	byName, err := env.ce.GetKeyByAltName(ctx, "b").Raw()
	if err != nil || !bytes.Equal(byName, raw) {
		t.Fatalf("GetKeyByAltName: %v", err)
	}
	// Without keyAltNames the field is absent.
	id2, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := env.ce.GetKey(ctx, id2).Raw()
	if _, err := raw2.LookupErr("keyAltNames"); err == nil {
		t.Error("keyAltNames present without alt names")
	}
	cur, err := env.ce.GetKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.Raw
	if err := cur.All(ctx, &all); err != nil || len(all) != 2 {
		t.Fatalf("GetKeys: %d keys, %v", len(all), err)
	}
}

func TestCreateDataKeyRefusals(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	cases := []struct {
		name     string
		provider string
		opts     *options.DataKeyOptionsBuilder
		want     string
	}{
		{"unconfigured", "aws", options.DataKey(), "not configured"},
		{"bad provider name", "local:bad-name", options.DataKey(), "[a-zA-Z0-9_]"},
		{"unknown type", "vault", options.DataKey(), "unrecognized KMS provider"},
		{"short material", "local", options.DataKey().SetKeyMaterial(make([]byte, 95)), "96 bytes"},
		{"duplicate names", "local", options.DataKey().SetKeyAltNames([]string{"x", "x"}), "twice"},
		{"extra masterKey field", "local", options.DataKey().SetMasterKey(bson.D{{Key: "key", Value: "k"}}), "unexpected field"},
		{"other provider", "local", options.DataKey().SetMasterKey(bson.D{{Key: "provider", Value: "local:other"}}), "does not match"},
	}
	for _, c := range cases {
		_, err := env.ce.CreateDataKey(ctx, c.provider, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if n, _ := env.kv.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("refused calls left %d keys", n)
	}
}

func TestExplicitEncryptDecrypt(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"name"}))
	if err != nil {
		t.Fatal(err)
	}
	det := "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	rnd := "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
	for _, v := range []any{"a string", int32(5), int64(-9), bson.NewObjectID(), bson.DateTime(77)} {
		a, err := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyID(id).SetAlgorithm(det))
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyAltName("name").SetAlgorithm(det))
		if err != nil {
			t.Fatal(err)
		}
		if a.Subtype != 6 || a.Data[0] != 1 || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("%T: deterministic by id and by name differ", v)
		}
		got, err := env.ce.Decrypt(ctx, a)
		if err != nil || !got.Equal(rawValue(t, v)) {
			t.Fatalf("%T: decrypt %v %v", v, got, err)
		}
	}
	for _, v := range []any{1.5, true, bson.D{{Key: "n", Value: 1}}, bson.A{"x"}, bson.NewDecimal128(1, 2)} {
		a, err := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyID(id).SetAlgorithm(rnd))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyID(id).SetAlgorithm(rnd))
		if a.Data[0] != 2 || bytes.Equal(a.Data, b.Data) {
			t.Fatalf("%T: random encryption repeated itself", v)
		}
		got, err := env.ce.Decrypt(ctx, a)
		if err != nil || !got.Equal(rawValue(t, v)) {
			t.Fatalf("%T: decrypt %v %v", v, got, err)
		}
		if _, err := env.ce.Encrypt(ctx, rawValue(t, v), options.Encrypt().SetKeyID(id).SetAlgorithm(det)); err == nil ||
			!strings.Contains(err.Error(), rawValue(t, v).Type.String()) {
			t.Fatalf("%T deterministic: err = %v, want one naming the type", v, err)
		}
	}
}

func TestEncryptRefusals(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, _ := env.ce.CreateDataKey(ctx, "local")
	det := "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	missing := bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}
	cases := []struct {
		name string
		val  any
		opts *options.EncryptOptionsBuilder
		want error
		text string
	}{
		{"no key", "x", options.Encrypt().SetAlgorithm(det), nil, "key id or a keyAltName"},
		{"both", "x", options.Encrypt().SetAlgorithm(det).SetKeyID(id).SetKeyAltName("n"), nil, "not both"},
		{"bad id", "x", options.Encrypt().SetAlgorithm(det).SetKeyID(bson.Binary{Subtype: 0, Data: make([]byte, 16)}), nil, "UUID"},
		{"no algorithm", "x", options.Encrypt().SetKeyID(id), nil, "algorithm is required"},
		{"bad algorithm", "x", options.Encrypt().SetKeyID(id).SetAlgorithm("AES"), nil, "unsupported algorithm"},
		{"null", bson.Null{}, options.Encrypt().SetKeyID(id).SetAlgorithm(det), nil, "null"},
		{"minKey", bson.MinKey{}, options.Encrypt().SetKeyID(id).SetAlgorithm(det), nil, "min key"},
		{"encrypted", bson.Binary{Subtype: 6, Data: []byte{1}}, options.Encrypt().SetKeyID(id).SetAlgorithm(det), nil, "subtype 6"},
		{"missing key", "x", options.Encrypt().SetKeyID(missing).SetAlgorithm(det), ErrKeyNotFound, "07070707"},
		{"missing name", "x", options.Encrypt().SetKeyAltName("nobody").SetAlgorithm(det), ErrKeyNotFound, "nobody"},
		{"queryType on FLE1", "x", options.Encrypt().SetKeyID(id).SetAlgorithm(det).SetQueryType("equality"), nil, "Queryable Encryption"},
	}
	for _, c := range cases {
		_, err := env.ce.Encrypt(ctx, rawValue(t, c.val), c.opts)
		var me *Error
		if err == nil || !errors.As(err, &me) || !strings.Contains(err.Error(), c.text) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want an *Error containing %q", c.name, err, c.text)
		}
	}
}

func TestDecryptRefusals(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, _ := env.ce.CreateDataKey(ctx, "local")
	ct, err := env.ce.Encrypt(ctx, rawValue(t, "secret"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 18; i < len(ct.Data); i += 9 {
		bad := bytes.Clone(ct.Data)
		bad[i] ^= 0x80
		if _, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: bad}); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("tampered byte %d: err = %v", i, err)
		}
	}
	for _, n := range []int{0, 1, 17, 18, 40, len(ct.Data) - 1} {
		if _, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: ct.Data[:n]}); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	// A ciphertext under a key that is not in the vault.
	foreign := bytes.Clone(ct.Data)
	copy(foreign[1:17], bytes.Repeat([]byte{9}, 16))
	if _, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: foreign}); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 0, Data: ct.Data}); err == nil {
		t.Fatal("binary subtype 0 decrypted")
	}
	if _, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: []byte{99, 1, 2}}); err == nil {
		t.Fatal("unknown blob subtype decrypted")
	}
	// A placeholder is returned as it is.
	ph := append([]byte{0}, []byte("placeholder")...)
	v, err := env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: ph})
	if err != nil {
		t.Fatal(err)
	}
	if st, data := v.Binary(); st != 6 || !bytes.Equal(data, ph) {
		t.Fatalf("placeholder came back as %v", v)
	}
}

// TestWrongMasterKey stores a key under one local master key and reads it with another.
func TestWrongMasterKey(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, _ := env.ce.CreateDataKey(ctx, "local")
	kv2, _ := mongo.Connect(options.Client().ApplyURI(testURI))
	other, err := NewClientEncryption(kv2, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).
		SetKmsProviders(map[string]map[string]any{"local": {"key": make([]byte, 96)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	_, err = other.Encrypt(ctx, rawValue(t, "x"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	var ke *KMSError
	if !errors.As(err, &ke) || ke.Provider != "local" {
		t.Fatalf("err = %v, want a *KMSError naming local", err)
	}
}

func TestInvalidKeyDocument(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id := bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{3}, 16)}
	if _, err := env.kv.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "keyMaterial", Value: "not binary"}}); err != nil {
		t.Fatal(err)
	}
	_, err := env.ce.Encrypt(ctx, rawValue(t, "x"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	var kve *KeyVaultError
	if !errors.As(err, &kve) || kve.Op != "parse" {
		t.Fatalf("err = %v, want a *KeyVaultError", err)
	}
}

func TestKeyAltNames(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	k1, _ := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"one"}))
	k2, _ := env.ce.CreateDataKey(ctx, "local")

	// A name of another key is refused, on CreateDataKey and AddKeyAltName.
	if _, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"one"})); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("CreateDataKey with a used name: %v", err)
	}
	if err := env.ce.AddKeyAltName(ctx, k2, "one").Err(); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("AddKeyAltName with a used name: %v", err)
	}
	// Adding a name the key has already is fine and returns the document before.
	prev, err := env.ce.AddKeyAltName(ctx, k1, "one").Raw()
	if err != nil {
		t.Fatal(err)
	}
	if prev.Lookup("keyAltNames").Array().String() != `["one"]` {
		t.Fatalf("previous document %s", prev)
	}
	prev, err = env.ce.AddKeyAltName(ctx, k1, "two").Raw()
	if err != nil || prev.Lookup("keyAltNames").Array().String() != `["one"]` {
		t.Fatalf("AddKeyAltName two: %v %s", err, prev)
	}
	now, _ := env.ce.GetKey(ctx, k1).Raw()
	if now.Lookup("keyAltNames").Array().String() != `["one","two"]` {
		t.Fatalf("after add: %s", now.Lookup("keyAltNames"))
	}
	if err := env.ce.AddKeyAltName(ctx, bson.Binary{Subtype: 4, Data: make([]byte, 16)}, "three").Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("AddKeyAltName on a missing key: %v", err)
	}

	// Remove one of two: pulled; the last: the field goes.
	prev, err = env.ce.RemoveKeyAltName(ctx, k1, "one").Raw()
	if err != nil || prev.Lookup("keyAltNames").Array().String() != `["one","two"]` {
		t.Fatalf("RemoveKeyAltName one: %v %s", err, prev)
	}
	now, _ = env.ce.GetKey(ctx, k1).Raw()
	if now.Lookup("keyAltNames").Array().String() != `["two"]` {
		t.Fatalf("after remove: %s", now.Lookup("keyAltNames"))
	}
	if _, err := env.ce.RemoveKeyAltName(ctx, k1, "two").Raw(); err != nil {
		t.Fatal(err)
	}
	now, _ = env.ce.GetKey(ctx, k1).Raw()
	if _, err := now.LookupErr("keyAltNames"); err == nil {
		t.Fatalf("keyAltNames still present after the last name went: %s", now)
	}
	// Removing a name that is not there returns the document unchanged.
	prev, err = env.ce.RemoveKeyAltName(ctx, k1, "zzz").Raw()
	if err != nil || !bytes.Equal(prev, now) {
		t.Fatalf("RemoveKeyAltName of an absent name: %v", err)
	}
	if err := env.ce.RemoveKeyAltName(ctx, bson.Binary{Subtype: 4, Data: make([]byte, 16)}, "x").Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("RemoveKeyAltName on a missing key: %v", err)
	}
	// A removed name no longer encrypts, even though the key was cached under it.
	if _, err := env.ce.Encrypt(ctx, rawValue(t, "x"), options.Encrypt().SetKeyAltName("two").SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("encrypt with a removed name: %v", err)
	}
}

func TestDeleteKey(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	id, _ := env.ce.CreateDataKey(ctx, "local")
	opts := options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")
	if _, err := env.ce.Encrypt(ctx, rawValue(t, "x"), opts); err != nil {
		t.Fatal(err)
	}
	res, err := env.ce.DeleteKey(ctx, id)
	if err != nil || res.DeletedCount != 1 {
		t.Fatalf("DeleteKey: %v %+v", err, res)
	}
	if err := env.ce.GetKey(ctx, id).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("GetKey after delete: %v", err)
	}
	if _, err := env.ce.Encrypt(ctx, rawValue(t, "x"), opts); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("a deleted key still encrypts: %v", err)
	}
}

// TestKeyExpiration: with keyExpiration 0 a key removed from the vault behind the
// ClientEncryption's back stays usable; with a short expiration it does not.
func TestKeyExpiration(t *testing.T) {
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, time.Millisecond} {
		env := newEnv(t, func(o *options.ClientEncryptionOptionsBuilder) { o.SetKeyExpiration(ttl) })
		id, _ := env.ce.CreateDataKey(ctx, "local")
		opts := options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")
		if _, err := env.ce.Encrypt(ctx, rawValue(t, "x"), opts); err != nil {
			t.Fatal(err)
		}
		if _, err := env.kv.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		_, err := env.ce.Encrypt(ctx, rawValue(t, "x"), opts)
		if ttl == 0 && err != nil {
			t.Fatalf("keyExpiration 0: the cached key expired: %v", err)
		}
		if ttl != 0 && !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("keyExpiration %v: err = %v, want ErrKeyNotFound", ttl, err)
		}
	}
	// A negative keyExpiration is the driver's "never expire": TestKeyExpirationNegative.
}

func TestRewrapManyDataKey(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	var ids []bson.Binary
	var cts []bson.Binary
	for i := 0; i < 3; i++ {
		id, err := env.ce.CreateDataKey(ctx, "local")
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := env.ce.Encrypt(ctx, rawValue(t, "v"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
		ids, cts = append(ids, id), append(cts, ct)
	}
	res, err := env.ce.RewrapManyDataKey(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{ids[0], ids[1]}}}}},
		options.RewrapManyDataKey().SetProvider("local:other"))
	if err != nil {
		t.Fatal(err)
	}
	if res.BulkWriteResult == nil || res.MatchedCount != 2 || res.ModifiedCount != 2 {
		t.Fatalf("result %+v", res.BulkWriteResult)
	}
	for i, id := range ids {
		raw, _ := env.ce.GetKey(ctx, id).Raw()
		want := "local"
		if i < 2 {
			want = "local:other"
			if !raw.Lookup("updateDate").Time().After(raw.Lookup("creationDate").Time()) {
				t.Errorf("key %d: updateDate not advanced", i)
			}
		}
		if p := raw.Lookup("masterKey", "provider").StringValue(); p != want {
			t.Errorf("key %d: provider %s, want %s", i, p, want)
		}
	}
	// A fresh ClientEncryption that knows only local:other decrypts the rewrapped keys' values.
	kv2, _ := mongo.Connect(options.Client().ApplyURI(testURI))
	onlyOther, _ := NewClientEncryption(kv2, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).
		SetKmsProviders(map[string]map[string]any{"local:other": {"key": make([]byte, 96)}}))
	defer onlyOther.Close(ctx)
	for i := 0; i < 2; i++ {
		if v, err := onlyOther.Decrypt(ctx, cts[i]); err != nil || v.StringValue() != "v" {
			t.Fatalf("value %d after rewrap: %v", i, err)
		}
	}
	// Rewrap in place (no provider): same provider, new key material.
	before, _ := env.ce.GetKey(ctx, ids[2]).Raw()
	res, err = env.ce.RewrapManyDataKey(ctx, bson.D{{Key: "_id", Value: ids[2]}})
	if err != nil || res.ModifiedCount != 1 {
		t.Fatalf("rewrap in place: %v", err)
	}
	after, _ := env.ce.GetKey(ctx, ids[2]).Raw()
	if bytes.Equal(before.Lookup("keyMaterial").Value, after.Lookup("keyMaterial").Value) {
		t.Error("key material unchanged by rewrap")
	}
	// Nothing matched: no bulk write result.
	res, err = env.ce.RewrapManyDataKey(ctx, bson.D{{Key: "keyAltNames", Value: "nothing"}})
	if err != nil || res == nil || res.BulkWriteResult != nil {
		t.Fatalf("no match: %+v %v", res, err)
	}
	// A failure leaves every key as it was: local keys cannot be unwrapped by a set that
	// lacks "local".
	snapshot := func() []bson.Raw {
		cur, _ := env.kv.Find(ctx, bson.D{})
		var all []bson.Raw
		_ = cur.All(ctx, &all)
		return all
	}
	was := snapshot()
	_, err = onlyOther.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local:other"))
	if err == nil {
		t.Fatal("rewrap of keys whose provider is not configured succeeded")
	}
	is := snapshot()
	if len(is) != len(was) {
		t.Fatal("key count changed")
	}
	for i := range was {
		if !bytes.Equal(was[i], is[i]) {
			t.Fatalf("key %d changed by a failed rewrap", i)
		}
	}
	if _, err := env.ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetMasterKey(bson.D{})); err == nil {
		t.Fatal("masterKey without provider accepted")
	}
	if _, err := env.ce.RewrapManyDataKey(ctx, nil); err == nil {
		t.Fatal("nil filter accepted")
	}
}

func TestClosed(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	if err := env.ce.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ce.CreateDataKey(ctx, "local"); !errors.Is(err, ErrClientDisconnected) {
		t.Fatalf("CreateDataKey after Close: %v", err)
	}
	if err := env.ce.GetKey(ctx, bson.Binary{}).Err(); !errors.Is(err, ErrClientDisconnected) {
		t.Fatalf("GetKey after Close: %v", err)
	}
	if err := env.ce.Close(ctx); !errors.Is(err, ErrClientDisconnected) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestRewrapManyKeys rewraps more keys than one bulk write holds.
func TestRewrapManyKeys(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	const n = 120
	docs := make([]any, 0, n)
	var first bson.Binary
	for i := 0; i < n; i++ {
		doc, id, err := env.ce.e.newKeyDocument(ctx, "local", &options.DataKeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = bson.Binary{Subtype: 4, Data: id[:]}
		}
		docs = append(docs, doc)
	}
	if _, err := env.kv.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	ct, err := env.ce.Encrypt(ctx, rawValue(t, "v"), options.Encrypt().SetKeyID(first).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local:other"))
	if err != nil {
		t.Fatal(err)
	}
	if res.MatchedCount != n || res.ModifiedCount != n {
		t.Fatalf("matched %d, modified %d, want %d", res.MatchedCount, res.ModifiedCount, n)
	}
	if m, _ := env.kv.CountDocuments(ctx, bson.D{{Key: "masterKey.provider", Value: "local:other"}}); m != n {
		t.Fatalf("%d keys rewrapped, want %d", m, n)
	}
	if v, err := env.ce.Decrypt(ctx, ct); err != nil || v.StringValue() != "v" {
		t.Fatalf("decrypt after rewrap: %v", err)
	}
}
