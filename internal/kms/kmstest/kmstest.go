// Package kmstest is the conformance suite of the HTTP KMS providers (aws, azure, gcp): each
// provider's tests describe the provider and its test server in a [Harness] and run
// [TestKEK] (libmongocrypt's kek-tests.json), [TestRoundTrip] and [TestFaults] on it. It also
// holds the helpers those tests share.
package kmstest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// kekTests is libmongocrypt's test/data/kek-tests.json (testdata/SOURCE.txt).
//
//go:embed testdata/kek-tests.json
var kekTests []byte

// Server is what the suite needs of a provider's test server.
type Server interface {
	// Endpoint is the server's host:port.
	Endpoint() string
	// Before installs a hook run before each request; when it returns true the request is
	// answered. nil removes it.
	Before(f func(w http.ResponseWriter, r *http.Request) bool)
}

// Harness describes a provider to the suite.
type Harness struct {
	// Type is the provider type: "aws", "azure" or "gcp".
	Type string

	// ParseMasterKey parses a masterKey document as the provider does before it sends
	// anything, and returns the masterKey document it stores in a key document for the
	// provider named Type. TestKEK needs only this.
	ParseMasterKey func(masterKey bson.Raw) (stored bson.Raw, err error)
	// CheckParsedKEK, when set, checks more of each kek-tests.json masterKey that parses.
	CheckParsedKEK func(t *testing.T, masterKey bson.Raw)

	// Server is the provider's test server.
	Server Server
	// Requests returns how many requests reached Server, token requests included.
	Requests func() int
	// Tokens, when set, returns how many token requests reached Server: the provider fetches
	// an access token from it, once for all operations.
	Tokens func() int
	// New returns a new provider named name with credentials for Server, trusting its
	// certificate.
	New func(t *testing.T, name string) kms.Provider
	// NewWithoutCA returns a provider with credentials for Server that does not trust its
	// certificate (and needs no token from it).
	NewWithoutCA func(t *testing.T) kms.Provider
	// MasterKeys returns the masterKey documents of keys on Server at endpoint (host:port)
	// that the round trip runs on; the first is the one the faults use.
	MasterKeys func(endpoint string) []bson.Raw
	// MaterialLen is the length of the wrapped key material, 0 when it is not fixed.
	MaterialLen int

	// UnwrapOp is the Op of the errors of Unwrap.
	UnwrapOp string
	// Retryable reports whether the provider retries a reply of this HTTP status.
	Retryable func(status int) bool
	// ErrorBody is an error reply body as the provider's KMS writes it.
	ErrorBody string
	// BadReplies returns 200 reply bodies of an unwrap of dek that Unwrap must refuse, by name,
	// and the text of dek that none of the errors may hold.
	BadReplies func(dek []byte) (bodies map[string]string, secret string)
}

// Marshal returns the BSON document of v.
func Marshal(t testing.TB, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DataKey returns a random data key.
func DataKey(t testing.TB) []byte {
	t.Helper()
	dek := make([]byte, kms.DataKeyLen)
	if _, err := rand.Read(dek); err != nil {
		t.Fatal(err)
	}
	return dek
}

// AsKMSError checks that err is a *kms.Error of op with the HTTP status (0: none) and returns
// it.
func AsKMSError(t testing.TB, err error, op string, status int) *kms.Error {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T) is not a *kms.Error", err, err)
	}
	if ke.Op != op || ke.Status != status {
		t.Fatalf("error %q: op %q status %d, want op %q status %d", err, ke.Op, ke.Status, op, status)
	}
	return ke
}

// TestKEK runs the cases of libmongocrypt's kek-tests.json for h.Type: each must fail with
// the expected error text or parse, and a parsed masterKey is stored field for field as
// given.
func TestKEK(t *testing.T, h Harness) {
	var raw []json.RawMessage
	if err := json.Unmarshal(kekTests, &raw); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range raw {
		var tc struct {
			Input  bson.D
			Expect string
		}
		if err := bson.UnmarshalExtJSON(r, false, &tc); err != nil {
			t.Fatal(err)
		}
		in := Marshal(t, tc.Input)
		if prov, _ := kms.ProviderOf(in); prov != h.Type {
			continue
		}
		n++
		stored, err := h.ParseMasterKey(in)
		if tc.Expect != "ok" {
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.Expect)) {
				t.Errorf("%s: err %v, want %q", in, err, tc.Expect)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		var got, want bson.M
		if err := bson.Unmarshal(stored, &got); err != nil {
			t.Fatalf("stored %x: %v", stored, err)
		}
		if err := bson.Unmarshal(in, &want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("stored %s for input %s", stored, in)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("stored %s for input %s: field %s", stored, in, k)
			}
		}
		if h.CheckParsedKEK != nil {
			h.CheckParsedKEK(t, in)
		}
	}
	if n != 4 {
		t.Fatalf("%d %s cases in kek-tests.json, want 4", n, h.Type)
	}
}

