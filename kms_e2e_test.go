package mongocrypt

// End-to-end tests of the KMS providers at the user level: everything goes through
// NewClientEncryption and Connect with the driver's options, against the test KMSs of
// kms_servers_test.go (local-kms for aws, the Key Vault and Cloud KMS fakes, the real PyKMIP).
// One TestKMS starts the servers once and runs every step as a subtest.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/gcp"
)

const (
	algoDet = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	algoRnd = "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
)

// providerCase is one configured provider of the fixture, with the masterKey given to
// CreateDataKey and what the KMS is expected to see.
type providerCase struct {
	name      string
	masterKey bson.D // nil: none
	// stored is the masterKey document libmongocrypt writes for masterKey; keyID is the keyId
	// the KMIP server chose (read from the stored document).
	stored      func(keyID string) bson.D
	materialLen int // length of keyMaterial; 0 when the KMS decides
	// Requests of CreateDataKey (KMIP: one connection per operation), requests of one
	// unwrap, and token requests of a provider instance that has no token yet.
	wrapOps, unwrapOps, tokens int
	kmip                       bool
}

func (f *kmsFixture) cases() []providerCase {
	awsEP, azEP, gcpEP := f.aws.Endpoint(), f.azure.Endpoint(), f.gcp.Endpoint()
	gcpStored := func(name, key string, extra ...bson.E) bson.D {
		d := bson.D{{Key: "provider", Value: name}, {Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: key}}
		return append(d, extra...)
	}
	return []providerCase{
		{
			name: "local", stored: func(string) bson.D { return bson.D{{Key: "provider", Value: "local"}} },
			materialLen: 160,
		},
		{
			// Fields in another order than the stored ones, and an endpoint with a scheme
			// and a path: libmongocrypt stores host:port.
			name:      "aws",
			masterKey: bson.D{{Key: "endpoint", Value: "https://" + awsEP + "/"}, {Key: "key", Value: f.awsARN}, {Key: "region", Value: awstest.Region}},
			stored: func(string) bson.D {
				return bson.D{{Key: "provider", Value: "aws"}, {Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsARN}, {Key: "endpoint", Value: awsEP}}
			},
			wrapOps: 1, unwrapOps: 1,
		},
		{
			name:      "aws:a",
			masterKey: bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsAARN}, {Key: "endpoint", Value: f.awsA.Endpoint()}},
			stored: func(string) bson.D {
				return bson.D{{Key: "provider", Value: "aws:a"}, {Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsAARN}, {Key: "endpoint", Value: f.awsA.Endpoint()}}
			},
			wrapOps: 1, unwrapOps: 1,
		},
		{
			name:      "azure",
			masterKey: bson.D{{Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: f.azureVersion}, {Key: "keyVaultEndpoint", Value: azEP}},
			stored: func(string) bson.D {
				return bson.D{{Key: "provider", Value: "azure"}, {Key: "keyVaultEndpoint", Value: azEP}, {Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: f.azureVersion}}
			},
			materialLen: 256, // RSA-2048 OAEP
			wrapOps:     1, unwrapOps: 1, tokens: 1,
		},
		{
			name:      "azure:t",
			masterKey: bson.D{{Key: "keyVaultEndpoint", Value: azEP}, {Key: "keyName", Value: "k"}},
			stored: func(string) bson.D {
				return bson.D{{Key: "provider", Value: "azure:t"}, {Key: "keyVaultEndpoint", Value: azEP}, {Key: "keyName", Value: "k"}}
			},
			materialLen: 256,
			wrapOps:     1, unwrapOps: 1,
		},
		{
			name:      "gcp",
			masterKey: bson.D{{Key: "endpoint", Value: gcpEP}, {Key: "keyName", Value: "k"}, {Key: "keyRing", Value: "r"}, {Key: "location", Value: "global"}, {Key: "projectId", Value: "p"}},
			stored: func(string) bson.D {
				return gcpStored("gcp", "k", bson.E{Key: "endpoint", Value: gcpEP})
			},
			materialLen: 4 + 12 + 96 + 16, // the fake's version || nonce || AES-GCM
			wrapOps:     1, unwrapOps: 1, tokens: 1,
		},
		{
			name:      "gcp:t",
			masterKey: bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: "1"}, {Key: "endpoint", Value: gcpEP}},
			stored: func(string) bson.D {
				return gcpStored("gcp:t", "k", bson.E{Key: "keyVersion", Value: "1"}, bson.E{Key: "endpoint", Value: gcpEP})
			},
			materialLen: 4 + 12 + 96 + 16,
			wrapOps:     1, unwrapOps: 1,
		},
		{
			// Register, Activate and Get a SecretData; wrap locally under it.
			name: "kmip", kmip: true,
			stored: func(id string) bson.D {
				return bson.D{{Key: "provider", Value: "kmip"}, {Key: "keyId", Value: id}}
			},
			materialLen: 160, // FLE1 AEAD of 96 bytes
			wrapOps:     3, unwrapOps: 1,
		},
		{
			// Create and Activate an AES key; the server encrypts.
			name: "kmip:eu", kmip: true,
			masterKey: bson.D{{Key: "delegated", Value: true}},
			stored: func(id string) bson.D {
				return bson.D{{Key: "provider", Value: "kmip:eu"}, {Key: "delegated", Value: true}, {Key: "keyId", Value: id}}
			},
			materialLen: 16 + 112, // IV || AES-CBC of 96 bytes with padding
			wrapOps:     3, unwrapOps: 1,
		},
	}
}

func mustMarshalDoc(t testing.TB, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldNames lists the keys of a document in order.
func fieldNames(t testing.TB, d bson.Raw) []string {
	t.Helper()
	elems, err := d.Elements()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(elems))
	for i, e := range elems {
		names[i] = e.Key()
	}
	return names
}

