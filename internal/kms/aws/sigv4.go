package aws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4, computed the way libmongocrypt's kms-message computes it, so that
// its test vectors (the AWS SigV4 test suite and kms-message's own requests) are reproduced
// byte for byte:
//
//	canonical request = method \n normalized+escaped path \n canonical query \n
//	                    canonical headers \n \n signed headers \n hex(SHA-256(payload))
//	string to sign    = "AWS4-HMAC-SHA256" \n datetime \n date/region/service/aws4_request \n
//	                    hex(SHA-256(canonical request))
//	signing key       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
//	signature         = hex(HMAC(signing key, string to sign))
const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	sigTerminator = "aws4_request"
	amzDateLayout = "20060102T150405Z"
	amzDateLen    = len("20060102")
)

type header struct {
	name, value string
	// unsigned headers are sent but left out of the canonical request (a session token
	// added after signing, as in the test suite's post-sts-header-after).
	unsigned bool
}

// sigv4Request is a request to sign: a list of header fields in the order they were added
// (duplicates allowed), a path, a raw query and a payload.
type sigv4Request struct {
	method      string
	path        string // without the query
	query       string // raw, without '?'
	hasQuery    bool
	headers     []header
	payload     []byte
	region      string
	service     string
	accessKeyID string
	secretKey   string
	datetime    string // 20150830T123600Z
	// autoContentLength adds a Content-Length header for a non-empty payload.
	autoContentLength bool
}

// newSigV4Request returns a request for method and pathAndQuery with an X-Amz-Date header for
// t.
func newSigV4Request(method, pathAndQuery string, t time.Time) *sigv4Request {
	r := &sigv4Request{method: method, autoContentLength: true}
	r.path, r.query, r.hasQuery = strings.Cut(pathAndQuery, "?")
	r.setDate(t)
	return r
}

// setDate removes every X-Amz-Date field (exact name) and appends one for t.
func (r *sigv4Request) setDate(t time.Time) {
	r.datetime = t.UTC().Format(amzDateLayout)
	kept := r.headers[:0]
	for _, h := range r.headers {
		if h.name != "X-Amz-Date" {
			kept = append(kept, h)
		}
	}
	r.headers = append(kept, header{name: "X-Amz-Date", value: r.datetime})
}

func (r *sigv4Request) addHeader(name, value string) {
	r.headers = append(r.headers, header{name: name, value: value})
}

func (r *sigv4Request) find(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// finalize adds the Host header (service.region.amazonaws.com) when none was set, and the
// Content-Length header when there is a payload.
func (r *sigv4Request) finalize() {
	if _, ok := r.find("Host"); !ok {
		r.addHeader("Host", r.service+"."+r.region+".amazonaws.com")
	}
	if _, ok := r.find("Content-Length"); !ok && len(r.payload) > 0 && r.autoContentLength {
		r.addHeader("Content-Length", fmt.Sprint(len(r.payload)))
	}
}

func (r *sigv4Request) validate() error {
	switch {
	case r.region == "":
		return errors.New("sigv4: region not set")
	case r.service == "":
		return errors.New("sigv4: service not set")
	case r.accessKeyID == "":
		return errors.New("sigv4: access key ID not set")
	case r.method == "":
		return errors.New("sigv4: method not set")
	case r.path == "":
		return errors.New("sigv4: path not set")
	case r.secretKey == "":
		return errors.New("sigv4: secret key not set")
	}
	return nil
}

// sortedHeaders returns the header fields sorted by name, case-insensitively, keeping the
// order of fields with the same name.
func (r *sigv4Request) sortedHeaders() []header {
	hs := append([]header(nil), r.headers...)
	sort.SliceStable(hs, func(i, j int) bool { return asciiLess(hs[i].name, hs[j].name) })
	return hs
}

// canonicalHeaders is sortedHeaders without "Connection" and unsigned fields.
func (r *sigv4Request) canonicalHeaders() []header {
	var out []header
	for _, h := range r.sortedHeaders() {
		if h.name != "Connection" && !h.unsigned {
			out = append(out, h)
		}
	}
	return out
}

// asciiLess orders names as strcasecmp does: bytewise after ASCII lowercasing.
func asciiLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lower(a[i]), lower(b[i])
		if ca != cb {
			return ca < cb
		}
	}
	return len(a) < len(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lower(b[i])
	}
	return string(b)
}

// signedHeaders is the ';'-separated list of lowercased names, each name once.
func signedHeaders(hs []header) string {
	var b strings.Builder
	prev := ""
	for i, h := range hs {
		if i > 0 && strings.EqualFold(prev, h.name) {
			continue
		}
		if strings.EqualFold(h.name, "connection") {
			continue
		}
		b.WriteString(lowerASCII(h.name))
		// As kms-message does: the separator depends on the position in the list, not on
		// whether another distinct name follows.
		if i < len(hs)-1 {
			b.WriteByte(';')
		}
		prev = h.name
	}
	return b.String()
}

