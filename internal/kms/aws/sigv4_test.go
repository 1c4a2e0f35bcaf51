package aws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The date of every vector: 20150830T123600Z.
var vectorDate = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

const (
	suiteDir    = "testdata/kms-message/aws-sig-v4-test-suite"
	suiteAKID   = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// splitLines splits s after each '\n', keeping it, as getline does.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// readReq reads a test suite .req file the way kms-message's test runner does: headers are
// "name:value" lines (the value keeps its leading spaces), a line without ':' continues the
// previous value after "\r\n", an empty line starts the payload.
func readReq(t *testing.T, path string) *sigv4Request {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(string(b))
	first := lines[0]
	method, _, _ := strings.Cut(first, " ")
	uri := first[len(method)+1 : len(first)-len(" HTTP/1.1\n")]
	r := newSigV4Request(method, uri, time.Now())
	r.autoContentLength = false
	r.region, r.service, r.accessKeyID, r.secretKey = "us-east-1", "service", suiteAKID, suiteSecret
	i := 1
	for ; i < len(lines); i++ {
		line := lines[i]
		if strings.Contains(line, ":") {
			name := strings.TrimLeft(line, ": ")
			end := strings.IndexAny(name, ": ")
			value := strings.TrimLeft(name[end+1:], "\n")
			value, _, _ = strings.Cut(value, "\n")
			r.addHeader(name[:end], value)
		} else if line == "\n" {
			i++
			break
		} else if len(line) > 2 {
			last := &r.headers[len(r.headers)-1]
			last.value += "\r\n" + strings.TrimSuffix(line, "\n")
		}
	}
	r.payload = []byte(strings.Join(lines[i:], ""))
	r.setDate(vectorDate)
	return r
}

func readVector(t *testing.T, dir, suffix string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.Base(dir)+"."+suffix))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if suffix == "sreq" {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

// checkVectors compares the canonical request, string to sign, authorization and signed
// request of r with the vector files of dir that exist.
func checkVectors(t *testing.T, r *sigv4Request, dir string) int {
	t.Helper()
	checks := map[string]func() (string, error){
		"creq":  r.canonicalRequest,
		"sts":   r.stringToSign,
		"authz": r.authorization,
		"sreq": func() (string, error) {
			s, err := r.signedRequest()
			// The C test compares C strings: stop at a NUL byte.
			s, _, _ = strings.Cut(s, "\x00")
			return s, err
		},
	}
	n := 0
	for _, suffix := range []string{"creq", "sts", "authz", "sreq"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(dir)+"."+suffix)); err != nil {
			continue
		}
		got, err := checks[suffix]()
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if want := readVector(t, dir, suffix); got != want {
			t.Errorf("%s mismatch\n got: %q\nwant: %q", suffix, got, want)
		}
		n++
	}
	return n
}

// TestSigV4Suite runs every case of the AWS SigV4 test suite (the copy kms-message tests
// with), including the two session-token cases kms-message skips.
func TestSigV4Suite(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(suiteDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".req") {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 31 {
		t.Fatalf("found %d test cases in %s, want 31", len(dirs), suiteDir)
	}
	token := ""
	for _, h := range readReq(t, filepath.Join(suiteDir, "post-sts-token/post-sts-header-before/post-sts-header-before.req")).headers {
		if h.name == "X-Amz-Security-Token" {
			token = h.value
		}
	}
	if token == "" {
		t.Fatal("no session token in post-sts-header-before.req")
	}
	files := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			r := readReq(t, filepath.Join(dir, name+".req"))
			if name == "post-sts-header-after" {
				r.headers = append(r.headers, header{name: "X-Amz-Security-Token", value: token, unsigned: true})
			}
			if n := checkVectors(t, r, dir); n != 4 {
				t.Errorf("checked %d files, want 4", n)
			}
			files += 4
		})
	}
	t.Logf("%d cases, %d vector files", len(dirs), files)
}

