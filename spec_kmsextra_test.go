package mongocrypt

// The test KMSs under the names of the specification's cloud keys, for the tests that create
// keys (createDataKey, rewrapManyDataKey targets) with the masterKeys of the specification:
//
//   - AWS: the key ARNs of the specification's account live in a local-kms key ring of the
//     runner (local-kms keys can carry any ARN); Encrypt and Decrypt with them are answered by
//     local-kms with that key ring after awstest checked the request (specProbe).
//   - Azure: azuretest with the key drivers-3392-keyname, reached as
//     drivers-3392-key-vault.vault.azure.net; its token endpoint accepts the vault.azure.net
//     scope the client asks for (azuretest accepts only the scope of its own host name).
//   - GCP: gcptest with projects/devprod-drivers/locations/global/keyRings/key-ring-csfle/
//     cryptoKeys/key-name-csfle, reached as cloudkms.googleapis.com; its token endpoint
//     verifies the RS256 JWT of the runner's service account for the googleapis.com scope.
//   - KMIP: the real PyKMIP server, started on the first test that needs it.
//
// Names outside these (the "invalid" masterKeys of the failure tests) reach no server.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// The masterKeys of the specification's tests that name existing cloud keys.
var (
	specAWSARNs = []string{
		"arn:aws:kms:us-east-1:579766882180:key/89fcc2c4-08b0-4bd9-9f25-e30687b580d0",
		"arn:aws:kms:us-east-1:579766882180:key/061334ae-07a8-4ceb-a813-8135540e837d",
		"arn:aws:kms:us-east-1:857654397073:key/0f8468f0-f135-4226-aa0b-bd05c4c30df5",
	}
	specAzureVault  = "drivers-3392-key-vault.vault.azure.net"
	specAzureKey    = "drivers-3392-keyname"
	specGCPKeyRing  = [4]string{"devprod-drivers", "global", "key-ring-csfle", "key-name-csfle"}
	specAzureScope  = "https://vault.azure.net/.default"
	specGCPScope    = "https://www.googleapis.com/auth/cloudkms"
	specGCPAudience = "https://oauth2.googleapis.com/token"
)

// specAWSKeyRing is a local-kms key ring holding keys under the specification's ARNs.
type specAWSKeyRing struct {
	ring *awstest.Ring
	arns map[string]bool
}

func newSpecAWSKeyRing(t *testing.T) *specAWSKeyRing {
	t.Helper()
	kr := &specAWSKeyRing{ring: awstest.NewRing(t), arns: map[string]bool{}}
	kr.ring.Seed(t, specAWSARNs...)
	for _, arn := range specAWSARNs {
		kr.arns[arn] = true
	}
	return kr
}

// owns reports whether an Encrypt or Decrypt request body concerns a key of the ring, for a
// request sent to host.
func (kr *specAWSKeyRing) owns(target, host string, body []byte) bool {
	var in struct {
		KeyId          string
		CiphertextBlob []byte
	}
	if json.Unmarshal(body, &in) != nil {
		return false
	}
	arn := in.KeyId
	if target == "TrentService.Decrypt" && arn == "" {
		ident, ok := awstest.CiphertextKeyARN(in.CiphertextBlob)
		if !ok {
			return false
		}
		arn = ident
	}
	if !kr.arns[arn] {
		return false
	}
	// The ARN's region must be the endpoint's, as with AWS.
	return strings.HasPrefix(host, "kms."+strings.Split(arn, ":")[3]+".")
}

func (kr *specAWSKeyRing) serve(w http.ResponseWriter, target string, body []byte) {
	kr.ring.Serve(w, target, body)
}

// azureHook answers the token requests of the identity platform for the vault.azure.net scope
// with tokens of azuretest.
func (k *specKMS) azureHook(w http.ResponseWriter, r *http.Request) bool {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Host != "login.microsoftonline.com" || len(parts) != 4 || parts[1] != "oauth2" || parts[3] != "token" {
		return false
	}
	fail := func(status int, code, msg string) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		b, _ := json.Marshal(map[string]string{"error": code, "error_description": msg})
		w.Write(b)
		return true
	}
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return fail(400, "invalid_request", "form")
	}
	f := r.PostForm
	switch {
	case parts[0] != k.azure.TenantID:
		return fail(400, "invalid_tenant", "unknown tenant")
	case f.Get("grant_type") != "client_credentials":
		return fail(400, "unsupported_grant_type", "grant_type")
	case f.Get("client_id") != k.azure.ClientID || f.Get("client_secret") != k.azure.ClientSecret:
		return fail(401, "invalid_client", "bad client credentials")
	case f.Get("scope") != specAzureScope:
		return fail(400, "invalid_scope", "scope "+f.Get("scope"))
	}
	b, _ := json.Marshal(map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": k.azure.IssueToken()})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return true
}

