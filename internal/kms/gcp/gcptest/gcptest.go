// Package gcptest runs Google Cloud KMS and Google's OAuth 2.0 token endpoint for tests: an
// httptest TLS server on 127.0.0.1 implementing the documented REST endpoints.
//
//   - POST /token: the JWT bearer grant. The assertion must be an RS256 JWT signed by a
//     service account added with AddServiceAccount, with iss = its email,
//     aud = https://<host the client connected to>/token, scope = Scope(), and an exp in the
//     future no more than an hour after iat.
//   - POST /v1/projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}[/cryptoKeyVersions/{v}]:encrypt
//     and .../cryptoKeys/{k}:decrypt, with a bearer token issued by this server. Keys are
//     symmetric (ENCRYPT_DECRYPT) as in Cloud KMS: AES-256-GCM per key version, the key's
//     resource name as associated data; a ciphertext is version(4, big endian) || nonce(12) ||
//     sealed.
//
// StartMetadata adds a fake GCE metadata server. Only tests import this package.
package gcptest

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
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

// Server is a running test Cloud KMS and token endpoint.
type Server struct {
	*httptest.Server
	// ExpiresIn is the lifetime of issued tokens in seconds (default 3599).
	ExpiresIn int

	mu            sync.Mutex
	accounts      map[string]*rsa.PublicKey
	tokens        map[string]time.Time
	keys          map[string][]cipher.AEAD // cryptoKey resource name -> versions 1..n
	before        func(w http.ResponseWriter, r *http.Request) bool
	requests      int
	tokenRequests int
	metadataFail  int
}

// Start starts a test Cloud KMS; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{ExpiresIn: 3599, accounts: map[string]*rsa.PublicKey{}, tokens: map[string]time.Time{}, keys: map[string][]cipher.AEAD{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.StartTLS()
	tb.Cleanup(s.Server.Close)
	return s
}

// Endpoint is the server's host:port, for masterKey.endpoint and credentials.endpoint.
func (s *Server) Endpoint() string { return s.Listener.Addr().String() }

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

// Scope is the scope a JWT must carry: https://www.<domain of the server's host>/auth/cloudkms.
func (s *Server) Scope() string {
	host, _, _ := net.SplitHostPort(s.Endpoint())
	_, domain, _ := strings.Cut(host, ".")
	return "https://www." + domain + "/auth/cloudkms"
}

// AddServiceAccount creates a service account with a new RSA-2048 key and returns its email
// and PKCS#8 private key.
func (s *Server) AddServiceAccount(tb testing.TB, email string) []byte {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.accounts[email] = &k.PublicKey
	s.mu.Unlock()
	return der
}

// CreateKeyVersion adds a new primary version to the cryptoKey and returns its number.
func (s *Server) CreateKeyVersion(tb testing.TB, project, location, keyRing, key string) int {
	tb.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s", project, location, keyRing, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = append(s.keys[name], aead)
	return len(s.keys[name])
}

// IssueToken returns a new access token the server accepts.
func (s *Server) IssueToken() string {
	var b [24]byte
	rand.Read(b[:])
	t := "ya29." + base64.RawURLEncoding.EncodeToString(b[:])
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

// Requests returns how many requests reached the server, and how many asked for a token.
func (s *Server) Requests() (all, token int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.tokenRequests
}

func gcpError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
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
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		s.serveToken(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/"):
		s.serveKMS(w, r)
	default:
		gcpError(w, 404, "NOT_FOUND", "no such path")
	}
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		gcpError(w, 400, "invalid_request", "form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		gcpError(w, 400, "unsupported_grant_type", "grant_type")
		return
	}
	if err := s.checkJWT(r, r.PostForm.Get("assertion")); err != nil {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(400)
		b, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": err.Error()})
		w.Write(b)
		return
	}
	b, _ := json.Marshal(map[string]any{"access_token": s.IssueToken(), "expires_in": s.ExpiresIn, "token_type": "Bearer"})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b)
}

