package kmip

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// The key document of libmongocrypt's KMIP key-broker test unwraps, through a server that
// answers its Get request byte for byte as in that test, to the data key the test expects.
func TestUnwrapKeyDocumentVector(t *testing.T) {
	const broker = "test-mongocrypt-key-broker"
	js, err := os.ReadFile("testdata/key-document-kmip.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		KeyMaterial []byte   `bson:"keyMaterial"`
		MasterKey   bson.Raw `bson:"masterKey"`
	}
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(js, true, &raw); err != nil {
		t.Fatal(err)
	}
	if err := bson.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	wantReq := vector(t, broker, "EXPECTED_GET_REQUEST")
	reply := vector(t, broker, "SUCCESS_GET_RESPONSE")
	pki := newPKI(t, "fake")
	f := startFake(t, pki, func(req []byte) []byte {
		if !bytes.Equal(req, wantReq) {
			t.Errorf("request %x\nwant %x", req, wantReq)
			return nil
		}
		return reply
	})
	p := newProvider(t, "kmip", f.addr, pki)
	dek, err := p.Unwrap(context.Background(), doc.MasterKey, doc.KeyMaterial)
	if err != nil {
		t.Fatal(err)
	}
	if want := vector(t, broker, "EXPECTED_SECRETDATA"); !bytes.Equal(dek, want) {
		t.Fatalf("data key %x\nwant %x", dek, want)
	}
	if conns, reqs := f.stats(); conns != 1 || len(reqs) != 1 {
		t.Fatalf("%d connections, %d requests; want one Get", conns, len(reqs))
	}

	// The same key document whose Get reply is libmongocrypt's "item not found".
	notFound := startFake(t, pki, func([]byte) []byte { return vector(t, broker, "ERROR_GET_RESPOSE_NOTFOUND") })
	_, err = newProvider(t, "kmip", notFound.addr, pki).Unwrap(context.Background(), doc.MasterKey, doc.KeyMaterial)
	wantKMSError(t, err, "kmip", "get")
	if !strings.Contains(err.Error(), "ResultReasonItemNotFound") {
		t.Fatalf("error %q does not carry the server's message", err)
	}
}

// Delegated Wrap and Unwrap against libmongocrypt's Encrypt and Decrypt exchanges, byte for
// byte.
func TestDelegatedVectors(t *testing.T) {
	const kmsCtx = "test-mongocrypt-kms-ctx"
	pki := newPKI(t, "fake")
	exchanges := map[string]string{
		string(vector(t, kmsCtx, "ENCRYPT_REQUEST")): "SUCCESS_ENCRYPT_RESPONSE",
		string(vector(t, kmsCtx, "DECRYPT_REQUEST")): "SUCCESS_DECRYPT_RESPONSE",
	}
	f := startFake(t, pki, func(req []byte) []byte {
		name, ok := exchanges[string(req)]
		if !ok {
			t.Errorf("unexpected request %x", req)
			return nil
		}
		return vector(t, kmsCtx, name)
	})
	p := newProvider(t, "kmip", f.addr, pki)
	ctx := context.Background()
	mk := mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "keyId", Value: "111"}, {Key: "delegated", Value: true}})
	km, stored, err := p.Wrap(ctx, mk, vector(t, kmsCtx, "PLAINTEXT"))
	if err != nil {
		t.Fatal(err)
	}
	if want := vector(t, kmsCtx, "IV_CIPHERTEXT"); !bytes.Equal(km, want) {
		t.Fatalf("keyMaterial %x\nwant %x (IV || ciphertext)", km, want)
	}
	// libmongocrypt writes provider, delegated, keyId.
	want := mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "delegated", Value: true}, {Key: "keyId", Value: "111"}})
	if !bytes.Equal(stored, want) {
		t.Fatalf("stored masterKey %v, want %v", stored, want)
	}
	dek, err := p.Unwrap(ctx, stored, km)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dek, vector(t, kmsCtx, "PLAINTEXT")) {
		t.Fatalf("Unwrap gave %x", dek)
	}
}

