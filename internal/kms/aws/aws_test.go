package aws

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmstest"
)

// newTestProvider returns a provider named name with static credentials for s.
func newTestProvider(t testing.TB, name string, s *awstest.Server) *Provider {
	t.Helper()
	creds := bson.D{{Key: "accessKeyId", Value: s.AccessKeyID}, {Key: "secretAccessKey", Value: s.SecretAccessKey}}
	if s.SessionToken != "" {
		creds = append(creds, bson.E{Key: "sessionToken", Value: s.SessionToken})
	}
	p, err := newProvider(kms.Config{Name: name, Credentials: kmstest.Marshal(t, creds), TLS: s.TLSConfig()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func masterKeyFor(t testing.TB, s *awstest.Server, arn string) bson.Raw {
	return kmstest.Marshal(t, bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: s.Endpoint()}})
}

// TestWrongKeyAndCredentials: an unknown or disabled key, altered key material and a wrong
// secret each give a *kms.Error with the KMS's status, after one attempt.
func TestWrongKeyAndCredentials(t *testing.T) {
	s := awstest.Start(t, awstest.Options{})
	arn := s.CreateKey(t)
	p := newTestProvider(t, "aws", s)
	ctx := context.Background()
	dek := kmstest.DataKey(t)
	material, stored, err := p.Wrap(ctx, masterKeyFor(t, s, arn), dek)
	if err != nil {
		t.Fatal(err)
	}

	n := s.Requests()
	unknown := strings.Replace(arn, arn[len(arn)-4:], "0000", 1)
	_, _, err = p.Wrap(ctx, masterKeyFor(t, s, unknown), dek)
	ke := kmstest.AsKMSError(t, err, OpEncrypt, 400)
	if !strings.Contains(ke.Error(), "NotFoundException") || ke.Provider != "aws" {
		t.Errorf("unknown key: %v", err)
	}
	if s.Requests() != n+1 {
		t.Errorf("a 400 was retried: %d requests", s.Requests()-n)
	}

	bad := append([]byte(nil), material...)
	bad[len(bad)-1] ^= 1
	_, err = p.Unwrap(ctx, stored, bad)
	ke = kmstest.AsKMSError(t, err, OpDecrypt, 400)
	if !strings.Contains(ke.Error(), "InvalidCiphertextException") {
		t.Errorf("altered material: %v", err)
	}

	wp, err := newProvider(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.M{"accessKeyId": s.AccessKeyID, "secretAccessKey": "not-the-secret"}), TLS: s.TLSConfig()}, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wp.Unwrap(ctx, stored, material)
	ke = kmstest.AsKMSError(t, err, OpDecrypt, 400)
	if !strings.Contains(ke.Error(), "InvalidSignatureException") || strings.Contains(ke.Error(), "not-the-secret") {
		t.Errorf("wrong secret: %v", err)
	}

	s.DisableKey(t, arn)
	_, err = p.Unwrap(ctx, stored, material)
	kmstest.AsKMSError(t, err, OpDecrypt, 400)
}

// replay is an http.RoundTripper answering every request with a recorded HTTP reply.
type replay struct {
	t     *testing.T
	reply []byte
	check func(r *http.Request, body []byte)
	n     int
}

