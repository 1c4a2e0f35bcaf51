package mongocrypt

// The KMS servers of the end-to-end tests (kms_e2e_test.go): the test KMSs of the provider
// packages, the real PyKMIP server, a TCP proxy that counts connections and can stall or go
// down, and fake AWS credential services.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure/azuretest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/gcp/gcptest"
	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// ---- TCP proxy ----

// proxyMode is what a kmsProxy does with a new connection.
type proxyMode int

const (
	proxyForward   proxyMode = iota // relay to the target
	proxyStall                      // accept and never answer
	proxyResetOnce                  // reset the next connection, then forward
)

// kmsProxy relays TCP connections to a KMS (TLS passes through untouched: the test servers'
// certificates name 127.0.0.1, where the proxy listens too). It counts connections, and can
// stall them or go down (Close), so that a KMS can fail after keys were made through it.
type kmsProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  proxyMode
	conns int
	open  map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, target string) *kmsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &kmsProxy{ln: ln, target: target, open: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is host:port of the proxy.
func (p *kmsProxy) Addr() string { return p.ln.Addr().String() }

// Conns returns how many connections the proxy accepted.
func (p *kmsProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// SetMode sets what happens to new connections.
func (p *kmsProxy) SetMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

// Close takes the KMS down: nothing listens on the address any more, and open connections
// are cut.
func (p *kmsProxy) Close() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.done = true
	p.ln.Close()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track records c as open; it returns false when the proxy is closing.
func (p *kmsProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *kmsProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.open, c)
		c.Close()
	}
	p.mu.Unlock()
}

func (p *kmsProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns++
		mode := p.mode
		if mode == proxyResetOnce {
			p.mode = proxyForward
		}
		p.mu.Unlock()
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c, mode)
		}()
	}
}

