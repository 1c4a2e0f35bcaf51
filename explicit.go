package mongocrypt

import (
	"context"
	"errors"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
)

// Encrypt encrypts val with the key and algorithm of the options and returns the ciphertext, a
// BSON binary of subtype 6. The key is named by KeyID (a UUID) or by KeyAltName, not both.
// Algorithms: AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic and -Random.
func (ce *ClientEncryption) Encrypt(ctx context.Context, val bson.RawValue, opts ...options.Lister[options.EncryptOptions]) (bson.Binary, error) {
	if err := ce.check(); err != nil {
		return bson.Binary{}, err
	}
	args, err := listerOptions(opts)
	if err != nil {
		return bson.Binary{}, err
	}
	data, err := ce.e.encryptExplicit(ctx, val, args)
	if err != nil {
		return bson.Binary{}, err
	}
	return bson.Binary{Subtype: 6, Data: data}, nil
}

// explicitKey resolves the key named by the options.
func (e *engine) explicitKey(ctx context.Context, args *options.EncryptOptions) (*dataKey, error) {
	switch {
	case args.KeyID != nil && args.KeyAltName != nil:
		return nil, clientErr("give either a key id or a keyAltName, not both")
	case args.KeyID != nil:
		id, err := uuidFromBinary(*args.KeyID, "the key id")
		if err != nil {
			return nil, err
		}
		var req keyRequest
		req.addID(id)
		ks, err := e.keys(ctx, req)
		if err != nil {
			return nil, err
		}
		return ks.id(id)
	case args.KeyAltName != nil:
		var req keyRequest
		req.addName(*args.KeyAltName)
		ks, err := e.keys(ctx, req)
		if err != nil {
			return nil, err
		}
		return ks.byName[*args.KeyAltName], nil
	}
	return nil, clientErr("a key id or a keyAltName is required")
}

func (e *engine) encryptExplicit(ctx context.Context, val bson.RawValue, args *options.EncryptOptions) ([]byte, error) {
	var algo fle1.Algorithm
	switch args.Algorithm {
	case fle1.DeterministicName:
		algo = fle1.Deterministic
	case fle1.RandomName:
		algo = fle1.Random
	case "":
		return nil, clientErr("an algorithm is required")
	default:
		return nil, clientErr("unsupported algorithm %q: use %s or %s", args.Algorithm, fle1.DeterministicName, fle1.RandomName)
	}
	if args.QueryType != "" || args.ContentionFactor != nil || args.RangeOptions != nil || args.StringOptions != nil {
		return nil, clientErr("queryType, contentionFactor, rangeOptions and stringOptions apply only to Queryable Encryption algorithms, not to %s", args.Algorithm)
	}
	if err := fle1.CheckType(val, algo); err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	k, err := e.explicitKey(ctx, args)
	if err != nil {
		return nil, err
	}
	blob, err := fle1.AppendEncrypt(nil, k.fle1, k.id, algo, val, e.rng)
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	return blob, nil
}

// Decrypt decrypts a ciphertext (a BSON binary of subtype 6) and returns the value. A
// placeholder of query analysis is returned unchanged, as libmongocrypt does.
func (ce *ClientEncryption) Decrypt(ctx context.Context, val bson.Binary) (bson.RawValue, error) {
	if err := ce.check(); err != nil {
		return bson.RawValue{}, err
	}
	if val.Subtype != 6 {
		return bson.RawValue{}, clientErr("only binary subtype 6 values are encrypted, got subtype %d", val.Subtype)
	}
	var req keyRequest
	kind, err := collectKeys(val.Data, &req)
	if err != nil {
		return bson.RawValue{}, err
	}
	if kind == blobIgnored {
		return bson.RawValue{Type: bson.TypeBinary, Value: appendBinary(nil, val.Data)}, nil
	}
	ks, err := ce.e.keys(ctx, req)
	if err != nil {
		return bson.RawValue{}, err
	}
	return decryptBlob(val.Data, ks)
}

// blobKind is what decryption does with a subtype 6 value.
type blobKind int

const (
	blobIgnored blobKind = iota // placeholders and query payloads: left as they are
	blobFLE1
)

// collectKeys adds to req the keys needed to decrypt blob and tells its kind.
func collectKeys(blob []byte, req *keyRequest) (blobKind, error) {
	if len(blob) == 0 {
		return 0, &Error{Code: CodeCrypto, Err: errors.New("empty encrypted value")}
	}
	switch blob[0] {
	case fle1.SubtypeDeterministic, fle1.SubtypeRandom:
		bl, err := fle1.Parse(blob)
		if err != nil {
			return 0, &Error{Code: CodeCrypto, Err: err}
		}
		req.addID(bl.KeyID)
		return blobFLE1, nil
	}
	if ignoredSubtype(blob[0]) {
		return blobIgnored, nil
	}
	return 0, &Error{Code: CodeCrypto, Err: errors.New("unsupported encrypted value: blob subtype " + strconv.Itoa(int(blob[0])))}
}

// ignoredSubtype tells the blob subtypes that decryption leaves as they are: the placeholders
// of query analysis.
func ignoredSubtype(st byte) bool {
	return st == fle1.SubtypePlaceholder || st == 3
}

// decryptBlob decrypts a blob whose keys are in ks.
func decryptBlob(blob []byte, ks *keySet) (bson.RawValue, error) {
	v, t, ok, err := ks.appendDecrypted(nil, blob)
	if err != nil {
		return bson.RawValue{}, err
	}
	if !ok {
		return bson.RawValue{Type: bson.TypeBinary, Value: appendBinary(nil, blob)}, nil
	}
	return bson.RawValue{Type: t, Value: v}, nil
}

// appendDecrypted is the replacer of auto-decryption: it decrypts blob with a key of ks and
// appends the value to dst; placeholders are left in place.
func (ks *keySet) appendDecrypted(dst, blob []byte) ([]byte, bson.Type, bool, error) {
	if len(blob) == 0 {
		return nil, 0, false, &Error{Code: CodeCrypto, Err: errors.New("empty encrypted value")}
	}
	switch st := blob[0]; {
	case ignoredSubtype(st):
		return dst, 0, false, nil
	case st == fle1.SubtypeDeterministic || st == fle1.SubtypeRandom:
		bl, err := fle1.Parse(blob)
		if err != nil {
			return nil, 0, false, &Error{Code: CodeCrypto, Err: err}
		}
		k, err := ks.id(bl.KeyID)
		if err != nil {
			return nil, 0, false, err
		}
		out, err := fle1.AppendDecrypt(dst, k.fle1, bl)
		if err != nil {
			if errors.Is(err, aead.ErrAuth) {
				return nil, 0, false, &Error{Code: CodeCrypto, Message: "decrypting with key " + uuidString(bl.KeyID), Err: err}
			}
			return nil, 0, false, &Error{Code: CodeCrypto, Err: err}
		}
		return out, bl.OriginalType, true, nil
	}
	return nil, 0, false, &Error{Code: CodeCrypto, Err: errors.New("unsupported encrypted value: blob subtype " + strconv.Itoa(int(blob[0])))}
}

// appendBinary appends the value bytes of a BSON binary of subtype 6 holding data.
func appendBinary(dst, data []byte) []byte {
	n := len(data)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), byte(n>>24), 6)
	return append(dst, data...)
}