// scriptedKMIP answers Register, Create, Activate and Get like a server that stores objects,
// and records the operations in order. It is enough to check the flow of Wrap.
type scriptedKMIP struct {
	t       *testing.T
	mu      sync.Mutex
	ops     []uint32
	secrets map[string][]byte
	next    int
}

func (s *scriptedKMIP) reply(req []byte) []byte {
	op, p := requestOp(s.t, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, op)
	switch op {
	case opRegister:
		sd, err := p.child(tagSecretData, typeStructure)
		if err != nil {
			s.t.Error(err)
			return nil
		}
		kb, _ := sd.child(tagKeyBlock, typeStructure)
		kv, _ := kb.child(tagKeyValue, typeStructure)
		secret, err := kv.byteString(tagKeyMaterial)
		if err != nil {
			s.t.Error(err)
			return nil
		}
		if !bytes.Equal(req, registerRequest(secret)) {
			s.t.Errorf("Register request %x is not libmongocrypt's", req)
		}
		s.next++
		uid := fmt.Sprint(s.next)
		s.secrets[uid] = secret
		return uidResponse(opRegister, uid)
	case opActivate, opGet:
		uid, err := p.text(tagUniqueIdentifier)
		if err != nil {
			s.t.Error(err)
			return nil
		}
		want := activateRequest(uid)
		if op == opGet {
			want = getRequest(uid)
		}
		if !bytes.Equal(req, want) {
			s.t.Errorf("request %x\nwant %x", req, want)
		}
		secret, ok := s.secrets[uid]
		if !ok {
			return response(op, 1, 1, "no such object", nil)
		}
		if op == opActivate {
			return uidResponse(opActivate, uid)
		}
		return getResponse(uid, secret)
	}
	s.t.Errorf("unexpected operation %s", opName(op))
	return nil
}

func TestWrapFlow(t *testing.T) {
	pki := newPKI(t, "fake")
	s := &scriptedKMIP{t: t, secrets: map[string][]byte{}}
	f := startFake(t, pki, s.reply)
	p := newProvider(t, "kmip", f.addr, pki)
	ctx := context.Background()
	dek := randomDEK(t)

	km, stored, err := p.Wrap(ctx, nil, dek)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.ops) != fmt.Sprint([]uint32{opRegister, opActivate, opGet}) {
		t.Fatalf("operations %v, want Register, Activate, Get", s.ops)
	}
	if want := mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "keyId", Value: "1"}}); !bytes.Equal(stored, want) {
		t.Fatalf("stored masterKey %v, want %v", stored, want)
	}
	// The key material is the FLE1 AEAD of the data key under the registered secret, with no
	// associated data.
	f1, err := aead.NewFLE1(s.secrets["1"])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f1.Decrypt(nil, nil, km); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("keyMaterial does not decrypt under the registered secret: %v", err)
	}

	// With a keyId: Get only. Unwrap: Get only.
	s.ops = nil
	if _, _, err := p.Wrap(ctx, stored, dek); err != nil {
		t.Fatal(err)
	}
	got, err := p.Unwrap(ctx, stored, km)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap: %v", err)
	}
	if fmt.Sprint(s.ops) != fmt.Sprint([]uint32{opGet, opGet}) {
		t.Fatalf("operations %v, want Get, Get", s.ops)
	}

	// Tampered key material fails authentication.
	bad := append([]byte(nil), km...)
	bad[20] ^= 1
	_, err = p.Unwrap(ctx, stored, bad)
	wantKMSError(t, err, "kmip", "unwrap")
	if !errors.Is(err, aead.ErrAuth) {
		t.Fatalf("error %v is not aead.ErrAuth", err)
	}
}