// checkStoredMasterKey checks that the masterKey of a key document is, byte for byte, what
// libmongocrypt writes.
func checkStoredMasterKey(t *testing.T, keyDoc bson.Raw, want func(keyID string) bson.D) {
	t.Helper()
	mk, ok := keyDoc.Lookup("masterKey").DocumentOK()
	if !ok {
		t.Fatalf("key document has no masterKey document: %s", keyDoc)
	}
	keyID := ""
	if v, err := mk.LookupErr("keyId"); err == nil {
		keyID, _ = v.StringValueOK()
		if keyID == "" {
			t.Errorf("masterKey keyId is not a non-empty string: %s", mk)
		}
	}
	if w := mustMarshalDoc(t, want(keyID)); !bytes.Equal(mk, w) {
		t.Errorf("stored masterKey\n got %s\nwant %s", mk, w)
	}
}

// wantKMSError checks that err is a KMS failure of provider: an *Error with CodeKMS whose
// cause is a *KMSError naming the provider, and whose text names it too.
func wantKMSError(t *testing.T, err error, provider string) *KMSError {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want a KMS error of %s", provider)
	}
	var ke *KMSError
	if !errors.As(err, &ke) {
		t.Fatalf("error %q (%T) has no *mongocrypt.KMSError", err, err)
	}
	if ke.Provider != provider {
		t.Errorf("KMSError names provider %q, want %q: %v", ke.Provider, provider, err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeKMS {
		t.Errorf("error %q is not a mongocrypt *Error with CodeKMS", err)
	}
	if !strings.Contains(err.Error(), "kms "+provider+":") {
		t.Errorf("error text does not name the provider %q: %v", provider, err)
	}
	return ke
}

// TestKMS proves issue 3 end to end: every provider type through the user API (data keys,
// explicit encryption and auto-decryption, caching), RewrapManyDataKey between every pair of
// provider types, failures, and on-demand credentials.
func TestKMS(t *testing.T) {
	f := newKMSFixture(t)
	t.Run("providers", func(t *testing.T) { testKMSProviders(t, f) })
	t.Run("rewrap", func(t *testing.T) { testKMSRewrapMatrix(t, f) })
	t.Run("failures", func(t *testing.T) { testKMSFailures(t, f) })
	t.Run("on-demand", func(t *testing.T) { testKMSOnDemand(t, f) })
}

// testKMSProviders: for every configured provider, CreateDataKey writes the key document
// libmongocrypt writes; the first use unwraps through the KMS and later uses hit the cache; a
// fresh ClientEncryption and a Connect client decrypt the values.
func testKMSProviders(t *testing.T, f *kmsFixture) {
	db := uniqueDB(t)
	kvNS := db + ".datakeys"
	ce := f.clientEncryption(t, kvNS)
	plain := connect(t)
	t.Cleanup(func() { _ = plain.Database(db).Drop(context.Background()) })
	coll := plain.Database(db).Collection("values")
	auto := f.autoClient(t, kvNS).Database(db).Collection("values")

	for _, pc := range f.cases() {
		t.Run(pc.name, func(t *testing.T) {
			if pc.kmip {
				f.needKMIP(t)
			}
			ctx := t.Context()
			c := f.counter(pc.name)
			opts := options.DataKey().SetKeyAltNames([]string{"alt-" + pc.name})
			if pc.masterKey != nil {
				opts.SetMasterKey(pc.masterKey)
			}
			id, err := ce.CreateDataKey(ctx, pc.name, opts)
			if err != nil {
				t.Fatal(err)
			}
			c.expect(t, "CreateDataKey", pc.wrapOps, pc.tokens)

			doc, err := ce.GetKey(ctx, id).Raw()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(fieldNames(t, doc), ","); got != "_id,keyAltNames,keyMaterial,creationDate,updateDate,status,masterKey" {
				t.Errorf("key document fields %s", got)
			}
			checkStoredMasterKey(t, doc, pc.stored)
			st, km, ok := doc.Lookup("keyMaterial").BinaryOK()
			if !ok || st != 0 || len(km) == 0 || (pc.materialLen != 0 && len(km) != pc.materialLen) {
				t.Errorf("keyMaterial: subtype %d, %d bytes, want subtype 0 and %d bytes", st, len(km), pc.materialLen)
			}
			if s, ok := doc.Lookup("status").Int32OK(); !ok || s != 0 {
				t.Errorf("status %s", doc.Lookup("status"))
			}

			// First use: one unwrap through the KMS. Then the key is cached.
			secret := rawValue(t, "secret of "+pc.name)
			det, err := ce.Encrypt(ctx, secret, options.Encrypt().SetKeyID(id).SetAlgorithm(algoDet))
			if err != nil {
				t.Fatal(err)
			}
			c.expect(t, "first Encrypt", pc.unwrapOps, 0)
			record := bson.D{{Key: "n", Value: int32(42)}, {Key: "who", Value: pc.name}}
			rnd, err := ce.Encrypt(ctx, rawValue(t, record), options.Encrypt().SetKeyAltName("alt-"+pc.name).SetAlgorithm(algoRnd))
			if err != nil {
				t.Fatal(err)
			}
			again, err := ce.Encrypt(ctx, secret, options.Encrypt().SetKeyID(id).SetAlgorithm(algoDet))
			if err != nil || !bytes.Equal(again.Data, det.Data) {
				t.Fatalf("deterministic encryption again: %v, same bytes %v", err, bytes.Equal(again.Data, det.Data))
			}
			checkDecrypt(t, ce, det, secret)
			checkDecrypt(t, ce, rnd, rawValue(t, record))
			c.expect(t, "cached Encrypt, Encrypt by keyAltName and Decrypt", 0, 0)

			// A ClientEncryption of its own has an empty cache: one unwrap.
			fresh := f.clientEncryption(t, kvNS)
			checkDecrypt(t, fresh, rnd, rawValue(t, record))
			checkDecrypt(t, fresh, det, secret)
			c.expect(t, "fresh ClientEncryption", pc.unwrapOps, pc.tokens)

			// Auto-decryption of a stored value through Connect with bypassAutoEncryption.
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: pc.name}, {Key: "det", Value: det}, {Key: "rnd", Value: rnd}}); err != nil {
				t.Fatal(err)
			}
			want := mustMarshalDoc(t, bson.D{{Key: "_id", Value: pc.name}, {Key: "det", Value: "secret of " + pc.name}, {Key: "rnd", Value: record}})
			for i := 0; i < 2; i++ {
				got, err := auto.FindOne(ctx, bson.D{{Key: "_id", Value: pc.name}}).Raw()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("auto-decrypted\n got %s\nwant %s", got, bson.Raw(want))
				}
				if i == 0 {
					c.expect(t, "first auto-decryption", pc.unwrapOps, pc.tokens)
				}
			}
			c.expect(t, "second auto-decryption", 0, 0)
			// The deterministic ciphertext finds the document through the auto client.
			if n, err := auto.CountDocuments(ctx, bson.D{{Key: "det", Value: det}}); err != nil || n != 1 {
				t.Errorf("query by deterministic ciphertext: %d, %v", n, err)
			}
		})
	}
}