func (rp *replay) RoundTrip(r *http.Request) (*http.Response, error) {
	rp.n++
	var body []byte
	if r.Body != nil {
		body, _ = readAll(r)
	}
	if rp.check != nil {
		rp.check(r, body)
	}
	return http.ReadResponse(bufio.NewReader(bytes.NewReader(rp.reply)), r)
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyDocument reads a libmongocrypt key document (extended JSON).
func keyDocument(t *testing.T, path string) (masterKey bson.Raw, keyMaterial []byte) {
	t.Helper()
	var doc struct {
		KeyMaterial []byte `bson:"keyMaterial"`
		MasterKey   bson.Raw
	}
	var d bson.D
	if err := bson.UnmarshalExtJSON(readFile(t, path), false, &d); err != nil {
		t.Fatal(err)
	}
	if err := bson.Unmarshal(kmstest.Marshal(t, d), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.MasterKey, doc.KeyMaterial
}

// TestLibmongocryptKeyDocuments unwraps libmongocrypt's aws key documents against their
// recorded KMS replies: the request goes to the default endpoint
// kms.us-east-1.amazonaws.com with the key material, the reply gives the key material file's
// bytes, and the stored masterKey is rewritten byte for byte.
func TestLibmongocryptKeyDocuments(t *testing.T) {
	docs, _ := filepath.Glob("testdata/keys/*-aws-document.json")
	if len(docs) != 3 {
		t.Fatalf("%d aws key documents, want 3", len(docs))
	}
	for _, path := range docs {
		id := strings.TrimSuffix(filepath.Base(path), "-aws-document.json")
		t.Run(id, func(t *testing.T) {
			mk, material := keyDocument(t, path)
			want, err := hex.DecodeString(strings.TrimSpace(string(readFile(t, "testdata/keys/"+id+"-key-material.txt"))))
			if err != nil {
				t.Fatal(err)
			}
			rp := &replay{t: t, reply: readFile(t, "testdata/keys/"+id+"-aws-decrypt-reply.txt")}
			rp.check = func(r *http.Request, body []byte) {
				if r.URL.String() != "https://kms.us-east-1.amazonaws.com/" || r.Host != "kms.us-east-1.amazonaws.com" {
					t.Errorf("request to %s (Host %s)", r.URL, r.Host)
				}
				if r.Header.Get("X-Amz-Target") != targetDec || !strings.Contains(r.Header.Get("Authorization"), "/us-east-1/kms/aws4_request") {
					t.Errorf("headers %v", r.Header)
				}
				if string(body) != `{"CiphertextBlob": "`+base64.StdEncoding.EncodeToString(material)+`"}` {
					t.Errorf("body %s", body)
				}
			}
			p, err := newProvider(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.M{"accessKeyId": "a", "secretAccessKey": "s"}), HTTPClient: &http.Client{Transport: rp}}, os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Unwrap(context.Background(), mk, material)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("unwrapped %x, want %x", got, want)
			}
			parsed, err := p.parseMasterKey(mk)
			if err != nil {
				t.Fatal(err)
			}
			if stored, _ := parsed.stored("aws"); !bytes.Equal(stored, mk) {
				t.Fatalf("stored masterKey %s, want %s", stored, mk)
			}
		})
	}
}

// TestRecordedReplies parses libmongocrypt's recorded Encrypt/Decrypt replies.
func TestRecordedReplies(t *testing.T) {
	ctx := context.Background()
	mk := kmstest.Marshal(t, bson.M{"region": "us-east-1", "key": "arn:aws:kms:us-east-1:579766882180:key/89fcc2c4-08b0-4bd9-9f25-e30687b580d0"})
	provider := func(file string) (*Provider, *replay) {
		rp := &replay{t: t, reply: readFile(t, "testdata/kms-aws/"+file)}
		p, err := newProvider(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.M{"accessKeyId": "a", "secretAccessKey": "s"}), HTTPClient: &http.Client{Transport: rp}}, os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		return p, rp
	}
	p, _ := provider("encrypt-response.txt")
	material, _, err := p.Wrap(ctx, mk, kmstest.DataKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(material) != 252 || material[0] != 1 {
		t.Fatalf("CiphertextBlob of %d bytes", len(material))
	}
	p, _ = provider("decrypt-response.txt")
	dek, err := p.Unwrap(ctx, mk, material)
	if err != nil || len(dek) != 96 {
		t.Fatalf("decrypt reply: %d bytes, %v", len(dek), err)
	}
	// A reply cut short is a network error, retried, then reported.
	p, rp := provider("encrypt-response-partial.txt")
	_, _, err = p.Wrap(ctx, mk, kmstest.DataKey(t))
	kmstest.AsKMSError(t, err, OpEncrypt, 0)
	if rp.n != kms.MaxAttempts || !errors.Is(err, errUnexpectedEOF(err)) {
		t.Fatalf("partial reply: %d attempts, %v", rp.n, err)
	}
}

// errUnexpectedEOF returns the io.ErrUnexpectedEOF in err's chain, or a sentinel that never
// matches.
func errUnexpectedEOF(err error) error {
	if strings.Contains(err.Error(), "unexpected EOF") {
		return err
	}
	return errors.New("no unexpected EOF")
}

