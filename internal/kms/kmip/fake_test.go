package kmip

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// vector reads testdata/<dir>/<name>.hex, a byte array of a libmongocrypt test.
func vector(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatalf("%s/%s: %v", dir, name, err)
	}
	return v
}

// fakeKMIP is an in-process TLS server (TLS 1.2, client certificate required) that reads one
// request message per connection, records it, writes what reply returns and closes the
// connection. A nil reply closes the connection without writing.
type fakeKMIP struct {
	addr string

	mu       sync.Mutex
	conns    int
	requests [][]byte
}

func startFake(t *testing.T, pki *testPKI, reply func(req []byte) []byte) *fakeKMIP {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.serverTLS())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKMIP{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				go func() { <-done; c.Close() }()
				req, err := readMessage(bufio.NewReader(c))
				if err != nil {
					return
				}
				f.mu.Lock()
				f.requests = append(f.requests, req)
				f.mu.Unlock()
				if r := reply(req); r != nil {
					_, _ = c.Write(r)
				}
			}()
		}
	}()
	return f
}

func (f *fakeKMIP) stats() (conns int, requests [][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, append([][]byte(nil), f.requests...)
}

// readMessage reads one TTLV message: header (8) || value (length).
func readMessage(r io.Reader) ([]byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxMessageLen {
		return nil, io.ErrUnexpectedEOF
	}
	msg := make([]byte, headerLen+int(n))
	copy(msg, h[:])
	_, err := io.ReadFull(r, msg[headerLen:])
	return msg, err
}

// item writes a decoded item back; decode(encode(it)) gives it back.
func (e *encoder) item(it item) {
	if it.typ == typeStructure {
		e.begin(it.tag)
		for _, c := range it.items {
			e.item(c)
		}
		e.end()
		return
	}
	e.header(it.tag, it.typ, len(it.value))
	e.buf = append(e.buf, it.value...)
	e.pad()
}

// response builds a reply as a KMIP 1.2 server writes it: a header with a TimeStamp and one
// batch item with Operation op and Result Status status; for a failure, reason and message;
// for a success, a ResponsePayload written by payload.
func response(op, status, reason uint32, message string, payload func(e *encoder)) []byte {
	var e encoder
	e.begin(tagResponseMessage)
	e.begin(tagResponseHeader)
	e.begin(tagProtocolVersion)
	e.integer(tagProtocolVersionMajor, 1)
	e.integer(tagProtocolVersionMinor, 2)
	e.end()
	e.header(tagTimeStamp, typeDateTime, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, 1700000000)
	e.integer(tagBatchCount, 1)
	e.end()
	e.begin(tagBatchItem)
	e.enumeration(tagOperation, op)
	e.enumeration(tagResultStatus, status)
	if status != statusSuccess {
		e.enumeration(tagResultReason, reason)
		e.text(tagResultMessage, message)
	}
	if payload != nil {
		e.begin(tagResponsePayload)
		payload(&e)
		e.end()
	}
	e.end()
	e.end()
	return e.finish()
}

func okResponse(op uint32, payload func(e *encoder)) []byte {
	return response(op, statusSuccess, 0, "", payload)
}

func uidResponse(op uint32, uid string) []byte {
	return okResponse(op, func(e *encoder) { e.text(tagUniqueIdentifier, uid) })
}

func getResponse(uid string, secret []byte) []byte {
	return okResponse(opGet, func(e *encoder) {
		e.enumeration(tagObjectType, objectTypeSecretData)
		e.text(tagUniqueIdentifier, uid)
		e.begin(tagSecretData)
		e.enumeration(tagSecretDataType, secretDataTypeSeed)
		e.begin(tagKeyBlock)
		e.enumeration(tagKeyFormatType, keyFormatTypeOpaque)
		e.begin(tagKeyValue)
		e.bytes(tagKeyMaterial, secret)
		e.end()
		e.end()
		e.end()
	})
}

// requestOp returns the operation and payload of a request message.
func requestOp(t testing.TB, req []byte) (uint32, item) {
	t.Helper()
	m, err := decode(req)
	if err != nil {
		t.Errorf("request does not decode: %v", err)
		return 0, item{}
	}
	bi, err := m.child(tagBatchItem, typeStructure)
	if err != nil {
		t.Errorf("request: %v", err)
		return 0, item{}
	}
	op, err := bi.enumeration(tagOperation)
	if err != nil {
		t.Errorf("request: %v", err)
	}
	p, err := bi.child(tagRequestPayload, typeStructure)
	if err != nil {
		t.Errorf("request: %v", err)
	}
	return op, p
}

// addrOf is the address of a listener that was closed: nothing listens there.
func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
