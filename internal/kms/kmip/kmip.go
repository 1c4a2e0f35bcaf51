// Package kmip is the KMIP KMS provider: data keys are protected by a key management server
// that speaks KMIP 1.x over TLS with a client certificate.
//
// # Modes
//
// As libmongocrypt does it, a masterKey {keyId, endpoint, delegated} selects one of two modes.
//
// Without delegated (the default), the KMIP server only stores a 96-byte secret: CreateDataKey
// registers a random SecretData object, activates it and reads it back with Get (or only Gets
// the given keyId), then wraps the data key locally with the FLE1 AEAD
// (AEAD_AES_256_CBC_HMAC_SHA_512, random IV, no associated data) under that secret, as the
// local provider does under its master key. Unwrap Gets the secret and decrypts locally.
//
// With delegated: true, the server does the encryption: CreateDataKey creates and activates an
// AES-256 key (unless keyId names one) and asks the server to Encrypt the data key with
// AES-CBC, PKCS#5 padding and a server-chosen IV; the key material stored is IV (16) ||
// ciphertext. Unwrap sends them back in a Decrypt request.
//
// # Connections
//
// Each KMIP operation opens its own TLS connection to the endpoint (port 5696 unless given)
// with the provider's TLS configuration (client certificate, CA), sends one request message and
// reads one reply. KMIP operations are not retried. Deadlines come from the context; without
// one, each exchange is bounded by [DefaultTimeout].
package kmip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// DefaultPort is the KMIP port used when an endpoint names none.
const DefaultPort = "5696"

// ivLen is the length of the AES-CBC IV of delegated encryption.
const ivLen = 16

// Provider is a configured KMIP provider ("kmip" or "kmip:name").
type Provider struct {
	name     string
	endpoint string // host[:port] from the credentials
	tls      *tls.Config
}

var _ kms.Provider = (*Provider)(nil)

// New returns the provider configured by cfg. The credentials document is {endpoint:
// "host[:port]"}; cfg.TLS holds the client certificate and the CA (nil means the system roots
// and no client certificate).
func New(cfg kms.Config) (*Provider, error) {
	if len(cfg.Credentials) == 0 {
		return nil, fmt.Errorf("kmip credentials need an endpoint; on-demand credentials are not supported for kmip")
	}
	elems, err := cfg.Credentials.Elements()
	if err != nil {
		return nil, fmt.Errorf("kmip credentials are not valid BSON: %w", err)
	}
	p := &Provider{name: cfg.Name}
	for _, e := range elems {
		switch k := e.Key(); k {
		case "endpoint":
			s, ok := e.Value().StringValueOK()
			if !ok {
				return nil, fmt.Errorf("kmip credentials: endpoint must be a string, not %s", e.Value().Type)
			}
			if p.endpoint, err = parseEndpoint(s); err != nil {
				return nil, fmt.Errorf("kmip credentials: %w", err)
			}
		default:
			return nil, fmt.Errorf("kmip credentials: unexpected field %q (only endpoint is allowed)", k)
		}
	}
	if p.endpoint == "" {
		return nil, errors.New("kmip credentials: endpoint is required")
	}
	if cfg.TLS != nil {
		p.tls = cfg.TLS.Clone()
	} else {
		p.tls = &tls.Config{}
	}
	if p.tls.MinVersion < tls.VersionTLS12 {
		p.tls.MinVersion = tls.VersionTLS12
	}
	return p, nil
}

// Name returns the provider name: "kmip" or "kmip:name".
func (p *Provider) Name() string { return p.name }

// masterKey is a parsed kmip masterKey document (libmongocrypt mongocrypt-kek.c).
type masterKey struct {
	endpoint  string // host[:port], "" when absent
	keyID     string // "" when absent
	delegated bool
}

