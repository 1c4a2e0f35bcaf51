package mongocrypt

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// Encrypt encrypts val with the key and algorithm of the options and returns the ciphertext, a
// BSON binary of subtype 6.
//
// CSFLE algorithms AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic and -Random name the key by
// KeyID or KeyAltName. Queryable Encryption algorithms (Indexed with queryType "equality",
// Unindexed, Range, String) name it by KeyID and give the payload to insert or, with a
// queryType, to query; range queries go through [ClientEncryption.EncryptExpression].
func (ce *ClientEncryption) Encrypt(ctx context.Context, val bson.RawValue, opts ...options.Lister[options.EncryptOptions]) (_ bson.Binary, err error) {
	defer classifyErr(&err)
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
	switch {
	case args.Algorithm == fle1.DeterministicName:
		algo = fle1.Deterministic
	case args.Algorithm == fle1.RandomName:
		algo = fle1.Random
	case qe.IsQEAlgorithm(args.Algorithm):
		return e.encryptExplicitQE(ctx, val, args)
	case args.Algorithm == "":
		return nil, clientErr("an algorithm is required")
	default:
		return nil, clientErr("unsupported algorithm %q: use %s, %s, %s, %s, %s or %s", args.Algorithm,
			fle1.DeterministicName, fle1.RandomName, qe.AlgorithmNameIndexed, qe.AlgorithmNameUnindexed,
			qe.AlgorithmNameRange, qe.AlgorithmNameString)
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

// qeKeyID resolves the key of a Queryable Encryption explicit encryption: only a key id, as
// libmongocrypt requires.
func qeKeyID(args *options.EncryptOptions) (qe.KeyID, error) {
	if args.KeyAltName != nil {
		return qe.KeyID{}, clientErr("Queryable Encryption algorithms name their key by key id, not by keyAltName")
	}
	if args.KeyID == nil {
		return qe.KeyID{}, clientErr("a key id is required")
	}
	id, err := uuidFromBinary(*args.KeyID, "the key id")
	return qe.KeyID(id), err
}

func (e *engine) encryptExplicitQE(ctx context.Context, val bson.RawValue, args *options.EncryptOptions) ([]byte, error) {
	id, err := qeKeyID(args)
	if err != nil {
		return nil, err
	}
	p, err := qe.ExplicitPlaceholder(val, id, args)
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	ks, err := e.keysByID(ctx, p.KeyIDs())
	if err != nil {
		return nil, err
	}
	blob, err := p.Encrypt(ks.material, e.rng)
	if err != nil {
		return nil, qeErr(err)
	}
	return blob, nil
}

// qeErr classifies an error of package qe: key lookups are already *Error values.
func qeErr(err error) error {
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, aead.ErrAuth) {
		return &Error{Code: CodeCrypto, Err: err}
	}
	return &Error{Code: CodeClient, Err: err}
}

// EncryptExpression encrypts the bounds of a range query on a Queryable Encryption range field
// and stores the query in result (*bson.Raw, *bson.D, *bson.M or any type bson.Unmarshal
// fills). expr is either a match expression
//
//	{$and: [{<field>: {$gt: <lower>}}, {<field>: {$lt: <upper>}}]}
//
// or an aggregate expression
//
//	{$and: [{$gt: [<fieldpath>, <lower>]}, {$lt: [<fieldpath>, <upper>]}]}
//
// where $gt may be $gte and $lt may be $lte, and either bound may be left out. The options give
// the key id, algorithm "Range", queryType "range", the contention factor and the range options
// of the field.
func (ce *ClientEncryption) EncryptExpression(ctx context.Context, expr any, result any, opts ...options.Lister[options.EncryptOptions]) (err error) {
	defer classifyErr(&err)
	if err := ce.check(); err != nil {
		return err
	}
	args, err := listerOptions(opts)
	if err != nil {
		return err
	}
	if result == nil {
		return clientErr("result must be a pointer to a value to fill, not nil")
	}
	doc, err := marshalDoc(expr, "the expression")
	if err != nil {
		return err
	}
	if doc == nil {
		return clientErr("the expression must not be nil")
	}
	id, err := qeKeyID(args)
	if err != nil {
		return err
	}
	ks, err := ce.e.keysByID(ctx, []qe.KeyID{id})
	if err != nil {
		return err
	}
	out, err := qe.EncryptExpression(doc, id, args, ks.material, ce.e.rng)
	if err != nil {
		return qeErr(err)
	}
	if raw, ok := result.(*bson.Raw); ok {
		*raw = out
		return nil
	}
	if err := bson.Unmarshal(out, result); err != nil {
		return clientErr("decoding the encrypted expression into %T: %w", result, err)
	}
	return nil
}

// Decrypt decrypts a ciphertext (a BSON binary of subtype 6) and returns the value: CSFLE
// values and every stored Queryable Encryption value. A placeholder of query analysis or a
// query payload is returned unchanged, as libmongocrypt does.
func (ce *ClientEncryption) Decrypt(ctx context.Context, val bson.Binary) (_ bson.RawValue, err error) {
	defer classifyErr(&err)
	if err := ce.check(); err != nil {
		return bson.RawValue{}, err
	}
	if val.Subtype != 6 {
		return bson.RawValue{}, clientErr("only binary subtype 6 values are encrypted, got subtype %d", val.Subtype)
	}
	switch classify(val.Data) {
	case blobUnknown:
		if len(val.Data) == 0 {
			return bson.RawValue{}, &Error{Code: CodeCrypto, Err: errors.New("empty encrypted value")}
		}
		return bson.RawValue{}, &Error{Code: CodeCrypto, Err: fmt.Errorf("unsupported encrypted value: blob subtype %d", val.Data[0])}
	case blobLeave:
		return bson.RawValue{Type: bson.TypeBinary, Value: appendBinary(nil, val.Data)}, nil
	}
	ks, _, err := ce.e.keysForDecrypt(ctx, func(fn func([]byte) error) error { return fn(val.Data) })
	if err != nil {
		return bson.RawValue{}, err
	}
	v, t, _, err := ks.appendDecrypted(nil, val.Data)
	if err != nil {
		return bson.RawValue{}, err
	}
	return bson.RawValue{Type: t, Value: v}, nil
}

// blobKind is what decryption does with a subtype 6 value.
type blobKind int

const (
	blobLeave   blobKind = iota // placeholders and query payloads: not stored values
	blobUnknown                 // not a known blob subtype
	blobFLE1                    // CSFLE ciphertext (subtypes 1, 2)
	blobQE                      // stored Queryable Encryption value
)

// classify tells what a subtype 6 value is, by its first byte.
func classify(blob []byte) blobKind {
	if len(blob) == 0 {
		return blobUnknown
	}
	switch st := fleblob.Subtype(blob[0]); {
	case st == fleblob.FLE1DeterministicEncryptedValue || st == fleblob.FLE1RandomEncryptedValue:
		return blobFLE1
	case qe.IsQE(blob):
		return blobQE
	}
	switch fleblob.Subtype(blob[0]) {
	case fleblob.FLE1EncryptionPlaceholder, fleblob.FLE2EncryptionPlaceholder,
		fleblob.FLE2FindEqualityPayload, fleblob.FLE2FindRangePayload, // v1 find payloads
		fleblob.FLE2FindEqualityPayloadV2, fleblob.FLE2FindRangePayloadV2, fleblob.FLE2FindTextPayload:
		return blobLeave
	}
	return blobUnknown
}

// keysForDecrypt fetches every key needed to decrypt the encrypted values that visit reports,
// in at most two key vault queries: one for every key named in the values, one for the inner
// keys of indexed Queryable Encryption values, which are only known once their outer layer is
// open. found is false when there is nothing to decrypt.
func (e *engine) keysForDecrypt(ctx context.Context, visit func(func([]byte) error) error) (ks *keySet, found bool, err error) {
	var req keyRequest
	var indexed [][]byte
	err = visit(func(blob []byte) error {
		switch classify(blob) {
		case blobFLE1:
			bl, err := fle1.Parse(blob)
			if err != nil {
				return &Error{Code: CodeCrypto, Err: err}
			}
			req.addID(bl.KeyID)
		case blobQE:
			ids, err := qe.DecryptKeyIDs(blob)
			if err != nil {
				return &Error{Code: CodeCrypto, Err: err}
			}
			for _, id := range ids {
				req.addID(id)
			}
			indexed = append(indexed, blob)
		default:
			return nil
		}
		found = true
		return nil
	})
	if err != nil || !found {
		return nil, found, err
	}
	if ks, err = e.keys(ctx, req); err != nil {
		return nil, true, err
	}
	var inner keyRequest
	for _, blob := range indexed {
		id, ok, err := qe.DecryptValueKeyID(blob, ks.material)
		if err != nil {
			return nil, true, qeErr(err)
		}
		if _, have := ks.byID[id]; ok && !have {
			inner.addID(id)
		}
	}
	if len(inner.ids) > 0 {
		more, err := e.keys(ctx, inner)
		if err != nil {
			return nil, true, err
		}
		for id, k := range more.byID {
			ks.byID[id] = k
		}
	}
	return ks, true, nil
}

// appendDecrypted is the replacer of decryption: it decrypts blob with a key of ks and appends
// the value to dst. Placeholders, query payloads and unknown subtypes are left in place, as
// libmongocrypt leaves them.
func (ks *keySet) appendDecrypted(dst, blob []byte) ([]byte, bson.Type, bool, error) {
	switch classify(blob) {
	case blobFLE1:
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
	case blobQE:
		v, err := qe.Decrypt(blob, ks.material)
		if err != nil {
			return nil, 0, false, qeErr(err)
		}
		return append(dst, v.Value...), v.Type, true, nil
	}
	return dst, 0, false, nil
}

// appendBinary appends the value bytes of a BSON binary of subtype 6 holding data.
func appendBinary(dst, data []byte) []byte {
	n := len(data)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), byte(n>>24), 6)
	return append(dst, data...)
}
