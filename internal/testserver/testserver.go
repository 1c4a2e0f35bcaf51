// Package testserver runs a MongoDB-compatible server inside the process, for the tests and the
// demo: FerretDB with its SQLite handler on a free loopback port, behind the layer of package
// qelayer, which gives it what the tests need of MongoDB and FerretDB lacks.
//
// [Server.URI] is the layer: the server side of Queryable Encryption as MongoDB 8.x does it
// (commands with encryptionInformation, ESC and ECOC, __safeContent__ tags, compaction and
// cleanup), collection options (encryptedFields, validators) are kept, partial indexes are kept
// and, when unique, enforced, the client bulkWrite command runs, transactions are refused with a
// clear error, and the admin command qeLayerListen opens listeners that claim a MongoDB version
// and topology (see package qelayer). [Server.FerretDBURI] is FerretDB itself, a server that drops
// encryptedFields.
//
// The embedded server still lacks pipeline updates, the validation of documents by validators
// ($jsonSchema), transactions, and everything else FerretDB 1.24 lacks; tests that need those
// run against a real server named by the MONGODB_URI environment variable.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer"
)

// newMu serializes ferretdb.New, which is not safe for concurrent use.
var newMu sync.Mutex

// Server is a running embedded server.
type Server struct {
	uri    string // the layer's default listener
	fdbURI string // FerretDB itself
	layer  *qelayer.Layer
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts an embedded server whose data lives in a fresh temporary directory.
// The caller must call Stop.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "mongocrypt-ferretdb-")
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	newMu.Unlock()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testserver: starting FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	if err := waitListening(addr, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	s.fdbURI = "mongodb://" + addr + "/"
	s.layer = qelayer.New(addr)
	if s.uri, err = s.layer.Listen(qelayer.Profile{}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("testserver: starting the layer: %w", err)
	}
	return s, nil
}

// URI is the connection string of the server: the layer's default listener, which shows
// FerretDB's own hello and buildInfo (a standalone server).
func (s *Server) URI() string { return s.uri }

// FerretDBURI is the connection string of FerretDB itself, past the layer: a server that
// accepts encryptedFields and drops them.
func (s *Server) FerretDBURI() string { return s.fdbURI }

// Stop shuts the server down and removes its data.
func (s *Server) Stop() {
	if s.layer != nil {
		s.layer.Close()
	}
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	os.RemoveAll(s.dir)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("testserver: finding a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("testserver: FerretDB did not listen on %s within %v", addr, limit), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