func (s *Server) checkJWT(r *http.Request, jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the assertion is not a JWT")
	}
	hdr, err := b64url(parts[0])
	if err != nil {
		return fmt.Errorf("JWT header is not base64url")
	}
	var h struct{ Alg, Typ string }
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "RS256" || h.Typ != "JWT" {
		return fmt.Errorf("JWT header %s: want RS256 JWT", hdr)
	}
	body, err := b64url(parts[1])
	if err != nil {
		return fmt.Errorf("JWT claims are not base64url")
	}
	var c struct {
		Iss, Aud, Scope string
		Iat, Exp        int64
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("JWT claims: %v", err)
	}
	s.mu.Lock()
	pub := s.accounts[c.Iss]
	s.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("unknown service account %q", c.Iss)
	}
	sig, err := b64url(parts[2])
	if err != nil {
		return fmt.Errorf("JWT signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("invalid JWT signature")
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	now := time.Now().Unix()
	switch {
	case c.Aud != "https://"+host+"/token":
		return fmt.Errorf("aud %q, want %q", c.Aud, "https://"+host+"/token")
	case c.Scope != s.Scope():
		return fmt.Errorf("scope %q, want %q", c.Scope, s.Scope())
	case c.Exp <= now:
		return fmt.Errorf("JWT expired")
	case c.Iat > now+60:
		return fmt.Errorf("JWT issued in the future")
	case c.Exp-c.Iat > 3600 || c.Exp <= c.Iat:
		return fmt.Errorf("JWT lifetime %d s", c.Exp-c.Iat)
	}
	return nil
}

func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, valid := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !valid || time.Now().After(exp) {
		gcpError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	resource, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), ":")
	name, version, hasVersion := strings.Cut(resource, "/cryptoKeyVersions/")
	s.mu.Lock()
	versions := s.keys[name]
	s.mu.Unlock()
	if len(versions) == 0 {
		gcpError(w, 404, "NOT_FOUND", "CryptoKey "+name+" not found.")
		return
	}
	var in map[string]string
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		gcpError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	switch op {
	case "encrypt":
		v := len(versions)
		if hasVersion {
			if _, err := fmt.Sscan(version, &v); err != nil || v < 1 || v > len(versions) || fmt.Sprint(v) != version {
				gcpError(w, 404, "NOT_FOUND", "CryptoKeyVersion not found.")
				return
			}
		}
		pt, err := base64.StdEncoding.DecodeString(in["plaintext"])
		if err != nil || len(pt) == 0 {
			gcpError(w, 400, "INVALID_ARGUMENT", "plaintext")
			return
		}
		out := make([]byte, 16, 16+len(pt)+16)
		binary.BigEndian.PutUint32(out, uint32(v))
		rand.Read(out[4:16])
		out = versions[v-1].Seal(out, out[4:16], pt, []byte(name))
		b, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("%s/cryptoKeyVersions/%d", name, v), "ciphertext": out})
		w.Write(b)
	case "decrypt":
		if hasVersion {
			gcpError(w, 400, "INVALID_ARGUMENT", "decrypt is called on a CryptoKey")
			return
		}
		ct, err := base64.StdEncoding.DecodeString(in["ciphertext"])
		if err != nil || len(ct) < 16+16 {
			gcpError(w, 400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
			return
		}
		v := int(binary.BigEndian.Uint32(ct))
		if v < 1 || v > len(versions) {
			gcpError(w, 400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
			return
		}
		pt, err := versions[v-1].Open(nil, ct[4:16], ct[16:], []byte(name))
		if err != nil {
			gcpError(w, 400, "INVALID_ARGUMENT", "Decryption failed: verify that 'name' refers to the correct CryptoKey.")
			return
		}
		b, _ := json.Marshal(map[string]any{"plaintext": pt, "usedPrimary": v == len(versions)})
		w.Write(b)
	default:
		gcpError(w, 404, "NOT_FOUND", "unknown method "+op)
	}
}

// SetMetadataFailure makes the metadata server answer with status (0: succeed).
func (s *Server) SetMetadataFailure(status int) {
	s.mu.Lock()
	s.metadataFail = status
	s.mu.Unlock()
}

// StartMetadata starts a fake GCE metadata server (plain HTTP) whose default service account
// tokens this server accepts, and returns its base URL.
func (s *Server) StartMetadata(tb testing.TB) string {
	tb.Helper()
	m := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.tokenRequests++
		fail := s.metadataFail
		s.mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" || r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "bad request", http.StatusForbidden)
			return
		}
		if fail != 0 {
			http.Error(w, "metadata failure", fail)
			return
		}
		b, _ := json.Marshal(map[string]any{"access_token": s.IssueToken(), "expires_in": s.ExpiresIn, "token_type": "Bearer"})
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	tb.Cleanup(m.Close)
	return m.URL
}
