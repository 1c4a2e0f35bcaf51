package qe

import (
	"encoding/hex"
	"fmt"
)

// KeyID is the UUID of a data key (the _id of a key vault document, BSON binary subtype 4).
type KeyID [16]byte

// String formats the UUID as 8-4-4-4-12 hexadecimal digits.
func (id KeyID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// KeyFunc returns the 96-byte plaintext key material of a data key. The caller fetches and
// unwraps the keys beforehand (see [Placeholder.KeyIDs] and [DecryptKeyIDs]); an error from
// KeyFunc is returned wrapped.
type KeyFunc func(id KeyID) ([]byte, error)

// DataKeyLen is the size of the plaintext key material of a data key.
const DataKeyLen = dataKeyLen

// dataKey calls keys for id and checks the length of the material.
func dataKey(keys KeyFunc, id KeyID) ([]byte, error) {
	if keys == nil {
		return nil, fmt.Errorf("qe: no key function to fetch key %s", id)
	}
	k, err := keys(id)
	if err != nil {
		return nil, fmt.Errorf("qe: key %s: %w", id, err)
	}
	if len(k) != dataKeyLen {
		return nil, fmt.Errorf("qe: key %s: key material must be %d bytes, got %d", id, dataKeyLen, len(k))
	}
	return k, nil
}

// tokenKeyOf returns the TokenKey, the last 32 bytes of a data key.
func tokenKeyOf(key []byte) []byte { return key[tokenKeyOffset:dataKeyLen] }

// appendUnique appends id to ids unless it is already there.
func appendUnique(ids []KeyID, id KeyID) []KeyID {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}
