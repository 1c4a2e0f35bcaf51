package aws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
)

func marshal(t testing.TB, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomKey(t testing.TB) []byte {
	dek := make([]byte, kms.DataKeyLen)
	if _, err := rand.Read(dek); err != nil {
		t.Fatal(err)
	}
	return dek
}

// newTestProvider returns a provider named name with static credentials for s.
func newTestProvider(t testing.TB, name string, s *awstest.Server) *Provider {
	t.Helper()
	creds := bson.D{{Key: "accessKeyId", Value: s.AccessKeyID}, {Key: "secretAccessKey", Value: s.SecretAccessKey}}
	if s.SessionToken != "" {
		creds = append(creds, bson.E{Key: "sessionToken", Value: s.SessionToken})
	}
	p, err := newProvider(kms.Config{Name: name, Credentials: marshal(t, creds), TLS: s.TLSConfig()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func masterKeyFor(t testing.TB, s *awstest.Server, arn string) bson.Raw {
	return marshal(t, bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: s.Endpoint()}})
}

func asKMSError(t *testing.T, err error, op string, status int) *kms.Error {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T) is not a *kms.Error", err, err)
	}
	if ke.Op != op || ke.Status != status {
		t.Fatalf("error %q: op %q status %d, want op %q status %d", err, ke.Op, ke.Status, op, status)
	}
	return ke
}

// TestWrapUnwrapLocalKMS round-trips data keys through local-kms, which checks the signature
// of every request (awstest), with and without a session token, for "aws" and "aws:prod".
func TestWrapUnwrapLocalKMS(t *testing.T) {
	for _, tc := range []struct{ name, token string }{{"aws", ""}, {"aws:prod", "session-token/+="}} {
		t.Run(tc.name, func(t *testing.T) {
			s := awstest.Start(t, awstest.Options{SessionToken: tc.token})
			arn := s.CreateKey(t)
			p := newTestProvider(t, tc.name, s)
			dek := randomKey(t)
			mk := masterKeyFor(t, s, arn)
			material, stored, err := p.Wrap(context.Background(), mk, dek)
			if err != nil {
				t.Fatal(err)
			}
			want := marshal(t, bson.D{{Key: "provider", Value: tc.name}, {Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: s.Endpoint()}})
			if !bytes.Equal(stored, want) {
				t.Fatalf("stored masterKey %s, want %s", stored, want)
			}
			got, err := p.Unwrap(context.Background(), stored, material)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, dek) {
				t.Fatal("unwrapped key differs")
			}
			// A second provider with the same credentials unwraps it too.
			got, err = newTestProvider(t, tc.name, s).Unwrap(context.Background(), stored, material)
			if err != nil || !bytes.Equal(got, dek) {
				t.Fatalf("second provider: %v", err)
			}
		})
	}
}

