// Package gcp is the "gcp" KMS provider: data keys are wrapped and unwrapped by Google Cloud
// KMS encrypt and decrypt on a cryptoKey (or a cryptoKeyVersion), as libmongocrypt does it.
//
// # Credentials
//
// The provider's document is either {accessToken} or {email, privateKey, endpoint?}: a
// service account whose PKCS#8 RSA private key (BSON binary, or a base64 string) signs an RS256
// JWT that is exchanged for an access token at https://<endpoint or oauth2.googleapis.com>/token;
// tokens are cached per scope until shortly before they expire. An empty document (for the
// unnamed provider "gcp" only) asks the GCE metadata server for the default service account's
// token when one is first needed (GCE_METADATA_HOST, else metadata.google.internal, header
// Metadata-Flavor: Google); [EndpointMetadata] in [kms.Config.Endpoints] replaces its base URL
// (tests use it).
//
// # Master keys
//
// The masterKey document is {projectId, location, keyRing, keyName, keyVersion?, endpoint?};
// endpoint is a host[:port] that replaces cloudkms.googleapis.com.
package gcp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmshttp"
)

// EndpointMetadata is the key of [kms.Config.Endpoints] that replaces the metadata server's
// base URL (http://metadata.google.internal, or http://$GCE_METADATA_HOST).
const EndpointMetadata = "gcp.metadata"

// Operation names used in [kms.Error].
const (
	OpEncrypt     = "encrypt"
	OpDecrypt     = "decrypt"
	OpToken       = "token"       // service account JWT exchanged for a token
	OpCredentials = "credentials" // metadata server token
)

const (
	defaultAuthHost = "oauth2.googleapis.com"
	defaultKMSHost  = "cloudkms.googleapis.com"
	defaultMetadata = "metadata.google.internal"
	defaultDomain   = "googleapis.com"
	// jwtHeader is base64url({"alg":"RS256","typ":"JWT"}).
	jwtHeader   = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
	jwtLifetime = 5 * time.Minute
	grantType   = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenMargin = 5 * time.Second
	// maxKeyMaterial caps wrapped key material (Cloud KMS ciphertexts of a 96-byte plaintext
	// are under 200 bytes).
	maxKeyMaterial = 4096
)

// metadataTimeout bounds a metadata server request; tests shorten it.
var metadataTimeout = 10 * time.Second

// Provider wraps data keys with Google Cloud KMS.
type Provider struct {
	name        string
	client      *http.Client
	accessToken string
	account     *serviceAccount
	metadataURL string // on demand
	tokens      kmshttp.TokenCache
	now         func() time.Time
}

type serviceAccount struct {
	email    string
	key      *rsa.PrivateKey
	endpoint *kmshttp.Endpoint
}

var _ kms.Provider = (*Provider)(nil)

// New builds the gcp provider named cfg.Name from cfg.
func New(cfg kms.Config) (kms.Provider, error) {
	return newProvider(cfg, os.Getenv)
}