// TestSigV4KMSMessageRequests rebuilds the requests of kms-message's own tests (test/*).
func TestSigV4KMSMessageRequests(t *testing.T) {
	const dir = "testdata/kms-message/test/"
	foo := func(r *sigv4Request) *sigv4Request {
		r.region, r.service, r.accessKeyID, r.secretKey = "foo-region", "foo-service", "foo-akid", "foo-key"
		r.setDate(vectorDate)
		return r
	}
	example := func(r *sigv4Request) *sigv4Request {
		r.region, r.service, r.accessKeyID, r.secretKey = "us-east-1", "service", suiteAKID, suiteSecret
		r.setDate(vectorDate)
		return r
	}
	// The decrypt vector's ciphertext blob is the one in its payload.
	sreq := readVector(t, dir+"decrypt", "sreq")
	var body struct{ CiphertextBlob string }
	if err := json.Unmarshal([]byte(sreq[strings.Index(sreq, "\r\n\r\n")+4:]), &body); err != nil {
		t.Fatal(err)
	}
	blob, err := base64.StdEncoding.DecodeString(body.CiphertextBlob)
	if err != nil || len(blob) != 158 {
		t.Fatalf("decrypt vector blob: %d bytes, %v", len(blob), err)
	}
	const euro = "\xe2\x82\xac"
	cases := map[string]func() *sigv4Request{
		"host": func() *sigv4Request { return foo(newSigV4Request("POST", "/", time.Now())) },
		"content_length": func() *sigv4Request {
			r := newSigV4Request("POST", "/", time.Now())
			r.payload = []byte("foo-payload")
			return foo(r)
		},
		"connection_close": func() *sigv4Request {
			r := newSigV4Request("POST", "/", time.Now())
			r.addHeader("Connection", "close")
			return foo(r)
		},
		"multibyte": func() *sigv4Request {
			r := newSigV4Request("GET", "/"+euro+"/?euro="+euro, time.Now())
			r = example(r)
			r.region, r.service = euro, euro
			r.addHeader(euro, euro)
			r.headers[len(r.headers)-1].value += "asdf" + euro
			r.payload = []byte(euro + "\x00") // sizeof(EU) in the C test: with the NUL
			return r
		},
		"decrypt": func() *sigv4Request {
			return example(newKMSRequest(time.Now(), targetDec, decryptPayload(blob)))
		},
		"encrypt": func() *sigv4Request {
			return example(newKMSRequest(time.Now(), targetEnc, encryptPayload([]byte("foobar"), "alias/1")))
		},
	}
	total := 0
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			n := checkVectors(t, mk(), dir+name)
			if n == 0 {
				t.Fatal("no vector files")
			}
			total += n
		})
	}
	if total != 9 {
		t.Errorf("checked %d vector files, want 9", total)
	}
}

// TestSigningKey is the example of the AWS documentation that kms-message tests.
func TestSigningKey(t *testing.T) {
	r := newSigV4Request("GET", "uri", vectorDate)
	r.region, r.service, r.secretKey = "us-east-1", "iam", suiteSecret
	const want = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
	if got := hexString(r.signingKey()); got != want {
		t.Fatalf("signing key %s, want %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// TestNormalizePath is kms-message's path normalization table.
func TestNormalizePath(t *testing.T) {
	tests := [][2]string{
		{"", "/"}, {"/", "/"}, {"/..", "/"}, {"./..", "/"}, {"../..", "/"}, {"/../..", "/"},
		{"a", "a"}, {"a/", "a/"}, {"a//", "a/"}, {"a///", "a/"}, {"/a", "/a"}, {"//a", "/a"},
		{"///a", "/a"}, {"/a/", "/a/"}, {"/a/..", "/"}, {"/a/../..", "/"}, {"/a/b/../..", "/"},
		{"/a/b/c/../..", "/a"}, {"/a/b/../../d", "/d"}, {"/a/b/c/../../d", "/a/d"},
		{"/a/b", "/a/b"}, {"a/..", "/"}, {"a/../..", "/"}, {"a/b/../..", "/"},
		{"a/b/c/../..", "a"}, {"a/b/../../d", "d"}, {"a/b/c/../../d", "a/d"}, {"a/b", "a/b"},
		{"/a//b", "/a/b"}, {"/a///b", "/a/b"}, {"/a////b", "/a/b"}, {"//", "/"}, {"//a///", "/a/"},
	}
	for _, tc := range tests {
		if got := normalizePath(tc[0]); got != tc[1] {
			t.Errorf("normalizePath(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}

// TestSigV4Errors: a query without '=' and missing fields are errors, as in kms-message.
func TestSigV4Errors(t *testing.T) {
	r := newSigV4Request("GET", "/?asdf", vectorDate)
	r.region, r.service, r.accessKeyID, r.secretKey = "r", "s", "a", "k"
	if _, err := r.authorization(); err == nil || !strings.Contains(err.Error(), "cannot parse query") {
		t.Errorf("query without '=': err = %v", err)
	}
	r = newSigV4Request("GET", "/", vectorDate)
	r.region, r.service, r.accessKeyID = "r", "s", "a"
	if _, err := r.authorization(); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("no secret key: err = %v", err)
	}
	if !bytes.Equal([]byte(escape("a b/~", true)), []byte("a%20b%2F~")) {
		t.Error("escape")
	}
}
