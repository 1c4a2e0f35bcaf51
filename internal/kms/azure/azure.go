// Package azure is the "azure" KMS provider: data keys are wrapped and unwrapped by Azure Key
// Vault's wrapkey and unwrapkey operations with RSA-OAEP-256, as libmongocrypt does it.
//
// # Credentials
//
// The provider's document is either {accessToken} or {tenantId, clientId, clientSecret,
// identityPlatformEndpoint?}: a client-credentials token is then requested from the
// Microsoft identity platform (login.microsoftonline.com unless identityPlatformEndpoint names
// another host) for the scope of the key vault's domain, and cached until shortly before it
// expires. An empty document (for the unnamed provider "azure" only) asks for a managed
// identity token from the Azure Instance Metadata Service (IMDS) when one is first needed,
// cached until a minute before it expires; [EndpointIMDS] in [kms.Config.Endpoints] replaces
// the IMDS address (tests use it).
//
// # Master keys
//
// The masterKey document is {keyVaultEndpoint, keyName, keyVersion?}: keyVaultEndpoint is
// host[:port] ("example.vault.azure.net"); without keyVersion the key's current version is
// used.
package azure

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmshttp"
)

// EndpointIMDS is the key of [kms.Config.Endpoints] that replaces http://169.254.169.254, the
// Azure Instance Metadata Service.
const EndpointIMDS = "azure.imds"

// Operation names used in [kms.Error].
const (
	OpWrap        = "wrapkey"
	OpUnwrap      = "unwrapkey"
	OpToken       = "token"       // identity platform client-credentials token
	OpCredentials = "credentials" // IMDS managed identity token
)

const (
	defaultIdentityPlatform = "login.microsoftonline.com"
	defaultIMDS             = "http://169.254.169.254"
	defaultVaultDomain      = "vault.azure.net"
	apiVersion              = "7.1"
	algorithm               = "RSA-OAEP-256"
	// tokenMargin: identity platform tokens are used until this long before they expire
	// (libmongocrypt's OAuth cache margin).
	tokenMargin = 5 * time.Second
	// imdsMargin: IMDS tokens are used while more than a minute remains (the specification).
	imdsMargin = time.Minute
	// maxKeyMaterial caps wrapped key material (an RSA-16384 ciphertext is 2 KiB).
	maxKeyMaterial = 4096
)

// imdsTimeout bounds an IMDS request, as the specification requires; tests shorten it.
var imdsTimeout = 10 * time.Second

// Provider wraps data keys with Azure Key Vault.
type Provider struct {
	name        string
	client      *http.Client
	accessToken string       // given token, or ""
	creds       *clientCreds // client credentials, or nil
	imdsURL     string       // IMDS base URL when credentials are fetched on demand
	tokens      kmshttp.TokenCache
}

type clientCreds struct {
	tenantID, clientID, clientSecret string
	identityPlatform                 *kmshttp.Endpoint
}

var _ kms.Provider = (*Provider)(nil)

// New builds the azure provider named cfg.Name from cfg.
func New(cfg kms.Config) (kms.Provider, error) {
	return newProvider(cfg)
}

