// Package kmshttp holds what the HTTP KMS providers (aws, azure, gcp) share: endpoint parsing
// with libmongocrypt's rules, the HTTP client built from a provider's configuration, reading
// credential and masterKey documents, reading JSON replies, and a cache of bearer tokens.
package kmshttp

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// DefaultPort is the port of HTTPS KMS endpoints that name none.
const DefaultPort = "443"

// Endpoint is a KMS endpoint parsed as libmongocrypt parses one:
// [protocol://]host[:port][/path][?query]. Only Host and Port are used to connect; protocol,
// path and query are accepted and ignored (KMS requests always use TLS).
type Endpoint struct {
	// Host is the host name, without port: "kms.us-east-1.amazonaws.com".
	Host string
	// Port is the port given after the host, or "".
	Port string
	// Subdomain is the host up to its first dot ("kms"); Domain is what follows the first
	// dot ("us-east-1.amazonaws.com"). Azure and GCP derive OAuth scopes from Domain.
	Subdomain, Domain string
}

// HostAndPort is the host with the port when one was given: the form libmongocrypt writes
// into key documents.
func (e *Endpoint) HostAndPort() string {
	if e.Port == "" {
		return e.Host
	}
	return e.Host + ":" + e.Port
}

// ErrInvalidEndpoint is wrapped by endpoint parse errors.
var ErrInvalidEndpoint = errors.New("invalid endpoint")

// ParseEndpoint parses s. Unless allowNoDot is set, the host must contain a dot (libmongocrypt
// requires one for every HTTP KMS endpoint). It is stricter than libmongocrypt in refusing
// empty hosts, hosts with spaces or other characters that have no place in a host name, and
// ports that are not numbers in 1..65535: such endpoints could never be reached.
func ParseEndpoint(s string, allowNoDot bool) (*Endpoint, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidEndpoint, s, why)
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("%w: not a valid UTF-8 string", ErrInvalidEndpoint)
	}
	rest := s
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	// The host ends at the first ':', else the first '/', else the first '?'.
	hostPort := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostPort = rest[:i]
	}
	host, port, hasPort := strings.Cut(hostPort, ":")
	if host == "" {
		return nil, bad("empty host")
	}
	for _, c := range host {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`/\?#@[]:"<>{}|^%`+"`", c) {
			return nil, bad("the host contains a character not allowed in a host name")
		}
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '-' {
			return nil, bad("the port must be a number in 1..65535")
		}
	}
	e := &Endpoint{Host: host, Port: port}
	if sub, dom, ok := strings.Cut(host, "."); ok {
		e.Subdomain, e.Domain = sub, dom
	} else if !allowNoDot {
		return nil, bad("expected dot separator in host")
	} else {
		e.Domain = host
	}
	return e, nil
}

