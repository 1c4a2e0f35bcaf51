// Explicit encryption: ClientEncryption.Encrypt (CSFLE and Queryable Encryption algorithms) and
// ClientEncryption.EncryptExpression (range queries), with the resolution of the key that the
// options name. Explicit decryption is in decrypt.go.

package mongocrypt

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
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
