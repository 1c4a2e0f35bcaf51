package qe

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// ivLen is the size of every IV.
const ivLen = 16

// randomSource returns rng, or crypto/rand.Reader when rng is nil.
func randomSource(rng io.Reader) io.Reader {
	if rng == nil {
		return rand.Reader
	}
	return rng
}

// newIV reads a 16-byte IV from rng.
func newIV(rng io.Reader) ([]byte, error) {
	iv := make([]byte, ivLen)
	if _, err := io.ReadFull(rng, iv); err != nil {
		return nil, fmt.Errorf("qe: reading random IV: %w", err)
	}
	return iv, nil
}

// randomUint64 returns a uniform number in [0, bound) as libmongocrypt's
// _mongocrypt_random_uint64 does, so that the same random bytes choose the same number: read
// 8 bytes as a little-endian uint64, reject values below 2^64 mod bound, reduce modulo bound.
func randomUint64(rng io.Reader, bound uint64) (uint64, error) {
	if bound < 2 {
		return 0, nil
	}
	min := -bound % bound
	var buf [8]byte
	for {
		if _, err := io.ReadFull(rng, buf[:]); err != nil {
			return 0, fmt.Errorf("qe: reading random contention factor: %w", err)
		}
		if r := binary.LittleEndian.Uint64(buf[:]); r >= min {
			return r % bound, nil
		}
	}
}

// chooseContentionFactor picks the contention factor of an insert in [0, max].
func chooseContentionFactor(rng io.Reader, max int64) (int64, error) {
	if max <= 0 {
		return 0, nil
	}
	n, err := randomUint64(rng, uint64(max)+1)
	if err != nil {
		return 0, err
	}
	return int64(n &^ (1 << 63)), nil
}