// NewClient returns the HTTP client of a provider: a copy of base (nil means a default
// client) whose transport uses tlsConfig when it is set, and which never follows redirects
// (libmongocrypt does not; a redirect is reported as the error it is).
func NewClient(base *http.Client, tlsConfig *tls.Config) (*http.Client, error) {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	if tlsConfig != nil {
		var t *http.Transport
		switch bt := c.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = bt.Clone()
		default:
			return nil, fmt.Errorf("TLS options cannot be applied to an HTTP client whose transport is a %T (an *http.Transport is needed)", c.Transport)
		}
		t.TLSClientConfig = tlsConfig.Clone()
		c.Transport = t
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// IsEmptyDoc reports whether d is absent or a document without fields: the form that asks for
// credentials on demand.
func IsEmptyDoc(d bson.Raw) bool {
	if len(d) == 0 {
		return true
	}
	e, err := d.Elements()
	return err == nil && len(e) == 0
}

// Doc reads the fields of a credentials or masterKey document with libmongocrypt's rules:
// typed fields, and no field outside an allowed list.
type Doc struct {
	raw  bson.Raw
	what string // "masterKey", "credentials"
}

// NewDoc validates d and returns a reader of it; what names the document in errors.
func NewDoc(d bson.Raw, what string) (Doc, error) {
	if len(d) == 0 {
		d = bson.Raw{5, 0, 0, 0, 0}
	}
	if err := d.Validate(); err != nil {
		return Doc{}, fmt.Errorf("%s is not a valid BSON document: %w", what, err)
	}
	return Doc{raw: d, what: what}, nil
}

// OptionalString returns the string field key, and whether it is present. A present field of
// another type is an error.
func (d Doc) OptionalString(key string) (string, bool, error) {
	v, err := d.raw.LookupErr(key)
	if err != nil {
		return "", false, nil
	}
	s, ok := v.StringValueOK()
	if !ok {
		return "", false, fmt.Errorf("%s: expected UTF-8 %s, got BSON type %s", d.what, key, v.Type)
	}
	return s, true, nil
}

// RequiredString returns the string field key, which must be present.
func (d Doc) RequiredString(key string) (string, error) {
	s, ok, err := d.OptionalString(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s: expected UTF-8 %s", d.what, key)
	}
	return s, nil
}

// OptionalEndpoint parses the endpoint field key when present.
func (d Doc) OptionalEndpoint(key string) (*Endpoint, error) {
	s, ok, err := d.OptionalString(key)
	if err != nil || !ok {
		return nil, err
	}
	e, err := ParseEndpoint(s, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", d.what, key, err)
	}
	return e, nil
}

// RequiredEndpoint parses the endpoint field key, which must be present.
func (d Doc) RequiredEndpoint(key string) (*Endpoint, error) {
	e, err := d.OptionalEndpoint(key)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("%s: expected endpoint %s", d.what, key)
	}
	return e, nil
}

// RequiredBinary returns the non-empty field key given as BSON binary or as a base64 string.
func (d Doc) RequiredBinary(key string) ([]byte, error) {
	v, err := d.raw.LookupErr(key)
	if err != nil {
		return nil, fmt.Errorf("%s: expected UTF-8 or binary %s", d.what, key)
	}
	var b []byte
	if _, data, ok := v.BinaryOK(); ok {
		b = append([]byte(nil), data...)
	} else if s, ok := v.StringValueOK(); ok {
		b, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: unable to parse base64 from UTF-8 field %s", d.what, key)
		}
	} else {
		return nil, fmt.Errorf("%s: expected UTF-8 or binary %s, got BSON type %s", d.what, key, v.Type)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", d.what, key)
	}
	return b, nil
}

// CheckAllowed returns an error naming the first field that is not in allowed.
func (d Doc) CheckAllowed(allowed ...string) error {
	elems, err := d.raw.Elements()
	if err != nil {
		return fmt.Errorf("%s: %w", d.what, err)
	}
next:
	for _, e := range elems {
		k := e.Key()
		for _, a := range allowed {
			if k == a {
				continue next
			}
		}
		return fmt.Errorf("%s: unexpected field: '%s'", d.what, k)
	}
	return nil
}

// ReplyString returns the string member field of the JSON object body, a KMS or token reply.
// Errors never quote the body: a successful reply may carry a data key or a token.
func ReplyString(body []byte, field string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("malformed reply: not a JSON object (%d bytes): %s", len(body), jsonErrDetail(err))
	}
	raw, ok := m[field]
	if !ok {
		return "", fmt.Errorf("malformed reply: no field %q", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("malformed reply: field %q is not a string", field)
	}
	return s, nil
}

// jsonErrDetail describes a JSON decoding error of a reply without quoting the reply: the
// encoding/json errors name the offending character (*json.SyntaxError) or the value
// (*json.UnmarshalTypeError, "number 123"), which may be part of a data key or a token.
func jsonErrDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "the top level is not an object"
	}
	return "invalid JSON"
}
