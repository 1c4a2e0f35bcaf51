// Package awstest runs an AWS KMS for tests: github.com/nsmithuk/local-kms, run by the nested
// module internal/testserver (see internal/testenv), behind an httptest TLS server on
// 127.0.0.1. local-kms does not check signatures, so the server checks each request's AWS
// Signature Version 4 itself, with an implementation of its own written from the AWS
// documentation (independent of package aws), refuses requests whose signature, credentials,
// date, region or service are wrong, and forwards the others to a local-kms key ring of its
// own.
//
// Only tests import this package.
package awstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// Region is the region of every test KMS.
const Region = "us-east-1"

// Server is a running test AWS KMS.
type Server struct {
	*httptest.Server

	// AccessKeyID, SecretAccessKey and SessionToken are the credentials the server accepts.
	AccessKeyID, SecretAccessKey, SessionToken string

	ring *Ring

	mu       sync.Mutex
	before   func(w http.ResponseWriter, r *http.Request) bool
	requests int
}

// Options configure a test KMS.
type Options struct {
	// AccessKeyID and SecretAccessKey default to "AKIDTEST" and "test-secret".
	AccessKeyID, SecretAccessKey string
	// SessionToken, when set, must be sent in X-Amz-Security-Token.
	SessionToken string
}

// Start starts a test KMS; it stops when the test ends. The test skips when the tree has no
// internal/testserver module.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.AccessKeyID == "" {
		o.AccessKeyID = "AKIDTEST"
	}
	if o.SecretAccessKey == "" {
		o.SecretAccessKey = "test-secret"
	}
	s := &Server{
		AccessKeyID:     o.AccessKeyID,
		SecretAccessKey: o.SecretAccessKey,
		SessionToken:    o.SessionToken,
		ring:            NewRing(tb),
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS failures are expected in tests
	s.Server.StartTLS()
	tb.Cleanup(s.Server.Close)
	return s
}

// Endpoint is the host:port to put in masterKey.endpoint.
func (s *Server) Endpoint() string { return s.Listener.Addr().String() }

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

// Before installs a hook run before each request; when it returns true the request is
// considered answered. Tests use it to inject faults. nil removes the hook.
func (s *Server) Before(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.before = f
	s.mu.Unlock()
}

// Requests returns how many requests reached the server.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// CreateKey creates a symmetric KMS key and returns its ARN.
func (s *Server) CreateKey(tb testing.TB) string {
	tb.Helper()
	code, body, err := s.ring.Call("TrentService.CreateKey", []byte(`{}`))
	if err != nil || code != http.StatusOK {
		tb.Fatalf("awstest: CreateKey: %d %s %v", code, body, err)
	}
	var out struct{ KeyMetadata struct{ Arn string } }
	if err := json.Unmarshal(body, &out); err != nil || out.KeyMetadata.Arn == "" {
		tb.Fatalf("awstest: CreateKey reply %s: %v", body, err)
	}
	return out.KeyMetadata.Arn
}