// canonicalRequest returns the canonical request.
func (r *sigv4Request) canonicalRequest() (string, error) {
	r.finalize()
	var b strings.Builder
	b.WriteString(r.method)
	b.WriteByte('\n')
	b.WriteString(escape(normalizePath(r.path), false))
	b.WriteByte('\n')
	q, err := r.canonicalQuery()
	if err != nil {
		return "", err
	}
	b.WriteString(q)
	b.WriteByte('\n')
	hs := r.canonicalHeaders()
	prev := ""
	for i, h := range hs {
		if i > 0 && strings.EqualFold(prev, h.name) {
			b.WriteByte(',')
			b.WriteString(stripValue(h.value))
			continue
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(lowerASCII(h.name))
		b.WriteByte(':')
		b.WriteString(stripValue(h.value))
		prev = h.name
	}
	b.WriteString("\n\n")
	b.WriteString(signedHeaders(hs))
	b.WriteByte('\n')
	sum := sha256.Sum256(r.payload)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String(), nil
}

// canonicalQuery splits the raw query into key=value pairs (every pair needs a '='), sorts
// them by key then value, and escapes both, '/' included.
func (r *sigv4Request) canonicalQuery() (string, error) {
	if !r.hasQuery {
		return "", nil
	}
	type kv struct{ k, v string }
	var kvs []kv
	rest := r.query
	for {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", fmt.Errorf("sigv4: cannot parse query %q", r.query)
		}
		amp := strings.IndexByte(rest[eq:], '&')
		if amp < 0 {
			kvs = append(kvs, kv{rest[:eq], rest[eq+1:]})
			break
		}
		amp += eq
		kvs = append(kvs, kv{rest[:eq], rest[eq+1 : amp]})
		rest = rest[amp+1:]
		if rest == "" {
			break
		}
	}
	sort.SliceStable(kvs, func(i, j int) bool {
		if kvs[i].k != kvs[j].k {
			return kvs[i].k < kvs[j].k
		}
		return kvs[i].v < kvs[j].v
	})
	var b strings.Builder
	for i, p := range kvs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(p.k, true))
		b.WriteByte('=')
		b.WriteString(escape(p.v, true))
	}
	return b.String(), nil
}

// escape percent-encodes every byte but the RFC 3986 unreserved characters (and '/' when
// keepSlash), with upper-case hex digits.
func escape(s string, escapeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !escapeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// stripValue trims leading and trailing white space, folds runs of white space to one space
// and turns line breaks into commas.
func stripValue(v string) string {
	var b strings.Builder
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	space, comma := false, false
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\n':
			comma, space = true, false
		case isSpace(c):
			space = true
		default:
			if comma {
				b.WriteByte(',')
				comma, space = false, false
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// normalizePath removes "." and ".." segments (RFC 3986 section 5.2.4) and folds repeated
// slashes; an empty result is "/".
func normalizePath(in string) string {
	if in == "/" {
		return "/"
	}
	absolute := strings.HasPrefix(in, "/")
	out := ""
	deleteLast := func() {
		i := strings.LastIndexByte(out, '/')
		switch {
		case i < 0:
			out = ""
		case i == 0 && absolute:
			out = "/"
		default:
			out = out[:i]
		}
	}
	p := in
	for p != "" {
		switch {
		case strings.HasPrefix(p, "../"):
			p = p[3:]
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		case strings.HasPrefix(p, "/./"):
			p = p[2:]
		case p == "/.":
			p = ""
		case strings.HasPrefix(p, "/../"):
			p = p[3:]
			deleteLast()
		case p == "/..":
			deleteLast()
			p = ""
		case p == "." || p == "..":
			p = ""
		default:
			next := strings.IndexByte(p[1:], '/')
			if next < 0 {
				next = len(p)
			} else {
				next++
			}
			seg := p[:next]
			p = p[next:]
			if strings.HasSuffix(out, "/") && strings.HasPrefix(seg, "/") {
				seg = seg[1:]
			}
			if out == "" && !absolute && strings.HasPrefix(seg, "/") {
				seg = seg[1:]
			}
			out += seg
		}
	}
	if out == "" {
		return "/"
	}
	return out
}

// scope is date/region/service/aws4_request.
func (r *sigv4Request) scope() string {
	return r.datetime[:amzDateLen] + "/" + r.region + "/" + r.service + "/" + sigTerminator
}

func (r *sigv4Request) stringToSign() (string, error) {
	creq, err := r.canonicalRequest()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(creq))
	return sigAlgorithm + "\n" + r.datetime + "\n" + r.scope() + "\n" + hex.EncodeToString(sum[:]), nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func (r *sigv4Request) signingKey() []byte {
	k := hmacSHA256([]byte("AWS4"+r.secretKey), r.datetime[:amzDateLen])
	k = hmacSHA256(k, r.region)
	k = hmacSHA256(k, r.service)
	return hmacSHA256(k, sigTerminator)
}

// authorization returns the value of the Authorization header.
func (r *sigv4Request) authorization() (string, error) {
	if err := r.validate(); err != nil {
		return "", err
	}
	sts, err := r.stringToSign()
	if err != nil {
		return "", err
	}
	sig := hex.EncodeToString(hmacSHA256(r.signingKey(), sts))
	return sigAlgorithm + " Credential=" + r.accessKeyID + "/" + r.scope() +
		", SignedHeaders=" + signedHeaders(r.canonicalHeaders()) + ", Signature=" + sig, nil
}

// signedRequest returns the request as HTTP/1.1 text, header fields sorted, the
// Authorization header last: the form of kms-message's .sreq vectors.
func (r *sigv4Request) signedRequest() (string, error) {
	authz, err := r.authorization()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(r.method + " " + r.path)
	if r.query != "" {
		b.WriteString("?" + r.query)
	}
	b.WriteString(" HTTP/1.1\r\n")
	for _, h := range r.sortedHeaders() {
		b.WriteString(h.name + ":" + h.value + "\r\n")
	}
	b.WriteString("Authorization: " + authz)
	if len(r.payload) > 0 {
		b.WriteString("\r\n\r\n")
		b.Write(r.payload)
	}
	return b.String(), nil
}