// Malformed, truncated and hostile replies give a *kms.Error naming the operation.
func TestMalformedReplies(t *testing.T) {
	secret := make([]byte, 96)
	header := func(n uint32) []byte {
		return binary.BigEndian.AppendUint32([]byte{0x42, 0x00, 0x7b, 0x01}, n)
	}
	valid := getResponse("1", secret)
	cases := []struct {
		name  string
		reply []byte
	}{
		{"closed without reply", nil},
		{"header only", valid[:8]},
		{"truncated", valid[:len(valid)-9]},
		{"announces 4 GiB", header(0xFFFFFFFF)},
		{"announces 1 MiB + 8", header(maxMessageLen + 8)},
		{"length zero", header(0)},
		{"not a ResponseMessage", getRequest("1")},
		{"garbage", []byte("HTTP/1.1 400 Bad Request\r\n\r\n")},
		{"bad TTLV inside", append(header(8), 0x42, 0x00, 0x0f, 0x01, 0, 0, 0, 9)},
		{"reply to Activate", uidResponse(opActivate, "1")},
		{"error reply", response(opGet, 1, 0x0C, "denied", nil)},
		{"KeyMaterial as text", okResponse(opGet, func(e *encoder) {
			e.begin(tagSecretData)
			e.begin(tagKeyBlock)
			e.begin(tagKeyValue)
			e.text(tagKeyMaterial, "not bytes")
			e.end()
			e.end()
			e.end()
		})},
		{"no KeyValue", okResponse(opGet, func(e *encoder) {
			e.begin(tagSecretData)
			e.begin(tagKeyBlock)
			e.end()
			e.end()
		})},
		{"95-byte secret", getResponse("1", secret[:95])},
		{"other object", getResponse("2", secret)},
	}
	pki := newPKI(t, "fake")
	ctx := context.Background()
	mk := mustMarshal(t, bson.D{{Key: "provider", Value: "kmip"}, {Key: "keyId", Value: "1"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, pki, func([]byte) []byte { return c.reply })
			p := newProvider(t, "kmip", f.addr, pki)
			_, err := p.Unwrap(ctx, mk, make([]byte, aead.CiphertextLen(96)))
			wantKMSError(t, err, "kmip", "get")
			if strings.HasPrefix(c.name, "announces") && !errors.Is(err, errReplyTooLarge) {
				t.Fatalf("error %v is not errReplyTooLarge", err)
			}
			t.Log(err)
		})
	}

	// Replies to the other operations.
	other := []struct {
		name  string
		mk    bson.D
		reply func(op uint32) []byte
		op    string
	}{
		{"register: empty UniqueIdentifier", nil, func(op uint32) []byte { return uidResponse(op, "") }, "register"},
		{"register: UniqueIdentifier with NUL", nil, func(op uint32) []byte { return uidResponse(op, "a\x00b") }, "register"},
		{"register: no UniqueIdentifier", nil, func(op uint32) []byte { return okResponse(op, func(*encoder) {}) }, "register"},
		{"activate: other object", nil, func(op uint32) []byte {
			if op == opActivate {
				return uidResponse(op, "2")
			}
			return uidResponse(op, "1")
		}, "activate"},
		{"create: not UTF-8", bson.D{{Key: "delegated", Value: true}}, func(op uint32) []byte { return uidResponse(op, "\xff") }, "create"},
		{"encrypt: 12-byte IV", bson.D{{Key: "delegated", Value: true}, {Key: "keyId", Value: "1"}}, func(op uint32) []byte {
			return okResponse(op, func(e *encoder) {
				e.bytes(tagData, make([]byte, 112))
				e.bytes(tagIVCounterNonce, make([]byte, 12))
			})
		}, "encrypt"},
		{"encrypt: no IV", bson.D{{Key: "delegated", Value: true}, {Key: "keyId", Value: "1"}}, func(op uint32) []byte {
			return okResponse(op, func(e *encoder) { e.bytes(tagData, make([]byte, 112)) })
		}, "encrypt"},
		{"encrypt: empty ciphertext", bson.D{{Key: "delegated", Value: true}, {Key: "keyId", Value: "1"}}, func(op uint32) []byte {
			return okResponse(op, func(e *encoder) {
				e.bytes(tagData, nil)
				e.bytes(tagIVCounterNonce, make([]byte, 16))
			})
		}, "encrypt"},
	}
	for _, c := range other {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, pki, func(req []byte) []byte {
				op, _ := requestOp(t, req)
				return c.reply(op)
			})
			p := newProvider(t, "kmip", f.addr, pki)
			_, _, err := p.Wrap(ctx, mustMarshal(t, c.mk), randomDEK(t))
			wantKMSError(t, err, "kmip", c.op)
			t.Log(err)
		})
	}

	t.Run("decrypt: 95-byte key", func(t *testing.T) {
		f := startFake(t, pki, func(req []byte) []byte {
			return okResponse(opDecrypt, func(e *encoder) { e.bytes(tagData, make([]byte, 95)) })
		})
		p := newProvider(t, "kmip", f.addr, pki)
		mk := mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}, {Key: "delegated", Value: true}})
		_, err := p.Unwrap(ctx, mk, make([]byte, 128))
		wantKMSError(t, err, "kmip", "decrypt")
	})
}

