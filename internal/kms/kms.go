// Package kms defines how data keys are wrapped by a key management service, and what the
// providers share: provider names, configuration, errors and the retry policy of HTTP providers.
//
// A provider is configured by a name ("local", "aws", "aws:prod", ...) and a credentials document
// taken from the driver's kmsProviders option. Each provider type lives in its own package under
// internal/kms; package internal/kms/providers builds a [Set] from the driver's options.
package kms

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// DataKeyLen is the length of a plaintext data key: MAC key, encryption key and IV key of 32
// bytes each.
const DataKeyLen = 96

// Provider types.
const (
	TypeLocal = "local"
	TypeAWS   = "aws"
	TypeAzure = "azure"
	TypeGCP   = "gcp"
	TypeKMIP  = "kmip"
)

// Provider wraps and unwraps data keys under master keys of one configured KMS provider.
type Provider interface {
	// Name is the provider name as configured: "local", "aws:prod", ...
	Name() string

	// Wrap encrypts the 96-byte data key dek under the master key described by masterKey, the
	// document the caller gave to CreateDataKey or RewrapManyDataKey (nil or empty for local).
	// It returns the key material to store and the masterKey document to store in the key
	// document, field for field what libmongocrypt writes, with "provider" set to Name().
	Wrap(ctx context.Context, masterKey bson.Raw, dek []byte) (keyMaterial []byte, stored bson.Raw, err error)

	// Unwrap decrypts keyMaterial, wrapped under the stored masterKey document of a key
	// document, and returns the 96-byte data key.
	Unwrap(ctx context.Context, masterKey bson.Raw, keyMaterial []byte) ([]byte, error)
}

// Config is what a provider constructor receives.
type Config struct {
	// Name is the provider name: "aws" or "aws:prod".
	Name string
	// Credentials is the provider's document from kmsProviders. It is empty when the
	// credentials are to be fetched on demand (never for a named provider).
	Credentials bson.Raw
	// TLS is the TLS configuration for this provider, or nil for the system defaults.
	TLS *tls.Config
	// HTTPClient is used by HTTP providers; nil means a default client.
	HTTPClient *http.Client
	// AWSCredentialsProvider supplies AWS credentials on demand (aws only); may be nil.
	AWSCredentialsProvider options.AWSCredentialsProvider
	// Endpoints overrides the endpoints of on-demand credential services (instance metadata,
	// ECS, STS, GCP metadata, Azure IMDS), keyed by service. Tests use it; nil means the real
	// addresses.
	Endpoints map[string]string
}

// ParseName splits a provider name into its type and optional name: "aws:prod" gives "aws",
// "prod". The type must be one of the known types and the name must match [a-zA-Z0-9_]+.
func ParseName(s string) (typ, name string, err error) {
	typ, name, named := strings.Cut(s, ":")
	switch typ {
	case TypeLocal, TypeAWS, TypeAzure, TypeGCP, TypeKMIP:
	default:
		return "", "", fmt.Errorf("unrecognized KMS provider %q: the type must be one of aws, azure, gcp, kmip, local", s)
	}
	if !named {
		return typ, "", nil
	}
	if name == "" {
		return "", "", fmt.Errorf("unrecognized KMS provider %q: empty name after ':'", s)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", "", fmt.Errorf("unrecognized KMS provider %q: the name may only hold the characters [a-zA-Z0-9_]", s)
		}
	}
	return typ, name, nil
}

// Error is a failure of a KMS operation. It names the provider, the operation and, for HTTP
// providers, the status of the reply; Err is the cause.
type Error struct {
	Provider string // "aws:prod"
	Op       string // "encrypt", "decrypt", "token", "register", ...
	Status   int    // HTTP status, or 0
	Err      error
}

// Error names the provider, the operation, the HTTP status when there is one, and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kms %s: %s", e.Provider, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrNotConfigured is returned (wrapped) when a key names a provider that was not configured.
var ErrNotConfigured = errors.New("KMS provider not configured")

// Set holds the configured providers by name.
type Set struct {
	providers map[string]Provider
}

// NewSet returns a set holding the given providers.
func NewSet(ps ...Provider) *Set {
	s := &Set{providers: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		s.providers[p.Name()] = p
	}
	return s
}

// Get returns the provider with the given name.
func (s *Set) Get(name string) (Provider, error) {
	if p, ok := s.providers[name]; ok {
		return p, nil
	}
	if _, _, err := ParseName(name); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %q", ErrNotConfigured, name)
}

// idleCloser is implemented by providers that keep connections open between requests.
type idleCloser interface{ CloseIdleConnections() }

// Close releases the idle connections of every provider.
func (s *Set) Close() {
	for _, p := range s.providers {
		if c, ok := p.(idleCloser); ok {
			c.CloseIdleConnections()
		}
	}
}

// Names lists the configured provider names.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.providers))
	for n := range s.providers {
		names = append(names, n)
	}
	return names
}

// ProviderOf returns the "provider" field of a masterKey document.
func ProviderOf(masterKey bson.Raw) (string, error) {
	v, err := masterKey.LookupErr("provider")
	if err != nil {
		return "", errors.New(`masterKey has no "provider" field`)
	}
	s, ok := v.StringValueOK()
	if !ok {
		return "", fmt.Errorf(`masterKey "provider" must be a string, not %s`, v.Type)
	}
	return s, nil
}
