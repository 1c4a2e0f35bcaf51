package compat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// stubVault is the smallest MongoDB wire-protocol server the key vault of a ClientEncryption
// needs, so that the test runs this module's public API (CreateDataKey, Encrypt, Decrypt)
// without a MongoDB server: one standalone node that answers the handshake, stores what is
// inserted and answers find with the documents its filter matches. The filters it understands
// are the ones ClientEncryption sends: field equality, $in, $ne, $or and $and.
type stubVault struct {
	ln    net.Listener
	mu    sync.Mutex
	docs  map[string][]bson.Raw // by namespace "db.coll"
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	finds atomic.Int64
}

func startStubVault(t *testing.T) *stubVault {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stub key vault: %v", err)
	}
	s := &stubVault{ln: ln, docs: map[string][]bson.Raw{}, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *stubVault) uri() string {
	return "mongodb://" + s.ln.Addr().String() + "/?directConnection=true&serverSelectionTimeoutMS=10000"
}

func (s *stubVault) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *stubVault) insert(ns string, d bson.Raw) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[ns] = append(s.docs[ns], append(bson.Raw(nil), d...))
}

func (s *stubVault) all(ns string) []bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bson.Raw(nil), s.docs[ns]...)
}

func (s *stubVault) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		}()
	}
}

// Wire protocol opcodes.
const (
	opReply = 1
	opQuery = 2004
	opMsg   = 2013
)

func (s *stubVault) serve(c net.Conn) {
	var hdr [16]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(hdr[0:]))
		reqID := binary.LittleEndian.Uint32(hdr[4:])
		op := binary.LittleEndian.Uint32(hdr[12:])
		if n < 16 || n > 64<<20 {
			return
		}
		body := make([]byte, n-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		var reply []byte
		switch op {
		case opQuery: // the driver's first hello of a connection
			cmd, err := parseQuery(body)
			if err != nil {
				return
			}
			reply = replyMessage(opReply, reqID, s.handle(cmd, nil))
		case opMsg:
			cmd, seqs, err := parseMsg(body)
			if err != nil {
				return
			}
			reply = replyMessage(opMsg, reqID, s.handle(cmd, seqs))
		default:
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// parseQuery returns the query document of an OP_QUERY.
func parseQuery(b []byte) (bson.Raw, error) {
	if len(b) < 4 {
		return nil, errors.New("short OP_QUERY")
	}
	b = b[4:] // flags
	i := bytes.IndexByte(b, 0)
	if i < 0 || len(b) < i+1+8 {
		return nil, errors.New("bad OP_QUERY")
	}
	d, _, ok := bsoncore.ReadDocument(b[i+1+8:])
	if !ok {
		return nil, errors.New("bad OP_QUERY document")
	}
	return bson.Raw(d), nil
}

// parseMsg returns the body of an OP_MSG and its document sequences.
func parseMsg(b []byte) (bson.Raw, map[string][]bson.Raw, error) {
	if len(b) < 4 {
		return nil, nil, errors.New("short OP_MSG")
	}
	flags := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if flags&1 != 0 { // checksum present
		if len(b) < 4 {
			return nil, nil, errors.New("short OP_MSG")
		}
		b = b[:len(b)-4]
	}
	var body bson.Raw
	seqs := map[string][]bson.Raw{}
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0:
			d, rest, ok := bsoncore.ReadDocument(b)
			if !ok {
				return nil, nil, errors.New("bad OP_MSG body")
			}
			body, b = bson.Raw(d), rest
		case 1:
			if len(b) < 4 {
				return nil, nil, errors.New("bad OP_MSG sequence")
			}
			size := int(binary.LittleEndian.Uint32(b))
			if size < 4 || size > len(b) {
				return nil, nil, errors.New("bad OP_MSG sequence size")
			}
			sec := b[4:size]
			b = b[size:]
			i := bytes.IndexByte(sec, 0)
			if i < 0 {
				return nil, nil, errors.New("bad OP_MSG sequence identifier")
			}
			id := string(sec[:i])
			for rest := sec[i+1:]; len(rest) > 0; {
				d, r, ok := bsoncore.ReadDocument(rest)
				if !ok {
					return nil, nil, errors.New("bad OP_MSG sequence document")
				}
				seqs[id] = append(seqs[id], bson.Raw(d))
				rest = r
			}
		default:
			return nil, nil, fmt.Errorf("OP_MSG section kind %d", kind)
		}
	}
	if body == nil {
		return nil, nil, errors.New("OP_MSG without body")
	}
	return body, seqs, nil
}

var stubRequestID atomic.Int32

func replyMessage(op int, responseTo uint32, doc []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0) // length, set below
	b = binary.LittleEndian.AppendUint32(b, uint32(stubRequestID.Add(1)))
	b = binary.LittleEndian.AppendUint32(b, responseTo)
	b = binary.LittleEndian.AppendUint32(b, uint32(op))
	if op == opReply {
		b = binary.LittleEndian.AppendUint32(b, 0) // responseFlags
		b = binary.LittleEndian.AppendUint64(b, 0) // cursorID
		b = binary.LittleEndian.AppendUint32(b, 0) // startingFrom
		b = binary.LittleEndian.AppendUint32(b, 1) // numberReturned
	} else {
		b = binary.LittleEndian.AppendUint32(b, 0) // flagBits
		b = append(b, 0)                           // section kind 0
	}
	b = append(b, doc...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

func mustMarshal(v any) []byte {
	b, err := bson.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func cmdError(code int32, format string, args ...any) []byte {
	return mustMarshal(bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: fmt.Sprintf(format, args...)}, {Key: "code", Value: code}})
}

