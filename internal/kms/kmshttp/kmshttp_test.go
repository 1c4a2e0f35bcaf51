package kmshttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in                             string
		host, port, sub, dom, hostPort string
	}{
		{"kms.us-east-1.amazonaws.com", "kms.us-east-1.amazonaws.com", "", "kms", "us-east-1.amazonaws.com", "kms.us-east-1.amazonaws.com"},
		{"kms.us-east-1.amazonaws.com:443", "kms.us-east-1.amazonaws.com", "443", "kms", "us-east-1.amazonaws.com", "kms.us-east-1.amazonaws.com:443"},
		{"https://example.vault.azure.net/", "example.vault.azure.net", "", "example", "vault.azure.net", "example.vault.azure.net"},
		{"https://example.com:8443/path/x?q=1", "example.com", "8443", "example", "com", "example.com:8443"},
		{"example.com?x", "example.com", "", "example", "com", "example.com"},
		{"127.0.0.1:5698", "127.0.0.1", "5698", "127", "0.0.1", "127.0.0.1:5698"},
	} {
		e, err := ParseEndpoint(tc.in, false)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if e.Host != tc.host || e.Port != tc.port || e.Subdomain != tc.sub || e.Domain != tc.dom || e.HostAndPort() != tc.hostPort {
			t.Errorf("%q: %+v", tc.in, e)
		}
	}
	for _, in := range []string{"invalid endpoint", "localhost", "", ":443", "a.b:", "a.b:0", "a.b:65536", "a.b:x1", "a .b", "a.b\x00", "a@b.c", "\xff.com"} {
		if _, err := ParseEndpoint(in, false); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("%q accepted: %v", in, err)
		}
	}
	if e, err := ParseEndpoint("localhost:5696", true); err != nil || e.HostAndPort() != "localhost:5696" {
		t.Errorf("allowNoDot: %v %v", e, err)
	}
}

func TestDoc(t *testing.T) {
	raw, _ := bson.Marshal(bson.D{{Key: "s", Value: "v"}, {Key: "n", Value: 1}, {Key: "b", Value: []byte{1, 2}}, {Key: "b64", Value: "AQI="}, {Key: "e", Value: "x.y:1"}})
	d, err := NewDoc(raw, "doc")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := d.RequiredString("s"); err != nil || s != "v" {
		t.Error(s, err)
	}
	if _, err := d.RequiredString("n"); err == nil || !strings.Contains(err.Error(), "expected UTF-8 n") {
		t.Error(err)
	}
	if _, err := d.RequiredString("missing"); err == nil {
		t.Error("missing field accepted")
	}
	for _, k := range []string{"b", "b64"} {
		if b, err := d.RequiredBinary(k); err != nil || len(b) != 2 || b[1] != 2 {
			t.Error(k, b, err)
		}
	}
	if e, err := d.RequiredEndpoint("e"); err != nil || e.Port != "1" {
		t.Error(e, err)
	}
	if err := d.CheckAllowed("s", "n", "b", "b64"); err == nil || !strings.Contains(err.Error(), "unexpected field: 'e'") {
		t.Error(err)
	}
	if _, err := NewDoc(bson.Raw{6, 0, 0, 0, 0}, "doc"); err == nil {
		t.Error("malformed document accepted")
	}
	if !IsEmptyDoc(nil) || !IsEmptyDoc(bson.Raw{5, 0, 0, 0, 0}) || IsEmptyDoc(raw) {
		t.Error("IsEmptyDoc")
	}
}

