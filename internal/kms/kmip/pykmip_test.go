package kmip

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// startPyKMIP starts the real PyKMIP server (internal/testenv) with the certificates of pki
// and returns its address. The server is killed when the test ends; the test skips when
// PyKMIP is not installed.
func startPyKMIP(t *testing.T, pki *testPKI) string {
	t.Helper()
	start := time.Now()
	p, err := testenv.StartPyKMIP(testenv.PyKMIPCerts{CertFile: pki.serverCertFile, KeyFile: pki.serverKey, CAFile: pki.caFile})
	if errors.Is(err, testenv.ErrNoPyKMIP) {
		t.Skipf("skipping the tests against a real KMIP server: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PyKMIP server ready on %s in %v", p.Addr, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PyKMIP %s", p.Logs())
		}
		p.Stop()
	})
	return p.Addr
}

func newProvider(t testing.TB, name, endpoint string, pki *testPKI) *Provider {
	t.Helper()
	creds, err := bson.Marshal(bson.D{{Key: "endpoint", Value: endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kms.Config{Name: name, Credentials: creds}
	if pki != nil {
		cfg.TLS = pki.clientTLS()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomDEK(t testing.TB) []byte {
	dek := make([]byte, kms.DataKeyLen)
	if _, err := rand.Read(dek); err != nil {
		t.Fatal(err)
	}
	return dek
}

func mustMarshal(t testing.TB, d bson.D) bson.Raw {
	t.Helper()
	if d == nil {
		return nil
	}
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantKMSError checks that err is a *kms.Error of provider and operation op.
func wantKMSError(t *testing.T, err error, provider, op string) *kms.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want a %s error from %s", op, provider)
	}
	var ke *kms.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T) is not a *kms.Error", err, err)
	}
	if ke.Provider != provider || ke.Op != op {
		t.Fatalf("error %q names provider %q op %q, want %q %q", err, ke.Provider, ke.Op, provider, op)
	}
	return ke
}

// storedFields returns the keys of a stored masterKey in order.
func storedFields(t *testing.T, raw bson.Raw) []string {
	t.Helper()
	elems, err := raw.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	return keys
}

func TestPyKMIP(t *testing.T) {
	pki := newPKI(t, "pykmip")
	addr := startPyKMIP(t, pki)
	p := newProvider(t, "kmip", addr, pki)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Register, Activate, Get, local FLE1 wrap; then Unwrap by Get with a fresh provider.
	var secretKeyID string
	var secretKeyMaterial, secretDEK []byte
	t.Run("RegisterActivateGet", func(t *testing.T) {
		dek := randomDEK(t)
		start := time.Now()
		km, stored, err := p.Wrap(ctx, mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}}), dek)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Wrap (Register, Activate, Get) took %v", time.Since(start).Round(time.Millisecond))
		if got := storedFields(t, stored); fmt.Sprint(got) != "[provider keyId]" {
			t.Fatalf("stored masterKey fields %v, want [provider keyId]", got)
		}
		if got := stored.Lookup("provider").StringValue(); got != "kmip" {
			t.Fatalf("stored provider %q", got)
		}
		secretKeyID = stored.Lookup("keyId").StringValue()
		if secretKeyID == "" {
			t.Fatal("stored keyId is empty")
		}
		if len(km) != aead.CiphertextLen(kms.DataKeyLen) {
			t.Fatalf("keyMaterial is %d bytes, want %d (FLE1 of 96 bytes)", len(km), aead.CiphertextLen(kms.DataKeyLen))
		}
		fresh := newProvider(t, "kmip", addr, pki)
		got, err := fresh.Unwrap(ctx, stored, km)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dek) {
			t.Fatal("Unwrap did not return the wrapped data key")
		}
		secretKeyMaterial, secretDEK = km, dek
	})

	t.Run("ExistingKeyID", func(t *testing.T) {
		if secretKeyID == "" {
			t.Skip("needs RegisterActivateGet")
		}
		// A given keyId is only read with Get: the new key material authenticates under the
		// same secret as the first one.
		dek := randomDEK(t)
		km, stored, err := p.Wrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: secretKeyID}}), dek)
		if err != nil {
			t.Fatal(err)
		}
		if got := stored.Lookup("keyId").StringValue(); got != secretKeyID {
			t.Fatalf("stored keyId %q, want %q", got, secretKeyID)
		}
		for _, c := range []struct{ km, dek []byte }{{km, dek}, {secretKeyMaterial, secretDEK}} {
			got, err := p.Unwrap(ctx, stored, c.km)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.dek) {
				t.Fatal("Unwrap did not return the wrapped data key")
			}
		}
	})

	var aesKeyID string
	t.Run("Delegated", func(t *testing.T) {
		dek := randomDEK(t)
		start := time.Now()
		km, stored, err := p.Wrap(ctx, mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "delegated", Value: true}}), dek)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("delegated Wrap (Create, Activate, Encrypt) took %v", time.Since(start).Round(time.Millisecond))
		if got := storedFields(t, stored); fmt.Sprint(got) != "[provider delegated keyId]" {
			t.Fatalf("stored masterKey fields %v, want [provider delegated keyId]", got)
		}
		if !stored.Lookup("delegated").Boolean() {
			t.Fatal("stored delegated is not true")
		}
		// IV (16) || AES-CBC of 96 bytes with PKCS#5 padding (112)
		if len(km) != 16+112 {
			t.Fatalf("delegated keyMaterial is %d bytes, want 128", len(km))
		}
		got, err := newProvider(t, "kmip", addr, pki).Unwrap(ctx, stored, km)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dek) {
			t.Fatal("delegated Unwrap did not return the wrapped data key")
		}
		aesKeyID = stored.Lookup("keyId").StringValue()

		// The same AES key, given by keyId: Encrypt only, with a fresh IV.
		km2, stored2, err := p.Wrap(ctx, stored, dek)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored2, stored) {
			t.Fatalf("stored masterKey %v, want %v", stored2, stored)
		}
		if bytes.Equal(km2[:16], km[:16]) {
			t.Fatal("two delegated encryptions used the same IV")
		}
		if got, err := p.Unwrap(ctx, stored2, km2); err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("Unwrap of the second wrap: %v", err)
		}
	})

	t.Run("EndpointInMasterKey", func(t *testing.T) {
		// The credentials name a dead endpoint; the masterKey's endpoint wins and is stored.
		dead := newProvider(t, "kmip", "127.0.0.1:1", pki)
		dek := randomDEK(t)
		km, stored, err := dead.Wrap(ctx, mustMarshal(t, bson.D{{Key: "endpoint", Value: addr}}), dek)
		if err != nil {
			t.Fatal(err)
		}
		if got := storedFields(t, stored); fmt.Sprint(got) != "[provider endpoint keyId]" {
			t.Fatalf("stored masterKey fields %v, want [provider endpoint keyId]", got)
		}
		if got := stored.Lookup("endpoint").StringValue(); got != addr {
			t.Fatalf("stored endpoint %q, want %q", got, addr)
		}
		if got, err := dead.Unwrap(ctx, stored, km); err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("Unwrap: %v", err)
		}
	})

	t.Run("WrongKeyID", func(t *testing.T) {
		if secretKeyID == "" || aesKeyID == "" {
			t.Skip("needs RegisterActivateGet and Delegated")
		}
		// An object that does not exist.
		_, err := p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "keyId", Value: "no-such-object"}}), secretKeyMaterial)
		wantKMSError(t, err, "kmip", "get")
		var re *ResultError
		if !errors.As(err, &re) || re.Status != 1 {
			t.Fatalf("error %v does not carry the KMIP Operation Failed result", err)
		}
		t.Logf("unknown keyId: %v", err)

		// Another SecretData: the key material does not authenticate.
		_, other, err := p.Wrap(ctx, nil, randomDEK(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Unwrap(ctx, other, secretKeyMaterial)
		wantKMSError(t, err, "kmip", "unwrap")
		if !errors.Is(err, aead.ErrAuth) {
			t.Fatalf("error %v is not aead.ErrAuth", err)
		}

		// The AES key of delegated mode is not a SecretData.
		_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: aesKeyID}}), secretKeyMaterial)
		wantKMSError(t, err, "kmip", "get")
		t.Logf("AES key read as SecretData: %v", err)

		// Another AES key: Decrypt fails on the padding, or yields a key of the wrong length.
		km, _, err := p.Wrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: aesKeyID}, {Key: "delegated", Value: true}}), randomDEK(t))
		if err != nil {
			t.Fatal(err)
		}
		_, otherAES, err := p.Wrap(ctx, mustMarshal(t, bson.D{{Key: "delegated", Value: true}}), randomDEK(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Unwrap(ctx, otherAES, km)
		wantKMSError(t, err, "kmip", "decrypt")
		t.Logf("other AES key: %v", err)

		// A SecretData cannot decrypt.
		_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: secretKeyID}, {Key: "delegated", Value: true}}), make([]byte, 128))
		wantKMSError(t, err, "kmip", "decrypt")
		t.Logf("SecretData used for Decrypt: %v", err)
	})

	t.Run("WrongCA", func(t *testing.T) {
		other := newPKI(t, "other")
		bad := newProvider(t, "kmip", addr, other)
		_, _, err := bad.Wrap(ctx, nil, randomDEK(t))
		wantKMSError(t, err, "kmip", "register")
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("error %v is not a certificate verification failure", err)
		}
		t.Logf("wrong CA: %v", err)
	})

	t.Run("NoClientCertificate", func(t *testing.T) {
		cfg := pki.clientTLS()
		cfg.Certificates = nil
		creds := mustMarshal(t, bson.D{{Key: "endpoint", Value: addr}})
		noCert, err := New(kms.Config{Name: "kmip", Credentials: creds, TLS: cfg})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = noCert.Wrap(ctx, nil, randomDEK(t))
		wantKMSError(t, err, "kmip", "register")
		t.Logf("no client certificate: %v", err)
	})
}