func checkDecrypt(t *testing.T, ce *ClientEncryption, ct bson.Binary, want bson.RawValue) {
	t.Helper()
	got, err := ce.Decrypt(t.Context(), ct)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != want.Type || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("decrypted %s, want %s", got, want)
	}
}

// rewrapTarget is the master key a RewrapManyDataKey moves keys to, for each provider type:
// another key than the one the keys were made with where the type has one.
func (f *kmsFixture) rewrapTarget(typ string) (masterKey bson.D, stored func(keyID string) bson.D, unwrapTokens int) {
	switch typ {
	case "local":
		return nil, func(string) bson.D { return bson.D{{Key: "provider", Value: "local"}} }, 0
	case "aws":
		return bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsARN2}, {Key: "endpoint", Value: f.aws.Endpoint()}},
			func(string) bson.D {
				return bson.D{{Key: "provider", Value: "aws"}, {Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsARN2}, {Key: "endpoint", Value: f.aws.Endpoint()}}
			}, 0
	case "azure":
		return bson.D{{Key: "keyVaultEndpoint", Value: f.azure.Endpoint()}, {Key: "keyName", Value: "k2"}},
			func(string) bson.D {
				return bson.D{{Key: "provider", Value: "azure"}, {Key: "keyVaultEndpoint", Value: f.azure.Endpoint()}, {Key: "keyName", Value: "k2"}}
			}, 1
	case "gcp":
		return bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k2"}, {Key: "endpoint", Value: f.gcp.Endpoint()}},
			func(string) bson.D {
				return bson.D{{Key: "provider", Value: "gcp"}, {Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k2"}, {Key: "endpoint", Value: f.gcp.Endpoint()}}
			}, 1
	case "kmip":
		// Keys made non-delegated move to delegated ones: a new AES key per data key.
		return bson.D{{Key: "delegated", Value: true}},
			func(id string) bson.D {
				return bson.D{{Key: "provider", Value: "kmip"}, {Key: "delegated", Value: true}, {Key: "keyId", Value: id}}
			}, 0
	}
	panic("unknown provider type " + typ)
}