// handle answers one command.
func (s *stubVault) handle(cmd bson.Raw, seqs map[string][]bson.Raw) []byte {
	elems, err := cmd.Elements()
	if err != nil || len(elems) == 0 {
		return cmdError(9, "stub key vault: empty command")
	}
	name := elems[0].Key()
	db, _ := cmd.Lookup("$db").StringValueOK()
	switch strings.ToLower(name) {
	case "hello", "ismaster":
		return mustMarshal(bson.D{
			{Key: "helloOk", Value: true},
			{Key: "isWritablePrimary", Value: true},
			{Key: "ismaster", Value: true},
			{Key: "maxBsonObjectSize", Value: int32(16 << 20)},
			{Key: "maxMessageSizeBytes", Value: int32(48000000)},
			{Key: "maxWriteBatchSize", Value: int32(100000)},
			{Key: "localTime", Value: bson.NewDateTimeFromTime(time.Now())},
			{Key: "logicalSessionTimeoutMinutes", Value: int32(30)},
			{Key: "connectionId", Value: int32(1)},
			{Key: "minWireVersion", Value: int32(0)},
			{Key: "maxWireVersion", Value: int32(21)},
			{Key: "readOnly", Value: false},
			{Key: "ok", Value: 1.0},
		})
	case "ping", "endsessions", "killcursors":
		return mustMarshal(bson.D{{Key: "ok", Value: 1.0}})
	case "insert":
		coll, _ := elems[0].Value().StringValueOK()
		docs := seqs["documents"]
		if arr, ok := cmd.Lookup("documents").ArrayOK(); ok {
			vals, _ := arr.Values()
			for _, v := range vals {
				docs = append(docs, v.Document())
			}
		}
		for _, d := range docs {
			s.insert(db+"."+coll, d)
		}
		return mustMarshal(bson.D{{Key: "n", Value: int32(len(docs))}, {Key: "ok", Value: 1.0}})
	case "find":
		s.finds.Add(1)
		coll, _ := elems[0].Value().StringValueOK()
		ns := db + "." + coll
		filter, _ := cmd.Lookup("filter").DocumentOK()
		batch := bson.A{}
		for _, d := range s.all(ns) {
			ok, err := matches(d, filter)
			if err != nil {
				return cmdError(2, "stub key vault: %v", err)
			}
			if ok {
				batch = append(batch, d)
			}
		}
		return mustMarshal(bson.D{
			{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: batch}, {Key: "id", Value: int64(0)}, {Key: "ns", Value: ns}}},
			{Key: "ok", Value: 1.0},
		})
	}
	return cmdError(59, "stub key vault: no such command: %q", name)
}

// matches evaluates the subset of the query language that ClientEncryption's filters use.
func matches(d, filter bson.Raw) (bool, error) {
	elems, err := filter.Elements()
	if err != nil {
		return false, err
	}
	for _, e := range elems {
		switch k := e.Key(); k {
		case "$or", "$and":
			arr, ok := e.Value().ArrayOK()
			if !ok {
				return false, fmt.Errorf("%s needs an array", k)
			}
			vals, _ := arr.Values()
			hit := false
			for _, v := range vals {
				sub, ok := v.DocumentOK()
				if !ok {
					return false, fmt.Errorf("%s needs documents", k)
				}
				m, err := matches(d, sub)
				if err != nil {
					return false, err
				}
				if k == "$and" && !m {
					return false, nil
				}
				hit = hit || m
			}
			if k == "$or" && !hit {
				return false, nil
			}
		default:
			if strings.HasPrefix(k, "$") {
				return false, fmt.Errorf("unsupported operator %s", k)
			}
			m, err := fieldMatches(d.Lookup(k), e.Value())
			if err != nil || !m {
				return false, err
			}
		}
	}
	return true, nil
}

// fieldMatches tells whether a field value satisfies a condition: equality, or a document of
// $in and $ne. An array field matches when one of its elements does, as in MongoDB.
func fieldMatches(field, cond bson.RawValue) (bool, error) {
	eq := func(want bson.RawValue) bool {
		if sameValue(field, want) {
			return true
		}
		if arr, ok := field.ArrayOK(); ok {
			vals, _ := arr.Values()
			for _, v := range vals {
				if sameValue(v, want) {
					return true
				}
			}
		}
		return false
	}
	ops, ok := cond.DocumentOK()
	if !ok {
		return eq(cond), nil
	}
	elems, _ := ops.Elements()
	if len(elems) == 0 || !strings.HasPrefix(elems[0].Key(), "$") {
		return eq(cond), nil
	}
	for _, e := range elems {
		switch e.Key() {
		case "$in":
			arr, ok := e.Value().ArrayOK()
			if !ok {
				return false, errors.New("$in needs an array")
			}
			vals, _ := arr.Values()
			in := false
			for _, v := range vals {
				in = in || eq(v)
			}
			if !in {
				return false, nil
			}
		case "$ne":
			if eq(e.Value()) {
				return false, nil
			}
		default:
			return false, fmt.Errorf("unsupported operator %s", e.Key())
		}
	}
	return true, nil
}
