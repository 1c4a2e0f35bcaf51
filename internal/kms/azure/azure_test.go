package azure

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure/azuretest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmstest"
)

func clientCredentials(s *azuretest.Server) bson.D {
	return bson.D{{Key: "tenantId", Value: s.TenantID}, {Key: "clientId", Value: s.ClientID},
		{Key: "clientSecret", Value: s.ClientSecret}, {Key: "identityPlatformEndpoint", Value: s.Endpoint()}}
}

func newTestProvider(t testing.TB, name string, s *azuretest.Server, creds bson.D) *Provider {
	t.Helper()
	p, err := newProvider(kms.Config{Name: name, Credentials: kmstest.Marshal(t, creds), TLS: s.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testMasterKey(t testing.TB, s *azuretest.Server, name, version string) bson.Raw {
	d := bson.D{{Key: "keyVaultEndpoint", Value: s.Endpoint()}, {Key: "keyName", Value: name}}
	if version != "" {
		d = append(d, bson.E{Key: "keyVersion", Value: version})
	}
	return kmstest.Marshal(t, d)
}

// TestWrongKeyAndCredentials: another key version, an unknown key, altered material, a wrong
// client secret and a refused token each fail with a *kms.Error.
func TestWrongKeyAndCredentials(t *testing.T) {
	s := azuretest.Start(t)
	v1 := s.CreateKey(t, "key1")
	v2 := s.CreateKey(t, "key1")
	ctx := context.Background()
	p := newTestProvider(t, "azure", s, clientCredentials(s))
	material, _, err := p.Wrap(ctx, testMasterKey(t, s, "key1", v1), kmstest.DataKey(t))
	if err != nil {
		t.Fatal(err)
	}
	all0, _ := s.Requests()
	_, err = p.Unwrap(ctx, testMasterKey(t, s, "key1", v2), material)
	kmstest.AsKMSError(t, err, OpUnwrap, 400)
	if all, _ := s.Requests(); all-all0 != 1 {
		t.Errorf("a 400 was retried: %d requests", all-all0)
	}
	_, err = p.Unwrap(ctx, testMasterKey(t, s, "nokey", ""), material)
	if ke := kmstest.AsKMSError(t, err, OpUnwrap, 404); !strings.Contains(ke.Error(), "KeyNotFound") {
		t.Error(err)
	}
	bad := append([]byte(nil), material...)
	bad[10] ^= 1
	_, err = p.Unwrap(ctx, testMasterKey(t, s, "key1", v1), bad)
	kmstest.AsKMSError(t, err, OpUnwrap, 400)

	creds := clientCredentials(s)
	creds[2].Value = "wrong-secret"
	_, _, err = newTestProvider(t, "azure", s, creds).Wrap(ctx, testMasterKey(t, s, "key1", ""), kmstest.DataKey(t))
	if ke := kmstest.AsKMSError(t, err, OpToken, 401); strings.Contains(ke.Error(), "wrong-secret") {
		t.Error("secret in error text")
	}
	_, _, err = newTestProvider(t, "azure", s, bson.D{{Key: "accessToken", Value: "made-up"}}).Wrap(ctx, testMasterKey(t, s, "key1", ""), kmstest.DataKey(t))
	kmstest.AsKMSError(t, err, OpWrap, 401)

	// A refused cached token is dropped: the next call gets a new one.
	s.RevokeTokens()
	_, err = p.Unwrap(ctx, testMasterKey(t, s, "key1", v1), material)
	kmstest.AsKMSError(t, err, OpUnwrap, 401)
	if _, err = p.Unwrap(ctx, testMasterKey(t, s, "key1", v1), material); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
}

// TestTokenExpiry: a cached token is used until 5 s before it expires.
func TestTokenExpiry(t *testing.T) {
	s := azuretest.Start(t)
	s.CreateKey(t, "k")
	p := newTestProvider(t, "azure", s, clientCredentials(s))
	now := time.Now()
	p.tokens.Now = func() time.Time { return now }
	ctx := context.Background()
	wrap := func() {
		if _, _, err := p.Wrap(ctx, testMasterKey(t, s, "k", ""), kmstest.DataKey(t)); err != nil {
			t.Fatal(err)
		}
	}
	_, t0 := s.Requests()
	wrap()
	now = now.Add(3590 * time.Second)
	wrap()
	if _, t1 := s.Requests(); t1-t0 != 1 {
		t.Fatalf("%d token requests before expiry", t1-t0)
	}
	now = now.Add(5 * time.Second) // 3595 s: within 5 s of the 3599 s expiry
	wrap()
	if _, t2 := s.Requests(); t2-t0 != 2 {
		t.Fatalf("%d token requests after expiry", t2-t0)
	}
}

// TestIMDS covers on-demand credentials from the instance metadata service, with the cases
// of the specification's prose test 18.
func TestIMDS(t *testing.T) {
	s := azuretest.Start(t)
	s.CreateKey(t, "k")
	imds := s.StartIMDS(t)
	ctx := context.Background()
	newP := func() *Provider {
		p, err := newProvider(kms.Config{Name: "azure", TLS: s.TLSConfig(), Endpoints: map[string]string{EndpointIMDS: imds}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("success", func(t *testing.T) {
		s.ExpiresIn = 70
		defer func() { s.ExpiresIn = 3599 }()
		p := newP()
		now := time.Now()
		p.tokens.Now = func() time.Time { return now }
		_, t0 := s.Requests()
		dek := kmstest.DataKey(t)
		material, stored, err := p.Wrap(ctx, testMasterKey(t, s, "k", ""), dek)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(9 * time.Second)
		if got, err := p.Unwrap(ctx, stored, material); err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("unwrap: %v", err)
		}
		if _, t1 := s.Requests(); t1-t0 != 1 {
			t.Fatalf("%d IMDS requests, want 1 (cached)", t1-t0)
		}
		now = now.Add(2 * time.Second) // 11 s: less than a minute left of 70 s
		if _, err := p.Unwrap(ctx, stored, material); err != nil {
			t.Fatal(err)
		}
		if _, t2 := s.Requests(); t2-t0 != 2 {
			t.Fatalf("%d IMDS requests, want 2", t2-t0)
		}
	})
	for _, tc := range []struct {
		c      string
		status int
		want   string
	}{
		{azuretest.IMDSEmptyJSON, 200, `no field "access_token"`},
		{azuretest.IMDSBadJSON, 200, "not a JSON object"},
		{azuretest.IMDS404, 404, "not found"},
		{azuretest.IMDS500, 500, "internal error"},
		{azuretest.IMDSSlow, 0, "deadline exceeded"},
	} {
		t.Run(tc.c, func(t *testing.T) {
			s.SetIMDSCase(tc.c)
			defer s.SetIMDSCase("")
			old := imdsTimeout
			imdsTimeout = 300 * time.Millisecond
			defer func() { imdsTimeout = old }()
			_, _, err := newP().Wrap(ctx, testMasterKey(t, s, "k", ""), kmstest.DataKey(t))
			ke := kmstest.AsKMSError(t, err, OpCredentials, tc.status)
			if !strings.Contains(ke.Error(), tc.want) || strings.Contains(ke.Error(), "magic-cookie") {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(kms.Config{Name: "azure:named"}); err == nil {
		t.Fatal("on-demand credentials accepted for a named provider")
	}
}

// recorded is an http.RoundTripper answering with libmongocrypt's recorded Azure replies.
type recorded struct {
	t        *testing.T
	requests []string
}

func (rc *recorded) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	rc.requests = append(rc.requests, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization")+" "+string(body))
	file := "encrypt-response.txt"
	switch {
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		file = "oauth-response.txt"
	case strings.HasSuffix(r.URL.Path, "/unwrapkey"):
		file = "decrypt-response.txt"
	}
	b, err := os.ReadFile("testdata/kms-azure/" + file)
	if err != nil {
		rc.t.Fatal(err)
	}
	return http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), r)
}

// TestRecordedReplies parses libmongocrypt's recorded Azure replies, and checks the requests
// against the default identity platform and the vault of the masterKey.
func TestRecordedReplies(t *testing.T) {
	rc := &recorded{t: t}
	p, err := newProvider(kms.Config{Name: "azure", HTTPClient: &http.Client{Transport: rc},
		Credentials: kmstest.Marshal(t, bson.D{{Key: "tenantId", Value: "tid"}, {Key: "clientId", Value: "cid"}, {Key: "clientSecret", Value: "a&b"}})})
	if err != nil {
		t.Fatal(err)
	}
	mk := kmstest.Marshal(t, bson.D{{Key: "keyVaultEndpoint", Value: "key-vault-csfle.vault.azure.net"}, {Key: "keyName", Value: "key-name-csfle"}})
	dek := kmstest.DataKey(t)
	material, _, err := p.Wrap(context.Background(), mk, dek)
	if err != nil {
		t.Fatal(err)
	}
	if len(material) != 256 {
		t.Fatalf("wrapped key of %d bytes", len(material))
	}
	got, err := p.Unwrap(context.Background(), mk, material)
	if err != nil || len(got) != 96 {
		t.Fatalf("unwrap: %d bytes, %v", len(got), err)
	}
	want := []string{
		"POST https://login.microsoftonline.com/tid/oauth2/v2.0/token  client_id=cid&scope=https%3A%2F%2Fvault.azure.net%2F.default&client_secret=a%26b&grant_type=client_credentials",
		"POST https://key-vault-csfle.vault.azure.net/keys/key-name-csfle//wrapkey?api-version=7.1 Bearer test-access-token " + string(keyOpPayload(dek)),
		"POST https://key-vault-csfle.vault.azure.net/keys/key-name-csfle//unwrapkey?api-version=7.1 Bearer test-access-token " + string(keyOpPayload(material)),
	}
	if strings.Join(rc.requests, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests\n%s\nwant\n%s", strings.Join(rc.requests, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(string(keyOpPayload(dek)), `{"alg": "RSA-OAEP-256", "value": "`) {
		t.Fatal("payload format")
	}
}

// TestCredentialErrors covers the credential document rules.
func TestCredentialErrors(t *testing.T) {
	for _, tc := range []struct {
		creds bson.D
		want  string
	}{
		{bson.D{{Key: "accessToken", Value: "t"}, {Key: "tenantId", Value: "x"}}, "unexpected field: 'tenantId'"},
		{bson.D{{Key: "tenantId", Value: "t"}, {Key: "clientId", Value: "c"}}, "expected UTF-8 clientSecret"},
		{bson.D{{Key: "tenantId", Value: 1}}, "expected UTF-8 tenantId"},
		{bson.D{{Key: "tenantId", Value: "t"}, {Key: "clientId", Value: "c"}, {Key: "clientSecret", Value: "s"}, {Key: "identityPlatformEndpoint", Value: "nodot"}}, "invalid endpoint"},
		{bson.D{{Key: "accessToken", Value: ""}}, "empty"},
	} {
		_, err := New(kms.Config{Name: "azure", Credentials: kmstest.Marshal(t, tc.creds)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.creds, err, tc.want)
		}
	}
}

// kekHarness is the provider as kmstest.TestKEK parses masterKeys.
func kekHarness() kmstest.Harness {
	p := &Provider{name: "azure"}
	return kmstest.Harness{
		Type: "azure",
		ParseMasterKey: func(in bson.Raw) (bson.Raw, error) {
			mk, err := p.parseMasterKey(in)
			if err != nil {
				return nil, err
			}
			return mk.stored("azure")
		},
	}
}

// harness describes the provider and the test vault s to the kmstest suite: key "key1" with
// and without its keyVersion; newCreds gives the credentials of each new provider.
func harness(t *testing.T, s *azuretest.Server, newCreds func() bson.D) kmstest.Harness {
	h := kekHarness()
	version := s.CreateKey(t, "key1")
	all := func() int { n, _ := s.Requests(); return n }
	h.Server, h.Requests = s, all
	h.New = func(t *testing.T, name string) kms.Provider { return newTestProvider(t, name, s, newCreds()) }
	h.NewWithoutCA = func(t *testing.T) kms.Provider {
		p, err := newProvider(kms.Config{Name: "azure", Credentials: kmstest.Marshal(t, bson.D{{Key: "accessToken", Value: s.IssueToken()}})})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.MasterKeys = func(endpoint string) []bson.Raw {
		mk := func(version string) bson.Raw {
			d := bson.D{{Key: "keyVaultEndpoint", Value: endpoint}, {Key: "keyName", Value: "key1"}}
			if version != "" {
				d = append(d, bson.E{Key: "keyVersion", Value: version})
			}
			return kmstest.Marshal(t, d)
		}
		return []bson.Raw{mk(""), mk(version)}
	}
	h.MaterialLen = 256
	h.UnwrapOp, h.Retryable = OpUnwrap, kms.RetryableAzure
	h.ErrorBody = `{"error":{"code":"Throttled","message":"later"}}`
	h.BadReplies = func(dek []byte) (map[string]string, string) {
		secret := base64.RawURLEncoding.EncodeToString(dek)
		return map[string]string{
			"malformed JSON":    `{"value": "` + secret,
			"no value":          `{"kid": "x"}`,
			"value not string":  `{"value": 5}`,
			"value not base64":  `{"value": "` + secret + `*"}`,
			"wrong length":      `{"value": "` + secret[:40] + `"}`,
			"empty body":        ``,
			"value wrong case ": `{"Value": "` + secret + `"}`,
		}, secret[:40]
	}
	return h
}

// TestKEKParsing runs the azure cases of libmongocrypt's kek-tests.json.
func TestKEKParsing(t *testing.T) { kmstest.TestKEK(t, kekHarness()) }

// TestConformance runs the kmstest suite against the test vault, with client credentials
// (a token fetched once, then cached) and with a given access token.
func TestConformance(t *testing.T) {
	s := azuretest.Start(t)
	h := harness(t, s, func() bson.D { return clientCredentials(s) })
	h.Tokens = func() int { _, n := s.Requests(); return n }
	t.Run("RoundTrip", func(t *testing.T) { kmstest.TestRoundTrip(t, h) })
	t.Run("Faults", func(t *testing.T) { kmstest.TestFaults(t, h) })
	t.Run("AccessToken", func(t *testing.T) {
		kmstest.TestRoundTrip(t, harness(t, s, func() bson.D { return bson.D{{Key: "accessToken", Value: s.IssueToken()}} }))
	})
}
