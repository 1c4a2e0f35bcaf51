package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Defaults of the on-demand credential services.
const (
	defaultSTS = "https://sts.amazonaws.com"
	defaultECS = "http://169.254.170.2"
	defaultEC2 = "http://169.254.169.254"

	// expiryWindow: fetched credentials are used until this long before they expire.
	expiryWindow = 5 * time.Minute
	// ec2TokenTTL is the lifetime asked of an IMDSv2 session token, in seconds.
	ec2TokenTTL = "30"
	// maxCredentialReply caps credential service replies.
	maxCredentialReply = 64 << 10
)

// metadataTimeout bounds each request to STS, ECS and EC2 metadata; tests shorten it.
var metadataTimeout = 10 * time.Second

// credentialChain fetches credentials on demand: the caller's provider when set, else the
// environment, web identity, ECS or EC2, caching what can expire.
type credentialChain struct {
	client    *http.Client
	custom    options.AWSCredentialsProvider
	endpoints map[string]string
	getenv    func(string) string
	readFile  func(string) ([]byte, error)
	now       func() time.Time

	mu     sync.Mutex
	cached *Credentials
}

func newCredentialChain(client *http.Client, custom options.AWSCredentialsProvider, endpoints map[string]string, getenv func(string) string) *credentialChain {
	return &credentialChain{client: client, custom: custom, endpoints: endpoints, getenv: getenv, readFile: os.ReadFile, now: time.Now}
}

func (c *credentialChain) endpoint(key, def string) string {
	if v, ok := c.endpoints[key]; ok && v != "" {
		return strings.TrimSuffix(v, "/")
	}
	return def
}

func (c *credentialChain) forget() {
	c.mu.Lock()
	c.cached = nil
	c.mu.Unlock()
}

// get returns credentials, fetching them when none are cached or the cached ones expire
// within the expiry window.
func (c *credentialChain) get(ctx context.Context) (*Credentials, error) {
	if c.custom != nil {
		v, err := c.custom.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("custom AWS credentials provider: %w", err)
		}
		if v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return nil, errors.New("custom AWS credentials provider returned no access key")
		}
		return &Credentials{AccessKeyID: v.AccessKeyID, SecretAccessKey: v.SecretAccessKey, SessionToken: v.SessionToken, Expires: v.Expires}, nil
	}
	c.mu.Lock()
	cached := c.cached
	c.mu.Unlock()
	if cached != nil && (cached.Expires.IsZero() || c.now().Add(expiryWindow).Before(cached.Expires)) {
		return cached, nil
	}
	// The environment is read each time and never cached.
	if cr, ok, err := c.fromEnv(); ok || err != nil {
		return cr, err
	}
	var cr *Credentials
	var err error
	switch {
	case c.getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" || c.getenv("AWS_ROLE_ARN") != "":
		cr, err = c.fromWebIdentity(ctx)
	case c.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "":
		cr, err = c.fromECS(ctx)
	default:
		cr, err = c.fromEC2(ctx)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cached = cr
	c.mu.Unlock()
	return cr, nil
}

func (c *credentialChain) fromEnv() (*Credentials, bool, error) {
	id, secret := c.getenv("AWS_ACCESS_KEY_ID"), c.getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id == "" && secret == "":
		return nil, false, nil
	case id == "":
		return nil, false, errors.New("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	case secret == "":
		return nil, false, errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	}
	return &Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: c.getenv("AWS_SESSION_TOKEN")}, true, nil
}

// fetch sends req with the metadata timeout and returns the body of a 200 reply. Errors name
// the service and the status, never the body of a 2xx reply (it may hold secrets).
func (c *credentialChain) fetch(ctx context.Context, what string, req *http.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCredentialReply+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the reply: %w", what, err)
	}
	if len(body) > maxCredentialReply {
		return nil, fmt.Errorf("%s: reply longer than %d bytes", what, maxCredentialReply)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, kms.ReplyExcerpt(resp.StatusCode, body))
	}
	return body, nil
}

// fromWebIdentity exchanges the web identity token for credentials with STS
// AssumeRoleWithWebIdentity.
func (c *credentialChain) fromWebIdentity(ctx context.Context) (*Credentials, error) {
	const what = "STS AssumeRoleWithWebIdentity"
	tokenFile, roleARN := c.getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), c.getenv("AWS_ROLE_ARN")
	if tokenFile == "" || roleARN == "" {
		return nil, fmt.Errorf("%s: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must both be set", what)
	}
	token, err := c.readFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("%s: reading AWS_WEB_IDENTITY_TOKEN_FILE: %w", what, err)
	}
	session := c.getenv("AWS_ROLE_SESSION_NAME")
	if session == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		session = "mongocrypt-" + hex.EncodeToString(b[:])
	}
	q := url.Values{}
	q.Set("Action", "AssumeRoleWithWebIdentity")
	q.Set("RoleSessionName", session)
	q.Set("RoleArn", roleARN)
	q.Set("WebIdentityToken", strings.TrimSpace(string(token)))
	q.Set("Version", "2011-06-15")
	req, err := http.NewRequest(http.MethodPost, c.endpoint(EndpointSTS, defaultSTS)+"/?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	body, err := c.fetch(ctx, what, req)
	if err != nil {
		return nil, err
	}
	return parseSTSReply(what, body)
}

