// Decryption, shared by ClientEncryption.Decrypt (one value) and AutoEncrypter.Decrypt (every
// encrypted value of a reply), in three steps: classify each subtype 6 value by its first byte
// (CSFLE, stored Queryable Encryption value, or a placeholder or query payload to leave alone),
// fetch the keys of all of them (keys.go; indexed QE values need a second round for the key
// inside them), then replace each value by its plaintext. Each QE value is parsed once, in the
// first pass, and its outer layer opened once; the second pass takes them from a decryption.
// The walk over a document is in walk.go.

package mongocrypt

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

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
	d, _, err := ce.e.keysForDecrypt(ctx, func(fn func([]byte) error) error { return fn(val.Data) })
	if err != nil {
		return bson.RawValue{}, err
	}
	v, t, _, err := d.appendDecrypted(nil, val.Data)
	if err != nil {
		return bson.RawValue{}, err
	}
	return bson.RawValue{Type: t, Value: v}, nil
}

// Decrypt decrypts every encrypted value (binary subtype 6) anywhere in a server reply, with
// one key vault query for all the keys that are not cached. A reply without encrypted values
// is returned as it is.
func (a *AutoEncrypter) Decrypt(ctx context.Context, reply bson.Raw) (_ bson.Raw, err error) {
	defer classifyErr(&err)
	if a.closed.Load() {
		return nil, errClosed("the AutoEncrypter")
	}
	// The decrypted reply is smaller than the reply by at least the overhead of each FLE1
	// value: its binary header (length 4, subtype 1), the associated data (18), the IV (16),
	// the tag (32) and at least one byte of padding; the plaintext is the BSON value itself.
	// Sizing the output for exactly that keeps the allocation within 1.2 times the output
	// (the bulk benchmark's document: 36,005 bytes out, a 40,960-byte buffer).
	size := len(reply)
	d, found, err := a.e.keysForDecrypt(ctx, func(fn func([]byte) error) error {
		return visitEncrypted(reply, func(blob []byte) error {
			if classify(blob) == blobFLE1 {
				size -= 4 + 1 + 18 + 16 + 32 + 1
			}
			return fn(blob)
		})
	})
	if err != nil {
		if errors.Is(err, errMalformed) {
			return nil, &Error{Code: CodeClient, Message: "decrypting a reply", Err: err}
		}
		return nil, err
	}
	if !found {
		return reply, nil
	}
	out, err := replaceEncrypted(make([]byte, 0, max(size, 16)), reply, 0, d.appendDecrypted)
	if err != nil {
		return nil, err
	}
	return out, nil
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

// decryption carries what the first pass over the encrypted values (the key request) learned
// to the second (the replacement): the keys, and every Queryable Encryption value parsed once,
// indexed ones with their outer layer open, in the order the walk meets them.
type decryption struct {
	ks   *keySet
	qe   []parsedQE
	next int // the value of qe that appendDecrypted meets next
}

// parsedQE is a stored Queryable Encryption value and its parsed form.
type parsedQE struct {
	blob []byte
	v    qe.Stored
}

// keysForDecrypt fetches every key needed to decrypt the encrypted values that visit reports,
// in at most two key vault queries: one for every key named in the values, one for the inner
// keys of indexed Queryable Encryption values, which are only known once their outer layer is
// open. found is false when there is nothing to decrypt.
func (e *engine) keysForDecrypt(ctx context.Context, visit func(func([]byte) error) error) (d decryption, found bool, err error) {
	var req keyRequest
	var parsed []parsedQE
	err = visit(func(blob []byte) error {
		switch classify(blob) {
		case blobFLE1:
			bl, err := fle1.Parse(blob)
			if err != nil {
				return &Error{Code: CodeCrypto, Err: err}
			}
			req.addID(bl.KeyID)
		case blobQE:
			v, err := qe.ParseStored(blob)
			if err != nil {
				return &Error{Code: CodeCrypto, Err: err}
			}
			req.addID(v.KeyID())
			parsed = append(parsed, parsedQE{blob: blob, v: v})
		default:
			return nil
		}
		found = true
		return nil
	})
	if err != nil || !found {
		return decryption{}, found, err
	}
	d.qe = parsed
	if d.ks, err = e.keys(ctx, req); err != nil {
		return decryption{}, true, err
	}
	var inner keyRequest
	for i := range d.qe {
		id, ok, err := d.qe[i].v.ValueKeyID(d.ks.material)
		if err != nil {
			return decryption{}, true, qeErr(err)
		}
		if _, have := d.ks.byID[id]; ok && !have {
			inner.addID(id)
		}
	}
	if len(inner.ids) > 0 {
		more, err := e.keys(ctx, inner)
		if err != nil {
			return decryption{}, true, err
		}
		for id, k := range more.byID {
			d.ks.byID[id] = k
		}
	}
	return d, true, nil
}

// appendDecrypted is the replacer of decryption: it decrypts blob with a key of d and appends
// the value to dst. Placeholders, query payloads and unknown subtypes are left in place, as
// libmongocrypt leaves them.
func (d *decryption) appendDecrypted(dst, blob []byte) ([]byte, bson.Type, bool, error) {
	switch classify(blob) {
	case blobFLE1:
		bl, err := fle1.Parse(blob)
		if err != nil {
			return nil, 0, false, &Error{Code: CodeCrypto, Err: err}
		}
		k, err := d.ks.id(bl.KeyID)
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
		v, err := d.stored(blob)
		if err != nil {
			return nil, 0, false, qeErr(err)
		}
		val, err := v.Decrypt(d.ks.material)
		if err != nil {
			return nil, 0, false, qeErr(err)
		}
		return append(dst, val.Value...), val.Type, true, nil
	}
	return dst, 0, false, nil
}

// stored returns the parsed form of the Queryable Encryption value blob: the next one of the
// first pass, which met the same values of the same document in the same order. Should the
// two passes ever disagree, blob is parsed again.
func (d *decryption) stored(blob []byte) (*qe.Stored, error) {
	if d.next < len(d.qe) {
		p := &d.qe[d.next]
		if len(p.blob) == len(blob) && &p.blob[0] == &blob[0] {
			d.next++
			return &p.v, nil
		}
	}
	v, err := qe.ParseStored(blob)
	return &v, err
}
