// Package testserver runs a MongoDB-compatible server inside the process, for the tests and the
// demo: FerretDB with its SQLite handler, listening on a free loopback port.
//
// The embedded server is a stand-in for MongoDB. It lacks partial indexes, pipeline updates,
// $jsonSchema validators, transactions and Queryable Encryption's server side; tests that need
// those run against a real server named by the MONGODB_URI environment variable.
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
)

// newMu serializes ferretdb.New, which is not safe for concurrent use.
var newMu sync.Mutex

// Server is a running embedded server.
type Server struct {
	uri    string
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
	s.uri = "mongodb://" + addr + "/"
	return s, nil
}

// URI is the connection string of the server.
func (s *Server) URI() string { return s.uri }

// Stop shuts the server down and removes its data.
func (s *Server) Stop() {
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