func newProvider(cfg kms.Config, getenv func(string) string) (*Provider, error) {
	client, onDemand, err := kmshttp.Setup(cfg, kms.TypeGCP)
	if err != nil {
		return nil, err
	}
	p := &Provider{name: cfg.Name, client: client, now: time.Now}
	if onDemand {
		host := defaultMetadata
		if h := getenv("GCE_METADATA_HOST"); h != "" {
			host = h
		}
		p.metadataURL = "http://" + host
		if v := cfg.Endpoints[EndpointMetadata]; v != "" {
			p.metadataURL = strings.TrimSuffix(v, "/")
		}
		return p, nil
	}
	d, err := kmshttp.NewDoc(cfg.Credentials, "credentials")
	if err != nil {
		return nil, err
	}
	if tok, ok, err := d.AccessToken(); err != nil {
		return nil, err
	} else if ok {
		p.accessToken = tok
		return p, nil
	}
	a := &serviceAccount{}
	if a.email, err = d.RequiredString("email"); err != nil {
		return nil, err
	}
	der, err := d.RequiredBinary("privateKey")
	if err != nil {
		return nil, err
	}
	if a.endpoint, err = d.OptionalEndpoint("endpoint"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("email", "privateKey", "endpoint"); err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("credentials: privateKey is not a PKCS#8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("credentials: privateKey is a %T, not an RSA key", k)
	}
	a.key = rk
	p.account = a
	return p, nil
}

// Name returns the provider name: "gcp" or "gcp:<name>".
func (p *Provider) Name() string { return p.name }

type masterKey struct {
	projectID, location, keyRing, keyName string
	keyVersion                            string
	hasVersion                            bool
	endpoint                              *kmshttp.Endpoint
}

func (p *Provider) parseMasterKey(raw bson.Raw) (*masterKey, error) {
	d, err := kmshttp.MasterKeyDoc(raw, p.name)
	if err != nil {
		return nil, err
	}
	var mk masterKey
	if mk.endpoint, err = d.OptionalEndpoint("endpoint"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"projectId", &mk.projectID}, {"location", &mk.location}, {"keyRing", &mk.keyRing}, {"keyName", &mk.keyName}} {
		if *f.dst, err = d.RequiredString(f.key); err != nil {
			return nil, err
		}
	}
	if mk.keyVersion, mk.hasVersion, err = d.OptionalString("keyVersion"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("provider", "endpoint", "projectId", "location", "keyRing", "keyName", "keyVersion"); err != nil {
		return nil, err
	}
	return &mk, nil
}

// stored is the document libmongocrypt writes: {provider, projectId, location, keyRing,
// keyName, keyVersion?, endpoint?}.
func (mk *masterKey) stored(provider string) (bson.Raw, error) {
	d := bson.D{{Key: "provider", Value: provider}, {Key: "projectId", Value: mk.projectID},
		{Key: "location", Value: mk.location}, {Key: "keyRing", Value: mk.keyRing}, {Key: "keyName", Value: mk.keyName}}
	if mk.hasVersion {
		d = append(d, bson.E{Key: "keyVersion", Value: mk.keyVersion})
	}
	if mk.endpoint != nil {
		d = append(d, bson.E{Key: "endpoint", Value: mk.endpoint.HostAndPort()})
	}
	return bson.Marshal(d)
}

// checkIdentifier refuses identifiers that are not RFC 3986 unreserved characters: they are
// path segments of the request.
func checkIdentifier(name, v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("masterKey: invalid character in GCP KMS key identifier %s", name)
		}
	}
	return nil
}

// path is /v1/projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}[/cryptoKeyVersions/{v}]:{op};
// the version is only used to encrypt.
func (mk *masterKey) path(op string) (string, error) {
	ids := [][2]string{{"projectId", mk.projectID}, {"location", mk.location}, {"keyRing", mk.keyRing}, {"keyName", mk.keyName}}
	withVersion := op == OpEncrypt && mk.keyVersion != ""
	if withVersion {
		ids = append(ids, [2]string{"keyVersion", mk.keyVersion})
	}
	for _, id := range ids {
		if err := checkIdentifier(id[0], id[1]); err != nil {
			return "", err
		}
	}
	s := "/v1/projects/" + mk.projectID + "/locations/" + mk.location + "/keyRings/" + mk.keyRing + "/cryptoKeys/" + mk.keyName
	if withVersion {
		s += "/cryptoKeyVersions/" + mk.keyVersion
	}
	return s + ":" + op, nil
}

func (p *Provider) fail(op string, status int, err error) error {
	return &kms.Error{Provider: p.name, Op: op, Status: status, Err: err}
}

// Wrap encrypts dek with the cryptoKey and returns the ciphertext.
func (p *Provider) Wrap(ctx context.Context, masterKeyDoc bson.Raw, dek []byte) ([]byte, bson.Raw, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, nil, p.fail(OpEncrypt, 0, err)
	}
	if len(dek) == 0 {
		return nil, nil, p.fail(OpEncrypt, 0, errors.New("empty data key"))
	}
	stored, err := mk.stored(p.name)
	if err != nil {
		return nil, nil, p.fail(OpEncrypt, 0, err)
	}
	out, err := p.call(ctx, mk, OpEncrypt, `{"plaintext": "`+base64.StdEncoding.EncodeToString(dek)+`"}`, "ciphertext")
	if err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		return nil, nil, p.fail(OpEncrypt, http.StatusOK, errors.New("malformed reply: empty ciphertext"))
	}
	return out, stored, nil
}

// Unwrap decrypts keyMaterial with the cryptoKey.
func (p *Provider) Unwrap(ctx context.Context, masterKeyDoc bson.Raw, keyMaterial []byte) ([]byte, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, p.fail(OpDecrypt, 0, err)
	}
	if len(keyMaterial) == 0 || len(keyMaterial) > maxKeyMaterial {
		return nil, p.fail(OpDecrypt, 0, fmt.Errorf("key material of %d bytes: want 1..%d", len(keyMaterial), maxKeyMaterial))
	}
	dek, err := p.call(ctx, mk, OpDecrypt, `{"ciphertext": "`+base64.StdEncoding.EncodeToString(keyMaterial)+`"}`, "plaintext")
	if err != nil {
		return nil, err
	}
	if len(dek) != kms.DataKeyLen {
		return nil, p.fail(OpDecrypt, http.StatusOK, fmt.Errorf("malformed reply: decrypted data key has %d bytes, want %d", len(dek), kms.DataKeyLen))
	}
	return dek, nil
}

