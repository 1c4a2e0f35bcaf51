package kms

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestReplyExcerpt: an error reply (3xx, 4xx, 5xx) is quoted, cut at 200 bytes; the body of a
// 2xx reply other than 200, which has the shape of a success (a data key, a token,
// credentials), is not, by Do either.
func TestReplyExcerpt(t *testing.T) {
	const secret = `{"plaintext":"S3CRET-DATA-KEY","access_token":"S3CRET-TOKEN"}`
	for _, status := range []int{201, 202, 203, 204, 206, 299} {
		if got := ReplyExcerpt(status, []byte(secret)); strings.Contains(got, "S3CRET") || !strings.Contains(got, "not shown") {
			t.Errorf("status %d: %q", status, got)
		}
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(secret)), Request: r}, nil
		})}
		_, err := Do(context.Background(), client, Request{Provider: "gcp", Op: "decrypt", New: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, "https://kms.example.com/", nil)
		}})
		if err == nil || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("status %d: Do: %v", status, err)
		}
	}
	for _, status := range []int{301, 400, 403, 500, 503} {
		if got := ReplyExcerpt(status, []byte(" "+secret+"\n")); got != secret {
			t.Errorf("status %d: %q", status, got)
		}
	}
	if got := ReplyExcerpt(400, []byte(strings.Repeat("x", 300))); got != strings.Repeat("x", 200)+"..." {
		t.Errorf("long reply: %q", got)
	}
	if got := ReplyExcerpt(500, nil); got != "(empty body)" {
		t.Errorf("empty reply: %q", got)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