func TestReplyString(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"f": "v"}`: true, `{"f": 1}`: false, `{"F": "v"}`: false, `{"f": "v"`: false, `[]`: false, ``: false, `{"g": "v"}`: false,
	} {
		s, err := ReplyString([]byte(body), "f")
		if (err == nil) != ok || (ok && s != "v") {
			t.Errorf("%s: %q %v", body, s, err)
		}
	}
}

func TestParseTokenReply(t *testing.T) {
	start := time.Unix(1000, 0)
	for body, want := range map[string]int64{
		`{"access_token":"t","expires_in":3599}`:   1000 + 3599 - 5,
		`{"access_token":"t","expires_in":"3599"}`: 1000 + 3599 - 5,
		`{"access_token":"t","expires_in":3}`:      1000,
		`{"access_token":"t"}`:                     -1,
		`{"access_token":"","expires_in":1}`:       -1,
		`{"access_token":"t","expires_in":"x"}`:    -1,
		`{"access_token":"t","expires_in":-1}`:     -1,
		`{"access_token":"t","expires_in":1e300}`:  -1,
		`{"access_token":1,"expires_in":1}`:        -1,
	} {
		tok, err := ParseTokenReply([]byte(body), start, 5*time.Second)
		if want < 0 {
			if err == nil {
				t.Errorf("%s accepted", body)
			}
			continue
		}
		if err != nil || tok.Value != "t" || tok.Expiry.Unix() != want {
			t.Errorf("%s: %+v %v", body, tok, err)
		}
	}
}

func TestTokenCache(t *testing.T) {
	var c TokenCache
	now := time.Unix(0, 0)
	c.Now = func() time.Time { return now }
	fetches := 0
	fetch := func(context.Context) (Token, error) {
		fetches++
		return Token{Value: "t", Expiry: now.Add(time.Minute)}, nil
	}
	ctx := context.Background()
	c.Get(ctx, "a", fetch)
	c.Get(ctx, "a", fetch)
	c.Get(ctx, "b", fetch)
	if fetches != 2 {
		t.Fatalf("%d fetches", fetches)
	}
	now = now.Add(time.Minute)
	c.Get(ctx, "a", fetch)
	c.Forget("b")
	c.Get(ctx, "b", fetch)
	if fetches != 4 {
		t.Fatalf("%d fetches", fetches)
	}
	if _, err := c.Get(ctx, "c", func(context.Context) (Token, error) { return Token{}, errors.New("no") }); err == nil {
		t.Fatal("fetch error lost")
	}
}

// selfSigned returns a certificate (usable by a server and a client) and its pool.
func selfSigned(t *testing.T, cn string) (tls.Certificate, *x509.CertPool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
	}
	tmpl.IPAddresses = append(tmpl.IPAddresses, []byte{127, 0, 0, 1})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, pool
}

// TestNewClientTLS: the client presents the configured client certificate and trusts the
// configured CA; without them the handshake fails; redirects are not followed.
func TestNewClientTLS(t *testing.T) {
	serverCert, serverPool := selfSigned(t, "server")
	clientCert, clientPool := selfSigned(t, "client")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: clientPool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	defer srv.Close()

	c, err := NewClient(nil, &tls.Config{RootCAs: serverPool, Certificates: []tls.Certificate{clientCert}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	if string(b[:n]) != "client" {
		t.Fatalf("server saw %q", b[:n])
	}
	resp, err = c.Get(srv.URL + "/redirect")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect followed: %v %v", resp, err)
	}
	resp.Body.Close()

	noCert, _ := NewClient(&http.Client{Timeout: 5 * time.Second}, &tls.Config{RootCAs: serverPool})
	if _, err := noCert.Get(srv.URL); err == nil {
		t.Fatal("handshake without a client certificate succeeded")
	}
	if noCert.Timeout != 5*time.Second {
		t.Fatal("base client settings lost")
	}
	noCA, _ := NewClient(nil, &tls.Config{Certificates: []tls.Certificate{clientCert}})
	if _, err := noCA.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server accepted: %v", err)
	}
	if _, err := NewClient(&http.Client{Transport: roundTripper{}}, &tls.Config{}); err == nil {
		t.Fatal("TLS options applied to a custom transport")
	}
}

type roundTripper struct{}

func (roundTripper) RoundTrip(*http.Request) (*http.Response, error) { return nil, errors.New("no") }

// FuzzParseEndpoint: endpoints never panic; a parsed endpoint's host-and-port parses again to
// the same endpoint.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"kms.us-east-1.amazonaws.com", "https://a.b:443/p?q", "127.0.0.1:5696", "localhost", "a.b:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEndpoint(s, false)
		if err != nil {
			return
		}
		again, err := ParseEndpoint(e.HostAndPort(), false)
		if err != nil || *again != *e {
			t.Fatalf("%q -> %q -> %v %v", s, e.HostAndPort(), again, err)
		}
	})
}

// FuzzParseTokenReply: token replies (untrusted) never panic; a token is never empty.
func FuzzParseTokenReply(f *testing.F) {
	f.Add([]byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"test-access-token"}`))
	f.Add([]byte(`{"access_token":"test-access-token","expires_in":3599,"token_type":"Bearer"}`))
	f.Add([]byte(`{"access_token":"magic-cookie","expires_in":"70","resource":"https://vault.azure.net"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseTokenReply(body, time.Now(), time.Minute)
		if err == nil && tok.Value == "" {
			t.Fatal("empty token")
		}
	})
}
