package mongocrypt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// The secrets and plaintexts of the tests below: no error may show them.
const (
	errTestPlaintext = "S3CRET-plaintext-4711"
	errTestAWSKeyID  = "AKIAERRTESTKEYID0001"
	errTestAWSSecret = "errTestSecretAccessKey/0123456789abcdef"
)

// wantClassified checks that err is an *Error with the code, that it is a mongo.MongocryptError
// as the driver's libmongocrypt errors are (with the same code and text), and that it shows no
// key, credential or plaintext.
func wantClassified(t *testing.T, what string, err error, code int32) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	t.Logf("%s: %v", what, err)
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("%s: %v (%T) holds no *mongocrypt.Error", what, err, err)
	}
	if me.Code != code {
		t.Errorf("%s: code %d, want %d: %v", what, me.Code, code, err)
	}
	var dme mongo.MongocryptError
	if !errors.As(err, &dme) {
		t.Errorf("%s: %v is not a mongo.MongocryptError", what, err)
	} else if dme.Code != me.Code || dme.Error() != me.Error() {
		t.Errorf("%s: mongo.MongocryptError{%d, %q} does not match %v", what, dme.Code, dme.Message, me)
	}
	if errors.Is(err, mongo.ErrClientDisconnected) {
		t.Errorf("%s: %v is mongo.ErrClientDisconnected", what, err)
	}
	wantNoSecret(t, what, err)
	return me
}

func wantNoSecret(t *testing.T, what string, err error) {
	t.Helper()
	for _, s := range []string{errTestPlaintext, errTestAWSKeyID, errTestAWSSecret,
		base64.StdEncoding.EncodeToString(localMasterKey), fmt.Sprintf("%x", localMasterKey[:16])} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("%s: error %q shows a secret", what, err)
		}
	}
}

// wantKeyVault checks a key vault failure: CodeKeyVault, a *KeyVaultError of op and the
// driver's mongo.EncryptionKeyVaultError.
func wantKeyVault(t *testing.T, what string, err error, op string) {
	t.Helper()
	wantClassified(t, what, err, CodeKeyVault)
	var kve *KeyVaultError
	if !errors.As(err, &kve) || kve.Op != op {
		t.Errorf("%s: %v holds no *KeyVaultError of %q", what, err, op)
	}
	var dkve mongo.EncryptionKeyVaultError
	if !errors.As(err, &dkve) || dkve.Wrapped == nil {
		t.Errorf("%s: %v is not a mongo.EncryptionKeyVaultError", what, err)
	}
}

// wantClosed checks the error of a closed ClientEncryption or AutoEncrypter: an *Error that
// wraps mongo.ErrClientDisconnected, as the driver returns it, and not a MongocryptError.
func wantClosed(t *testing.T, what string, err error) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeClient {
		t.Fatalf("%s: %v (%T) is not an *Error of CodeClient", what, err, err)
	}
	if !errors.Is(err, mongo.ErrClientDisconnected) || !errors.Is(err, ErrClientDisconnected) {
		t.Errorf("%s: %v is not mongo.ErrClientDisconnected", what, err)
	}
	var dme mongo.MongocryptError
	if errors.As(err, &dme) {
		t.Errorf("%s: %v is a mongo.MongocryptError; the driver returns mongo.ErrClientDisconnected alone", what, err)
	}
}

func TestErrorIsDriverMongocryptError(t *testing.T) {
	cause := errors.New("the cause")
	for _, e := range []*Error{
		{Code: CodeCrypto, Message: "decrypting", Err: cause},
		{Code: CodeClient, Err: cause},
		{Code: CodeAnalysis, Message: "refused"},
	} {
		for _, err := range []error{e, fmt.Errorf("outer: %w", e), mongo.CommandError{Code: 1, Message: "x", Wrapped: e}} {
			var me mongo.MongocryptError
			if !errors.As(err, &me) {
				t.Fatalf("%v is not a mongo.MongocryptError", err)
			}
			if me.Code != e.Code || me.Error() != e.Error() {
				t.Errorf("MongocryptError{%d, %q}.Error() = %q, want code %d and %q", me.Code, me.Message, me.Error(), e.Code, e.Error())
			}
			var ours *Error
			if !errors.As(err, &ours) || ours != e {
				t.Errorf("%v: the *Error is lost", err)
			}
		}
	}
	if err := errorOf(errors.New("bare")); !errors.As(err, new(*Error)) {
		t.Errorf("errorOf(bare) = %T", err)
	}
	wantClosed(t, "errClosed", errClosed("the ClientEncryption"))
	if got := errorOf(errClosed("x")); !errors.Is(got, mongo.ErrClientDisconnected) {
		t.Errorf("errorOf(errClosed) = %v", got)
	}
}

