package kmip

import (
	"bytes"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// replyConn is a connection whose peer sends r and ignores what it is sent.
type replyConn struct{ r io.Reader }

func (c replyConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c replyConn) Write(p []byte) (int, error) { return len(p), nil }

// seedReplies are the reply vectors of libmongocrypt's tests and replies built here.
func seedReplies(t testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/*/*_RESPO*SE*.hex") // libmongocrypt spells one RESPOSE
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	for _, f := range files {
		dir, name := filepath.Split(f)
		if strings.HasSuffix(name, "_SECRETDATA.hex") {
			continue // the secret of a reply, not a reply
		}
		seeds = append(seeds, vector(t, filepath.Base(dir), strings.TrimSuffix(name, ".hex")))
	}
	seeds = append(seeds,
		getResponse("1", make([]byte, 96)),
		uidResponse(opActivate, "1"),
		response(opDecrypt, 1, 0x0A, "bad padding", nil),
		okResponse(opEncrypt, func(e *encoder) {
			e.text(tagUniqueIdentifier, "1")
			e.bytes(tagData, make([]byte, 112))
			e.bytes(tagIVCounterNonce, make([]byte, 16))
		}),
	)
	return seeds
}

// FuzzReply feeds arbitrary bytes to the reply reader and parser as a server would send them:
// no input panics, the reader takes exactly the message its header announces, and a decoded
// message encodes back to the same items.
func FuzzReply(f *testing.F) {
	seeds := seedReplies(f)
	if len(seeds) < 10 {
		f.Fatalf("only %d seed replies: testdata is missing", len(seeds))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	ops := []uint32{opCreate, opRegister, opGet, opActivate, opEncrypt, opDecrypt}
	f.Fuzz(func(t *testing.T, b []byte) {
		if msg, err := exchange(replyConn{bytes.NewReader(b)}, nil); err == nil {
			if !bytes.HasPrefix(b, msg) || len(msg) < headerLen {
				t.Fatalf("reader returned %d bytes that are not the start of the input", len(msg))
			}
		}
		for _, op := range ops {
			p, err := parseResponse(b, op)
			if err != nil {
				continue
			}
			_, _ = uniqueIdentifier(p)
			_ = checkSameUID(p, "1")
			_, _ = secretData(p)
			_, _ = p.byteString(tagData)
			_, _ = p.byteString(tagIVCounterNonce)
		}
		it, err := decode(b)
		if err != nil {
			return
		}
		var e encoder
		e.item(it)
		re := e.finish()
		if len(re) != len(b) {
			t.Fatalf("re-encoded message is %d bytes, input %d", len(re), len(b))
		}
		it2, err := decode(re)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(it, it2) {
			t.Fatal("re-encoded message decodes to other items")
		}
	})
}

// The seed replies re-encode byte for byte (libmongocrypt's vectors are canonical TTLV), and
// no strict prefix of one decodes.
func TestSeedRepliesCanonical(t *testing.T) {
	for i, s := range seedReplies(t) {
		it, err := decode(s)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		var e encoder
		e.item(it)
		if re := e.finish(); !bytes.Equal(re, s) {
			t.Errorf("seed %d re-encodes to\n%x\nwant\n%x", i, re, s)
		}
		for n := 0; n < len(s); n++ {
			if _, err := decode(s[:n]); err == nil {
				t.Errorf("seed %d: the %d-byte prefix decodes", i, n)
				break
			}
		}
	}
}