// storedWant is the masterKey a provider named name stores for masterKey: "provider" first,
// then the fields as given.
func storedWant(t *testing.T, name string, masterKey bson.Raw) bson.Raw {
	t.Helper()
	elems, err := masterKey.Elements()
	if err != nil {
		t.Fatal(err)
	}
	d := bson.D{{Key: "provider", Value: name}}
	for _, e := range elems {
		d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return Marshal(t, d)
}

// TestRoundTrip wraps a data key with new providers named h.Type and h.Type+":prod" under
// each of h's masterKeys and unwraps it: the stored masterKey is the given one with
// "provider", the material has h.MaterialLen bytes, a provider fetching tokens fetches one for
// both operations, and another provider with the same credentials unwraps the key too.
func TestRoundTrip(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, name := range []string{h.Type, h.Type + ":prod"} {
		for i, mk := range h.MasterKeys(h.Server.Endpoint()) {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				p := h.New(t, name)
				tokens0 := 0
				if h.Tokens != nil {
					tokens0 = h.Tokens()
				}
				dek := DataKey(t)
				material, stored, err := p.Wrap(ctx, mk, dek)
				if err != nil {
					t.Fatal(err)
				}
				if want := storedWant(t, name, mk); !bytes.Equal(stored, want) {
					t.Fatalf("stored masterKey %s, want %s", stored, want)
				}
				if h.MaterialLen != 0 && len(material) != h.MaterialLen {
					t.Fatalf("wrapped key of %d bytes, want %d", len(material), h.MaterialLen)
				}
				got, err := p.Unwrap(ctx, stored, material)
				if err != nil || !bytes.Equal(got, dek) {
					t.Fatalf("unwrap: %v", err)
				}
				if h.Tokens != nil {
					if n := h.Tokens() - tokens0; n != 1 {
						t.Fatalf("%d token requests for two operations, want 1", n)
					}
				}
				got, err = h.New(t, name).Unwrap(ctx, stored, material)
				if err != nil || !bytes.Equal(got, dek) {
					t.Fatalf("second provider: %v", err)
				}
			})
		}
	}
}

// faultStatuses are the HTTP statuses TestFaults answers with: retried or not as h.Retryable
// says.
var faultStatuses = []int{400, 404, 408, 429, 500, 502, 503, 504, 509}