func (p *Provider) call(ctx context.Context, mk *masterKey, op, payload, resultField string) ([]byte, error) {
	path, err := mk.path(op)
	if err != nil {
		return nil, p.fail(op, 0, err)
	}
	host, domain := defaultKMSHost, defaultDomain
	if mk.endpoint != nil {
		host, domain = mk.endpoint.HostAndPort(), mk.endpoint.Domain
	}
	scope := "https://www." + domain + "/auth/cloudkms"
	token, cacheKey, err := p.token(ctx, scope)
	if err != nil {
		return nil, err
	}
	u := "https://" + host + path
	newReq := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	body, err := kms.Do(ctx, p.client, kms.Request{Provider: p.name, Op: op, New: newReq, Retryable: kms.RetryableGCP})
	if err != nil {
		var ke *kms.Error
		if cacheKey != "" && errors.As(err, &ke) && ke.Status == http.StatusUnauthorized {
			p.tokens.Forget(cacheKey)
		}
		return nil, err
	}
	return decodeResult(p.name, op, body, resultField)
}

// decodeResult reads the base64 string field of an encrypt or decrypt reply.
func decodeResult(provider, op string, body []byte, field string) ([]byte, error) {
	s, err := kmshttp.ReplyString(body, field)
	if err == nil {
		var out []byte
		if out, err = base64.StdEncoding.DecodeString(s); err == nil {
			return out, nil
		}
		err = fmt.Errorf("malformed reply: %s is not valid base64", field)
	}
	return nil, &kms.Error{Provider: provider, Op: op, Status: http.StatusOK, Err: err}
}

func (p *Provider) token(ctx context.Context, scope string) (string, string, error) {
	switch {
	case p.accessToken != "":
		return p.accessToken, "", nil
	case p.account != nil:
		t, err := p.tokens.Get(ctx, scope, func(ctx context.Context) (kmshttp.Token, error) {
			return p.serviceAccountToken(ctx, scope)
		})
		return t, scope, err
	default:
		const key = "metadata"
		t, err := p.tokens.Get(ctx, key, p.metadataToken)
		return t, key, err
	}
}

// jwt returns the signed assertion
//
//	base64url(header) . base64url(claims) . base64url(RS256 signature)
//
// with claims {"iss": email, "aud": "https://<auth host>/token", "scope": scope, "iat", "exp"}.
func (a *serviceAccount) jwt(audience, scope string, now time.Time) (string, error) {
	iat := now.Unix()
	claims := `{"iss": ` + jsonString(a.email) + `, "aud": ` + jsonString(audience) + `, "scope": ` + jsonString(scope) +
		`, "iat": ` + strconv.FormatInt(iat, 10) + `, "exp": ` + strconv.FormatInt(iat+int64(jwtLifetime/time.Second), 10) + `}`
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the JWT: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jsonString encodes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// serviceAccountToken exchanges a signed JWT for an access token:
//
//	POST /token
//	grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<JWT>
func (p *Provider) serviceAccountToken(ctx context.Context, scope string) (kmshttp.Token, error) {
	a := p.account
	hostPort, host := defaultAuthHost, defaultAuthHost
	if a.endpoint != nil {
		hostPort, host = a.endpoint.HostAndPort(), a.endpoint.Host
	}
	u := "https://" + hostPort + "/token"
	start := p.now()
	assertion, err := a.jwt("https://"+host+"/token", scope, start)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpToken, 0, err)
	}
	form := "grant_type=" + url.QueryEscape(grantType) + "&assertion=" + url.QueryEscape(assertion)
	return kmshttp.FetchToken(ctx, p.client, kmshttp.TokenRequest{
		Provider: p.name, Op: OpToken, URL: u, Form: form, Retryable: kms.RetryableGCP, Margin: tokenMargin,
	}, start)
}

// metadataToken asks the metadata server for the default service account's token:
//
//	GET /computeMetadata/v1/instance/service-accounts/default/token
//	Metadata-Flavor: Google
func (p *Provider) metadataToken(ctx context.Context) (kmshttp.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metadataURL+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, 0, err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, 0, fmt.Errorf("GCP metadata server: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("GCP metadata server: reading the reply: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("GCP metadata server: %s", kms.ReplyExcerpt(resp.StatusCode, body)))
	}
	t, err := kmshttp.ParseTokenReply(body, start, tokenMargin)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("GCP metadata server: %w", err))
	}
	return t, nil
}

// CloseIdleConnections closes the connections kept open to the KMS between requests.
func (p *Provider) CloseIdleConnections() { p.client.CloseIdleConnections() }
