// Package azuretest runs an Azure Key Vault and Microsoft identity platform for tests: an
// httptest TLS server on 127.0.0.1 implementing the documented REST endpoints with real RSA
// keys.
//
//   - POST /{tenant}/oauth2/v2.0/token: client-credentials grant; checks client id, secret and
//     the scope, which must be https://<the vault host's domain>/.default.
//   - POST /keys/{name}/{version}/wrapkey?api-version=7.1 and .../unwrapkey: RSA-OAEP-256 with
//     SHA-256 under the key's RSA-2048 private key; an empty version means the latest one.
//     A request needs "Authorization: Bearer <token issued by this server>".
//
// StartIMDS adds a fake Azure Instance Metadata Service that issues tokens this vault accepts.
// Only tests import this package.
package azuretest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running test Key Vault and identity platform.
type Server struct {
	*httptest.Server
	// TenantID, ClientID and ClientSecret are the client credentials the server accepts.
	TenantID, ClientID, ClientSecret string
	// ExpiresIn is the lifetime of issued tokens in seconds (default 3599).
	ExpiresIn int

	mu            sync.Mutex
	tokens        map[string]time.Time // token -> expiry
	keys          map[string]map[string]*rsa.PrivateKey
	latest        map[string]string
	before        func(w http.ResponseWriter, r *http.Request) bool
	requests      int
	tokenRequests int
	imdsCase      string
}

// Start starts a test vault; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		TenantID: "test-tenant", ClientID: "test-client", ClientSecret: "test-secret/+&=",
		ExpiresIn: 3599,
		tokens:    map[string]time.Time{},
		keys:      map[string]map[string]*rsa.PrivateKey{},
		latest:    map[string]string{},
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.StartTLS()
	tb.Cleanup(s.Server.Close)
	return s
}

// Endpoint is the server's host:port, for keyVaultEndpoint and identityPlatformEndpoint.
func (s *Server) Endpoint() string { return s.Listener.Addr().String() }

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

// Scope is the scope a client must ask for: https://<domain of the server's host>/.default.
func (s *Server) Scope() string {
	host, _, _ := net.SplitHostPort(s.Endpoint())
	_, domain, _ := strings.Cut(host, ".")
	return "https://" + domain + "/.default"
}

