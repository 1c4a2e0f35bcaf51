package providers

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// helloRecorder is a TLS listener that records the server name of each ClientHello and ends the
// handshake there.
type helloRecorder struct {
	ln    net.Listener
	mu    sync.Mutex
	names []string
}

func startHelloRecorder(t *testing.T) *helloRecorder {
	h := &helloRecorder{}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			h.mu.Lock()
			h.names = append(h.names, hello.ServerName)
			h.mu.Unlock()
			return nil, errors.New("recorded")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return h
}

// kmip and kmip:eu are built from kmsProviders, each with its own endpoint and TLS options.
func TestKMIPNamedProviders(t *testing.T) {
	rec := startHelloRecorder(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	set, err := New(Options{
		KMSProviders: map[string]map[string]any{
			"kmip":    {"endpoint": deadAddr},
			"kmip:eu": {"endpoint": rec.ln.Addr().String()},
		},
		TLS: map[string]*tls.Config{"kmip:eu": {ServerName: "kmip-eu.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, addr := range map[string]string{"kmip": deadAddr, "kmip:eu": rec.ln.Addr().String()} {
		p, err := set.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		mk, _ := bson.Marshal(bson.D{{Key: "provider", Value: name}, {Key: "keyId", Value: "1"}})
		_, err = p.Unwrap(ctx, mk, make([]byte, 160))
		var ke *kms.Error
		if !errors.As(err, &ke) || ke.Provider != name || ke.Op != "get" {
			t.Fatalf("%s: error %v, want a *kms.Error of %s get", name, err, name)
		}
		if !strings.Contains(err.Error(), addr) {
			t.Fatalf("%s: error %q does not name its endpoint %s", name, err, addr)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.names) != 1 || rec.names[0] != "kmip-eu.example" {
		t.Fatalf("server names seen %q, want kmip:eu's own TLS server name", rec.names)
	}

	for name, creds := range map[string]map[string]any{
		"kmip":    {"endpoint": 5696},
		"kmip:us": {"endpoint": "h", "keyId": "1"},
	} {
		if _, err := New(Options{KMSProviders: map[string]map[string]any{name: creds}}); err == nil {
			t.Errorf("%s %v: no error", name, creds)
		}
	}
}