// TestFaults injects faults in front of h.Server during an unwrap: dropped connections and
// retryable statuses are retried (at most kms.MaxAttempts attempts), other statuses are not;
// a stall ends at the context's deadline; a reply cut short is retried; malformed replies
// fail at once without the key in the error; redirects are not followed; a certificate the
// provider does not trust and a refused connection fail; token requests are retried too.
// The hook is removed when the test ends.
func TestFaults(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Server
	t.Cleanup(func() { s.Before(nil) })
	p := h.New(t, h.Type)
	mk := h.MasterKeys(s.Endpoint())[0]
	dek := DataKey(t)
	material, stored, err := p.Wrap(ctx, mk, dek)
	if err != nil {
		t.Fatal(err)
	}
	// failFirst answers the first n requests with f and lets the rest through.
	failFirst := func(n int, f func(w http.ResponseWriter, r *http.Request)) {
		count := 0
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			count++
			if count <= n {
				f(w, r)
				return true
			}
			return false
		})
	}
	status := func(code int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, h.ErrorBody)
		}
	}
	drop := func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}
	// unwrapWith unwraps with q and returns how many requests reached the server.
	unwrapWith := func(ctx context.Context, q kms.Provider) ([]byte, int, error) {
		before := h.Requests()
		got, err := q.Unwrap(ctx, stored, material)
		return got, h.Requests() - before, err
	}
	unwrap := func(ctx context.Context) ([]byte, int, error) { return unwrapWith(ctx, p) }
	attempts := fmt.Sprintf("after %d attempts", kms.MaxAttempts)

	t.Run("dropped connection retried then succeeds", func(t *testing.T) {
		failFirst(kms.MaxAttempts-1, drop)
		got, n, err := unwrap(ctx)
		if err != nil || !bytes.Equal(got, dek) || n != kms.MaxAttempts {
			t.Fatalf("err %v after %d requests", err, n)
		}
	})
	t.Run("dropped connection gives up", func(t *testing.T) {
		failFirst(100, drop)
		_, n, err := unwrap(ctx)
		AsKMSError(t, err, h.UnwrapOp, 0)
		if n != kms.MaxAttempts || !strings.Contains(err.Error(), attempts) {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	for _, code := range faultStatuses {
		if !h.Retryable(code) {
			t.Run(fmt.Sprintf("%d not retried", code), func(t *testing.T) {
				failFirst(100, status(code))
				_, n, err := unwrap(ctx)
				AsKMSError(t, err, h.UnwrapOp, code)
				if n != 1 {
					t.Fatalf("%d requests: %v", n, err)
				}
			})
			continue
		}
		t.Run(fmt.Sprintf("%d retried then succeeds", code), func(t *testing.T) {
			failFirst(kms.MaxAttempts-1, status(code))
			got, n, err := unwrap(ctx)
			if err != nil || !bytes.Equal(got, dek) || n != kms.MaxAttempts {
				t.Fatalf("err %v after %d requests", err, n)
			}
		})
		t.Run(fmt.Sprintf("%d gives up", code), func(t *testing.T) {
			failFirst(100, status(code))
			_, n, err := unwrap(ctx)
			AsKMSError(t, err, h.UnwrapOp, code)
			if n != kms.MaxAttempts || !strings.Contains(err.Error(), attempts) {
				t.Fatalf("%d requests: %v", n, err)
			}
		})
	}
	if h.Tokens != nil {
		for _, code := range []int{500, 503} {
			t.Run(fmt.Sprintf("token endpoint %d retried then succeeds", code), func(t *testing.T) {
				q := h.New(t, h.Type)
				failFirst(kms.MaxAttempts-1, status(code))
				got, _, err := unwrapWith(ctx, q)
				if err != nil || !bytes.Equal(got, dek) {
					t.Fatalf("unwrap: %v", err)
				}
			})
		}
	}
	t.Run("stall past the deadline", func(t *testing.T) {
		// The reply is held until the client gave up (release), not until the server notices.
		release := make(chan struct{})
		defer close(release)
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return true
		})
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, n, err := unwrap(ctx)
		AsKMSError(t, err, h.UnwrapOp, 0)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second || n != 1 {
			t.Fatalf("err %v after %v, %d requests", err, time.Since(start), n)
		}
	})
	t.Run("truncated reply", func(t *testing.T) {
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			if c, buf, err := w.(http.Hijacker).Hijack(); err == nil {
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{\"key")
				buf.Flush()
				c.Close()
			}
			return true
		})
		_, n, err := unwrap(ctx)
		AsKMSError(t, err, h.UnwrapOp, 0)
		if n != kms.MaxAttempts {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	bodies, secret := h.BadReplies(dek)
	for name, body := range bodies {
		t.Run("reply "+name, func(t *testing.T) {
			s.Before(func(w http.ResponseWriter, r *http.Request) bool {
				io.WriteString(w, body)
				return true
			})
			_, n, err := unwrap(ctx)
			ke := AsKMSError(t, err, h.UnwrapOp, http.StatusOK)
			if n != 1 || !strings.Contains(ke.Error(), "reply") || strings.Contains(ke.Error(), secret) {
				t.Fatalf("%d requests: %v", n, err)
			}
		})
	}
	t.Run("redirect not followed", func(t *testing.T) {
		s.Before(func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "https://example.com/", http.StatusTemporaryRedirect)
			return true
		})
		_, n, err := unwrap(ctx)
		AsKMSError(t, err, h.UnwrapOp, http.StatusTemporaryRedirect)
		if n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
	s.Before(nil)
	t.Run("TLS failure", func(t *testing.T) {
		_, n, err := unwrapWith(ctx, h.NewWithoutCA(t))
		AsKMSError(t, err, h.UnwrapOp, 0)
		if !strings.Contains(err.Error(), "certificate") || n != 0 {
			t.Fatalf("%d requests: %v", n, err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = p.Unwrap(ctx, h.MasterKeys(addr)[0], material)
		AsKMSError(t, err, h.UnwrapOp, 0)
	})
	if got, _, err := unwrap(ctx); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("after the faults: %v", err)
	}
}