// DisableKey disables the key arn: Encrypt and Decrypt with it fail.
func (s *Server) DisableKey(tb testing.TB, arn string) {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"KeyId": arn})
	if code, out, err := s.ring.Call("TrentService.DisableKey", body); err != nil || code != http.StatusOK {
		tb.Fatalf("awstest: DisableKey: %d %s %v", code, out, err)
	}
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	w.Write(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	before := s.before
	s.mu.Unlock()
	if before != nil && before(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if err := s.verify(r, body); err != nil {
		awsError(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	if r.URL.Path != "/" || r.Method != http.MethodPost {
		awsError(w, http.StatusNotFound, "UnknownOperationException", r.Method+" "+r.URL.Path)
		return
	}
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "TrentService.Encrypt", "TrentService.Decrypt", "TrentService.CreateKey", "TrentService.DescribeKey":
		s.ring.Serve(w, target, body)
	default:
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target "+target)
	}
}

// Ring is a local-kms key ring of its own, in the process internal/testenv runs.
type Ring struct {
	url string
}

// NewRing makes an empty key ring, removed when the test ends. The test skips when the tree
// has no internal/testserver module.
func NewRing(tb testing.TB) *Ring {
	tb.Helper()
	a, err := testenv.Servers()
	if errors.Is(err, testenv.ErrNoServerModule) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	var id [8]byte
	rand.Read(id[:])
	r := &Ring{url: a.LocalKMS + "/" + hex.EncodeToString(id[:]) + "/"}
	tb.Cleanup(func() { _, _, _ = r.Call("Test.Close", nil) })
	return r
}

// Seed creates enabled keys under the given ARNs, of any account and region.
func (r *Ring) Seed(tb testing.TB, arns ...string) {
	tb.Helper()
	body, _ := json.Marshal(map[string][]string{"Arns": arns})
	if code, out, err := r.Call("Test.SeedKeys", body); err != nil || code != http.StatusOK {
		tb.Fatalf("awstest: seeding keys: %d %s %v", code, out, err)
	}
}

// Call sends one request of the AWS KMS API (target is its X-Amz-Target) to local-kms.
func (r *Ring) Call(target string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("awstest: local-kms: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Serve answers w with local-kms's reply to the request.
func (r *Ring) Serve(w http.ResponseWriter, target string, body []byte) {
	code, out, err := r.Call(target, body)
	if err != nil {
		awsError(w, http.StatusInternalServerError, "KMSInternalException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(code)
	w.Write(out)
}

// CiphertextKeyARN returns the key ARN a local-kms ciphertext blob names: one length byte,
// the ARN, a four-byte key version, then the ciphertext.
func CiphertextKeyARN(blob []byte) (string, bool) {
	if len(blob) < 1 {
		return "", false
	}
	n := int(blob[0])
	if len(blob) < 1+n+4+1 {
		return "", false
	}
	return string(blob[1 : 1+n]), true
}

// verify checks the SigV4 Authorization header of r, following
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html.
func (s *Server) verify(r *http.Request, body []byte) error {
	const prefix = "AWS4-HMAC-SHA256 "
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, prefix) {
		return fmt.Errorf("no AWS4-HMAC-SHA256 Authorization header")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(authz[len(prefix):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("malformed Authorization header")
		}
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" {
		return fmt.Errorf("malformed Credential")
	}
	if cred[0] != s.AccessKeyID {
		return fmt.Errorf("unknown access key %q", cred[0])
	}
	if cred[2] != Region || cred[3] != "kms" {
		return fmt.Errorf("credential scope %s/%s, want %s/kms", cred[2], cred[3], Region)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	if d := time.Since(t); d > 15*time.Minute || d < -15*time.Minute {
		return fmt.Errorf("signature expired: X-Amz-Date %s", amzDate)
	}
	if cred[1] != amzDate[:8] {
		return fmt.Errorf("credential date %s does not match X-Amz-Date", cred[1])
	}
	if s.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != s.SessionToken {
		return fmt.Errorf("missing or wrong X-Amz-Security-Token")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) {
		return fmt.Errorf("SignedHeaders not sorted")
	}
	isSigned := map[string]bool{}
	for _, h := range signed {
		isSigned[h] = true
	}
	for _, must := range []string{"host", "x-amz-date", "content-type", "x-amz-target"} {
		if !isSigned[must] {
			return fmt.Errorf("header %s is not signed", must)
		}
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") && !isSigned[l] {
			return fmt.Errorf("header %s is not signed", l)
		}
	}
	var creq strings.Builder
	creq.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq.WriteString(path + "\n")
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var qs []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			qs = append(qs, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	creq.WriteString(strings.Join(qs, "&") + "\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = fmt.Sprint(len(body))
			if cl := r.Header.Get("Content-Length"); cl != "" && cl != v {
				return fmt.Errorf("Content-Length %s, body of %d bytes", cl, len(body))
			}
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return fmt.Errorf("signed header %s is absent", h)
			}
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		creq.WriteString(h + ":" + v + "\n")
	}
	creq.WriteString("\n" + fields["SignedHeaders"] + "\n")
	sum := sha256.Sum256(body)
	creq.WriteString(hex.EncodeToString(sum[:]))

	creqSum := sha256.Sum256([]byte(creq.String()))
	scope := strings.Join(cred[1:], "/")
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqSum[:])
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac([]byte("AWS4"+s.SecretAccessKey), cred[1])
	k = mac(k, cred[2])
	k = mac(k, cred[3])
	k = mac(k, "aws4_request")
	want := hex.EncodeToString(mac(k, sts))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("the request signature does not match")
	}
	return nil
}