func TestKeyVaultErrorIsDriverError(t *testing.T) {
	cause := errors.New("server selection timeout")
	err := &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: cause}}
	var kve mongo.EncryptionKeyVaultError
	if !errors.As(err, &kve) || kve.Wrapped != cause {
		t.Fatalf("%v: EncryptionKeyVaultError %v", err, kve)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	parse := &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "parse", Err: cause}}
	if errors.As(parse, &kve) {
		t.Error("a key document that does not parse is not a failure to talk to the key vault")
	}
	notFound := &Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: key id x", ErrKeyNotFound)}
	if errors.As(notFound, &kve) {
		t.Error("a missing key is a libmongocrypt error, not a key vault failure")
	}
	if !errors.As(notFound, new(mongo.MongocryptError)) {
		t.Error("a missing key is a mongo.MongocryptError")
	}
}

// TestKMSErrorConverted checks that the *kms.Error of the providers leave the package as
// *KMSError, under any wrapping, with the text kept.
func TestKMSErrorConverted(t *testing.T) {
	ke := &kms.Error{Provider: "aws:prod", Op: "decrypt", Status: 500, Err: errors.New("reply: boom")}
	for _, err := range []error{
		ke,
		wrapKMS(ke),
		wrapKMS(fmt.Errorf("after 3 attempts: %w", ke)),
		forEachKey(2, func(int) error { return wrapKMS(ke) }),
		&CreateDataKeyError{Err: wrapKMS(ke)},
		withMessage(wrapKMS(ke), "rewrapping key k"),
	} {
		got := errorOf(err)
		if !strings.HasSuffix(got.Error(), err.Error()) {
			t.Errorf("text changed: %q, was %q", got, err)
		}
		var pub *KMSError
		if !errors.As(got, &pub) {
			t.Fatalf("%v: no *KMSError", got)
		}
		if pub.Provider != "aws:prod" || pub.Op != "decrypt" || pub.Status != 500 || pub.Err != ke.Err {
			t.Errorf("KMSError %+v", pub)
		}
		if errors.As(got, new(*kms.Error)) {
			t.Errorf("%v: the internal *kms.Error is still there", got)
		}
		var me *Error
		if !errors.As(got, &me) || me.Code != CodeKMS {
			t.Errorf("%v: not an *Error of CodeKMS", got)
		}
	}
}

