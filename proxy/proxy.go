// Package proxy is a MongoDB wire-protocol proxy that gives automatic encryption to any
// client: every command a client sends goes through [mongocrypt.AutoEncrypter.Encrypt] before
// it reaches the server, and every reply through [mongocrypt.AutoEncrypter.Decrypt] before it
// reaches the client. Clients (mongosh, any driver, BI tools) connect to the proxy as to a
// server and read and write plaintext; the server only sees ciphertext, the same bytes as an
// official driver with automatic encryption writes.
//
// # Trust
//
// The proxy holds the key access: whoever reaches it and authenticates to the server reads
// plaintext. Decrypted values leave it only over loopback or TLS: [Server.Serve] refuses a
// listener on another address unless [Config.TLS] is set (and it can require client
// certificates). Each client connection gets its own connection to the server, and the
// client's own authentication (SCRAM, speculative authentication in hello) travels on it, so
// the proxy grants nobody access the server would not; the AutoEncrypter's key vault and
// metadata reads use the credentials of its own client options.
//
// # Wire protocol
//
// OP_MSG in both directions: document sequences are merged into the command for Encrypt and
// split out again for the server; checksums are checked by the reader and not sent on;
// moreToCome (unacknowledged writes) is kept; exhaust is not offered to the server, so every
// request gets one reply. The legacy OP_QUERY handshake of old clients is forwarded; other
// OP_QUERY and other opcodes are refused with the server's error shape. Compression is not
// advertised: hello replies lose their compression field. A command the AutoEncrypter refuses
// gets an ok: 0 reply whose message names the field and the reason; it is never sent.
//
// # Limits
//
// A connection to the server follows it for its life: after a failover the client connections
// on the old primary fail and reconnect, and the new ones reach the address Config.Resolve
// gives (the CLI asks the deployment for its primary). Write batches are not split when
// encryption makes them outgrow the server's limits (learned from its hello): the proxy refuses
// them whole, with BSONObjectTooLarge, before anything is sent.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Config is what a [Server] needs.
type Config struct {
	// Upstream is the server's address, host:port.
	Upstream string
	// Resolve, when set, is asked for the server's address (host:port) each time the proxy
	// connects to the server, in place of Upstream: for a replica set, the current primary, so
	// that the connections made after a failover reach the new one.
	Resolve func(ctx context.Context) (string, error)
	// UpstreamTLS, when set, makes the connections to the server TLS with this configuration.
	UpstreamTLS *tls.Config
	// Encrypter encrypts the commands and decrypts the replies. The Server does not close it.
	Encrypter *mongocrypt.AutoEncrypter
	// TLS, when set, makes the listener TLS with this configuration (set ClientAuth to
	// require client certificates). A listener on an address other than loopback needs it.
	TLS *tls.Config
	// Logger receives the proxy's records (connections, refusals, upstream failures); nil
	// discards them. No record holds a document, a value or a secret.
	Logger *slog.Logger
	// DialTimeout bounds a connection attempt to the server; 0 means 10 seconds.
	DialTimeout time.Duration
}

// Server is a running proxy.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*conn]struct{}
	closing  bool
	inFlight sync.WaitGroup // connections being served
	nextID   atomic.Int32

	// The server's limits, from its hello replies (the defaults until one is seen).
	maxBSON, maxMessage atomic.Int64
}

// New checks cfg and returns a Server that serves nothing until [Server.Serve].
func New(cfg Config) (*Server, error) {
	if cfg.Encrypter == nil {
		return nil, errors.New("proxy: Config.Encrypter is nil")
	}
	if cfg.Resolve == nil {
		if _, _, err := net.SplitHostPort(cfg.Upstream); err != nil {
			return nil, fmt.Errorf("proxy: Config.Upstream %q is not host:port: %w", cfg.Upstream, err)
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, lns: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
	s.maxBSON.Store(defaultMaxBSON)
	s.maxMessage.Store(defaultMaxMessage)
	return s, nil
}

// The server's default maxBsonObjectSize and maxMessageSizeBytes, and the room a command
// document has above maxBsonObjectSize (the server's BSONObjMaxInternalSize).
const (
	defaultMaxBSON    = 16 * 1024 * 1024
	defaultMaxMessage = 48000000
	commandOverhead   = 16 * 1024
)

// learnLimits keeps the limits of a hello reply.
func (s *Server) learnLimits(hello bson.Raw) {
	if n, ok := hello.Lookup("maxBsonObjectSize").AsInt64OK(); ok && n > 0 {
		s.maxBSON.Store(n)
	}
	if n, ok := hello.Lookup("maxMessageSizeBytes").AsInt64OK(); ok && n > 0 {
		s.maxMessage.Store(n)
	}
}

// checkLimits returns why an encrypted command exceeds the server's limits, "" when it fits.
func (s *Server) checkLimits(name string, body bson.Raw, seqs []wire.Sequence, msgLen int) string {
	if max := s.maxBSON.Load() + commandOverhead; int64(len(body)) > max {
		return fmt.Sprintf("the encrypted %s command is %d bytes, over the server's limit of %d for a command document; send smaller batches", name, len(body), max)
	}
	for _, seq := range seqs {
		for i, d := range seq.Docs {
			if max := s.maxBSON.Load(); int64(len(d)) > max {
				return fmt.Sprintf("document %d of %s, encrypted, is %d bytes, over the server's maxBsonObjectSize %d", i, seq.Identifier, len(d), max)
			}
		}
	}
	if max := s.maxMessage.Load(); int64(msgLen) > max {
		return fmt.Sprintf("the encrypted %s message is %d bytes, over the server's maxMessageSizeBytes %d; send smaller batches", name, msgLen, max)
	}
	return ""
}

// ErrNotLoopback is returned by Serve for a listener on an address other than loopback
// without Config.TLS: decrypted values must not cross a network in plaintext.
var ErrNotLoopback = errors.New("proxy: listening on an address other than loopback needs TLS (Config.TLS)")

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("proxy: the server is shut down")

// Serve accepts client connections on ln and serves each until it closes or Shutdown. It
// returns ErrClosed after Shutdown, another error when accepting fails.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS == nil && !isLoopback(ln.Addr()) {
		return ErrNotLoopback
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("proxy: accepting: %w", err)
		}
		cn := &conn{s: s, client: c}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return ErrClosed
		}
		s.conns[cn] = struct{}{}
		s.inFlight.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.inFlight.Done()
			cn.serve()
			s.mu.Lock()
			delete(s.conns, cn)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops accepting connections, lets each connection finish the command it is
// serving, closes it, and waits for all of them or for ctx; when ctx ends first the
// remaining connections are closed at once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.closeAll()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func isLoopback(a net.Addr) bool {
	host := a.String()
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requestID returns a new requestID for a message the proxy writes.
func (s *Server) requestID() int32 {
	id := s.nextID.Add(1)
	if id <= 0 {
		s.nextID.Store(1)
		id = 1
	}
	return id
}

// errorReply is the server's error document.
func errorReply(code int32, codeName, msg string) bson.Raw {
	b, _ := bson.Marshal(bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: msg}, {Key: "code", Value: code}, {Key: "codeName", Value: codeName}})
	return b
}

// The error codes of the proxy's own replies (the server's codes of the same meaning).
const (
	codeBadValue           = 2
	codeHostUnreachable    = 6
	codeFailedToParse      = 9
	codeUnsupportedOpCode  = 352
	codeBSONObjectTooLarge = 10334
)
