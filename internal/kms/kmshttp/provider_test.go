package kmshttp

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

func raw(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetup(t *testing.T) {
	creds := raw(t, bson.D{{Key: "accessToken", Value: "t"}})
	empty := raw(t, bson.D{})
	cases := []struct {
		name     string
		creds    bson.Raw
		onDemand bool
		fails    bool
	}{
		{"aws", creds, false, false},
		{"aws", empty, true, false},
		{"aws", nil, true, false},
		{"aws:prod", creds, false, false},
		{"aws:prod", empty, false, true}, // named providers cannot ask on demand
		{"gcp", creds, false, true},      // wrong type
		{"aws:bad-name", creds, false, true},
	}
	for _, c := range cases {
		client, onDemand, err := Setup(kms.Config{Name: c.name, Credentials: c.creds}, kms.TypeAWS)
		if (err != nil) != c.fails || (err == nil && (client == nil || onDemand != c.onDemand)) {
			t.Errorf("Setup(%q, %v): onDemand %v, err %v", c.name, c.creds, onDemand, err)
		}
	}
}

func TestMasterKeyDoc(t *testing.T) {
	if _, err := MasterKeyDoc(raw(t, bson.D{{Key: "provider", Value: "aws:a"}, {Key: "key", Value: "k"}}), "aws:a"); err != nil {
		t.Fatal(err)
	}
	if _, err := MasterKeyDoc(raw(t, bson.D{{Key: "key", Value: "k"}}), "aws:a"); err != nil {
		t.Fatalf("masterKey without provider: %v", err)
	}
	if _, err := MasterKeyDoc(raw(t, bson.D{{Key: "provider", Value: "aws"}}), "aws:a"); err == nil {
		t.Fatal("masterKey of another provider accepted")
	}
	if _, err := MasterKeyDoc(raw(t, bson.D{{Key: "provider", Value: 1}}), "aws"); err == nil {
		t.Fatal("non-string provider accepted")
	}
}

func TestAccessToken(t *testing.T) {
	for _, c := range []struct {
		doc   bson.D
		ok    bool
		fails bool
	}{
		{bson.D{{Key: "accessToken", Value: "tok"}}, true, false},
		{bson.D{{Key: "tenantId", Value: "x"}}, false, false},
		{bson.D{{Key: "accessToken", Value: ""}}, false, true},
		{bson.D{{Key: "accessToken", Value: 5}}, false, true},
		{bson.D{{Key: "accessToken", Value: "tok"}, {Key: "clientId", Value: "c"}}, false, true},
	} {
		d, err := NewDoc(raw(t, c.doc), "credentials")
		if err != nil {
			t.Fatal(err)
		}
		tok, ok, err := d.AccessToken()
		if ok != c.ok || (err != nil) != c.fails || (ok && tok != "tok") {
			t.Errorf("%v: %q %v %v", c.doc, tok, ok, err)
		}
	}
}