func newProvider(cfg kms.Config) (*Provider, error) {
	client, onDemand, err := kmshttp.Setup(cfg, kms.TypeAzure)
	if err != nil {
		return nil, err
	}
	p := &Provider{name: cfg.Name, client: client}
	if onDemand {
		p.imdsURL = defaultIMDS
		if v := cfg.Endpoints[EndpointIMDS]; v != "" {
			p.imdsURL = strings.TrimSuffix(v, "/")
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
	c := &clientCreds{}
	if c.tenantID, err = d.RequiredString("tenantId"); err != nil {
		return nil, err
	}
	if c.clientID, err = d.RequiredString("clientId"); err != nil {
		return nil, err
	}
	if c.clientSecret, err = d.RequiredString("clientSecret"); err != nil {
		return nil, err
	}
	if c.identityPlatform, err = d.OptionalEndpoint("identityPlatformEndpoint"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("tenantId", "clientId", "clientSecret", "identityPlatformEndpoint"); err != nil {
		return nil, err
	}
	p.creds = c
	return p, nil
}

// Name returns the provider name: "azure" or "azure:<name>".
func (p *Provider) Name() string { return p.name }

type masterKey struct {
	vault   *kmshttp.Endpoint
	name    string
	version string
	hasVer  bool
}

func (p *Provider) parseMasterKey(raw bson.Raw) (*masterKey, error) {
	d, err := kmshttp.MasterKeyDoc(raw, p.name)
	if err != nil {
		return nil, err
	}
	var mk masterKey
	if mk.vault, err = d.RequiredEndpoint("keyVaultEndpoint"); err != nil {
		return nil, err
	}
	if mk.name, err = d.RequiredString("keyName"); err != nil {
		return nil, err
	}
	if mk.version, mk.hasVer, err = d.OptionalString("keyVersion"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("provider", "keyVaultEndpoint", "keyName", "keyVersion"); err != nil {
		return nil, err
	}
	return &mk, nil
}

// stored is the document libmongocrypt writes: {provider, keyVaultEndpoint, keyName,
// keyVersion?}.
func (mk *masterKey) stored(provider string) (bson.Raw, error) {
	d := bson.D{{Key: "provider", Value: provider}, {Key: "keyVaultEndpoint", Value: mk.vault.HostAndPort()}, {Key: "keyName", Value: mk.name}}
	if mk.hasVer {
		d = append(d, bson.E{Key: "keyVersion", Value: mk.version})
	}
	return bson.Marshal(d)
}

func (p *Provider) fail(op string, status int, err error) error {
	return &kms.Error{Provider: p.name, Op: op, Status: status, Err: err}
}

// Wrap wraps dek with the vault key and returns the wrapped key.
func (p *Provider) Wrap(ctx context.Context, masterKeyDoc bson.Raw, dek []byte) ([]byte, bson.Raw, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, nil, p.fail(OpWrap, 0, err)
	}
	if len(dek) == 0 {
		return nil, nil, p.fail(OpWrap, 0, errors.New("empty data key"))
	}
	stored, err := mk.stored(p.name)
	if err != nil {
		return nil, nil, p.fail(OpWrap, 0, err)
	}
	out, err := p.call(ctx, mk, OpWrap, dek)
	if err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		return nil, nil, p.fail(OpWrap, http.StatusOK, errors.New("malformed reply: empty value"))
	}
	return out, stored, nil
}

// Unwrap unwraps keyMaterial with the vault key.
func (p *Provider) Unwrap(ctx context.Context, masterKeyDoc bson.Raw, keyMaterial []byte) ([]byte, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, p.fail(OpUnwrap, 0, err)
	}
	if len(keyMaterial) == 0 || len(keyMaterial) > maxKeyMaterial {
		return nil, p.fail(OpUnwrap, 0, fmt.Errorf("key material of %d bytes: want 1..%d", len(keyMaterial), maxKeyMaterial))
	}
	dek, err := p.call(ctx, mk, OpUnwrap, keyMaterial)
	if err != nil {
		return nil, err
	}
	if len(dek) != kms.DataKeyLen {
		return nil, p.fail(OpUnwrap, http.StatusOK, fmt.Errorf("malformed reply: unwrapped data key has %d bytes, want %d", len(dek), kms.DataKeyLen))
	}
	return dek, nil
}

// keyOpURL is https://<vault>/keys/<name>/<version>/<op>?api-version=7.1 (version may be
// empty, leaving "//" as libmongocrypt sends it).
func keyOpURL(mk *masterKey, op string) string {
	return "https://" + mk.vault.HostAndPort() + "/keys/" + url.PathEscape(mk.name) + "/" + url.PathEscape(mk.version) + "/" + op + "?api-version=" + apiVersion
}

// keyOpPayload is the body of wrapkey and unwrapkey:
//
//	{"alg": "RSA-OAEP-256", "value": "<base64url value>"}
func keyOpPayload(value []byte) []byte {
	return []byte(`{"alg": "` + algorithm + `", "value": "` + base64.RawURLEncoding.EncodeToString(value) + `"}`)
}

func (p *Provider) call(ctx context.Context, mk *masterKey, op string, value []byte) ([]byte, error) {
	scope := "https://" + defaultVaultDomain + "/.default"
	if mk.vault.Domain != "" {
		scope = "https://" + mk.vault.Domain + "/.default"
	}
	token, cacheKey, err := p.token(ctx, scope)
	if err != nil {
		return nil, err
	}
	payload := keyOpPayload(value)
	u := keyOpURL(mk, op)
	newReq := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	body, err := kms.Do(ctx, p.client, kms.Request{Provider: p.name, Op: op, New: newReq, Retryable: kms.RetryableAzure})
	if err != nil {
		var ke *kms.Error
		if cacheKey != "" && errors.As(err, &ke) && ke.Status == http.StatusUnauthorized {
			p.tokens.Forget(cacheKey)
		}
		return nil, err
	}
	return decodeResult(p.name, op, body)
}

// decodeResult reads the base64url "value" of a wrapkey or unwrapkey reply.
func decodeResult(provider, op string, body []byte) ([]byte, error) {
	s, err := kmshttp.ReplyString(body, "value")
	if err == nil {
		var out []byte
		out, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err == nil {
			return out, nil
		}
		err = errors.New("malformed reply: value is not valid base64url")
	}
	return nil, &kms.Error{Provider: provider, Op: op, Status: http.StatusOK, Err: err}
}

// token returns the bearer token for scope and the key it is cached under ("" when given).
func (p *Provider) token(ctx context.Context, scope string) (string, string, error) {
	switch {
	case p.accessToken != "":
		return p.accessToken, "", nil
	case p.creds != nil:
		t, err := p.tokens.Get(ctx, scope, func(ctx context.Context) (kmshttp.Token, error) {
			return p.clientCredentialsToken(ctx, scope)
		})
		return t, scope, err
	default:
		const key = "imds"
		t, err := p.tokens.Get(ctx, key, p.imdsToken)
		return t, key, err
	}
}

// clientCredentialsToken asks the identity platform for a token:
//
//	POST /<tenant>/oauth2/v2.0/token
//	client_id=...&scope=...&client_secret=...&grant_type=client_credentials
func (p *Provider) clientCredentialsToken(ctx context.Context, scope string) (kmshttp.Token, error) {
	c := p.creds
	host := defaultIdentityPlatform
	if c.identityPlatform != nil {
		host = c.identityPlatform.HostAndPort()
	}
	u := "https://" + host + "/" + url.PathEscape(c.tenantID) + "/oauth2/v2.0/token"
	form := "client_id=" + url.QueryEscape(c.clientID) + "&scope=" + url.QueryEscape(scope) +
		"&client_secret=" + url.QueryEscape(c.clientSecret) + "&grant_type=client_credentials"
	return kmshttp.FetchToken(ctx, p.client, kmshttp.TokenRequest{
		Provider: p.name, Op: OpToken, URL: u, Form: form, Retryable: kms.RetryableAzure, Margin: tokenMargin,
	}, time.Now())
}

// imdsToken asks IMDS for a managed identity token for Key Vault:
//
//	GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net/
//	Metadata: true
func (p *Provider) imdsToken(ctx context.Context) (kmshttp.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, imdsTimeout)
	defer cancel()
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://" + defaultVaultDomain + "/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.imdsURL+"/metadata/identity/oauth2/token?"+q.Encode(), nil)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, 0, err)
	}
	req.Header.Set("Metadata", "true")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, 0, fmt.Errorf("the Azure IMDS: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("the Azure IMDS: reading the reply: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("the Azure IMDS: %s", kms.ReplyExcerpt(resp.StatusCode, body)))
	}
	t, err := kmshttp.ParseTokenReply(body, start, imdsMargin)
	if err != nil {
		return kmshttp.Token{}, p.fail(OpCredentials, resp.StatusCode, fmt.Errorf("the Azure IMDS: %w", err))
	}
	return t, nil
}

// CloseIdleConnections closes the connections kept open to the KMS between requests.
func (p *Provider) CloseIdleConnections() { p.client.CloseIdleConnections() }
