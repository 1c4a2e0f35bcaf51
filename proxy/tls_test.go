package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/mongocrypt-go/mongocrypt/proxy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// testCA is a CA that signs certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestProxyTLS: with Config.TLS the proxy serves TLS clients, on any address; with client
// certificates required, a client without one is refused and a client with one is served.
func TestProxyTLS(t *testing.T) {
	e := newEnv(t)
	ca := newTestCA(t)
	srv, err := proxy.New(proxy.Config{Upstream: e.primary(t), Encrypter: e.encrypter, TLS: &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "proxy", x509.ExtKeyUsageServerAuth)},
		ClientCAs:    ca.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0") // not loopback: allowed with TLS
	if err != nil {
		t.Skip("no wildcard listener:", err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	uri := e.uriFor("127.0.0.1:" + port)
	connect := func(certs []tls.Certificate) *mongo.Client {
		c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second).
			SetTLSConfig(&tls.Config{RootCAs: ca.pool, Certificates: certs, MinVersion: tls.VersionTLS12}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		return c
	}
	if err := connect(nil).Ping(t.Context(), nil); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	c := connect([]tls.Certificate{ca.issue(t, "client", x509.ExtKeyUsageClientAuth)})
	people := c.Database(e.db).Collection("people")
	if _, err := people.InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "TLS-SSN"}}); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	if err := people.FindOne(t.Context(), bson.D{{Key: "ssn", Value: "TLS-SSN"}}).Decode(&got); err != nil || got["ssn"] != "TLS-SSN" {
		t.Fatalf("find over TLS: %v, %v", got, err)
	}
}