// gcpHook answers the token requests of Google's OAuth endpoint: an RS256 JWT of the runner's
// service account for the cloudkms scope gets a token of gcptest.
func (k *specKMS) gcpHook(w http.ResponseWriter, r *http.Request) bool {
	if r.Host != "oauth2.googleapis.com" || r.URL.Path != "/token" {
		return false
	}
	fail := func(msg string) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		b, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": msg})
		w.Write(b)
		return true
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fail("grant_type")
	}
	if err := k.checkGCPJWT(r.PostForm.Get("assertion")); err != nil {
		return fail(err.Error())
	}
	b, _ := json.Marshal(map[string]any{"access_token": k.gcp.IssueToken(), "expires_in": 3599, "token_type": "Bearer"})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return true
}

func (k *specKMS) checkGCPJWT(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	dec := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")) }
	hdr, err1 := dec(parts[0])
	body, err2 := dec(parts[1])
	sig, err3 := dec(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("JWT parts are not base64url")
	}
	var h struct{ Alg string }
	var c struct {
		Iss, Aud, Scope string
		Iat, Exp        int64
	}
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "RS256" || json.Unmarshal(body, &c) != nil {
		return fmt.Errorf("JWT header or claims")
	}
	priv, err := x509.ParsePKCS8PrivateKey(k.gcpKey)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&priv.(*rsa.PrivateKey).PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("invalid JWT signature")
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != specGCPEmail:
		return fmt.Errorf("iss %q", c.Iss)
	case c.Aud != specGCPAudience:
		return fmt.Errorf("aud %q", c.Aud)
	case c.Scope != specGCPScope:
		return fmt.Errorf("scope %q", c.Scope)
	case c.Exp <= now || c.Iat > now+60 || c.Exp-c.Iat > 3600:
		return fmt.Errorf("JWT times iat %d exp %d", c.Iat, c.Exp)
	}
	return nil
}

// ---- KMIP: the real PyKMIP server ----

type specKMIP struct {
	once sync.Once
	mu   sync.Mutex
	addr string
	tls  *tls.Config
	err  error
}

// start launches PyKMIP once (on the first test that needs it) and returns its address and
// the client TLS configuration.
func (s *specKMIP) start(t *testing.T) (string, *tls.Config, error) {
	s.once.Do(func() {
		addr, cfg, err := specLaunchPyKMIP(t)
		s.mu.Lock()
		s.addr, s.tls, s.err = addr, cfg, err
		s.mu.Unlock()
	})
	return s.started()
}

// started returns the server's address once it runs ("" before).
func (s *specKMIP) started() (string, *tls.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr, s.tls, s.err
}

func specLaunchPyKMIP(t *testing.T) (string, *tls.Config, error) {
	if _, err := os.Stat(testenv.PyKMIPPath); err != nil {
		return "", nil, testenv.ErrNoPyKMIP
	}
	dir, err := os.MkdirTemp("", "spec-pykmip")
	if err != nil {
		return "", nil, err
	}
	// The server outlives the subtest that started it: it is stopped when the suite ends.
	stop := func() {}
	specSuiteCleanup(func() { stop(); os.RemoveAll(dir) })
	newKey := func() *ecdsa.PrivateKey {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spec runner KMIP CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, eku x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
		key := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, keyDER, err
	}
	_, srvDER, srvKey, err := issue(2, "localhost", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return "", nil, err
	}
	client, _, _, err := issue(3, "spec-runner", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return "", nil, err
	}
	p, err := testenv.StartPyKMIP(testenv.PyKMIPCerts{
		CertFile: writePEM("server.pem", "CERTIFICATE", srvDER),
		KeyFile:  writePEM("server-key.pem", "PRIVATE KEY", srvKey),
		CAFile:   writePEM("ca.pem", "CERTIFICATE", caDER),
	})
	if err != nil {
		return "", nil, err
	}
	stop = p.Stop
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	t.Logf("PyKMIP server on %s", p.Addr)
	return p.Addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}}, nil
}

// specSuiteCleanup registers a function run when the current suite ends.
var (
	specCleanupMu sync.Mutex
	specCleanups  []func()
)

func specSuiteCleanup(f func()) {
	specCleanupMu.Lock()
	specCleanups = append(specCleanups, f)
	specCleanupMu.Unlock()
}

func specRunSuiteCleanups() {
	specCleanupMu.Lock()
	fs := specCleanups
	specCleanups = nil
	specCleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
