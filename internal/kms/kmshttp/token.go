package kmshttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Token is a bearer token and the time after which it is not to be used.
type Token struct {
	Value  string
	Expiry time.Time // zero: never expires
}

// TokenCache keeps bearer tokens by key (a scope) until shortly before they expire. Fetches
// are not serialized: two callers that miss at once both fetch, and the later result is kept,
// as the specification's caching rules allow.
type TokenCache struct {
	mu     sync.Mutex
	tokens map[string]Token
	// Now is the clock; nil means time.Now. Tests replace it.
	Now func() time.Time
}

func (c *TokenCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Get returns the cached token for key, or fetches, caches and returns a new one.
func (c *TokenCache) Get(ctx context.Context, key string, fetch func(ctx context.Context) (Token, error)) (string, error) {
	c.mu.Lock()
	t, ok := c.tokens[key]
	c.mu.Unlock()
	if ok && (t.Expiry.IsZero() || c.now().Before(t.Expiry)) {
		return t.Value, nil
	}
	t, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = make(map[string]Token)
	}
	c.tokens[key] = t
	c.mu.Unlock()
	return t.Value, nil
}

// Forget drops the token cached for key, after a KMS refused it.
func (c *TokenCache) Forget(key string) {
	c.mu.Lock()
	delete(c.tokens, key)
	c.mu.Unlock()
}

// ParseTokenReply reads an OAuth 2.0 token reply {"access_token": "...", "expires_in": N}
// (N a number, or a string of digits as Azure's instance metadata service sends it) and
// returns the token, valid until margin before the reported expiry measured from start.
func ParseTokenReply(body []byte, start time.Time, margin time.Duration) (Token, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return Token{}, fmt.Errorf("malformed token reply: not a JSON object (%d bytes): %s", len(body), jsonErrDetail(err))
	}
	tok, err := ReplyString(body, "access_token")
	if err != nil {
		return Token{}, err
	}
	if tok == "" {
		return Token{}, errors.New("malformed token reply: empty access_token")
	}
	raw, ok := m["expires_in"]
	if !ok {
		return Token{}, errors.New(`malformed token reply: no field "expires_in"`)
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return Token{}, errors.New(`malformed token reply: "expires_in" is neither a number nor a string`)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Token{}, errors.New(`malformed token reply: "expires_in" is not a decimal integer`)
		}
		secs = float64(n)
	}
	if secs <= 0 || math.IsNaN(secs) || secs > 1e9 {
		return Token{}, fmt.Errorf(`malformed token reply: "expires_in" is %v`, secs)
	}
	life := time.Duration(secs*float64(time.Second)) - margin
	if life < 0 {
		life = 0
	}
	return Token{Value: tok, Expiry: start.Add(life)}, nil
}

// TokenRequest is an OAuth 2.0 token request: a form POSTed to URL, answered by a token reply.
type TokenRequest struct {
	Provider  string // for errors
	Op        string // for errors
	URL       string
	Form      string // application/x-www-form-urlencoded body
	Retryable func(status int) bool
	Margin    time.Duration // the token is used until Margin before it expires
}

// FetchToken sends the request with the retry policy of package kms and parses the reply; the
// token's lifetime counts from start, taken before the request. Errors are *kms.Error values.
func FetchToken(ctx context.Context, client *http.Client, r TokenRequest, start time.Time) (Token, error) {
	newReq := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(r.Form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	body, err := kms.Do(ctx, client, kms.Request{Provider: r.Provider, Op: r.Op, New: newReq, Retryable: r.Retryable})
	if err != nil {
		return Token{}, err
	}
	t, err := ParseTokenReply(body, start, r.Margin)
	if err != nil {
		return Token{}, &kms.Error{Provider: r.Provider, Op: r.Op, Status: http.StatusOK, Err: err}
	}
	return t, nil
}
