// Package local is the "local" KMS provider: data keys are wrapped under a 96-byte master key
// held by the application, with the FLE1 AEAD (random IV, no associated data), as libmongocrypt
// does it.
package local

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Provider wraps data keys under a local master key.
type Provider struct {
	name string
	kek  *aead.FLE1
}

var _ kms.Provider = (*Provider)(nil)

// New builds a local provider from its credentials document {key: 96 bytes as binary or
// base64 string}.
func New(cfg kms.Config) (kms.Provider, error) {
	if len(cfg.Credentials) == 0 || isEmptyDoc(cfg.Credentials) {
		return nil, errors.New(`local KMS provider: the "key" field is required (on-demand credentials are not supported for local)`)
	}
	elems, err := cfg.Credentials.Elements()
	if err != nil {
		return nil, fmt.Errorf("local KMS provider: %w", err)
	}
	var key []byte
	for _, e := range elems {
		switch e.Key() {
		case "key":
			key, err = keyBytes(e.Value())
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("local KMS provider: unexpected field %q", e.Key())
		}
	}
	if key == nil {
		return nil, errors.New(`local KMS provider: the "key" field is required`)
	}
	return NewWithKey(cfg.Name, key)
}

// NewWithKey builds a local provider named name from a 96-byte master key.
func NewWithKey(name string, key []byte) (*Provider, error) {
	if len(key) != aead.FLE1KeyLen {
		return nil, fmt.Errorf("local KMS provider %q: the master key must be %d bytes, got %d", name, aead.FLE1KeyLen, len(key))
	}
	kek, err := aead.NewFLE1(key)
	if err != nil {
		return nil, err
	}
	return &Provider{name: name, kek: kek}, nil
}

func isEmptyDoc(d bson.Raw) bool {
	e, err := d.Elements()
	return err == nil && len(e) == 0
}

// keyBytes accepts the key as BSON binary or as a base64 string.
func keyBytes(v bson.RawValue) ([]byte, error) {
	if _, data, ok := v.BinaryOK(); ok {
		return data, nil
	}
	if s, ok := v.StringValueOK(); ok {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("local KMS provider: \"key\" is not valid base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("local KMS provider: \"key\" must be binary or a base64 string, not %s", v.Type)
}

// Name implements kms.Provider.
func (p *Provider) Name() string { return p.name }

// Wrap implements kms.Provider. A local masterKey document holds only "provider".
func (p *Provider) Wrap(_ context.Context, masterKey bson.Raw, dek []byte) ([]byte, bson.Raw, error) {
	if len(masterKey) > 0 {
		elems, err := masterKey.Elements()
		if err != nil {
			return nil, nil, fmt.Errorf("local masterKey: %w", err)
		}
		for _, e := range elems {
			if e.Key() != "provider" {
				return nil, nil, fmt.Errorf("local masterKey: unexpected field %q (a local masterKey holds only \"provider\")", e.Key())
			}
		}
	}
	if len(dek) != kms.DataKeyLen {
		return nil, nil, fmt.Errorf("data key must be %d bytes, got %d", kms.DataKeyLen, len(dek))
	}
	var iv [aead.IVLen]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, nil, &kms.Error{Provider: p.name, Op: "encrypt", Err: err}
	}
	ct, err := p.kek.Encrypt(nil, iv[:], nil, dek)
	if err != nil {
		return nil, nil, &kms.Error{Provider: p.name, Op: "encrypt", Err: err}
	}
	stored, err := bson.Marshal(bson.D{{Key: "provider", Value: p.name}})
	if err != nil {
		return nil, nil, err
	}
	return ct, stored, nil
}

// Unwrap implements kms.Provider.
func (p *Provider) Unwrap(_ context.Context, _ bson.Raw, keyMaterial []byte) ([]byte, error) {
	dek, err := p.kek.Decrypt(nil, nil, keyMaterial)
	if err != nil {
		return nil, &kms.Error{Provider: p.name, Op: "decrypt", Err: fmt.Errorf("the key material does not decrypt under this master key: %w", err)}
	}
	if len(dek) != kms.DataKeyLen {
		return nil, &kms.Error{Provider: p.name, Op: "decrypt", Err: fmt.Errorf("decrypted data key is %d bytes, want %d", len(dek), kms.DataKeyLen)}
	}
	return dek, nil
}
