// Package qelayer is a wire proxy in front of the embedded FerretDB that gives it the server
// features of MongoDB that the tests need and it lacks, so that the official quick starts and
// the specification's Queryable Encryption tests run against it unchanged.
//
// Each client connection gets its own connection to FerretDB. Messages are read with
// [wire.ReadMessage] (size limits first) and OP_MSG bodies parsed with [wire.ParseMsg]; the
// document sequences of a command (kind-1 sections) are merged into its body as arrays before a
// handler sees it. A command no handler takes passes through byte-identical, and so does its
// reply. A reply to an edited command is written again by package wire (with a checksum when
// the original had one). A reply the layer makes itself is an OP_MSG in the server's shape:
// {ok: 0, errmsg, code, codeName} for an error.
//
// # Profiles
//
// A listener claims a server version and topology (a [Profile]). The default listener of
// [Layer.Listen] with the zero Profile shows FerretDB's own hello and buildInfo (a standalone
// server). The admin command
//
//	{qeLayerListen: 1, version: "8.0.0", topology: "replicaset" | "sharded" | "single"}
//
// which only this layer knows, opens one more listener that shares all state (FerretDB's data
// and the layer's metadata) and answers {ok: 1, uri: "mongodb://127.0.0.1:PORT/"}; asking again
// for the same profile returns the same URI. On such a listener hello, isMaster and ismaster
// (OP_MSG and the legacy OP_QUERY handshake) and buildInfo replies carry the profile's version,
// versionArray and maxWireVersion, and for a replica set setName, hosts (this listener's
// address), primary, me, isWritablePrimary, setVersion and electionId; for a sharded cluster
// msg: "isdbgrid".
//
// # What the layer adds
//
//   - Collection options FerretDB drops or refuses: `create` with encryptedFields (validated,
//     with escCollection and ecocCollection filled in as MongoDB does) or with a validator, and
//     `collMod` with a validator, are kept in memory per namespace (the embedded server's data
//     lives in a temporary directory per run) and shown by listCollections, also in cursors
//     continued by getMore. `drop`, `dropDatabase` and `renameCollection` keep them in step.
//   - Partial indexes (FerretDB refuses partialFilterExpression): kept by the layer, shown by
//     listIndexes, and when unique, enforced; see [Layer] for how.
//   - Queryable Encryption, the server side of MongoDB 8.x: insert, update, findAndModify,
//     delete, find, aggregate, count, distinct, explain and bulkWrite with encryptionInformation
//     have their insert payloads turned into stored values with ESC and ECOC documents and
//     __safeContent__ tags (package fle2), and their find payloads into tag lookups (package
//     qerewrite); the tags of replaced values are pulled after an update;
//     compactStructuredEncryptionData and cleanupStructuredEncryptionData compact the ESC from
//     the ECOC. A payload in a command without encryptionInformation is refused, and so is
//     plaintext in an encrypted field (the implicit validator). See qe.go for what differs
//     from MongoDB (no transaction around a write).
//   - The client bulkWrite command (FerretDB has none): one command per operation.
//   - {$const: v} in aggregate, as query analysis writes constants, made plain for FerretDB.
//   - Transactions: the embedded server has none, and FerretDB silently ignores startTransaction;
//     the layer refuses them with a clear error (IllegalOperation).
//
// The layer never logs documents.
package qelayer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Layer is the proxy: its listeners, the address of FerretDB and the metadata it keeps for
// FerretDB.
//
// # Unique partial indexes
//
// An index with a partialFilterExpression is kept by the layer, not by FerretDB. A unique one
// (a single-field key, such as the key vault's {keyAltNames: 1}, unique, with
// partialFilterExpression {keyAltNames: {$exists: true}}) is enforced by the layer: every write
// to its namespace through any listener of the layer (insert, update, findAndModify) runs under
// one lock per namespace, so writes to it are serialized and each sees the result of the one
// before. An insert is checked before it is written when the filter is made of $exists
// conditions (the key vault's), else it is written, checked and removed again on a violation.
// An update or findAndModify is written, then the documents it changed are checked, and on a
// violation restored to the images read (under the same lock) before the write, so a reader
// may see the refused value for that moment but no other writer can build on it. A violation
// gives the server's E11000 duplicate key error (code 11000) as a write error, or as the
// command's error for findAndModify. Writes made directly to FerretDB, past the layer, are not
// checked.
type Layer struct {
	backend string // FerretDB's host:port
	maxMsg  int    // the largest message read from a client or from FerretDB

	mu        sync.Mutex
	listeners map[Profile]*listener
	closed    bool
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup

	cat catalog
}

// New returns a layer in front of the FerretDB listening at backend (host:port). It listens
// nowhere until [Layer.Listen].
func New(backend string) *Layer {
	return &Layer{
		backend:   backend,
		maxMsg:    wire.DefaultMaxMessageSize,
		listeners: map[Profile]*listener{},
		conns:     map[net.Conn]struct{}{},
		cat:       catalog{colls: map[string]*collMeta{}, locks: map[string]*sync.Mutex{}},
	}
}

// listener is one listening socket and the profile it claims.
type listener struct {
	ln      net.Listener
	profile Profile
	addr    string // host:port, as hello's hosts and me name it
	uri     string
}

// Listen opens a listener claiming profile p on a free loopback port, or returns the URI of
// the one already open for p.
func (l *Layer) Listen(p Profile) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return "", errors.New("qelayer: the layer is closed")
	}
	if ln, ok := l.listeners[p]; ok {
		return ln.uri, nil
	}
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("qelayer: %w", err)
	}
	ln := &listener{ln: nl, profile: p, addr: nl.Addr().String()}
	ln.uri = "mongodb://" + ln.addr + "/"
	l.listeners[p] = ln
	l.wg.Add(1)
	go l.accept(ln)
	return ln.uri, nil
}

// Close closes every listener and client connection and waits for their goroutines.
func (l *Layer) Close() error {
	l.mu.Lock()
	l.closed = true
	for _, ln := range l.listeners {
		ln.ln.Close()
	}
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

func (l *Layer) accept(ln *listener) {
	defer l.wg.Done()
	for {
		c, err := ln.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			l.serve(c, ln)
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
		}()
	}
}

// serve pairs client c with a connection of its own to FerretDB and answers its messages
// in order until either side closes.
func (l *Layer) serve(c net.Conn, ln *listener) {
	defer c.Close()
	b, err := net.DialTimeout("tcp", l.backend, 10*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.conns[b] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.conns, b)
		l.mu.Unlock()
	}()
	s := &session{layer: l, ln: ln, client: c, backend: b, cursors: map[int64]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		m, err := wire.ReadMessage(c, l.maxMsg)
		if err != nil {
			// io.EOF, a length out of bounds (the stream cannot be resynchronized), a cut
			// message: nothing to answer.
			return
		}
		if err := s.handleSafely(ctx, m); err != nil {
			return
		}
	}
}

// handleSafely is handle with a panic of a handler turned into an error, which closes this
// connection only: the layer serves the other clients on.
func (s *session) handleSafely(ctx context.Context, m []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("qelayer: a handler panicked: %v", p)
		}
	}()
	return s.handle(ctx, m)
}

// rawDoc marshals v, which must marshal (the layer's own documents).
func rawDoc(v any) bson.Raw {
	b, err := bson.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("qelayer: marshalling the layer's own document: %v", err))
	}
	return b
}