// TestWrongKeyAndCredentials: an unknown or disabled key, altered key material and a wrong
// secret each give a *kms.Error with the KMS's status, after one attempt.
func TestWrongKeyAndCredentials(t *testing.T) {
	s := awstest.Start(t, awstest.Options{})
	arn := s.CreateKey(t)
	p := newTestProvider(t, "aws", s)
	ctx := context.Background()
	dek := randomKey(t)
	material, stored, err := p.Wrap(ctx, masterKeyFor(t, s, arn), dek)
	if err != nil {
		t.Fatal(err)
	}

	n := s.Requests()
	unknown := strings.Replace(arn, arn[len(arn)-4:], "0000", 1)
	_, _, err = p.Wrap(ctx, masterKeyFor(t, s, unknown), dek)
	ke := asKMSError(t, err, OpEncrypt, 400)
	if !strings.Contains(ke.Error(), "NotFoundException") || ke.Provider != "aws" {
		t.Errorf("unknown key: %v", err)
	}
	if s.Requests() != n+1 {
		t.Errorf("a 400 was retried: %d requests", s.Requests()-n)
	}

	bad := append([]byte(nil), material...)
	bad[len(bad)-1] ^= 1
	_, err = p.Unwrap(ctx, stored, bad)
	ke = asKMSError(t, err, OpDecrypt, 400)
	if !strings.Contains(ke.Error(), "InvalidCiphertextException") {
		t.Errorf("altered material: %v", err)
	}

	wp, err := newProvider(kms.Config{Name: "aws", Credentials: marshal(t, bson.M{"accessKeyId": s.AccessKeyID, "secretAccessKey": "not-the-secret"}), TLS: s.TLSConfig()}, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wp.Unwrap(ctx, stored, material)
	ke = asKMSError(t, err, OpDecrypt, 400)
	if !strings.Contains(ke.Error(), "InvalidSignatureException") || strings.Contains(ke.Error(), "not-the-secret") {
		t.Errorf("wrong secret: %v", err)
	}

	s.DisableKey(t, arn)
	_, err = p.Unwrap(ctx, stored, material)
	asKMSError(t, err, OpDecrypt, 400)
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
	if err := bson.Unmarshal(marshal(t, d), &doc); err != nil {
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
			p, err := newProvider(kms.Config{Name: "aws", Credentials: marshal(t, bson.M{"accessKeyId": "a", "secretAccessKey": "s"}), HTTPClient: &http.Client{Transport: rp}}, os.Getenv)
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
	mk := marshal(t, bson.M{"region": "us-east-1", "key": "arn:aws:kms:us-east-1:579766882180:key/89fcc2c4-08b0-4bd9-9f25-e30687b580d0"})
	provider := func(file string) (*Provider, *replay) {
		rp := &replay{t: t, reply: readFile(t, "testdata/kms-aws/"+file)}
		p, err := newProvider(kms.Config{Name: "aws", Credentials: marshal(t, bson.M{"accessKeyId": "a", "secretAccessKey": "s"}), HTTPClient: &http.Client{Transport: rp}}, os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		return p, rp
	}
	p, _ := provider("encrypt-response.txt")
	material, _, err := p.Wrap(ctx, mk, randomKey(t))
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
	_, _, err = p.Wrap(ctx, mk, randomKey(t))
	asKMSError(t, err, OpEncrypt, 0)
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

// TestKEKParsing runs the aws cases of libmongocrypt's kek-tests.json: parse errors, and the
// stored document matching the input field for field.
func TestKEKParsing(t *testing.T) {
	var cases []struct {
		Input  bson.D `json:"input"`
		Expect string `json:"expect"`
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(readFile(t, "testdata/kek-tests.json"), &raw); err != nil {
		t.Fatal(err)
	}
	p := &Provider{name: "aws"}
	n := 0
	for _, r := range raw {
		var tc struct {
			Input  bson.D
			Expect string
		}
		if err := bson.UnmarshalExtJSON(r, false, &tc); err != nil {
			t.Fatal(err)
		}
		in := marshal(t, tc.Input)
		if prov, _ := kms.ProviderOf(in); prov != "aws" {
			continue
		}
		n++
		mk, err := p.parseMasterKey(in)
		if tc.Expect != "ok" {
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.Expect)) {
				t.Errorf("%s: err %v, want %q", in, err, tc.Expect)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		stored, err := mk.stored("aws")
		if err != nil {
			t.Fatal(err)
		}
		var got, want bson.M
		_ = bson.Unmarshal(stored, &got)
		_ = bson.Unmarshal(in, &want)
		if len(got) != len(want) {
			t.Errorf("stored %s for input %s", stored, in)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("stored %s for input %s: field %s", stored, in, k)
			}
		}
	}
	_ = cases
	if n != 4 {
		t.Fatalf("%d aws cases in kek-tests.json, want 4", n)
	}
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
		if _, err := p.parseMasterKey(marshal(t, tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
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
		_, err := New(kms.Config{Name: tc.name, Credentials: marshal(t, tc.creds)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err %v, want %q", tc.name, tc.creds, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), `"s"`) {
			t.Errorf("secret in error text: %v", err)
		}
	}
}

// hijackClose drops the connection without a reply.
func hijackClose(w http.ResponseWriter) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		c.Close()
	}
}

// TestFaults injects faults in front of local-kms.
func TestFaults(t *testing.T) {
	s := awstest.Start(t, awstest.Options{})
	arn := s.CreateKey(t)
	p := newTestProvider(t, "aws", s)
	mk := masterKeyFor(t, s, arn)
	ctx := context.Background()
	dek := randomKey(t)
	material, stored, err := p.Wrap(ctx, mk, dek)
	if err != nil {
		t.Fatal(err)
	}
	// failFirst answers the first n requests with f and lets the rest through.
	failFirst := func(n int, f func(w http.ResponseWriter)) {
		count := 0
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			count++
			if count <= n {
				f(w)
				return true
			}
			return false
		})
	}
	status := func(code int) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.WriteHeader(code)
			w.Write([]byte(`{"__type":"ServiceUnavailable","message":"try later"}`))
		}
	}
	unwrap := func() ([]byte, error, int) {
		before := s.Requests()
		got, err := p.Unwrap(ctx, stored, material)
		return got, err, s.Requests() - before
	}

	t.Run("dropped connection retried then succeeds", func(t *testing.T) {
		failFirst(2, hijackClose)
		got, err, n := unwrap()
		if err != nil || !bytes.Equal(got, dek) || n != 3 {
			t.Fatalf("err %v after %d requests", err, n)
		}
	})
	for _, code := range []int{500, 503, 429} {
		t.Run(http.StatusText(code)+" retried then succeeds", func(t *testing.T) {
			failFirst(2, status(code))
			got, err, n := unwrap()
			if err != nil || !bytes.Equal(got, dek) || n != 3 {
				t.Fatalf("err %v after %d requests", err, n)
			}
		})
	}
	t.Run("503 gives up after 3 attempts", func(t *testing.T) {
		failFirst(100, status(503))
		_, err, n := unwrap()
		asKMSError(t, err, OpDecrypt, 503)
		if n != 3 || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	t.Run("dropped connection gives up after 3 attempts", func(t *testing.T) {
		failFirst(100, hijackClose)
		_, err, n := unwrap()
		asKMSError(t, err, OpDecrypt, 0)
		if n != 3 {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	t.Run("400 not retried", func(t *testing.T) {
		failFirst(100, status(400))
		_, err, n := unwrap()
		asKMSError(t, err, OpDecrypt, 400)
		if n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
	t.Run("stall past the deadline", func(t *testing.T) {
		// The reply is held until the client gave up (release), not until the server notices.
		release := make(chan struct{})
		defer close(release)
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return true
		})
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		before := s.Requests()
		_, err := p.Unwrap(ctx, stored, material)
		asKMSError(t, err, OpDecrypt, 0)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second || s.Requests()-before != 1 {
			t.Fatalf("err %v after %v, %d requests", err, time.Since(start), s.Requests()-before)
		}
	})
	t.Run("truncated reply", func(t *testing.T) {
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			c, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 233\r\n\r\n{\"KeyId\": \"arn:aws:k")
				buf.Flush()
				c.Close()
			}
			return true
		})
		_, err, n := unwrap()
		asKMSError(t, err, OpDecrypt, 0)
		if n != 3 {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	replyWith := func(body string) {
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(body))
			return true
		})
	}
	secret := base64.StdEncoding.EncodeToString(dek[:32])
	for name, body := range map[string]string{
		"malformed JSON":          `{"Plaintext": "` + secret,
		"not an object":           `["Plaintext"]`,
		"no Plaintext":            `{"KeyId": "x"}`,
		"Plaintext not a string":  `{"Plaintext": 12}`,
		"Plaintext not base64":    `{"Plaintext": "` + secret + `!!"}`,
		"Plaintext wrong length":  `{"Plaintext": "` + secret + `"}`,
		"empty body":              ``,
		"plaintext in lower case": `{"plaintext": "` + base64.StdEncoding.EncodeToString(dek) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			replyWith(body)
			_, err, n := unwrap()
			ke := asKMSError(t, err, OpDecrypt, 200)
			if n != 1 || !strings.Contains(ke.Error(), "reply") || strings.Contains(ke.Error(), secret) {
				t.Fatalf("%d requests: %v", n, err)
			}
		})
	}
	t.Run("redirect not followed", func(t *testing.T) {
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "https://example.com/", http.StatusTemporaryRedirect)
			return true
		})
		_, err, n := unwrap()
		asKMSError(t, err, OpDecrypt, 307)
		if n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
	s.Before(nil)
	t.Run("TLS failure", func(t *testing.T) {
		q, err := newProvider(kms.Config{Name: "aws", Credentials: marshal(t, bson.M{"accessKeyId": s.AccessKeyID, "secretAccessKey": s.SecretAccessKey})}, os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Requests()
		_, err = q.Unwrap(ctx, stored, material)
		asKMSError(t, err, OpDecrypt, 0)
		if !strings.Contains(err.Error(), "certificate") || s.Requests() != before {
			t.Fatalf("%v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		mk := marshal(t, bson.D{{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn}, {Key: "endpoint", Value: addr}})
		_, err = p.Unwrap(ctx, mk, material)
		asKMSError(t, err, OpDecrypt, 0)
	})
	got, err, _ := unwrap()
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("after the faults: %v", err)
	}
}
