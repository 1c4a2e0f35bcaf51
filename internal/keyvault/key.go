// Package keyvault parses key documents and caches decrypted data keys.
//
// A key document (client-side encryption specification, "Key Document"):
//
//	{
//	  _id:          UUID (binary subtype 4)
//	  keyAltNames:  [string, ...]          optional, unique
//	  keyMaterial:  binary subtype 0       the data key wrapped by the KMS
//	  creationDate: date
//	  updateDate:   date
//	  status:       int                    informational only (0 enabled, 1 disabled)
//	  version:      int 0                  optional
//	  masterKey:    {provider: string, ...}
//	}
package keyvault

import (
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxKeyMaterial caps the wrapped key length: the largest KMS wrapping (Azure RSA-4096) is 512
// bytes; a local or KMIP wrap is 160.
const maxKeyMaterial = 4096

// Key is a parsed key document. Its slices alias the document.
type Key struct {
	ID           [16]byte
	KeyAltNames  []string
	KeyMaterial  []byte
	MasterKey    bson.Raw
	Provider     string // masterKey.provider: "local", "aws:prod", ...
	CreationDate time.Time
	UpdateDate   time.Time
	Doc          bson.Raw
}

// ParseKey parses and checks a key document as libmongocrypt does: every required field
// present with its type, no unknown field, keyAltNames unique strings.
func ParseKey(doc bson.Raw) (*Key, error) {
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid key document: %w", err)
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, fmt.Errorf("invalid key document: %w", err)
	}
	k := &Key{Doc: doc}
	var hasID, hasMaterial, hasMaster, hasStatus, hasCreated, hasUpdated bool
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "_id":
			st, data, ok := v.BinaryOK()
			if !ok || st != 4 || len(data) != 16 {
				return nil, errors.New("invalid key document: '_id' is not a UUID")
			}
			copy(k.ID[:], data)
			hasID = true
		case "keyAltNames":
			arr, ok := v.ArrayOK()
			if !ok {
				return nil, fmt.Errorf("invalid key document: 'keyAltNames' must be an array, not %s", v.Type)
			}
			vals, err := arr.Values()
			if err != nil {
				return nil, fmt.Errorf("invalid key document: 'keyAltNames': %w", err)
			}
			seen := make(map[string]bool, len(vals))
			for _, n := range vals {
				s, ok := n.StringValueOK()
				if !ok {
					return nil, fmt.Errorf("invalid key document: keyAltNames holds a %s, not a string", n.Type)
				}
				if seen[s] {
					return nil, fmt.Errorf("invalid key document: duplicate keyAltName %q", s)
				}
				seen[s] = true
				k.KeyAltNames = append(k.KeyAltNames, s)
			}
		case "keyMaterial":
			st, data, ok := v.BinaryOK()
			if !ok || st != 0 {
				return nil, errors.New("invalid key document: 'keyMaterial' must be binary subtype 0")
			}
			if len(data) == 0 || len(data) > maxKeyMaterial {
				return nil, fmt.Errorf("invalid key document: 'keyMaterial' has %d bytes", len(data))
			}
			k.KeyMaterial = data
			hasMaterial = true
		case "masterKey":
			mk, ok := v.DocumentOK()
			if !ok {
				return nil, errors.New("invalid key document: 'masterKey' must be a document")
			}
			p, ok := mk.Lookup("provider").StringValueOK()
			if !ok {
				return nil, errors.New("invalid key document: 'masterKey.provider' must be a string")
			}
			k.MasterKey, k.Provider = mk, p
			hasMaster = true
		case "version":
			n, ok := v.AsInt64OK()
			if !ok || (v.Type != bson.TypeInt32 && v.Type != bson.TypeInt64) {
				return nil, errors.New("invalid key document: 'version' must be an integer")
			}
			if n != 0 {
				return nil, fmt.Errorf("unsupported key document version %d: only version 0 is supported", n)
			}
		case "status":
			hasStatus = true
		case "creationDate":
			dt, ok := v.DateTimeOK()
			if !ok {
				return nil, errors.New("invalid key document: 'creationDate' must be a date")
			}
			k.CreationDate, hasCreated = time.UnixMilli(dt).UTC(), true
		case "updateDate":
			dt, ok := v.DateTimeOK()
			if !ok {
				return nil, errors.New("invalid key document: 'updateDate' must be a date")
			}
			k.UpdateDate, hasUpdated = time.UnixMilli(dt).UTC(), true
		default:
			return nil, fmt.Errorf("invalid key document: unknown field %q", e.Key())
		}
	}
	for _, req := range []struct {
		ok   bool
		name string
	}{{hasID, "_id"}, {hasMaster, "masterKey"}, {hasMaterial, "keyMaterial"}, {hasStatus, "status"}, {hasCreated, "creationDate"}, {hasUpdated, "updateDate"}} {
		if !req.ok {
			return nil, fmt.Errorf("invalid key document: no '%s'", req.name)
		}
	}
	return k, nil
}