func (p *kmsProxy) handle(c net.Conn, mode proxyMode) {
	switch mode {
	case proxyStall:
		// Read and drop what the client sends until it gives up or the proxy closes.
		_, _ = io.Copy(io.Discard, c)
		p.untrack(c)
	case proxyResetOnce:
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		p.untrack(c)
	default:
		up, err := net.Dial("tcp", p.target)
		if err != nil || !p.track(up) {
			if up != nil {
				up.Close()
			}
			p.untrack(c)
			return
		}
		var wg sync.WaitGroup
		wg.Add(2)
		relay := func(dst, src net.Conn) {
			defer wg.Done()
			_, _ = io.Copy(dst, src)
			// Either side ending ends the relay.
			dst.Close()
			src.Close()
		}
		go relay(up, c)
		go relay(c, up)
		wg.Wait()
		p.untrack(c, up)
	}
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ---- PKI for KMIP ----

// kmsPKI is a CA with a server certificate for 127.0.0.1 and a client certificate (extended key
// usage clientAuth, which PyKMIP requires), all ECDSA P-256, written as PEM files.
type kmsPKI struct {
	caFile, serverCertFile, serverKeyFile string
	pool                                  *x509.CertPool
	ca                                    *x509.Certificate
	caKey                                 *ecdsa.PrivateKey
	clientCert                            tls.Certificate
}

func newKMSPKI(t testing.TB) *kmsPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := mustECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mongocrypt KMS e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &kmsPKI{pool: x509.NewCertPool(), ca: ca, caKey: caKey}
	p.pool.AddCert(ca)
	p.caFile = writePEMFile(t, dir, "ca.pem", "CERTIFICATE", der)
	_, certDER, keyDER := p.issue(t, 2, "localhost", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.serverCertFile = writePEMFile(t, dir, "server.pem", "CERTIFICATE", certDER)
	p.serverKeyFile = writePEMFile(t, dir, "server-key.pem", "PRIVATE KEY", keyDER)
	p.clientCert, _, _ = p.issue(t, 3, "mongocrypt-kms-e2e", x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

// issue makes a certificate signed by the CA.
func (p *kmsPKI) issue(t testing.TB, serial int64, cn string, eku x509.ExtKeyUsage, dns []string, ips []net.IP) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key := mustECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, keyDER
}

// clientTLS is what a user gives for a kmip provider: the client certificate and the CA.
func (p *kmsPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.clientCert}}
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEMFile(t testing.TB, dir, name, typ string, der []byte) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- PyKMIP ----

// launchPyKMIP starts the real PyKMIP server (internal/testenv) in the background; the
// returned function waits for it and returns it, or nil and the reason it is not there.
func launchPyKMIP(t testing.TB, pki *kmsPKI) func() (*testenv.PyKMIP, string) {
	type result struct {
		p   *testenv.PyKMIP
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := testenv.StartPyKMIP(testenv.PyKMIPCerts{CertFile: pki.serverCertFile, KeyFile: pki.serverKeyFile, CAFile: pki.caFile})
		ch <- result{p, err}
	}()
	var once sync.Once
	var r result
	wait := func() {
		once.Do(func() {
			r = <-ch
			if r.p != nil {
				t.Cleanup(r.p.Stop)
			}
		})
	}
	t.Cleanup(wait) // stops the server even when the test never waited
	return func() (*testenv.PyKMIP, string) {
		t.Helper()
		wait()
		if errors.Is(r.err, testenv.ErrNoPyKMIP) {
			return nil, r.err.Error()
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.p, ""
	}
}

// ---- fake AWS credential services ----

// awsCredServer is a fake EC2 instance metadata service (IMDSv2) and ECS container credentials
// endpoint that hand out the credentials of one test KMS.
type awsCredServer struct {
	*httptest.Server
	kms     *awstest.Server
	relURI  string // the ECS path
	mu      sync.Mutex
	ec2Reqs int
	ecsReqs int
	fail    int // answer every request with this status when non-zero
}

const (
	ec2Token = "ec2-session-token-for-metadata"
	ec2Role  = "mongocrypt-test-role"
)

func startAWSCredServer(t testing.TB, kmsServer *awstest.Server) *awsCredServer {
	s := &awsCredServer{kms: kmsServer, relURI: "/v2/credentials/e2e-task"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *awsCredServer) counts() (ec2, ecs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ec2Reqs, s.ecsReqs
}

func (s *awsCredServer) setFail(status int) {
	s.mu.Lock()
	s.fail = status
	s.mu.Unlock()
}

func (s *awsCredServer) credentials(w http.ResponseWriter) {
	b, _ := json.Marshal(map[string]string{
		"Code":            "Success",
		"AccessKeyId":     s.kms.AccessKeyID,
		"SecretAccessKey": s.kms.SecretAccessKey,
		"Token":           s.kms.SessionToken,
		"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *awsCredServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if r.URL.Path == s.relURI {
		s.ecsReqs++
	} else {
		s.ec2Reqs++
	}
	fail := s.fail
	s.mu.Unlock()
	if fail != 0 {
		http.Error(w, "metadata failure", fail)
		return
	}
	const creds = "/latest/meta-data/iam/security-credentials/"
	switch {
	case r.URL.Path == s.relURI && r.Method == http.MethodGet:
		s.credentials(w)
	case r.URL.Path == "/latest/api/token" && r.Method == http.MethodPut:
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		io.WriteString(w, ec2Token)
	case r.Header.Get("X-aws-ec2-metadata-token") != ec2Token:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case r.URL.Path == creds && r.Method == http.MethodGet:
		io.WriteString(w, ec2Role+"\n")
	case r.URL.Path == creds+ec2Role && r.Method == http.MethodGet:
		s.credentials(w)
	default:
		http.NotFound(w, r)
	}
}

// ---- the shared fixture ----

// kmsFixture holds the KMSs every end-to-end test shares, and the driver options that reach
// them under the provider names:
//
//	local             96-byte key
//	aws, aws:a        two local-kms servers with their own credentials (SigV4 checked)
//	azure, azure:t    the Key Vault fake: client credentials via its identity platform; a token
//	gcp, gcp:t        the Cloud KMS fake: service account JWT; a token
//	kmip, kmip:eu     PyKMIP, each behind its own counting proxy (nil kmip when absent)
type kmsFixture struct {
	aws, awsA          *awstest.Server
	awsARN, awsARN2    string // keys of aws
	awsAARN            string // key of aws:a
	azure              *azuretest.Server
	azureVersion       string // version of key "k"; "k2" is the second key
	gcp                *gcptest.Server
	gcpEmail           string
	gcpKey             []byte
	pki                *kmsPKI
	kmipAddr           string // PyKMIP itself, "" when absent
	kmipSkip           string // why kmip is skipped
	kmipProxy, euProxy *kmsProxy

	providers map[string]map[string]any
	tls       map[string]*tls.Config
}

func newKMSFixture(t *testing.T) *kmsFixture {
	t.Helper()
	start := time.Now()
	f := &kmsFixture{pki: newKMSPKI(t)}
	waitPyKMIP := launchPyKMIP(t, f.pki)
	f.aws = awstest.Start(t, awstest.Options{})
	f.awsA = awstest.Start(t, awstest.Options{AccessKeyID: "AKIDNAMEDA", SecretAccessKey: "named-a-secret"})
	f.awsARN, f.awsARN2, f.awsAARN = f.aws.CreateKey(t), f.aws.CreateKey(t), f.awsA.CreateKey(t)
	f.azure = azuretest.Start(t)
	f.azureVersion = f.azure.CreateKey(t, "k")
	f.azure.CreateKey(t, "k2")
	f.gcp = gcptest.Start(t)
	f.gcp.CreateKeyVersion(t, "p", "global", "r", "k")
	f.gcp.CreateKeyVersion(t, "p", "global", "r", "k2")
	f.gcpEmail = "e2e@p.iam.gserviceaccount.com"
	f.gcpKey = f.gcp.AddServiceAccount(t, f.gcpEmail)
	f.providers = map[string]map[string]any{
		"local":   {"key": localMasterKey},
		"aws":     {"accessKeyId": f.aws.AccessKeyID, "secretAccessKey": f.aws.SecretAccessKey},
		"aws:a":   {"accessKeyId": f.awsA.AccessKeyID, "secretAccessKey": f.awsA.SecretAccessKey},
		"azure":   {"tenantId": f.azure.TenantID, "clientId": f.azure.ClientID, "clientSecret": f.azure.ClientSecret, "identityPlatformEndpoint": f.azure.Endpoint()},
		"azure:t": {"accessToken": f.azure.IssueToken()},
		"gcp":     {"email": f.gcpEmail, "privateKey": f.gcpKey, "endpoint": f.gcp.Endpoint()},
		"gcp:t":   {"accessToken": f.gcp.IssueToken()},
	}
	f.tls = map[string]*tls.Config{
		"aws": f.aws.TLSConfig(), "aws:a": f.awsA.TLSConfig(),
		"azure": f.azure.TLSConfig(), "azure:t": f.azure.TLSConfig(),
		"gcp": f.gcp.TLSConfig(), "gcp:t": f.gcp.TLSConfig(),
	}
	if py, why := waitPyKMIP(); py == nil {
		f.kmipSkip = "PyKMIP is not installed: " + why
		t.Log("kmip parts skipped: " + f.kmipSkip)
	} else {
		f.kmipAddr = py.Addr
		f.kmipProxy, f.euProxy = startProxy(t, py.Addr), startProxy(t, py.Addr)
		f.providers["kmip"] = map[string]any{"endpoint": f.kmipProxy.Addr()}
		f.providers["kmip:eu"] = map[string]any{"endpoint": f.euProxy.Addr()}
		f.tls["kmip"], f.tls["kmip:eu"] = f.pki.clientTLS(), f.pki.clientTLS()
	}
	t.Logf("KMS fixture ready in %v", time.Since(start).Round(time.Millisecond))
	return f
}

// needKMIP skips t, saying why, when PyKMIP is absent.
func (f *kmsFixture) needKMIP(t *testing.T) {
	t.Helper()
	if f.kmipAddr == "" {
		t.Skip(f.kmipSkip)
	}
}

// only returns the providers and TLS options of the given names.
func (f *kmsFixture) only(names ...string) (map[string]map[string]any, map[string]*tls.Config) {
	p, c := map[string]map[string]any{}, map[string]*tls.Config{}
	for _, n := range names {
		p[n] = f.providers[n]
		if tc, ok := f.tls[n]; ok {
			c[n] = tc
		}
	}
	return p, c
}

// clientEncryption returns a new ClientEncryption over the key vault kvNS that knows the given
// providers (every provider of the fixture when none are named).
func (f *kmsFixture) clientEncryption(t testing.TB, kvNS string, names ...string) *ClientEncryption {
	t.Helper()
	p, c := f.providers, f.tls
	if len(names) > 0 {
		p, c = f.only(names...)
	}
	return newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(p).SetTLSConfig(c))
}

func newKMSClientEncryption(t testing.TB, o *options.ClientEncryptionOptionsBuilder) *ClientEncryption {
	t.Helper()
	kv, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := NewClientEncryption(kv, o)
	if err != nil {
		_ = kv.Disconnect(t.Context())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ce.Close(context.Background()) })
	return ce
}

// autoClient returns a client made by Connect with bypassAutoEncryption over the key vault
// kvNS, knowing every provider of the fixture.
func (f *kmsFixture) autoClient(t testing.TB, kvNS string) *mongo.Client {
	t.Helper()
	c, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(kvNS).
		SetKmsProviders(f.providers).
		SetTLSConfig(f.tls).
		SetBypassAutoEncryption(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// counts returns the KMS requests (wrap and unwrap operations; for kmip, connections, one per
// KMIP operation) and the token requests the KMS of provider name has received so far.
func (f *kmsFixture) counts(name string) (ops, tokens int) {
	switch name {
	case "aws":
		return f.aws.Requests(), 0
	case "aws:a":
		return f.awsA.Requests(), 0
	case "azure", "azure:t":
		all, tok := f.azure.Requests()
		return all - tok, tok
	case "gcp", "gcp:t":
		all, tok := f.gcp.Requests()
		return all - tok, tok
	case "kmip":
		return f.kmipProxy.Conns(), 0
	case "kmip:eu":
		return f.euProxy.Conns(), 0
	}
	return 0, 0
}

// kmsCounter measures the requests a provider's KMS receives during a step.
type kmsCounter struct {
	f          *kmsFixture
	name       string
	ops, token int
}

func (f *kmsFixture) counter(name string) *kmsCounter {
	c := &kmsCounter{f: f, name: name}
	c.ops, c.token = f.counts(name)
	return c
}

// expect checks the requests since the last call (or creation) and starts a new step.
func (c *kmsCounter) expect(t *testing.T, step string, ops, token int) {
	t.Helper()
	o, tk := c.f.counts(c.name)
	if o-c.ops != ops || tk-c.token != token {
		t.Errorf("%s: %s sent %d KMS requests and %d token requests, want %d and %d", step, c.name, o-c.ops, tk-c.token, ops, token)
	}
	c.ops, c.token = o, tk
}

// keyDocs returns every key document of a key vault, in _id order, as stored.
func keyDocs(t testing.TB, kv *mongo.Collection) []bson.Raw {
	t.Helper()
	cur, err := kv.Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}