// testKMSRewrapMatrix: for each target provider type, one RewrapManyDataKey moves a key of
// every provider type to it (5x5 ordered pairs, same-type ones included). Each rewritten key
// document has the target's masterKey, new key material and its other fields unchanged, and
// every value encrypted before decrypts through a fresh ClientEncryption that knows only the
// target provider, which unwraps each key once.
func testKMSRewrapMatrix(t *testing.T, f *kmsFixture) {
	types := []string{"local", "aws", "azure", "gcp", "kmip"}
	if f.kmipAddr == "" {
		t.Logf("kmip pairs skipped: %s", f.kmipSkip)
		types = types[:4]
	}
	sources := map[string]providerCase{}
	for _, pc := range f.cases() {
		sources[pc.name] = pc
	}
	for _, target := range types {
		t.Run("to-"+target, func(t *testing.T) {
			ctx := t.Context()
			db := uniqueDB(t)
			kvNS := db + ".datakeys"
			ce := f.clientEncryption(t, kvNS, types...)
			kv := connect(t).Database(db).Collection("datakeys")
			t.Cleanup(func() { _ = kv.Database().Drop(context.Background()) })

			type encrypted struct {
				ct   bson.Binary
				want bson.RawValue
			}
			ids := map[string]bson.Binary{}
			values := map[string][]encrypted{}
			for _, src := range types {
				opts := options.DataKey()
				if mk := sources[src].masterKey; mk != nil {
					opts.SetMasterKey(mk)
				}
				id, err := ce.CreateDataKey(ctx, src, opts.SetKeyAltNames([]string{"from-" + src}))
				if err != nil {
					t.Fatalf("CreateDataKey %s: %v", src, err)
				}
				ids[src] = id
				for _, v := range []struct {
					val  any
					algo string
				}{{src + "->" + target, algoDet}, {int64(len(src)) << 40, algoRnd}, {bson.A{src, true}, algoRnd}} {
					rv := rawValue(t, v.val)
					ct, err := ce.Encrypt(ctx, rv, options.Encrypt().SetKeyID(id).SetAlgorithm(v.algo))
					if err != nil {
						t.Fatalf("Encrypt with the %s key: %v", src, err)
					}
					values[src] = append(values[src], encrypted{ct, rv})
				}
			}
			before := keyDocs(t, kv)
			mk, stored, tokens := f.rewrapTarget(target)
			opts := options.RewrapManyDataKey().SetProvider(target)
			if mk != nil {
				opts.SetMasterKey(mk)
			}
			res, err := ce.RewrapManyDataKey(ctx, bson.D{}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.BulkWriteResult == nil || res.MatchedCount != int64(len(types)) || res.ModifiedCount != int64(len(types)) {
				t.Fatalf("RewrapManyDataKey result %+v, want %d keys matched and modified", res.BulkWriteResult, len(types))
			}
			after := keyDocs(t, kv)
			if len(after) != len(before) {
				t.Fatalf("%d key documents after the rewrap, %d before", len(after), len(before))
			}

			onlyTarget := f.clientEncryption(t, kvNS, target)
			c := f.counter(target)
			for _, src := range types {
				t.Run(src+"->"+target, func(t *testing.T) {
					var was, is bson.Raw
					for i := range before {
						if _, data := before[i].Lookup("_id").Binary(); bytes.Equal(data, ids[src].Data) {
							was, is = before[i], after[i]
						}
					}
					if was == nil || !bytes.Equal(was.Lookup("_id").Value, is.Lookup("_id").Value) {
						t.Fatalf("key %x not found in order before and after the rewrap", ids[src].Data)
					}
					if got := strings.Join(fieldNames(t, is), ","); got != strings.Join(fieldNames(t, was), ",") {
						t.Errorf("fields after the rewrap %s, before %s", got, strings.Join(fieldNames(t, was), ","))
					}
					for _, k := range []string{"_id", "keyAltNames", "creationDate", "status"} {
						if !was.Lookup(k).Equal(is.Lookup(k)) {
							t.Errorf("%s changed by the rewrap: %s -> %s", k, was.Lookup(k), is.Lookup(k))
						}
					}
					if was.Lookup("keyMaterial").Equal(is.Lookup("keyMaterial")) {
						t.Error("keyMaterial unchanged by the rewrap")
					}
					if is.Lookup("updateDate").Time().Before(was.Lookup("updateDate").Time()) {
						t.Errorf("updateDate went back: %v -> %v", was.Lookup("updateDate").Time(), is.Lookup("updateDate").Time())
					}
					checkStoredMasterKey(t, is, stored)
					if target == "kmip" && src == "kmip" {
						if was.Lookup("masterKey", "keyId").Equal(is.Lookup("masterKey", "keyId")) {
							t.Error("kmip -> kmip (delegated) kept the keyId of the SecretData")
						}
					}
					for _, v := range values[src] {
						checkDecrypt(t, onlyTarget, v.ct, v.want)
					}
				})
			}
			// Each key was unwrapped once, by the target's KMS (the tokens: one per provider).
			ops := len(types)
			if target == "local" {
				ops = 0
			}
			c.expect(t, "decryption through the target only", ops, tokens)
		})
	}
}

// kmsFaultHook answers the requests that match with status, for the first n of them (n < 0:
// all), and counts the matching requests.
type kmsFaultHook struct {
	match  func(r *http.Request) bool
	status int
	n      int32
	seen   atomic.Int32
}

func (h *kmsFaultHook) serve(w http.ResponseWriter, r *http.Request) bool {
	if !h.match(r) {
		return false
	}
	k := h.seen.Add(1)
	if h.n >= 0 && k > h.n {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(h.status)
	fmt.Fprintf(w, `{"__type": "InternalFailure", "error": {"code": %d, "message": "injected failure"}}`, h.status)
	return true
}

// httpKMS is one of the HTTP test KMSs, seen through its Before hook.
type httpKMS struct {
	name           string // provider name
	before         func(func(http.ResponseWriter, *http.Request) bool)
	isWrap, isUnwr func(r *http.Request) bool
	masterKey      func(endpoint string) bson.D
	target         string // host:port of the KMS
	unwrOp         string // KMSError.Op of unwrap
}

func (f *kmsFixture) httpKMSs() []httpKMS {
	return []httpKMS{
		{
			name: "aws", before: f.aws.Before, target: f.aws.Endpoint(), unwrOp: aws.OpDecrypt,
			isWrap: func(r *http.Request) bool { return r.Header.Get("X-Amz-Target") == "TrentService.Encrypt" },
			isUnwr: func(r *http.Request) bool { return r.Header.Get("X-Amz-Target") == "TrentService.Decrypt" },
			masterKey: func(ep string) bson.D {
				return bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsARN}, {Key: "endpoint", Value: ep}}
			},
		},
		{
			name: "azure:t", before: f.azure.Before, target: f.azure.Endpoint(), unwrOp: azure.OpUnwrap,
			isWrap: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/wrapkey") },
			isUnwr: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/unwrapkey") },
			masterKey: func(ep string) bson.D {
				return bson.D{{Key: "keyVaultEndpoint", Value: ep}, {Key: "keyName", Value: "k"}}
			},
		},
		{
			name: "gcp:t", before: f.gcp.Before, target: f.gcp.Endpoint(), unwrOp: gcp.OpDecrypt,
			isWrap: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ":encrypt") },
			isUnwr: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ":decrypt") },
			masterKey: func(ep string) bson.D {
				return bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: ep}}
			},
		},
	}
}