// parseMasterKey parses {provider, keyId, endpoint, delegated}; other fields are refused.
func (p *Provider) parseMasterKey(raw bson.Raw) (masterKey, error) {
	var mk masterKey
	if len(raw) == 0 {
		return mk, nil
	}
	elems, err := raw.Elements()
	if err != nil {
		return mk, fmt.Errorf("masterKey is not valid BSON: %w", err)
	}
	for _, e := range elems {
		v := e.Value()
		switch k := e.Key(); k {
		case "provider":
			s, ok := v.StringValueOK()
			if !ok {
				return mk, fmt.Errorf("masterKey provider must be a string, not %s", v.Type)
			}
			if s != p.name {
				return mk, fmt.Errorf("masterKey provider %q is not this provider (%q)", s, p.name)
			}
		case "endpoint":
			s, ok := v.StringValueOK()
			if !ok {
				return mk, fmt.Errorf("masterKey endpoint must be a string, not %s", v.Type)
			}
			if mk.endpoint, err = parseEndpoint(s); err != nil {
				return mk, fmt.Errorf("masterKey: %w", err)
			}
		case "keyId":
			s, ok := v.StringValueOK()
			if !ok {
				return mk, fmt.Errorf("masterKey keyId must be a string, not %s", v.Type)
			}
			if err := checkUID(s); err != nil {
				return mk, fmt.Errorf("masterKey keyId: %w", err)
			}
			mk.keyID = s
		case "delegated":
			b, ok := v.BooleanOK()
			if !ok {
				return mk, fmt.Errorf("masterKey delegated must be a boolean, not %s", v.Type)
			}
			mk.delegated = b
		default:
			return mk, fmt.Errorf("unexpected field %q in kmip masterKey (allowed: provider, endpoint, keyId, delegated)", k)
		}
	}
	return mk, nil
}

// parseEndpoint returns the host[:port] of an endpoint, without a scheme ("https://"), path or
// query, as libmongocrypt stores it.
func parseEndpoint(s string) (string, error) {
	hp := s
	if i := strings.Index(hp, "://"); i >= 0 {
		hp = hp[i+3:]
	}
	if i := strings.IndexAny(hp, "/?"); i >= 0 {
		hp = hp[:i]
	}
	if hp == "" {
		return "", fmt.Errorf("endpoint %q has no host", s)
	}
	return hp, nil
}

// dialAddr returns the address to dial for host[:port], adding the default port.
func dialAddr(hp string) string {
	if _, _, err := net.SplitHostPort(hp); err == nil {
		return hp
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]"), DefaultPort)
}

// addr returns the address of the server for a masterKey: its own endpoint, else the one of
// the credentials.
func (p *Provider) addr(mk masterKey) string {
	if mk.endpoint != "" {
		return dialAddr(mk.endpoint)
	}
	return dialAddr(p.endpoint)
}

func (p *Provider) fail(op string, err error) error {
	return &kms.Error{Provider: p.name, Op: op, Err: err}
}