// CreateKey creates a new RSA-2048 version of the key name and returns the version.
func (s *Server) CreateKey(tb testing.TB, name string) string {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	var v [16]byte
	rand.Read(v[:])
	version := hex.EncodeToString(v[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[name] == nil {
		s.keys[name] = map[string]*rsa.PrivateKey{}
	}
	s.keys[name][version] = k
	s.latest[name] = version
	return version
}

// IssueToken returns a new access token the vault accepts, valid for ExpiresIn seconds.
func (s *Server) IssueToken() string {
	var b [24]byte
	rand.Read(b[:])
	t := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[t] = time.Now().Add(time.Duration(s.ExpiresIn) * time.Second)
	s.mu.Unlock()
	return t
}

// RevokeTokens makes every issued token invalid.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// Before installs a hook run before each request; when it returns true the request is
// considered answered. nil removes it.
func (s *Server) Before(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.before = f
	s.mu.Unlock()
}

// Requests returns how many requests reached the server; TokenRequests how many of them
// asked for a token (identity platform or IMDS).
func (s *Server) Requests() (all, token int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.tokenRequests
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
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
	if r.Method != http.MethodPost {
		jsonError(w, http.StatusMethodNotAllowed, "BadRequest", "method")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		s.serveToken(w, r, parts[0])
	case len(parts) == 4 && parts[0] == "keys" && (parts[3] == "wrapkey" || parts[3] == "unwrapkey"):
		s.serveKeyOp(w, r, parts[1], parts[2], parts[3])
	default:
		jsonError(w, http.StatusNotFound, "NotFound", "no such path")
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		jsonError(w, 400, "invalid_request", "content type")
		return
	}
	if err := r.ParseForm(); err != nil {
		jsonError(w, 400, "invalid_request", "form")
		return
	}
	f := r.PostForm
	switch {
	case tenant != s.TenantID:
		jsonError(w, 400, "invalid_tenant", "unknown tenant")
	case f.Get("grant_type") != "client_credentials":
		jsonError(w, 400, "unsupported_grant_type", "grant_type")
	case f.Get("client_id") != s.ClientID || f.Get("client_secret") != s.ClientSecret:
		jsonError(w, 401, "invalid_client", "bad client credentials")
	case f.Get("scope") != s.Scope():
		jsonError(w, 400, "invalid_scope", "scope "+f.Get("scope")+", want "+s.Scope())
	default:
		b, _ := json.Marshal(map[string]any{"token_type": "Bearer", "expires_in": s.ExpiresIn, "ext_expires_in": s.ExpiresIn, "access_token": s.IssueToken()})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(b)
	}
}

func (s *Server) serveKeyOp(w http.ResponseWriter, r *http.Request, name, version, op string) {
	if r.URL.Query().Get("api-version") != "7.1" {
		jsonError(w, 400, "BadParameter", "api-version")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, valid := s.tokens[tok]
	if version == "" {
		version = s.latest[name]
	}
	key := s.keys[name][version]
	s.mu.Unlock()
	if !ok || !valid || time.Now().After(exp) {
		jsonError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: request is missing a valid Bearer token")
		return
	}
	if key == nil {
		jsonError(w, http.StatusNotFound, "KeyNotFound", "A key with (name/id) "+name+" was not found in this key vault")
		return
	}
	var in struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, 400, "BadParameter", "body")
		return
	}
	if in.Alg != "RSA-OAEP-256" {
		jsonError(w, 400, "BadParameter", "alg")
		return
	}
	value, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Value, "="))
	if err != nil {
		jsonError(w, 400, "BadParameter", "value is not base64url")
		return
	}
	var out []byte
	if op == "wrapkey" {
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, value, nil)
	} else {
		out, err = rsa.DecryptOAEP(sha256.New(), nil, key, value, nil)
	}
	if err != nil {
		jsonError(w, 400, "BadParameter", "Error while "+op+": "+err.Error())
		return
	}
	b, _ := json.Marshal(map[string]string{
		"kid":   fmt.Sprintf("https://%s/keys/%s/%s", r.Host, name, version),
		"value": base64.RawURLEncoding.EncodeToString(out),
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(b)
}

// IMDS test cases, as in the specification's prose tests: the X-MongoDB-HTTP-TestParams
// header ("case=...") or SetIMDSCase choose one.
const (
	IMDSSuccess   = ""
	IMDSEmptyJSON = "empty-json"
	IMDSBadJSON   = "bad-json"
	IMDS404       = "404"
	IMDS500       = "500"
	IMDSSlow      = "slow"
)

// SetIMDSCase sets the IMDS behaviour for requests without a test header.
func (s *Server) SetIMDSCase(c string) {
	s.mu.Lock()
	s.imdsCase = c
	s.mu.Unlock()
}

// StartIMDS starts a fake Azure Instance Metadata Service (plain HTTP) whose tokens this
// vault accepts, and returns its base URL. Tokens expire after ExpiresIn seconds.
func (s *Server) StartIMDS(tb testing.TB) string {
	tb.Helper()
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.tokenRequests++
		c := s.imdsCase
		s.mu.Unlock()
		if h := r.Header.Get("X-MongoDB-HTTP-TestParams"); h != "" {
			c = strings.TrimPrefix(h, "case=")
		}
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/metadata/identity/oauth2/token" ||
			q.Get("api-version") != "2018-02-01" || q.Get("resource") != "https://vault.azure.net/" ||
			r.Header.Get("Metadata") != "true" {
			http.Error(w, "bad request "+r.URL.String(), 400)
			return
		}
		switch c {
		case IMDSEmptyJSON:
			io.WriteString(w, "{}")
		case IMDSBadJSON:
			io.WriteString(w, `{"access_token": "magic-cookie"`)
		case IMDS404:
			http.Error(w, "not found", 404)
		case IMDS500:
			http.Error(w, "internal error", 500)
		case IMDSSlow:
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		default:
			b, _ := json.Marshal(map[string]string{
				"access_token": s.IssueToken(), "expires_in": fmt.Sprint(s.ExpiresIn),
				"resource": "https://vault.azure.net", "token_type": "Bearer",
			})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	}))
	imds.Config.ErrorLog = log.New(io.Discard, "", 0)
	tb.Cleanup(imds.Close)
	return imds.URL
}