func TestServerDown(t *testing.T) {
	p := newProvider(t, "kmip:eu", deadAddr(t), newPKI(t, "down"))
	ctx := context.Background()
	_, _, err := p.Wrap(ctx, nil, randomDEK(t))
	wantKMSError(t, err, "kmip:eu", "register")
	_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}}), make([]byte, 160))
	wantKMSError(t, err, "kmip:eu", "get")
	_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}, {Key: "delegated", Value: true}}), make([]byte, 128))
	wantKMSError(t, err, "kmip:eu", "decrypt")
	t.Log(err)
}

// KMIP is not retried: a connection closed without a reply is one attempt and an error.
func TestNotRetried(t *testing.T) {
	pki := newPKI(t, "fake")
	f := startFake(t, pki, func([]byte) []byte { return nil })
	p := newProvider(t, "kmip", f.addr, pki)
	_, err := p.Unwrap(context.Background(), mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}}), make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")
	if conns, _ := f.stats(); conns != 1 {
		t.Fatalf("%d connections, want 1", conns)
	}
}

// The context's deadline and cancellation stop an exchange with a server that never replies.
func TestContextDeadline(t *testing.T) {
	pki := newPKI(t, "fake")
	release := make(chan struct{})
	f := startFake(t, pki, func([]byte) []byte { <-release; return nil })
	t.Cleanup(func() { close(release) }) // runs before the server's cleanup waits for its handlers
	p := newProvider(t, "kmip", f.addr, pki)
	mk := mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Unwrap(ctx, mk, make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v is not context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = p.Unwrap(ctx, mk, make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v is not context.Canceled", err)
	}
}

// A server certificate from another CA, or none accepted for the client, fails the TLS
// handshake.
func TestTLSFailures(t *testing.T) {
	pki := newPKI(t, "fake")
	f := startFake(t, pki, func([]byte) []byte { return getResponse("1", make([]byte, 96)) })
	mk := mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}})
	ctx := context.Background()

	_, err := newProvider(t, "kmip", f.addr, newPKI(t, "other")).Unwrap(ctx, mk, make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a certificate verification failure", err)
	}

	// No TLS configuration: the system roots do not know the test CA.
	creds := mustMarshal(t, bson.D{{Key: "endpoint", Value: f.addr}})
	p, err := New(kms.Config{Name: "kmip", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Unwrap(ctx, mk, make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")

	// A client certificate from another CA is refused by the server.
	cfg := pki.clientTLS()
	cfg.Certificates = newPKI(t, "intruder").clientTLS().Certificates
	p, err = New(kms.Config{Name: "kmip", Credentials: creds, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Unwrap(ctx, mk, make([]byte, 160))
	wantKMSError(t, err, "kmip", "get")
	t.Log(err)
}

func TestMasterKeyValidation(t *testing.T) {
	p := newProvider(t, "kmip:eu", deadAddr(t), nil)
	ctx := context.Background()
	wraps := map[string]bson.D{
		"other provider":         {{Key: "provider", Value: "kmip"}},
		"provider not a string":  {{Key: "provider", Value: 1}},
		"unknown field":          {{Key: "provider", Value: "kmip:eu"}, {Key: "key", Value: "x"}},
		"keyId not a string":     {{Key: "keyId", Value: 123}},
		"empty keyId":            {{Key: "keyId", Value: ""}},
		"endpoint not a string":  {{Key: "endpoint", Value: 123}},
		"empty endpoint":         {{Key: "endpoint", Value: "https://"}},
		"delegated not a bool":   {{Key: "delegated", Value: "true"}},
		"delegated not a bool 2": {{Key: "delegated", Value: 1}},
	}
	for name, d := range wraps {
		_, _, err := p.Wrap(ctx, mustMarshal(t, d), randomDEK(t))
		wantKMSError(t, err, "kmip:eu", "wrap")
		_, err = p.Unwrap(ctx, mustMarshal(t, d), make([]byte, 160))
		wantKMSError(t, err, "kmip:eu", "unwrap")
		if t.Failed() {
			t.Fatalf("%s", name)
		}
	}
	_, _, err := p.Wrap(ctx, nil, make([]byte, 95))
	wantKMSError(t, err, "kmip:eu", "wrap")
	_, _, err = p.Wrap(ctx, bson.Raw{1, 2, 3}, randomDEK(t))
	wantKMSError(t, err, "kmip:eu", "wrap")
	_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "provider", Value: "kmip:eu"}}), make([]byte, 160))
	wantKMSError(t, err, "kmip:eu", "unwrap")
	for _, n := range []int{0, 16, 31, 33, 127} {
		_, err = p.Unwrap(ctx, mustMarshal(t, bson.D{{Key: "keyId", Value: "1"}, {Key: "delegated", Value: true}}), make([]byte, n))
		wantKMSError(t, err, "kmip:eu", "unwrap")
	}
}