// testKMSFailures: retried HTTP failures, KMSs that are down or stall, KMIP not retried, and
// rewraps that fail without writing anything.
func testKMSFailures(t *testing.T, f *kmsFixture) {
	db := uniqueDB(t)
	kvNS := db + ".datakeys"
	kv := connect(t).Database(db).Collection("datakeys")
	t.Cleanup(func() { _ = kv.Database().Drop(context.Background()) })
	ce := f.clientEncryption(t, kvNS)
	v := rawValue(t, "v")
	encrypt := func(ctx context.Context, ce *ClientEncryption, id bson.Binary) error {
		_, err := ce.Encrypt(ctx, v, options.Encrypt().SetKeyID(id).SetAlgorithm(algoRnd))
		return err
	}

	// A 500 (503 on wrap) is retried without the caller seeing it; three are not hidden; a
	// 400 is not retried. Each provider has a KMS of its own: they run in parallel.
	t.Run("retry", func(t *testing.T) {
		for _, k := range f.httpKMSs() {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				t.Cleanup(func() { k.before(nil) })
				c := f.counter(k.name)
				k.before((&kmsFaultHook{match: k.isWrap, status: http.StatusServiceUnavailable, n: 1}).serve)
				id, err := ce.CreateDataKey(ctx, k.name, options.DataKey().SetMasterKey(k.masterKey(k.target)))
				if err != nil {
					t.Fatalf("CreateDataKey after one 503: %v", err)
				}
				c.expect(t, "CreateDataKey with one 503", 2, 0)

				k.before((&kmsFaultHook{match: k.isUnwr, status: http.StatusInternalServerError, n: 1}).serve)
				if err := encrypt(ctx, f.clientEncryption(t, kvNS, k.name), id); err != nil {
					t.Fatalf("Encrypt after one 500: %v", err)
				}
				c.expect(t, "unwrap with one 500", 2, 0)

				k.before((&kmsFaultHook{match: k.isUnwr, status: http.StatusInternalServerError, n: -1}).serve)
				err = encrypt(ctx, f.clientEncryption(t, kvNS, k.name), id)
				ke := wantKMSError(t, err, k.name)
				if ke.Status != http.StatusInternalServerError || ke.Op != k.unwrOp || !strings.Contains(err.Error(), "after 3 attempts") {
					t.Errorf("always 500: %v (status %d, op %q)", err, ke.Status, ke.Op)
				}
				c.expect(t, "unwrap always 500", 3, 0)

				k.before((&kmsFaultHook{match: k.isUnwr, status: http.StatusBadRequest, n: 1}).serve)
				err = encrypt(ctx, f.clientEncryption(t, kvNS, k.name), id)
				if ke := wantKMSError(t, err, k.name); ke.Status != http.StatusBadRequest || strings.Contains(err.Error(), "attempts") {
					t.Errorf("400: %v (status %d)", err, ke.Status)
				}
				c.expect(t, "unwrap answered 400", 1, 0)
			})
		}
	})

	// A KMS that goes down after the key was made: the unwrap fails with the provider named
	// and the refused connection as the cause (HTTP KMSs after three attempts). One that
	// stalls fails when the caller's deadline passes. Each has its own proxy and
	// ClientEncryption, so they run in parallel.
	type faulty struct {
		name, target, op string
		masterKey        func(endpoint string) bson.D
		retried          bool
	}
	var faults []faulty
	for _, k := range f.httpKMSs() {
		faults = append(faults, faulty{k.name, k.target, k.unwrOp, k.masterKey, true})
	}
	faults = append(faults,
		faulty{"aws:a", f.awsA.Endpoint(), aws.OpDecrypt, func(ep string) bson.D {
			return bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsAARN}, {Key: "endpoint", Value: ep}}
		}, true},
		faulty{"kmip:eu", f.kmipAddr, "decrypt", func(ep string) bson.D {
			return bson.D{{Key: "delegated", Value: true}, {Key: "endpoint", Value: ep}}
		}, false},
		faulty{"kmip", f.kmipAddr, "get", func(ep string) bson.D {
			return bson.D{{Key: "endpoint", Value: ep}}
		}, false},
	)
	t.Run("unavailable", func(t *testing.T) {
		// Keys made through proxies; then every proxy goes down or stalls, and all the
		// unwraps run at once (their waits overlap), each from a ClientEncryption of its own.
		type attempt struct {
			faulty
			stall   bool
			proxy   *kmsProxy
			id      bson.Binary
			ce      *ClientEncryption
			stalled int // connections before the stall
			err     error
		}
		var attempts []*attempt
		for _, k := range faults {
			if strings.HasPrefix(k.name, "kmip") && f.kmipAddr == "" {
				t.Logf("%s skipped: %s", k.name, f.kmipSkip)
				continue
			}
			for _, stall := range []bool{false, true} {
				a := &attempt{faulty: k, stall: stall, proxy: startProxy(t, k.target)}
				var err error
				a.id, err = ce.CreateDataKey(t.Context(), k.name, options.DataKey().SetMasterKey(k.masterKey(a.proxy.Addr())))
				if err != nil {
					t.Fatalf("%s: %v", k.name, err)
				}
				a.ce = f.clientEncryption(t, kvNS, k.name)
				if stall {
					a.proxy.SetMode(proxyStall)
					a.stalled = a.proxy.Conns()
				} else {
					a.proxy.Close()
				}
				attempts = append(attempts, a)
			}
		}
		var wg sync.WaitGroup
		for _, a := range attempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := t.Context()
				if a.stall {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Second)
					defer cancel()
				}
				a.err = encrypt(ctx, a.ce, a.id)
			}()
		}
		wg.Wait()
		for _, a := range attempts {
			if !a.stall {
				t.Run("down/"+a.name, func(t *testing.T) {
					ke := wantKMSError(t, a.err, a.name)
					if ke.Op != a.op {
						t.Errorf("KMSError op %q, want %q", ke.Op, a.op)
					}
					if !errors.Is(a.err, syscall.ECONNREFUSED) {
						t.Errorf("error %v does not wrap ECONNREFUSED", a.err)
					}
					if retried := strings.Contains(a.err.Error(), "after 3 attempts"); retried != a.retried {
						t.Errorf("retried %v, want %v: %v", retried, a.retried, a.err)
					}
					t.Logf("down: %v", a.err)
				})
				continue
			}
			t.Run("stall/"+a.name, func(t *testing.T) {
				wantKMSError(t, a.err, a.name)
				if !errors.Is(a.err, context.DeadlineExceeded) {
					t.Errorf("error %v is not context.DeadlineExceeded", a.err)
				}
				if n := a.proxy.Conns() - a.stalled; n != 1 {
					t.Errorf("%d connections to the stalled KMS, want 1 (no retry after the deadline)", n)
				}
				t.Logf("stall: %v", a.err)
			})
		}
	})

	// Credentials the KMS refuses: the error names the provider, the step and the status,
	// and never quotes the secret.
	t.Run("credentials-refused", func(t *testing.T) {
		cases := []struct {
			name      string
			creds     map[string]any
			tls       *tls.Config
			masterKey bson.D
			op        string
			status    int
			secret    string
		}{
			{
				name:  "aws:a",
				creds: map[string]any{"accessKeyId": f.awsA.AccessKeyID, "secretAccessKey": "wrong-aws-secret-0123"},
				tls:   f.awsA.TLSConfig(), op: aws.OpEncrypt, status: http.StatusBadRequest, secret: "wrong-aws-secret-0123",
				masterKey: bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsAARN}, {Key: "endpoint", Value: f.awsA.Endpoint()}},
			},
			{
				name: "azure",
				creds: map[string]any{"tenantId": f.azure.TenantID, "clientId": f.azure.ClientID, "clientSecret": "wrong-azure-secret-0123",
					"identityPlatformEndpoint": f.azure.Endpoint()},
				tls: f.azure.TLSConfig(), op: azure.OpToken, status: http.StatusUnauthorized, secret: "wrong-azure-secret-0123",
				masterKey: bson.D{{Key: "keyVaultEndpoint", Value: f.azure.Endpoint()}, {Key: "keyName", Value: "k"}},
			},
			{
				// A key the token endpoint does not know for this account.
				name:  "gcp",
				creds: map[string]any{"email": "nobody@p.iam.gserviceaccount.com", "privateKey": f.gcpKey, "endpoint": f.gcp.Endpoint()},
				tls:   f.gcp.TLSConfig(), op: gcp.OpToken, status: http.StatusBadRequest, secret: base64.StdEncoding.EncodeToString(f.gcpKey)[:40],
				masterKey: bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: f.gcp.Endpoint()}},
			},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ce := newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(kvNS).
					SetKmsProviders(map[string]map[string]any{c.name: c.creds}).SetTLSConfig(map[string]*tls.Config{c.name: c.tls}))
				_, err := ce.CreateDataKey(t.Context(), c.name, options.DataKey().SetMasterKey(c.masterKey))
				ke := wantKMSError(t, err, c.name)
				if ke.Op != c.op || ke.Status != c.status {
					t.Errorf("op %q status %d, want %q %d: %v", ke.Op, ke.Status, c.op, c.status, err)
				}
				if strings.Contains(err.Error(), c.secret) {
					t.Errorf("the error quotes the secret: %v", err)
				}
				t.Logf("refused: %v", err)
			})
		}
	})

	// KMIP is not retried: a connection reset once fails the operation; the next one works.
	t.Run("kmip-not-retried", func(t *testing.T) {
		f.needKMIP(t)
		ctx := t.Context()
		id, err := ce.CreateDataKey(ctx, "kmip")
		if err != nil {
			t.Fatal(err)
		}
		c := f.counter("kmip")
		f.kmipProxy.SetMode(proxyResetOnce)
		defer f.kmipProxy.SetMode(proxyForward)
		err = encrypt(ctx, f.clientEncryption(t, kvNS, "kmip"), id)
		wantKMSError(t, err, "kmip")
		c.expect(t, "reset once", 1, 0)
		if err := encrypt(ctx, f.clientEncryption(t, kvNS, "kmip"), id); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "next Get", 1, 0)
	})

	// A rewrap that fails, at the target or at one source, writes nothing: every key
	// document stays byte for byte as it was.
	t.Run("rewrap-failure", func(t *testing.T) {
		ctx := t.Context()
		db := uniqueDB(t)
		kvNS := db + ".datakeys"
		kv := connect(t).Database(db).Collection("datakeys")
		t.Cleanup(func() { _ = kv.Database().Drop(context.Background()) })
		ce := f.clientEncryption(t, kvNS)
		var ids []bson.Binary
		for _, pc := range f.cases() {
			if pc.kmip && f.kmipAddr == "" {
				continue
			}
			opts := options.DataKey()
			if pc.masterKey != nil {
				opts.SetMasterKey(pc.masterKey)
			}
			id, err := ce.CreateDataKey(ctx, pc.name, opts)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// One more gcp key, made through a proxy that then goes down.
		p := startProxy(t, f.gcp.Endpoint())
		broken, err := ce.CreateDataKey(ctx, "gcp", options.DataKey().SetMasterKey(bson.D{
			{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: p.Addr()}}))
		if err != nil {
			t.Fatal(err)
		}
		was := keyDocs(t, kv)
		unchanged := func(step string) {
			t.Helper()
			is := keyDocs(t, kv)
			if len(is) != len(was) {
				t.Fatalf("%s: %d key documents, %d before", step, len(is), len(was))
			}
			for i := range was {
				if !bytes.Equal(was[i], is[i]) {
					t.Fatalf("%s changed key document %d:\n was %s\n  is %s", step, i, was[i], is[i])
				}
			}
		}

		// The target is down.
		_, err = ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("aws:a").SetMasterKey(bson.D{
			{Key: "region", Value: awstest.Region}, {Key: "key", Value: f.awsAARN}, {Key: "endpoint", Value: deadAddr(t)}}))
		wantKMSError(t, err, "aws:a")
		unchanged("a rewrap to a KMS that is down")

		// The target refuses with a status that is not retried.
		t.Cleanup(func() { f.azure.Before(nil) })
		f.azure.Before((&kmsFaultHook{match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/wrapkey") }, status: http.StatusForbidden, n: -1}).serve)
		_, err = ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("azure").SetMasterKey(bson.D{
			{Key: "keyVaultEndpoint", Value: f.azure.Endpoint()}, {Key: "keyName", Value: "k"}}))
		if ke := wantKMSError(t, err, "azure"); ke.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", ke.Status)
		}
		unchanged("a rewrap to a KMS that refuses")
		f.azure.Before(nil)

		// One source is down: nothing is written, not even the keys that could be rewrapped.
		p.Close()
		_, err = f.clientEncryption(t, kvNS).RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local"))
		wantKMSError(t, err, "gcp")
		unchanged("a rewrap with a source KMS down")

		// Without the broken key the same rewrap goes through.
		res, err := ce.RewrapManyDataKey(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: broken}}}}, options.RewrapManyDataKey().SetProvider("local"))
		if err != nil || res.ModifiedCount != int64(len(ids)) {
			t.Fatalf("rewrap without the broken key: %+v, %v", res, err)
		}
	})
}