// TestMasterKeyErrors covers the masterKey and credentials rules not in kek-tests.json.
func TestMasterKeyErrors(t *testing.T) {
	p := &Provider{name: "aws:prod"}
	for _, tc := range []struct {
		doc  bson.D
		want string
	}{
		{bson.D{{Key: "region", Value: "r"}}, "expected UTF-8 key"},
		{bson.D{{Key: "key", Value: "k"}}, "expected UTF-8 region"},
		{bson.D{{Key: "key", Value: 1}, {Key: "region", Value: "r"}}, "expected UTF-8 key"},
		{bson.D{{Key: "key", Value: "k"}, {Key: "region", Value: "r"}, {Key: "provider", Value: "aws"}}, `provider is "aws"`},
		{bson.D{{Key: "key", Value: "k"}, {Key: "region", Value: "r"}, {Key: "endpoint", Value: "host.com:99999"}}, "port"},
	} {
		if _, err := p.parseMasterKey(kmstest.Marshal(t, tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.doc, err, tc.want)
		}
	}
	if _, err := p.parseMasterKey(bson.Raw{1, 2, 3}); err == nil {
		t.Error("malformed BSON accepted")
	}
	for _, tc := range []struct {
		name  string
		creds bson.D
		want  string
	}{
		{"aws", bson.D{{Key: "accessKeyId", Value: "a"}}, "secretAccessKey"},
		{"aws", bson.D{{Key: "accessKeyId", Value: "a"}, {Key: "secretAccessKey", Value: "s"}, {Key: "x", Value: 1}}, "unexpected field: 'x'"},
		{"aws:prod", bson.D{}, "named KMS provider"},
		{"azure", bson.D{{Key: "accessKeyId", Value: "a"}, {Key: "secretAccessKey", Value: "s"}}, "not of type aws"},
	} {
		_, err := New(kms.Config{Name: tc.name, Credentials: kmstest.Marshal(t, tc.creds)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err %v, want %q", tc.name, tc.creds, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), `"s"`) {
			t.Errorf("secret in error text: %v", err)
		}
	}
}

// kekHarness is the provider as kmstest.TestKEK parses masterKeys.
func kekHarness() kmstest.Harness {
	p := &Provider{name: "aws"}
	return kmstest.Harness{
		Type: "aws",
		ParseMasterKey: func(in bson.Raw) (bson.Raw, error) {
			mk, err := p.parseMasterKey(in)
			if err != nil {
				return nil, err
			}
			return mk.stored("aws")
		},
	}
}

// harness describes the provider and a local-kms server s with one key to the kmstest suite.
func harness(t *testing.T, s *awstest.Server) kmstest.Harness {
	h := kekHarness()
	arn := s.CreateKey(t)
	h.Server, h.Requests = s, s.Requests
	h.New = func(t *testing.T, name string) kms.Provider { return newTestProvider(t, name, s) }
	h.NewWithoutCA = func(t *testing.T) kms.Provider {
		p, err := newProvider(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.M{"accessKeyId": s.AccessKeyID, "secretAccessKey": s.SecretAccessKey})}, os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.MasterKeys = func(endpoint string) []bson.Raw {
		return []bson.Raw{kmstest.Marshal(t, bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: endpoint}})}
	}
	h.UnwrapOp, h.Retryable = OpDecrypt, kms.RetryableAWS
	h.ErrorBody = `{"__type":"ServiceUnavailable","message":"try later"}`
	h.BadReplies = func(dek []byte) (map[string]string, string) {
		secret := base64.StdEncoding.EncodeToString(dek[:32])
		return map[string]string{
			"malformed JSON":          `{"Plaintext": "` + secret,
			"not an object":           `["Plaintext"]`,
			"no Plaintext":            `{"KeyId": "x"}`,
			"Plaintext not a string":  `{"Plaintext": 12}`,
			"Plaintext not base64":    `{"Plaintext": "` + secret + `!!"}`,
			"Plaintext wrong length":  `{"Plaintext": "` + secret + `"}`,
			"empty body":              ``,
			"plaintext in lower case": `{"plaintext": "` + base64.StdEncoding.EncodeToString(dek) + `"}`,
		}, secret
	}
	return h
}

// TestKEKParsing runs the aws cases of libmongocrypt's kek-tests.json.
func TestKEKParsing(t *testing.T) { kmstest.TestKEK(t, kekHarness()) }

// TestConformance runs the kmstest suite against local-kms, which checks the signature of
// every request (awstest), without and with a session token.
func TestConformance(t *testing.T) {
	h := harness(t, awstest.Start(t, awstest.Options{}))
	t.Run("RoundTrip", func(t *testing.T) { kmstest.TestRoundTrip(t, h) })
	t.Run("Faults", func(t *testing.T) { kmstest.TestFaults(t, h) })
	t.Run("SessionToken", func(t *testing.T) {
		kmstest.TestRoundTrip(t, harness(t, awstest.Start(t, awstest.Options{SessionToken: "session-token/+="})))
	})
}