// call sends one request of operation op and returns the payload of the reply. Every error is
// a *kms.Error naming op.
func (p *Provider) call(ctx context.Context, addr string, op uint32, req []byte) (item, error) {
	reply, err := p.roundTrip(ctx, addr, req)
	if err != nil {
		return item{}, p.fail(opName(op), err)
	}
	payload, err := parseResponse(reply, op)
	if err != nil {
		var re *ResultError
		if errors.As(err, &re) {
			return item{}, p.fail(opName(op), err)
		}
		return item{}, p.fail(opName(op), fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	return payload, nil
}

// callUID sends a request whose reply names an object (Register, Create, Activate) and
// returns that object's UniqueIdentifier.
func (p *Provider) callUID(ctx context.Context, addr string, op uint32, req []byte) (string, error) {
	payload, err := p.call(ctx, addr, op, req)
	if err != nil {
		return "", err
	}
	uid, err := uniqueIdentifier(payload)
	if err != nil {
		return "", p.fail(opName(op), fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	return uid, nil
}

func (p *Provider) register(ctx context.Context, addr string, secret []byte) (string, error) {
	return p.callUID(ctx, addr, opRegister, registerRequest(secret))
}

func (p *Provider) create(ctx context.Context, addr string) (string, error) {
	return p.callUID(ctx, addr, opCreate, createRequest())
}

func (p *Provider) activate(ctx context.Context, addr, uid string) error {
	got, err := p.callUID(ctx, addr, opActivate, activateRequest(uid))
	if err != nil {
		return err
	}
	if got != uid {
		return p.fail("activate", fmt.Errorf("reply from %s activated object %q, not %q", addr, truncate(got, 64), uid))
	}
	return nil
}

// get returns the 96-byte secret of the SecretData object uid.
func (p *Provider) get(ctx context.Context, addr, uid string) ([]byte, error) {
	payload, err := p.call(ctx, addr, opGet, getRequest(uid))
	if err != nil {
		return nil, err
	}
	if err := checkSameUID(payload, uid); err != nil {
		return nil, p.fail("get", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	secret, err := secretData(payload)
	if err != nil {
		return nil, p.fail("get", fmt.Errorf("object %q: %w", uid, err))
	}
	if len(secret) != aead.FLE1KeyLen {
		return nil, p.fail("get", fmt.Errorf("SecretData %q is %d bytes, want %d", uid, len(secret), aead.FLE1KeyLen))
	}
	return secret, nil
}

// encrypt has the server encrypt plaintext under the AES key uid; it returns IV || ciphertext.
func (p *Provider) encrypt(ctx context.Context, addr, uid string, plaintext []byte) ([]byte, error) {
	payload, err := p.call(ctx, addr, opEncrypt, encryptRequest(uid, plaintext))
	if err != nil {
		return nil, err
	}
	if err := checkSameUID(payload, uid); err != nil {
		return nil, p.fail("encrypt", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	data, err := payload.byteString(tagData)
	if err != nil {
		return nil, p.fail("encrypt", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	iv, err := payload.byteString(tagIVCounterNonce)
	if err != nil {
		return nil, p.fail("encrypt", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	if len(iv) != ivLen {
		return nil, p.fail("encrypt", fmt.Errorf("reply from %s has a %d-byte IV, want %d", addr, len(iv), ivLen))
	}
	if len(data) == 0 {
		return nil, p.fail("encrypt", fmt.Errorf("reply from %s has an empty ciphertext", addr))
	}
	// keyMaterial = IV (16) || ciphertext
	return append(iv, data...), nil
}

// decrypt has the server decrypt IV (16) || ciphertext under the AES key uid.
func (p *Provider) decrypt(ctx context.Context, addr, uid string, keyMaterial []byte) ([]byte, error) {
	iv, ct := keyMaterial[:ivLen], keyMaterial[ivLen:]
	payload, err := p.call(ctx, addr, opDecrypt, decryptRequest(uid, iv, ct))
	if err != nil {
		return nil, err
	}
	if err := checkSameUID(payload, uid); err != nil {
		return nil, p.fail("decrypt", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	data, err := payload.byteString(tagData)
	if err != nil {
		return nil, p.fail("decrypt", fmt.Errorf("malformed reply from %s: %w", addr, err))
	}
	return data, nil
}

// Wrap protects the 96-byte data key dek under the KMIP master key described by masterKey
// ({keyId, endpoint, delegated}, all optional) and returns the key material and the masterKey
// to store: {provider, endpoint (when given), delegated (when true), keyId}.
func (p *Provider) Wrap(ctx context.Context, masterKey bson.Raw, dek []byte) ([]byte, bson.Raw, error) {
	mk, err := p.parseMasterKey(masterKey)
	if err != nil {
		return nil, nil, p.fail("wrap", err)
	}
	if len(dek) != kms.DataKeyLen {
		return nil, nil, p.fail("wrap", fmt.Errorf("data key is %d bytes, want %d", len(dek), kms.DataKeyLen))
	}
	addr := p.addr(mk)
	uid := mk.keyID
	var wrapped []byte
	if mk.delegated {
		if uid == "" {
			if uid, err = p.create(ctx, addr); err != nil {
				return nil, nil, err
			}
			if err := p.activate(ctx, addr, uid); err != nil {
				return nil, nil, err
			}
		}
		if wrapped, err = p.encrypt(ctx, addr, uid, dek); err != nil {
			return nil, nil, err
		}
	} else {
		if uid == "" {
			secret := make([]byte, aead.FLE1KeyLen)
			if _, err := rand.Read(secret); err != nil {
				return nil, nil, p.fail("register", err)
			}
			if uid, err = p.register(ctx, addr, secret); err != nil {
				return nil, nil, err
			}
			if err := p.activate(ctx, addr, uid); err != nil {
				return nil, nil, err
			}
		}
		kek, err := p.get(ctx, addr, uid)
		if err != nil {
			return nil, nil, err
		}
		if wrapped, err = wrapLocal(kek, dek); err != nil {
			return nil, nil, p.fail("wrap", err)
		}
	}

	stored := bson.D{{Key: "provider", Value: p.name}}
	if mk.endpoint != "" {
		stored = append(stored, bson.E{Key: "endpoint", Value: mk.endpoint})
	}
	if mk.delegated {
		stored = append(stored, bson.E{Key: "delegated", Value: true})
	}
	stored = append(stored, bson.E{Key: "keyId", Value: uid})
	raw, err := bson.Marshal(stored)
	if err != nil {
		return nil, nil, p.fail("wrap", err)
	}
	return wrapped, raw, nil
}

// Unwrap recovers the 96-byte data key from keyMaterial, protected under the stored masterKey
// {provider, keyId, endpoint, delegated}.
func (p *Provider) Unwrap(ctx context.Context, masterKey bson.Raw, keyMaterial []byte) ([]byte, error) {
	mk, err := p.parseMasterKey(masterKey)
	if err != nil {
		return nil, p.fail("unwrap", err)
	}
	if mk.keyID == "" {
		return nil, p.fail("unwrap", errors.New("kmip masterKey has no keyId"))
	}
	addr := p.addr(mk)
	if mk.delegated {
		// keyMaterial = IV (16) || AES-CBC ciphertext (whole blocks)
		if len(keyMaterial) < 2*ivLen || len(keyMaterial)%ivLen != 0 {
			return nil, p.fail("unwrap", fmt.Errorf("delegated keyMaterial is %d bytes, not IV (16) || AES-CBC blocks", len(keyMaterial)))
		}
		dek, err := p.decrypt(ctx, addr, mk.keyID, keyMaterial)
		if err != nil {
			return nil, err
		}
		if len(dek) != kms.DataKeyLen {
			return nil, p.fail("decrypt", fmt.Errorf("decrypted key is %d bytes, want %d", len(dek), kms.DataKeyLen))
		}
		return dek, nil
	}
	kek, err := p.get(ctx, addr, mk.keyID)
	if err != nil {
		return nil, err
	}
	dek, err := unwrapLocal(kek, keyMaterial)
	if err != nil {
		return nil, p.fail("unwrap", fmt.Errorf("keyMaterial under KMIP SecretData %q: %w", mk.keyID, err))
	}
	return dek, nil
}

// wrapLocal encrypts dek under the 96-byte kek with the FLE1 AEAD, a random IV and no
// associated data: IV (16) || AES-256-CBC ciphertext || tag (32).
func wrapLocal(kek, dek []byte) ([]byte, error) {
	f, err := aead.NewFLE1(kek)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aead.IVLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	return f.Encrypt(nil, iv, nil, dek)
}

// unwrapLocal reverses wrapLocal and checks that the result is a 96-byte data key.
func unwrapLocal(kek, wrapped []byte) ([]byte, error) {
	f, err := aead.NewFLE1(kek)
	if err != nil {
		return nil, err
	}
	dek, err := f.Decrypt(nil, nil, wrapped)
	if err != nil {
		return nil, err
	}
	if len(dek) != kms.DataKeyLen {
		return nil, fmt.Errorf("decrypted key is %d bytes, want %d", len(dek), kms.DataKeyLen)
	}
	return dek, nil
}
