package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mongocrypt-go/mongocrypt/proxy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// cutter forwards TCP connections to a server and can cut them all and refuse new ones for a
// while: to the proxy, the server went away and came back on the same data.
type cutter struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	delay  atomic.Int64 // nanoseconds each reply of the server is held
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			if c.down.Load() {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns[in], c.conns[out] = struct{}{}, struct{}{}
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close(); in.Close() }()
			go func() {
				buf := make([]byte, 64*1024)
				for {
					n, err := out.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(c.delay.Load()))
						if _, werr := in.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				out.Close()
				in.Close()
			}()
		}
	}()
	return c
}

// serve starts another proxy with cfg and the env's AutoEncrypter on a loopback port, shut down
// at the end of the test; served receives what Serve returns.
func (e *env) serve(t *testing.T, cfg proxy.Config) (srv *proxy.Server, addr string, served <-chan error) {
	t.Helper()
	cfg.Encrypter = e.encrypter
	srv, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, ln.Addr().String(), done
}

// cut closes every forwarded connection; with down, new ones are refused until up.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Close()
	}
	clear(c.conns)
}

// TestProxyLoadAndUpstreamRestart: 64 client connections insert and read back through the
// proxy for a bounded time while the server connection is cut once and refused for a moment.
// The operations in flight then fail with an error, nothing reaches the server in plaintext,
// every insert that succeeded is read back decrypted and equal, and the proxy serves again
// without a restart.
func TestProxyLoadAndUpstreamRestart(t *testing.T) {
	e := newEnv(t)
	cut := newCutter(t, e.primary(t))
	_, addr, _ := e.serve(t, proxy.Config{Upstream: cut.ln.Addr().String()})
	c, err := mongo.Connect(options.Client().ApplyURI(e.uriFor(addr)).
		SetMaxPoolSize(64).SetMinPoolSize(64).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	people := c.Database(e.db).Collection("people")
	ctx := t.Context()
	var (
		mu       sync.Mutex
		written  = map[int]string{}
		failures atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(3 * time.Second)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				id := int(next.Add(1))
				ssn := fmt.Sprintf("LOAD-SSN-%06d", id)
				_, err := people.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "ssn", Value: ssn}, {Key: "secret", Value: "LOAD-SECRET"}})
				if err != nil {
					failures.Add(1)
					continue
				}
				mu.Lock()
				written[id] = ssn
				mu.Unlock()
				var got bson.M
				if err := people.FindOne(ctx, bson.D{{Key: "ssn", Value: ssn}}).Decode(&got); err != nil {
					failures.Add(1)
					continue
				}
				if got["ssn"] != ssn || got["secret"] != "LOAD-SECRET" {
					t.Errorf("read back %v for %s", got, ssn)
					return
				}
			}
		}()
	}
	time.Sleep(1200 * time.Millisecond)
	cut.down.Store(true)
	cut.cut()
	time.Sleep(300 * time.Millisecond)
	cut.down.Store(false)
	wg.Wait()
	t.Logf("%d inserts acknowledged, %d operations failed around the cut", len(written), failures.Load())
	if len(written) < 64 {
		t.Fatalf("only %d inserts in 3 s", len(written))
	}
	// The proxy serves again, and every acknowledged insert reads back decrypted.
	cur, err := people.Find(ctx, bson.D{})
	if err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
	seen := map[int]bool{}
	for cur.Next(ctx) {
		var d struct {
			ID  int    `bson:"_id"`
			SSN string `bson:"ssn"`
		}
		if err := cur.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if want, ok := written[d.ID]; ok && d.SSN != want {
			t.Fatalf("document %d read back with ssn %q, want %q", d.ID, d.SSN, want)
		}
		seen[d.ID] = true
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range written {
		if !seen[id] {
			t.Fatalf("acknowledged insert %d is missing", id)
		}
	}
	// Nothing on the server is plaintext.
	dc, err := e.direct.Database(e.db).Collection("people").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for dc.Next(ctx) {
		if bytes.Contains(dc.Current, []byte("LOAD-")) {
			t.Fatalf("plaintext on the server in document %s", dc.Current.Lookup("_id"))
		}
	}
}

