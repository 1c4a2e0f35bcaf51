package kms

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// Retry policy of libmongocrypt: at most MaxAttempts attempts of an idempotent request, on
// network errors and on retryable HTTP statuses, sleeping a random time in (0, backoff] before
// each retry, where backoff is 0.2 s doubled at each retry and capped at 20 s. KMIP is not
// retried.
const (
	MaxAttempts = 3
	baseBackoff = 200 * time.Millisecond
	maxBackoff  = 20 * time.Second
	// maxReplyLen caps the size of a KMS reply body that is read into memory.
	maxReplyLen = 1 << 20
	// DefaultTimeout bounds each attempt when the context has no deadline, as the driver
	// bounds its KMS requests.
	DefaultTimeout = 10 * time.Second
)

// Backoff returns the sleep before retry number n (n >= 1), with full jitter.
func Backoff(n int) time.Duration {
	d := baseBackoff << (n - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return time.Duration(rand.Int64N(int64(d))) + 1
}

// sleep waits between attempts; tests in this package may replace it.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Request describes one HTTP KMS call for [Do].
type Request struct {
	Provider string // provider name, for errors
	Op       string // operation, for errors
	// New builds the request for one attempt (a fresh body each time; a signed request is
	// signed again).
	New func(ctx context.Context) (*http.Request, error)
	// Retryable tells whether an HTTP status is worth another attempt.
	Retryable func(status int) bool
}

// Do sends the request with the retry policy and returns the body of a 200 reply (the only
// success status libmongocrypt accepts). Another reply that is not retried, or the last one,
// is returned as an *Error with its status and [ReplyExcerpt] of its body; body is then also
// returned so that the caller may parse a KMS error document from it.
func Do(ctx context.Context, client *http.Client, r Request) (body []byte, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	for attempt := 1; ; attempt++ {
		var status int
		var netErr bool
		body, status, netErr, err = doOnce(ctx, client, r)
		if err == nil && status == http.StatusOK {
			return body, nil
		}
		retry := false
		if err != nil {
			// A network error, not one caused by the context or by a certificate that will
			// not verify on the next attempt either.
			var cert *tls.CertificateVerificationError
			retry = netErr && ctx.Err() == nil && !errors.As(err, &cert)
			err = &Error{Provider: r.Provider, Op: r.Op, Err: err}
		} else {
			retry = r.Retryable != nil && r.Retryable(status)
			err = &Error{Provider: r.Provider, Op: r.Op, Status: status, Err: fmt.Errorf("reply: %s", ReplyExcerpt(status, body))}
		}
		if !retry || attempt >= MaxAttempts {
			if attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return body, err
		}
		if serr := sleep(ctx, Backoff(attempt)); serr != nil {
			return nil, errors.Join(err, serr)
		}
	}
}

// doOnce sends one attempt. netErr tells that err came from the network (worth a retry), not
// from building the request or from an oversized reply.
func doOnce(ctx context.Context, client *http.Client, r Request) (body []byte, status int, netErr bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := r.New(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, true, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyLen+1))
	if err != nil {
		return nil, 0, true, err
	}
	if len(body) > maxReplyLen {
		return nil, 0, false, fmt.Errorf("reply body longer than %d bytes", maxReplyLen)
	}
	return body, resp.StatusCode, false, nil
}

// ReplyExcerpt is what an error says of the body of a reply that is not accepted: the start of
// the body of an error reply (status 300 and above: the provider's error document), and
// nothing of the body of a reply of another 2xx status than 200, which has the shape of a
// success and may hold what one holds: a data key, a token, credentials.
func ReplyExcerpt(status int, b []byte) string {
	if status >= 200 && status < 300 {
		return fmt.Sprintf("(body of %d bytes not shown: a 2xx reply may hold a data key, a token or credentials)", len(b))
	}
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	if len(b) == 0 {
		return "(empty body)"
	}
	return string(b)
}

// RetryableAWS, RetryableAzure and RetryableGCP are the HTTP statuses libmongocrypt retries.
func RetryableAWS(status int) bool {
	switch status {
	case 408, 429, 500, 502, 503, 509:
		return true
	}
	return false
}

// RetryableAzure reports whether an Azure reply status is retried.
func RetryableAzure(status int) bool {
	switch status {
	case 408, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// RetryableGCP reports whether a GCP reply status is retried.
func RetryableGCP(status int) bool {
	return status == 408 || status == 429 || status/100 == 5
}
