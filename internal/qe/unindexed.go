package qe

import (
	"fmt"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// FLE2UnindexedEncryptedValue (v1, subtype 6) and FLE2UnindexedEncryptedValueV2 (subtype 16):
//
//	subtype (1) || key UUID (16) || original BSON type (1) || ciphertext
//
// ciphertext = AEAD(key, plaintext, AAD = the first 18 bytes), FLE2AEAD (CTR) for v1 and
// FLE2v2AEAD (CBC) for v2; plaintext is the raw BSON value without its type byte.
const uevHeaderLen = 1 + 16 + 1

// encryptUnindexed returns the FLE2UnindexedEncryptedValueV2 of an unindexed placeholder.
func (p *Placeholder) encryptUnindexed(keys KeyFunc, rng io.Reader) ([]byte, error) {
	v := p.value()
	k, err := dataKey(keys, p.UserKeyID)
	if err != nil {
		return nil, err
	}
	a, err := aead.NewFLE2v2AEAD(k)
	if err != nil {
		return nil, err
	}
	iv, err := newIV(rng)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, uevHeaderLen+a.CiphertextLen(len(v.Data)))
	out = append(out, byte(fleblob.FLE2UnindexedEncryptedValueV2))
	out = append(out, p.UserKeyID[:]...)
	out = append(out, byte(v.Type))
	out, err = a.Encrypt(out, iv, out[:uevHeaderLen], v.Data)
	if err != nil {
		return nil, fmt.Errorf("qe: encrypting unindexed value: %w", err)
	}
	return out, nil
}