// unreachableClient is a client whose server does not answer: every operation fails, quickly.
func unreachableClient(t *testing.T) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/?directConnection=true").
		SetServerSelectionTimeout(150 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

type failingOption struct{}

func (failingOption) List() []func(*options.EncryptOptions) error {
	return []func(*options.EncryptOptions) error{func(*options.EncryptOptions) error { return errors.New("bad option") }}
}

// TestEntryPointErrors drives every exported function and method into failure (closed client,
// bad options, unreachable key vault, failing KMS) and checks that each error is an *Error of
// the right code and, where the driver has one, the driver's error type.
func TestEntryPointErrors(t *testing.T) {
	env := newEnv(t)
	ctx := t.Context()
	keyID, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"errkey"}))
	if err != nil {
		t.Fatal(err)
	}
	det := options.Encrypt().SetKeyID(keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic")
	ct, err := env.ce.Encrypt(ctx, rawValue(t, errTestPlaintext), det)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("bad options", func(t *testing.T) {
		_, err := NewClientEncryption(nil)
		wantClassified(t, "NewClientEncryption(nil)", err, CodeClient)
		_, err = NewClientEncryption(env.client, options.ClientEncryption().SetKeyVaultNamespace("nodot").SetKmsProviders(localProviders()))
		wantClassified(t, "NewClientEncryption bad namespace", err, CodeClient)
		_, err = NewClientEncryption(env.client, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).
			SetKmsProviders(map[string]map[string]any{"local": {"key": []byte("short")}}))
		wantClassified(t, "NewClientEncryption bad local key", err, CodeClient)

		_, err = env.ce.CreateDataKey(ctx, "aws")
		wantClassified(t, "CreateDataKey unconfigured provider", err, CodeClient)
		_, err = env.ce.Encrypt(ctx, rawValue(t, errTestPlaintext), options.Encrypt().SetKeyID(keyID))
		wantClassified(t, "Encrypt without algorithm", err, CodeClient)
		_, err = env.ce.Encrypt(ctx, rawValue(t, errTestPlaintext), failingOption{})
		wantClassified(t, "Encrypt with a failing option", err, CodeClient)
		_, err = env.ce.Encrypt(ctx, rawValue(t, 1.5), det)
		wantClassified(t, "Encrypt double deterministically", err, CodeClient)
		_, err = env.ce.Encrypt(ctx, rawValue(t, errTestPlaintext), options.Encrypt().SetKeyID(bson.Binary{Subtype: 4, Data: make([]byte, 16)}).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
		if me := wantClassified(t, "Encrypt with a missing key", err, CodeKeyVault); !errors.Is(me, ErrKeyNotFound) {
			t.Errorf("missing key: %v", err)
		}
		var out bson.Raw
		wantClassified(t, "EncryptExpression nil", env.ce.EncryptExpression(ctx, nil, &out), CodeClient)
		_, err = env.ce.Decrypt(ctx, bson.Binary{Subtype: 0, Data: []byte{1}})
		wantClassified(t, "Decrypt subtype 0", err, CodeClient)
		bad := append([]byte(nil), ct.Data...)
		bad[len(bad)-1] ^= 1
		_, err = env.ce.Decrypt(ctx, bson.Binary{Subtype: 6, Data: bad})
		if me := wantClassified(t, "Decrypt tampered", err, CodeCrypto); !errors.Is(me, ErrAuthentication) {
			t.Errorf("tampered: %v", err)
		}
		_, err = env.ce.RewrapManyDataKey(ctx, nil)
		wantClassified(t, "RewrapManyDataKey nil filter", err, CodeClient)
		_, _, err = env.ce.CreateEncryptedCollection(ctx, env.client.Database(env.db), "c", nil, "local", nil)
		wantClassified(t, "CreateEncryptedCollection nil options", err, CodeClient)
		if res := env.ce.AddKeyAltName(ctx, keyID, "errkey2"); res.Err() != nil {
			t.Fatal(res.Err())
		}
		other, err := env.ce.CreateDataKey(ctx, "local")
		if err != nil {
			t.Fatal(err)
		}
		wantClassified(t, "AddKeyAltName taken", env.ce.AddKeyAltName(ctx, other, "errkey2").Err(), CodeClient)
		_, err = env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"errkey"}))
		wantClassified(t, "CreateDataKey name taken", err, CodeClient)
		// No key matches: the driver's mongo.ErrNoDocuments, as the driver returns it.
		if err := env.ce.GetKeyByAltName(ctx, "nosuchname").Err(); err != mongo.ErrNoDocuments {
			t.Errorf("GetKeyByAltName of no key: %v", err)
		}

		wantClassified(t, "DropEncryptedCollection(nil)", DropEncryptedCollection(ctx, nil, nil), CodeClient)
		if err := env.client.Database(env.db).CreateCollection(ctx, "plain"); err != nil {
			t.Fatal(err)
		}
		wantClassified(t, "DropEncryptedCollection of a plain collection",
			DropEncryptedCollection(ctx, env.client.Database(env.db).Collection("plain"), nil), CodeClient)

		_, err = NewAutoEncrypter(nil)
		wantClassified(t, "NewAutoEncrypter(nil)", err, CodeClient)
		ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
			SetSchemaMap(map[string]any{"nodot": bson.D{}})
		_, err = NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		wantClassified(t, "NewAutoEncrypter bad schemaMap", err, CodeClient)
		_, err = Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		wantClassified(t, "Connect bad schemaMap", err, CodeClient)
		ae = options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders())
		_, err = Connect(options.Client().ApplyURI("mongodb://a,b/?directConnection=true").SetAutoEncryptionOptions(ae))
		wantClassified(t, "Connect bad URI", err, CodeClient)

		a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close(ctx)
		_, err = a.Encrypt(ctx, env.db, bson.Raw{1, 2})
		wantClassified(t, "AutoEncrypter.Encrypt malformed", err, CodeClient)
		_, err = a.Decrypt(ctx, bson.Raw{5, 0, 0, 0, 0, 9})
		wantClassified(t, "AutoEncrypter.Decrypt malformed", err, CodeClient)
	})

	t.Run("unreachable key vault", func(t *testing.T) {
		down := unreachableClient(t)
		ce, err := NewClientEncryption(down, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ce.CreateDataKey(ctx, "local")
		wantKeyVault(t, "CreateDataKey", err, "insert")
		_, err = ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"n"}))
		wantKeyVault(t, "CreateDataKey with keyAltNames", err, "find")
		_, err = ce.Encrypt(ctx, rawValue(t, errTestPlaintext), det)
		wantKeyVault(t, "Encrypt", err, "find")
		var out bson.Raw
		err = ce.EncryptExpression(ctx, bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "v", Value: bson.D{{Key: "$gt", Value: int32(1)}}}}}}}, &out,
			options.Encrypt().SetKeyID(keyID).SetAlgorithm("Range").SetQueryType("range").SetContentionFactor(0).
				SetRangeOptions(options.Range().SetMin(rawValue(t, int32(0))).SetMax(rawValue(t, int32(100))).SetSparsity(1).SetTrimFactor(1)))
		wantKeyVault(t, "EncryptExpression", err, "find")
		_, err = ce.Decrypt(ctx, ct)
		wantKeyVault(t, "Decrypt", err, "find")
		wantKeyVault(t, "GetKey", ce.GetKey(ctx, keyID).Err(), "find")
		wantKeyVault(t, "GetKeyByAltName", ce.GetKeyByAltName(ctx, "errkey").Err(), "find")
		_, err = ce.GetKeys(ctx)
		wantKeyVault(t, "GetKeys", err, "find")
		_, err = ce.DeleteKey(ctx, keyID)
		wantKeyVault(t, "DeleteKey", err, "delete")
		wantKeyVault(t, "AddKeyAltName", ce.AddKeyAltName(ctx, keyID, "n").Err(), "find")
		wantKeyVault(t, "RemoveKeyAltName", ce.RemoveKeyAltName(ctx, keyID, "errkey").Err(), "update")
		_, err = ce.RewrapManyDataKey(ctx, bson.D{})
		wantKeyVault(t, "RewrapManyDataKey", err, "find")

		ef := bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "v"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}}}}}
		_, got, err := ce.CreateEncryptedCollection(ctx, down.Database("d"), "c", options.CreateCollection().SetEncryptedFields(ef), "local", nil)
		var cdk *CreateDataKeyError
		if !errors.As(err, &cdk) || got == nil {
			t.Fatalf("CreateEncryptedCollection: %v (%T), want a *CreateDataKeyError", err, err)
		}
		wantKeyVault(t, "CreateEncryptedCollection data key", err, "insert")
		ef = bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "v"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: keyID}}}}}
		_, _, err = ce.CreateEncryptedCollection(ctx, down.Database("d"), "c", options.CreateCollection().SetEncryptedFields(ef), "local", nil)
		var cec *CreateEncryptedCollectionError
		if !errors.As(err, &cec) {
			t.Fatalf("CreateEncryptedCollection: %v (%T), want a *CreateEncryptedCollectionError", err, err)
		}
		wantClassified(t, "CreateEncryptedCollection create", err, CodeClient)
		wantClassified(t, "DropEncryptedCollection", DropEncryptedCollection(ctx, down.Database("d").Collection("c"), nil), CodeClient)
		wantClassified(t, "DropEncryptedCollection with encryptedFields", DropEncryptedCollection(ctx, down.Database("d").Collection("c"), ef), CodeClient)

		// Automatic encryption, alone and through a driver client.
		ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
			SetKeyVaultClientOptions(options.Client().ApplyURI("mongodb://127.0.0.1:1/?directConnection=true").SetServerSelectionTimeout(150 * time.Millisecond)).
			SetSchemaMap(map[string]any{env.db + ".people": csfleSchema(keyID)})
		a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close(ctx)
		cmd, _ := bson.Marshal(bson.D{{Key: "insert", Value: "people"}, {Key: "documents", Value: bson.A{bson.D{{Key: "ssn", Value: errTestPlaintext}}}}})
		_, err = a.Encrypt(ctx, env.db, cmd)
		wantKeyVault(t, "AutoEncrypter.Encrypt", err, "find")
		reply, _ := bson.Marshal(bson.D{{Key: "ok", Value: 1}, {Key: "v", Value: ct}})
		_, err = a.Decrypt(ctx, reply)
		wantKeyVault(t, "AutoEncrypter.Decrypt", err, "find")

		c, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(ctx)
		_, err = c.Database(env.db).Collection("people").InsertOne(ctx, bson.D{{Key: "ssn", Value: errTestPlaintext}})
		wantKeyVault(t, "InsertOne through Connect", err, "find")
	})

	t.Run("failing KMS", func(t *testing.T) {
		// The right key vault, the wrong local master key: unwrapping the data key fails.
		wrong := map[string]map[string]any{"local": {"key": make([]byte, 96)}}
		kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
		if err != nil {
			t.Fatal(err)
		}
		ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(wrong))
		if err != nil {
			t.Fatal(err)
		}
		defer ce.Close(ctx)
		wantLocalKMS := func(what string, err error) {
			t.Helper()
			wantClassified(t, what, err, CodeKMS)
			var ke *KMSError
			if !errors.As(err, &ke) || ke.Provider != "local" || ke.Op != "decrypt" {
				t.Errorf("%s: %v holds no *KMSError of local decrypt", what, err)
			}
			if errors.As(err, new(mongo.EncryptionKeyVaultError)) {
				t.Errorf("%s: a KMS failure is not a key vault failure", what)
			}
		}
		_, err = ce.Encrypt(ctx, rawValue(t, errTestPlaintext), det)
		wantLocalKMS("Encrypt", err)
		_, err = ce.Decrypt(ctx, ct)
		wantLocalKMS("Decrypt", err)
		_, err = ce.RewrapManyDataKey(ctx, bson.D{})
		wantLocalKMS("RewrapManyDataKey", err)

		ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(wrong).
			SetSchemaMap(map[string]any{env.db + ".people": csfleSchema(keyID)})
		c, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(ctx)
		_, err = c.Database(env.db).Collection("people").InsertOne(ctx, bson.D{{Key: "ssn", Value: errTestPlaintext}})
		wantLocalKMS("InsertOne through Connect", err)

		// An AWS endpoint that refuses connections: retried, then a *KMSError without status.
		aws := map[string]map[string]any{"aws": {"accessKeyId": errTestAWSKeyID, "secretAccessKey": errTestAWSSecret}}
		ceAWS, err := NewClientEncryption(env.client, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(aws))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ceAWS.CreateDataKey(ctx, "aws", options.DataKey().SetMasterKey(bson.D{
			{Key: "region", Value: "us-east-1"},
			{Key: "key", Value: "arn:aws:kms:us-east-1:579766882180:key/89fcc2c4-08b0-4bd9-9f25-e30687b580d0"},
			{Key: "endpoint", Value: "127.0.0.1:1"},
		}))
		wantClassified(t, "CreateDataKey aws unreachable", err, CodeKMS)
		var ke *KMSError
		if !errors.As(err, &ke) || ke.Provider != "aws" || ke.Op != "encrypt" || ke.Status != 0 || ke.Err == nil {
			t.Errorf("aws unreachable: %v, KMSError %+v", err, ke)
		}
	})

	t.Run("closed", func(t *testing.T) {
		kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
		if err != nil {
			t.Fatal(err)
		}
		ce, err := NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
		if err != nil {
			t.Fatal(err)
		}
		if err := ce.Close(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = ce.CreateDataKey(ctx, "local")
		wantClosed(t, "CreateDataKey", err)
		_, err = ce.Encrypt(ctx, rawValue(t, errTestPlaintext), det)
		wantClosed(t, "Encrypt", err)
		var out bson.Raw
		wantClosed(t, "EncryptExpression", ce.EncryptExpression(ctx, bson.D{}, &out))
		_, err = ce.Decrypt(ctx, ct)
		wantClosed(t, "Decrypt", err)
		wantClosed(t, "GetKey", ce.GetKey(ctx, keyID).Err())
		wantClosed(t, "GetKeyByAltName", ce.GetKeyByAltName(ctx, "errkey").Err())
		_, err = ce.GetKeys(ctx)
		wantClosed(t, "GetKeys", err)
		_, err = ce.DeleteKey(ctx, keyID)
		wantClosed(t, "DeleteKey", err)
		wantClosed(t, "AddKeyAltName", ce.AddKeyAltName(ctx, keyID, "x").Err())
		wantClosed(t, "RemoveKeyAltName", ce.RemoveKeyAltName(ctx, keyID, "x").Err())
		_, err = ce.RewrapManyDataKey(ctx, bson.D{})
		wantClosed(t, "RewrapManyDataKey", err)
		_, _, err = ce.CreateEncryptedCollection(ctx, env.client.Database(env.db), "c", options.CreateCollection(), "local", nil)
		wantClosed(t, "CreateEncryptedCollection", err)
		wantClosed(t, "second Close", ce.Close(ctx))

		ae := options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders())
		a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		cmd, _ := bson.Marshal(bson.D{{Key: "find", Value: "people"}})
		_, err = a.Encrypt(ctx, env.db, cmd)
		wantClosed(t, "AutoEncrypter.Encrypt", err)
		reply, _ := bson.Marshal(bson.D{{Key: "ok", Value: 1}})
		_, err = a.Decrypt(ctx, reply)
		wantClosed(t, "AutoEncrypter.Decrypt", err)
		wantClosed(t, "AutoEncrypter second Close", a.Close(ctx))

		// A driver client from Connect after Disconnect: the driver's own error.
		c, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Database(env.db).Collection("people").InsertOne(ctx, bson.D{}); !errors.Is(err, mongo.ErrClientDisconnected) {
			t.Errorf("InsertOne after Disconnect: %v", err)
		}
	})
}

// An *Error that holds other *Errors, alone or joined (the failures of several keys), says
// "mongocrypt error N: " once, with the outer code; each inner one is still found by errors.As.
func TestErrorTextSaysCodeOnce(t *testing.T) {
	inner := &Error{Code: CodeKMS, Message: "kms local: decrypt", Err: errors.New("bad key")}
	other := &Error{Code: CodeKeyVault, Message: "key vault find"}
	cases := []struct {
		err  *Error
		want string
	}{
		{&Error{Code: CodeClient, Message: "outer", Err: inner}, "mongocrypt error 1: outer: kms local: decrypt: bad key"},
		{&Error{Code: CodeKMS, Message: "2 of 2 keys failed", Err: errors.Join(inner, other)},
			"mongocrypt error 2: 2 of 2 keys failed: kms local: decrypt: bad key\nkey vault find"},
		{&Error{Code: CodeClient, Err: fmt.Errorf("wrapped %w and %w", inner, other)},
			"mongocrypt error 1: wrapped mongocrypt error 2: kms local: decrypt: bad key and mongocrypt error 3: key vault find"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		var e *Error
		if !errors.As(c.err.Err, &e) {
			t.Errorf("%q: the inner *Error is not found", c.want)
		}
	}
}