// countingAWSCreds is an options.AWSCredentialsProvider that counts its calls.
type countingAWSCreds struct {
	creds options.AWSCredentials
	calls atomic.Int32
}

func (c *countingAWSCreds) Retrieve(context.Context) (options.AWSCredentials, error) {
	c.calls.Add(1)
	return c.creds, nil
}

// setKMSEndpoints points the on-demand credential services at test servers until the test
// ends.
func setKMSEndpoints(t *testing.T, m map[string]string) {
	prev := kmsEndpoints
	kmsEndpoints = m
	t.Cleanup(func() { kmsEndpoints = prev })
}

// clearAWSEnv removes the AWS credentials the environment could give, for the test.
func clearAWSEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
}

// testKMSOnDemand: empty "aws", "azure" and "gcp" documents get their credentials from the
// fake instance metadata services named by kmsEndpoints, or from the caller's AWS credentials
// provider; the test KMS accepts only those credentials (aws: with their session token).
func testKMSOnDemand(t *testing.T, f *kmsFixture) {
	kmsOD := awstest.Start(t, awstest.Options{AccessKeyID: "ASIAONDEMAND", SecretAccessKey: "on-demand-secret", SessionToken: "on-demand-session-token"})
	arn := kmsOD.CreateKey(t)
	creds := startAWSCredServer(t, kmsOD)
	db := uniqueDB(t)
	kvNS := db + ".datakeys"
	t.Cleanup(func() { _ = connect(t).Database(db).Drop(context.Background()) })
	awsOnDemand := func(extra ...func(*options.ClientEncryptionOptionsBuilder)) *ClientEncryption {
		o := options.ClientEncryption().SetKeyVaultNamespace(kvNS).
			SetKmsProviders(map[string]map[string]any{"aws": {}}).
			SetTLSConfig(map[string]*tls.Config{"aws": kmsOD.TLSConfig()})
		for _, e := range extra {
			e(o)
		}
		return newKMSClientEncryption(t, o)
	}
	mk := bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: kmsOD.Endpoint()}}
	roundTrip := func(t *testing.T, ce *ClientEncryption, provider string, masterKey bson.D) bson.Binary {
		t.Helper()
		id, err := ce.CreateDataKey(t.Context(), provider, options.DataKey().SetMasterKey(masterKey))
		if err != nil {
			t.Fatal(err)
		}
		v := rawValue(t, "on demand")
		ct, err := ce.Encrypt(t.Context(), v, options.Encrypt().SetKeyID(id).SetAlgorithm(algoDet))
		if err != nil {
			t.Fatal(err)
		}
		checkDecrypt(t, ce, ct, v)
		return ct
	}

	t.Run("aws-ec2", func(t *testing.T) {
		clearAWSEnv(t)
		setKMSEndpoints(t, map[string]string{aws.EndpointEC2: creds.URL})
		ec2, ecs := creds.counts()
		kmsReqs := kmsOD.Requests()
		ct := roundTrip(t, awsOnDemand(), "aws", mk)
		e2, e3 := creds.counts()
		// IMDSv2 token, role name, credentials; cached for the unwrap.
		if e2-ec2 != 3 || e3 != ecs {
			t.Errorf("EC2 metadata requests %d, ECS %d; want 3 and 0", e2-ec2, e3-ecs)
		}
		if n := kmsOD.Requests() - kmsReqs; n != 2 {
			t.Errorf("%d KMS requests, want 2 (encrypt, decrypt)", n)
		}

		// Auto-decryption through Connect with an empty aws document.
		plain := connect(t)
		if _, err := plain.Database(db).Collection("c").InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}, {Key: "v", Value: ct}}); err != nil {
			t.Fatal(err)
		}
		auto, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
			SetKeyVaultNamespace(kvNS).SetBypassAutoEncryption(true).
			SetKmsProviders(map[string]map[string]any{"aws": {}}).
			SetTLSConfig(map[string]*tls.Config{"aws": kmsOD.TLSConfig()})))
		if err != nil {
			t.Fatal(err)
		}
		defer auto.Disconnect(context.Background())
		got, err := auto.Database(db).Collection("c").FindOne(t.Context(), bson.D{{Key: "_id", Value: 1}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := got.Lookup("v").StringValueOK(); !ok || s != "on demand" {
			t.Fatalf("auto-decrypted %s", got)
		}
		if e4, _ := creds.counts(); e4-e2 != 3 {
			t.Errorf("Connect client: %d EC2 metadata requests, want 3", e4-e2)
		}

		// The metadata service fails: the error names the provider and the credentials step.
		creds.setFail(http.StatusNotFound)
		defer creds.setFail(0)
		_, err = awsOnDemand().CreateDataKey(t.Context(), "aws", options.DataKey().SetMasterKey(mk))
		if ke := wantKMSError(t, err, "aws"); ke.Op != aws.OpCredentials || !strings.Contains(err.Error(), "404") {
			t.Errorf("metadata failure: %v (op %q)", err, ke.Op)
		}
	})

	t.Run("aws-ecs", func(t *testing.T) {
		clearAWSEnv(t)
		t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", creds.relURI)
		setKMSEndpoints(t, map[string]string{aws.EndpointECS: creds.URL, aws.EndpointEC2: deadAddr(t)})
		ec2, ecs := creds.counts()
		roundTrip(t, awsOnDemand(), "aws", mk)
		if e2, e3 := creds.counts(); e3-ecs != 1 || e2 != ec2 {
			t.Errorf("ECS requests %d, EC2 %d; want 1 and 0", e3-ecs, e2-ec2)
		}
	})

	t.Run("aws-custom-provider", func(t *testing.T) {
		clearAWSEnv(t)
		setKMSEndpoints(t, map[string]string{aws.EndpointEC2: deadAddr(t), aws.EndpointECS: deadAddr(t)})
		cp := &countingAWSCreds{creds: options.AWSCredentials{AccessKeyID: kmsOD.AccessKeyID, SecretAccessKey: kmsOD.SecretAccessKey, SessionToken: kmsOD.SessionToken}}
		ec2, ecs := creds.counts()
		roundTrip(t, awsOnDemand(func(o *options.ClientEncryptionOptionsBuilder) { o.SetAWSCredentialsProvider(cp) }), "aws", mk)
		if cp.calls.Load() == 0 {
			t.Error("the custom credentials provider was not called")
		}
		if e2, e3 := creds.counts(); e2 != ec2 || e3 != ecs {
			t.Error("metadata services asked despite a custom credentials provider")
		}
		// Credentials the KMS does not know are refused, and the error says by whom.
		bad := &countingAWSCreds{creds: options.AWSCredentials{AccessKeyID: kmsOD.AccessKeyID, SecretAccessKey: "wrong", SessionToken: kmsOD.SessionToken}}
		_, err := awsOnDemand(func(o *options.ClientEncryptionOptionsBuilder) { o.SetAWSCredentialsProvider(bad) }).
			CreateDataKey(t.Context(), "aws", options.DataKey().SetMasterKey(mk))
		if ke := wantKMSError(t, err, "aws"); ke.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Errorf("wrong custom credentials: %v", err)
		}
	})

	t.Run("azure-imds", func(t *testing.T) {
		setKMSEndpoints(t, map[string]string{azure.EndpointIMDS: f.azure.StartIMDS(t)})
		_, tok := f.azure.Requests()
		ce := newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(kvNS).
			SetKmsProviders(map[string]map[string]any{"azure": {}}).
			SetTLSConfig(map[string]*tls.Config{"azure": f.azure.TLSConfig()}))
		roundTrip(t, ce, "azure", bson.D{{Key: "keyVaultEndpoint", Value: f.azure.Endpoint()}, {Key: "keyName", Value: "k"}})
		if _, tok2 := f.azure.Requests(); tok2-tok != 1 {
			t.Errorf("%d IMDS token requests, want 1 (cached for the unwrap)", tok2-tok)
		}
	})

	t.Run("gcp-metadata", func(t *testing.T) {
		setKMSEndpoints(t, map[string]string{gcp.EndpointMetadata: f.gcp.StartMetadata(t)})
		_, tok := f.gcp.Requests()
		ce := newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(kvNS).
			SetKmsProviders(map[string]map[string]any{"gcp": {}}).
			SetTLSConfig(map[string]*tls.Config{"gcp": f.gcp.TLSConfig()}))
		roundTrip(t, ce, "gcp", bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: f.gcp.Endpoint()}})
		if _, tok2 := f.gcp.Requests(); tok2-tok != 1 {
			t.Errorf("%d metadata token requests, want 1 (cached for the unwrap)", tok2-tok)
		}
	})
}