// TestProxyRefusesOversizedBatch: a document the client sized under the server's 16 MiB limit
// that encryption takes over it is refused whole, with an error saying so, and nothing is
// written.
func TestProxyRefusesOversizedBatch(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	people := c.Database(e.db).Collection("people")
	big := strings.Repeat("x", 16*1024*1024-100)
	_, err := people.InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}, {Key: "secret", Value: big}})
	if err == nil || !strings.Contains(err.Error(), "maxBsonObjectSize") {
		t.Fatalf("an insert that encryption makes too large: %v", err)
	}
	if n, _ := e.direct.Database(e.db).Collection("people").CountDocuments(t.Context(), bson.D{}); n != 0 {
		t.Fatalf("%d documents written", n)
	}
}

// TestProxyShutdownLetsInFlightFinish: a command in flight when Shutdown starts gets its reply;
// the proxy then refuses new connections, and Shutdown returns once the command is done.
func TestProxyShutdownLetsInFlightFinish(t *testing.T) {
	e := newEnv(t)
	slow := newCutter(t, e.primary(t))
	srv, addr, served := e.serve(t, proxy.Config{Upstream: slow.ln.Addr().String()})
	// A short server selection: Disconnect, after Shutdown, finds no server for endSessions.
	c, err := mongo.Connect(options.Client().ApplyURI(e.uriFor(addr)).
		SetServerSelectionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	people := c.Database(e.db).Collection("people")
	if _, err := people.InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "INFLIGHT-SSN"}}); err != nil {
		t.Fatal(err)
	}
	slow.delay.Store(int64(700 * time.Millisecond))
	found := make(chan error, 1)
	go func() {
		var got bson.M
		err := people.FindOne(context.Background(), bson.D{{Key: "ssn", Value: "INFLIGHT-SSN"}}).Decode(&got)
		if err == nil && got["ssn"] != "INFLIGHT-SSN" {
			err = fmt.Errorf("read %v", got)
		}
		found <- err
	}()
	time.Sleep(200 * time.Millisecond) // the find is on its way
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-found; err != nil {
		t.Fatalf("the command in flight during Shutdown: %v", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("Shutdown returned after %v, before the command in flight was done", time.Since(start))
	}
	if err := <-served; !errors.Is(err, proxy.ErrClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("a connection was accepted after Shutdown")
	}
}

// TestProxyResolveFollowsTheServer: with Config.Resolve, each new server connection goes where
// Resolve says now. When the first server connection is cut and its address refused (the old
// primary went away), the client's operation fails, its reconnection reaches the address
// Resolve gives next (the new primary), and the data written before is read back.
func TestProxyResolveFollowsTheServer(t *testing.T) {
	e := newEnv(t)
	oldPrimary, newPrimary := newCutter(t, e.primary(t)), newCutter(t, e.primary(t))
	var current atomic.Value
	current.Store(oldPrimary.ln.Addr().String())
	var resolved atomic.Int64
	_, addr, _ := e.serve(t, proxy.Config{Resolve: func(context.Context) (string, error) {
		resolved.Add(1)
		return current.Load().(string), nil
	}})
	c, err := mongo.Connect(options.Client().ApplyURI(e.uriFor(addr)).SetRetryWrites(false).SetRetryReads(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	people := c.Database(e.db).Collection("people")
	ctx := t.Context()
	if _, err := people.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "FAILOVER-SSN"}}); err != nil {
		t.Fatal(err)
	}
	// The old primary goes away; Resolve now names the new one.
	current.Store(newPrimary.ln.Addr().String())
	oldPrimary.down.Store(true)
	oldPrimary.cut()
	var got bson.M
	var lastErr error
	for range 20 {
		if lastErr = people.FindOne(ctx, bson.D{{Key: "ssn", Value: "FAILOVER-SSN"}}).Decode(&got); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil || got["ssn"] != "FAILOVER-SSN" {
		t.Fatalf("after the failover: %v, %v", got, lastErr)
	}
	newPrimary.mu.Lock()
	n := len(newPrimary.conns)
	newPrimary.mu.Unlock()
	if n == 0 {
		t.Fatal("no server connection reached the new address")
	}
	if resolved.Load() < 2 {
		t.Fatalf("Resolve was asked %d times", resolved.Load())
	}
}
