package kms

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type fakeProvider struct {
	name   string
	closed int
}

func (f *fakeProvider) Name() string { return f.name }
func (f *fakeProvider) Wrap(context.Context, bson.Raw, []byte) ([]byte, bson.Raw, error) {
	return nil, nil, nil
}
func (f *fakeProvider) Unwrap(context.Context, bson.Raw, []byte) ([]byte, error) { return nil, nil }
func (f *fakeProvider) CloseIdleConnections()                                    { f.closed++ }

func TestSet(t *testing.T) {
	a, b := &fakeProvider{name: "aws"}, &fakeProvider{name: "aws:prod"}
	s := NewSet(a, b)
	if p, err := s.Get("aws:prod"); err != nil || p != b {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Get("gcp"); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("unconfigured provider: %v", err)
	}
	if _, err := s.Get("gcp:bad-name"); err == nil || errors.Is(err, ErrNotConfigured) {
		t.Fatalf("malformed name: %v", err)
	}
	s.Close()
	if a.closed != 1 || b.closed != 1 {
		t.Fatal("Close did not close the idle connections of every provider")
	}
}

func TestProviderOf(t *testing.T) {
	doc, _ := bson.Marshal(bson.D{{Key: "provider", Value: "local:x"}})
	if p, err := ProviderOf(doc); err != nil || p != "local:x" {
		t.Fatalf("ProviderOf: %q %v", p, err)
	}
	for _, bad := range []bson.D{{}, {{Key: "provider", Value: 1}}} {
		raw, _ := bson.Marshal(bad)
		if _, err := ProviderOf(raw); err == nil {
			t.Fatalf("ProviderOf(%v) accepted", bad)
		}
	}
}