// TestKMSConfigRefusals: configurations NewClientEncryption and Connect refuse before any KMS
// is contacted.
func TestKMSConfigRefusals(t *testing.T) {
	kv := connect(t)
	awsCreds := map[string]any{"accessKeyId": "AKID", "secretAccessKey": "secret"}
	kmipCreds := map[string]any{"endpoint": "127.0.0.1:5696"}
	cases := []struct {
		name      string
		providers map[string]map[string]any
		tls       map[string]*tls.Config
		custom    bool
		want      []string
	}{
		{name: "named aws without credentials", providers: map[string]map[string]any{"aws:a": {}}, want: []string{`"aws:a"`, "credentials"}},
		{name: "named azure without credentials", providers: map[string]map[string]any{"azure:z": {}}, want: []string{`"azure:z"`, "credentials"}},
		{name: "named gcp without credentials", providers: map[string]map[string]any{"gcp:g": {}}, want: []string{`"gcp:g"`, "credentials"}},
		{name: "named kmip without credentials", providers: map[string]map[string]any{"kmip:eu": {}}, want: []string{`"kmip:eu"`, "credentials"}},
		{name: "named local without credentials", providers: map[string]map[string]any{"local:l": {}}, want: []string{`"local:l"`, "credentials"}},
		{name: "kmip without credentials", providers: map[string]map[string]any{"kmip": {}}, want: []string{`"kmip"`, "endpoint"}},
		{name: "insecure aws TLS", providers: map[string]map[string]any{"aws": awsCreds},
			tls: map[string]*tls.Config{"aws": {InsecureSkipVerify: true}}, want: []string{`"aws"`, "InsecureSkipVerify"}},
		{name: "insecure named kmip TLS", providers: map[string]map[string]any{"kmip:eu": kmipCreds, "local": {"key": localMasterKey}},
			tls: map[string]*tls.Config{"kmip:eu": {InsecureSkipVerify: true}}, want: []string{`"kmip:eu"`, "InsecureSkipVerify"}},
		// TLS options of a provider that is not configured are ignored: TestTLSConfigOfUnconfiguredProvider.
		{name: "custom AWS credentials with an aws document", providers: map[string]map[string]any{"aws": awsCreds}, custom: true,
			want: []string{"custom AWS credential provider"}},
		{name: "bad provider name", providers: map[string]map[string]any{"aws:a-b": awsCreds}, want: []string{`"aws:a-b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options.ClientEncryption().SetKeyVaultNamespace("keyvault.datakeys").SetKmsProviders(c.providers)
			ae := options.AutoEncryption().SetKeyVaultNamespace("keyvault.datakeys").SetKmsProviders(c.providers).SetBypassAutoEncryption(true)
			if c.tls != nil {
				o.SetTLSConfig(c.tls)
				ae.SetTLSConfig(c.tls)
			}
			if c.custom {
				cp := &countingAWSCreds{}
				o.SetAWSCredentialsProvider(cp)
				ae.SetAWSCredentialsProvider(cp)
			}
			_, err := NewClientEncryption(kv, o)
			var me *Error
			if !errors.As(err, &me) || me.Code != CodeClient {
				t.Fatalf("NewClientEncryption: %v, want a client error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// Connect refuses the same AutoEncryptionOptions.
			cl, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
			if err == nil {
				_ = cl.Disconnect(context.Background())
				t.Fatal("Connect accepted the options")
			}
			if !errors.As(err, &me) || me.Code != CodeClient || !strings.Contains(err.Error(), c.want[0]) {
				t.Errorf("Connect: %v", err)
			}
		})
	}
	// A valid set of every type is accepted (the refusals above are about what they say).
	_, err := NewClientEncryption(kv, options.ClientEncryption().SetKeyVaultNamespace("keyvault.datakeys").SetKmsProviders(map[string]map[string]any{
		"aws": awsCreds, "aws:a": awsCreds, "kmip": kmipCreds, "kmip:eu": kmipCreds, "local": {"key": localMasterKey},
		"azure": {"accessToken": "t"}, "gcp:g": {"accessToken": "t"},
	}).SetTLSConfig(map[string]*tls.Config{"kmip:eu": {}}))
	if err != nil {
		t.Fatal(err)
	}
}