func TestNew(t *testing.T) {
	bad := map[string]bson.Raw{
		"empty":              nil,
		"no endpoint":        mustMarshal(t, bson.D{}),
		"endpoint not text":  mustMarshal(t, bson.D{{Key: "endpoint", Value: 5696}}),
		"extra field":        mustMarshal(t, bson.D{{Key: "endpoint", Value: "localhost"}, {Key: "keyId", Value: "1"}}),
		"empty endpoint":     mustMarshal(t, bson.D{{Key: "endpoint", Value: ""}}),
		"endpoint only path": mustMarshal(t, bson.D{{Key: "endpoint", Value: "/x"}}),
		"invalid BSON":       {5, 0, 0, 0, 1},
	}
	for name, creds := range bad {
		if _, err := New(kms.Config{Name: "kmip", Credentials: creds}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	p := newProvider(t, "kmip:eu", "kmip.example.com", nil)
	if p.Name() != "kmip:eu" || p.tls.MinVersion != tls.VersionTLS12 {
		t.Fatalf("name %q, TLS minimum %x", p.Name(), p.tls.MinVersion)
	}
	// The caller's TLS configuration is copied, not shared.
	cfg := &tls.Config{ServerName: "a"}
	creds := mustMarshal(t, bson.D{{Key: "endpoint", Value: "h"}})
	p, err := New(kms.Config{Name: "kmip", Credentials: creds, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "b"
	if p.tls.ServerName != "a" || cfg.MinVersion != 0 {
		t.Fatal("TLS configuration shared with the caller")
	}
}

func TestEndpoints(t *testing.T) {
	cases := []struct{ in, stored, dial string }{
		{"localhost", "localhost", "localhost:5696"},
		{"localhost:1234", "localhost:1234", "localhost:1234"},
		{"kmip.example.com", "kmip.example.com", "kmip.example.com:5696"},
		{"https://kmip.example.com:443/path?q=1", "kmip.example.com:443", "kmip.example.com:443"},
		{"kmip.example.com/path", "kmip.example.com", "kmip.example.com:5696"},
		{"127.0.0.1:5697", "127.0.0.1:5697", "127.0.0.1:5697"},
		{"[::1]:5697", "[::1]:5697", "[::1]:5697"},
		{"[::1]", "[::1]", "[::1]:5696"},
	}
	for _, c := range cases {
		got, err := parseEndpoint(c.in)
		if err != nil || got != c.stored {
			t.Errorf("parseEndpoint(%q) = %q, %v; want %q", c.in, got, err, c.stored)
			continue
		}
		if d := dialAddr(got); d != c.dial {
			t.Errorf("dialAddr(%q) = %q, want %q", got, d, c.dial)
		}
	}
}