// parseSTSReply reads an AssumeRoleWithWebIdentity JSON reply:
//
//	{"AssumeRoleWithWebIdentityResponse": {"AssumeRoleWithWebIdentityResult": {"Credentials":
//	    {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}}}}
func parseSTSReply(what string, body []byte) (*Credentials, error) {
	var r struct {
		Response struct {
			Result struct {
				Credentials struct {
					AccessKeyID     string          `json:"AccessKeyId"`
					SecretAccessKey string          `json:"SecretAccessKey"`
					SessionToken    string          `json:"SessionToken"`
					Expiration      json.RawMessage `json:"Expiration"`
				} `json:"Credentials"`
			} `json:"AssumeRoleWithWebIdentityResult"`
		} `json:"AssumeRoleWithWebIdentityResponse"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: malformed reply: %w", what, err)
	}
	rc := r.Response.Result.Credentials
	return checkFetched(what, rc.AccessKeyID, rc.SecretAccessKey, rc.SessionToken, rc.Expiration)
}

// fromECS reads the ECS container credentials endpoint.
func (c *credentialChain) fromECS(ctx context.Context) (*Credentials, error) {
	const what = "ECS container credentials"
	rel := c.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	req, err := http.NewRequest(http.MethodGet, c.endpoint(EndpointECS, defaultECS)+rel, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	body, err := c.fetch(ctx, what, req)
	if err != nil {
		return nil, err
	}
	return parseInstanceCredentials(what, body)
}

// fromEC2 reads the instance role's credentials from IMDSv2: a session token (PUT), the role
// name, then the role's credentials.
func (c *credentialChain) fromEC2(ctx context.Context) (*Credentials, error) {
	const what = "EC2 instance metadata"
	base := c.endpoint(EndpointEC2, defaultEC2)
	req, err := http.NewRequest(http.MethodPut, base+"/latest/api/token", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", ec2TokenTTL)
	token, err := c.fetch(ctx, what+" token", req)
	if err != nil {
		return nil, err
	}
	if len(token) == 0 {
		return nil, fmt.Errorf("%s: empty session token", what)
	}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		req.Header.Set("X-aws-ec2-metadata-token", string(token))
		return c.fetch(ctx, what, req)
	}
	const rolePath = "/latest/meta-data/iam/security-credentials/"
	role, err := get(rolePath)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(strings.SplitN(string(role), "\n", 2)[0])
	if name == "" || strings.ContainsAny(name, "/?#") {
		return nil, fmt.Errorf("%s: no usable IAM role name", what)
	}
	body, err := get(rolePath + url.PathEscape(name))
	if err != nil {
		return nil, err
	}
	return parseInstanceCredentials(what, body)
}

// parseInstanceCredentials reads the ECS and EC2 reply
// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}.
func parseInstanceCredentials(what string, body []byte) (*Credentials, error) {
	var r struct {
		AccessKeyID     string          `json:"AccessKeyId"`
		SecretAccessKey string          `json:"SecretAccessKey"`
		Token           string          `json:"Token"`
		Expiration      json.RawMessage `json:"Expiration"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: malformed reply: %w", what, err)
	}
	return checkFetched(what, r.AccessKeyID, r.SecretAccessKey, r.Token, r.Expiration)
}

// checkFetched builds credentials from a service reply. Expiration is an RFC 3339 string or
// a number of seconds since the epoch; absent means no expiry.
func checkFetched(what, id, secret, token string, expiration json.RawMessage) (*Credentials, error) {
	if id == "" || secret == "" {
		return nil, fmt.Errorf("%s: malformed reply: no AccessKeyId or SecretAccessKey", what)
	}
	c := &Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
	if len(expiration) > 0 && string(expiration) != "null" {
		var s string
		var n float64
		switch {
		case json.Unmarshal(expiration, &s) == nil:
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, fmt.Errorf("%s: malformed reply: Expiration %q is not an RFC 3339 time", what, s)
			}
			c.Expires = t
		case json.Unmarshal(expiration, &n) == nil && n > 0 && n < math.MaxInt32*4:
			c.Expires = time.Unix(int64(n), 0)
		default:
			return nil, fmt.Errorf("%s: malformed reply: Expiration is neither a time nor a number of seconds", what)
		}
	}
	return c, nil
}
