package qe

import (
	"fmt"
	"io"
)

// Encrypt turns the placeholder into the payload sent to the server and returns it as the
// data of a BSON binary of subtype 6:
//
//	insert, unindexed:  FLE2UnindexedEncryptedValueV2 (16)
//	insert, equality:   FLE2InsertUpdatePayloadV2 (11)
//	insert, range:      FLE2InsertUpdatePayloadV2 (11) with the edge token sets "g"
//	insert, text:       FLE2InsertUpdatePayloadV2 (11) with the text token sets "b"
//	find, equality:     FLE2FindEqualityPayloadV2 (12)
//	find, range:        FLE2FindRangePayloadV2 (13)
//	find, text:         FLE2FindTextPayload (18)
//
// keys must return the material of every id of [Placeholder.KeyIDs]. rng supplies the IVs
// and the random contention factor; nil means crypto/rand.Reader. Given the same keys and the
// same random bytes, the output is byte for byte libmongocrypt's.
func (p *Placeholder) Encrypt(keys KeyFunc, rng io.Reader) ([]byte, error) {
	rng = randomSource(rng)
	if p.Type != PlaceholderInsert && p.Type != PlaceholderFind {
		return nil, fmt.Errorf("qe: unexpected placeholder type %d", p.Type)
	}
	insert := p.Type == PlaceholderInsert
	switch p.Algorithm {
	case AlgorithmUnindexed:
		return p.encryptUnindexed(keys, rng)
	case AlgorithmEquality:
		if insert {
			return p.encryptEqualityInsert(keys, rng)
		}
		return p.encryptEqualityFind(keys)
	case AlgorithmRange:
		if insert {
			return p.encryptRangeInsert(keys, rng)
		}
		return p.encryptRangeFind(keys)
	case AlgorithmText:
		if insert {
			return p.encryptTextInsert(keys, rng)
		}
		return p.encryptTextFind(keys)
	}
	return nil, fmt.Errorf("qe: unexpected placeholder algorithm %d", p.Algorithm)
}
