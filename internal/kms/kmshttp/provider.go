package kmshttp

import (
	"errors"
	"fmt"
	"net/http"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Setup is the start every HTTP provider's constructor shares: it checks that cfg.Name is a
// provider of type typ, builds the HTTP client with the provider's TLS settings, and tells
// whether the credentials are to be fetched on demand (an empty document), which only the
// unnamed provider of a type may ask for.
func Setup(cfg kms.Config, typ string) (client *http.Client, onDemand bool, err error) {
	t, sub, err := kms.ParseName(cfg.Name)
	if err != nil {
		return nil, false, err
	}
	if t != typ {
		return nil, false, fmt.Errorf("%s: provider name %q is not of type %s", typ, cfg.Name, typ)
	}
	if client, err = NewClient(cfg.HTTPClient, cfg.TLS); err != nil {
		return nil, false, err
	}
	if !IsEmptyDoc(cfg.Credentials) {
		return client, false, nil
	}
	if sub != "" {
		return nil, false, fmt.Errorf("named KMS provider %q needs credentials: on-demand credentials are only for the unnamed provider", cfg.Name)
	}
	return client, true, nil
}

// MasterKeyDoc opens a masterKey document; its optional "provider" field must name the
// provider (name, "aws:prod" for instance).
func MasterKeyDoc(raw bson.Raw, name string) (Doc, error) {
	d, err := NewDoc(raw, "masterKey")
	if err != nil {
		return Doc{}, err
	}
	if prov, ok, err := d.OptionalString("provider"); err != nil {
		return Doc{}, err
	} else if ok && prov != name {
		return Doc{}, fmt.Errorf("masterKey: provider is %q, not %q", prov, name)
	}
	return d, nil
}

// AccessToken reads credentials given as a bare {accessToken: string}; ok is false when the
// document has no accessToken (the provider's other credential forms then apply).
func (d Doc) AccessToken() (token string, ok bool, err error) {
	tok, ok, err := d.OptionalString("accessToken")
	if err != nil || !ok {
		return "", false, err
	}
	if err := d.CheckAllowed("accessToken"); err != nil {
		return "", false, err
	}
	if tok == "" {
		return "", false, errors.New("credentials: accessToken is empty")
	}
	return tok, true, nil
}
