package kms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func noSleep(t *testing.T) *[]time.Duration {
	var slept []time.Duration
	old := sleep
	sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }
	t.Cleanup(func() { sleep = old })
	return &slept
}

func request(url string) Request {
	return Request{
		Provider: "aws:test",
		Op:       "decrypt",
		New: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, "POST", url, nil)
		},
		Retryable: RetryableAWS,
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 10; n++ {
		limit := baseBackoff << (n - 1)
		if limit > maxBackoff {
			limit = maxBackoff
		}
		for i := 0; i < 200; i++ {
			if d := Backoff(n); d <= 0 || d > limit {
				t.Fatalf("Backoff(%d) = %v, outside (0, %v]", n, d, limit)
			}
		}
	}
}

func TestDoRetries(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int
		wantN    int
		ok       bool
	}{
		{"success", []int{200}, 1, true},
		{"503 then success", []int{503, 200}, 2, true},
		{"429 twice then success", []int{429, 429, 200}, 3, true},
		{"503 every time", []int{503, 503, 503, 200}, 3, false},
		{"400 not retried", []int{400, 200}, 1, false},
		{"201 is not success", []int{201}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slept := noSleep(t)
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				w.WriteHeader(c.statuses[i])
				w.Write([]byte(`{"x":1}`))
			}))
			defer srv.Close()
			body, err := Do(context.Background(), srv.Client(), request(srv.URL))
			if int(n.Load()) != c.wantN {
				t.Fatalf("%d attempts, want %d", n.Load(), c.wantN)
			}
			if len(*slept) != c.wantN-1 {
				t.Fatalf("slept %d times for %d attempts", len(*slept), c.wantN)
			}
			if c.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				var ke *Error
				if !errors.As(err, &ke) || ke.Provider != "aws:test" || ke.Op != "decrypt" || ke.Status == 0 {
					t.Fatalf("error does not name provider, op and status: %v", err)
				}
				if string(body) != `{"x":1}` {
					t.Fatalf("the body of the failed reply is not returned: %q", body)
				}
			}
		})
	}
}

func TestDoNetworkErrors(t *testing.T) {
	slept := noSleep(t)
	// A closed server: every attempt is a network error, retried.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := Do(context.Background(), nil, request(url))
	if err == nil || len(*slept) != MaxAttempts-1 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("closed server: %v after %d sleeps", err, len(*slept))
	}
	// A certificate that does not verify is not retried.
	*slept = nil
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	_, err = Do(context.Background(), &http.Client{}, request(tlsSrv.URL))
	if err == nil || len(*slept) != 0 || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v after %d sleeps", err, len(*slept))
	}
	// A request that cannot be built is not retried.
	*slept = nil
	r := request("")
	r.New = func(context.Context) (*http.Request, error) { return nil, errors.New("bad request") }
	if _, err := Do(context.Background(), nil, r); err == nil || len(*slept) != 0 {
		t.Fatalf("unbuildable request: %v after %d sleeps", err, len(*slept))
	}
	// A cancelled context stops the retries.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	*slept = nil
	if _, err := Do(ctx, nil, request(url)); err == nil || len(*slept) != 0 {
		t.Fatalf("cancelled context: %v after %d sleeps", err, len(*slept))
	}
}

func TestDoReplyCap(t *testing.T) {
	noSleep(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, maxReplyLen+1))
	}))
	defer srv.Close()
	if _, err := Do(context.Background(), srv.Client(), request(srv.URL)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("oversized reply: %v", err)
	}
}

func TestParseName(t *testing.T) {
	good := map[string][2]string{"local": {"local", ""}, "aws:prod": {"aws", "prod"}, "kmip:EU_1": {"kmip", "EU_1"}}
	for in, want := range good {
		typ, name, err := ParseName(in)
		if err != nil || typ != want[0] || name != want[1] {
			t.Errorf("ParseName(%q) = %q, %q, %v", in, typ, name, err)
		}
	}
	for _, bad := range []string{"", "vault", "aws:", "aws:a-b", "aws:a:b", "AWS"} {
		if _, _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}
