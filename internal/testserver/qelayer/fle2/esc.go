package fle2

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
)

// ESC is the view of one encrypted collection's ESC (state) collection the algorithms need.
type ESC interface {
	// Get reports whether an ESC document with _id id (BinData subtype 0 of these bytes)
	// exists and returns its "value" field's bytes (nil when it has none).
	Get(ctx context.Context, id []byte) (value []byte, found bool, err error)
}

// ESCWriter also writes, for compaction and cleanup.
type ESCWriter interface {
	ESC
	// Insert inserts {_id: BinData(0, id), value: BinData(0, value)}; value nil inserts
	// {_id} only.
	Insert(ctx context.Context, id, value []byte) error
	// Delete deletes the documents with these _id, those that exist.
	Delete(ctx context.Context, ids [][]byte) error
}

// ESC document _id and value layouts (fle_crypto.cpp, ESCCollection):
//
//	non-anchor:       _id = HMAC(ESCTwiceDerivedTagToken, le64(cpos)),      no value
//	anchor:           _id = HMAC(ESCTwiceDerivedTagToken, le64(0) || le64(apos)),
//	                  value = EncryptCTR(ESCTwiceDerivedValueToken, le64(0) || le64(cpos))
//	null anchor:      _id = HMAC(ESCTwiceDerivedTagToken, le64(0) || le64(0)),
//	                  value = EncryptCTR(ESCTwiceDerivedValueToken, le64(apos) || le64(cpos))
//	padding anchor:   _id = HMAC(AnchorPaddingKeyToken, le64(0) || le64(apos)),
//	                  value = EncryptCTR(AnchorPaddingValueToken, le64(0) || le64(0))
//	padding null:     _id = HMAC(AnchorPaddingKeyToken, le64(0) || le64(0)),
//	                  value = EncryptCTR(AnchorPaddingValueToken, le64(apos) || le64(0))
//
// EncryptCTR is AES-256-CTR with a random 16-byte IV in front (FLEUtil::encryptData).
const (
	escAnchorIDPrefix   = 0 // kESCAnchorId, also kESCPaddingId
	escNullAnchorPos    = 0 // kESCNullAnchorPosition
	escAnchorValueFirst = 0 // kESCNonNullAnchorValuePrefix
	escValueLen         = 16 + 16
	maxSearchPosition   = 1 << 62 // a position search that runs past this is refused
)

func nonAnchorID(t *escTokens, cpos uint64) token { return prf1(t.tag[:], cpos) }

func anchorID(t *escTokens, apos uint64) token { return prf2(t.tag[:], escAnchorIDPrefix, apos) }

func nullAnchorID(t *escTokens) token { return anchorID(t, escNullAnchorPos) }

// encryptPair returns EncryptCTR(key, le64(a) || le64(b)) with a random IV.
func encryptPair(rng io.Reader, key token, a, b uint64) ([]byte, error) {
	var plain [16]byte
	binary.LittleEndian.PutUint64(plain[:8], a)
	binary.LittleEndian.PutUint64(plain[8:], b)
	return encryptCTR(rng, key, plain[:])
}

// decryptPair reverses encryptPair.
func decryptPair(key token, value []byte) (a, b uint64, err error) {
	if len(value) != escValueLen {
		return 0, 0, fmt.Errorf("ESC value of %d bytes, expected %d", len(value), escValueLen)
	}
	c, err := aead.NewFLE2CTR(key[:])
	if err != nil {
		return 0, 0, err
	}
	plain, err := c.Decrypt(nil, value)
	if err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint64(plain[:8]), binary.LittleEndian.Uint64(plain[8:]), nil
}

// encryptCTR returns IV || AES-256-CTR(key, plain) with a random IV.
func encryptCTR(rng io.Reader, key token, plain []byte) ([]byte, error) {
	if rng == nil {
		rng = rand.Reader
	}
	c, err := aead.NewFLE2CTR(key[:])
	if err != nil {
		return nil, err
	}
	iv := make([]byte, 16)
	if _, err := io.ReadFull(rng, iv); err != nil {
		return nil, fmt.Errorf("fle2: reading random IV: %w", err)
	}
	return c.Encrypt(make([]byte, 0, 16+len(plain)), iv, plain)
}

// anchorPositions is a decrypted anchor value: (apos, cpos) of a null anchor, (0, cpos) of an
// anchor.
type anchorPositions struct {
	apos, cpos uint64
}

// readAnchor reads and decrypts the anchor with _id id; ok is false when there is none.
func readAnchor(ctx context.Context, esc ESC, t *escTokens, id token) (p anchorPositions, ok bool, err error) {
	value, found, err := esc.Get(ctx, id[:])
	if err != nil || !found {
		return p, false, err
	}
	if value == nil {
		return p, false, errorf(codeBadValue, "ESC anchor document has no value")
	}
	a, c, err := decryptPair(t.value, value)
	if err != nil {
		return p, false, errorf(codeBadValue, "ESC anchor document: %v", err)
	}
	return anchorPositions{apos: a, cpos: c}, true, nil
}

// emuResult is EmuBinaryResult: cpos, the last non-anchor position (nil: none since the
// latest anchor), and apos, the last anchor position (nil: the null anchor holds it).
type emuResult struct {
	cpos, apos *uint64
}

func u64p(v uint64) *uint64 { return &v }

// emuBinary is ESCCollection::emuBinaryV2: anchorBinaryHops, then binaryHops from the
// latest anchor's cpos.
func emuBinary(ctx context.Context, esc ESC, t *escTokens) (emuResult, error) {
	apos, err := anchorBinaryHops(ctx, esc, t)
	if err != nil {
		return emuResult{}, err
	}
	cpos, err := binaryHops(ctx, esc, t, apos)
	if err != nil {
		return emuResult{}, err
	}
	return emuResult{cpos: cpos, apos: apos}, nil
}

// anchorBinaryHops finds the last anchor position above the null anchor's apos: 0 when there
// is neither a null anchor nor an anchor, nil when the null anchor exists and no anchor
// follows it.
func anchorBinaryHops(ctx context.Context, esc ESC, t *escTokens) (*uint64, error) {
	var lambda uint64
	var x *uint64
	null, ok, err := readAnchor(ctx, esc, t, nullAnchorID(t))
	if err != nil {
		return nil, err
	}
	if ok {
		lambda = null.apos
	} else {
		x = u64p(0)
	}
	return binarySearch(ctx, esc, lambda, x, func(p uint64) token { return anchorID(t, p) })
}

// binaryHops finds the last non-anchor position above the latest anchor's cpos (x is the
// result of anchorBinaryHops).
func binaryHops(ctx context.Context, esc ESC, t *escTokens, x *uint64) (*uint64, error) {
	var lambda uint64
	var i *uint64
	if x != nil && *x == 0 {
		i = u64p(0)
	} else {
		id := nullAnchorID(t)
		if x != nil {
			id = anchorID(t, *x)
		}
		a, ok, err := readAnchor(ctx, esc, t, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errorf(7291501, "ESC anchor document not found")
		}
		lambda = a.cpos
	}
	return binarySearch(ctx, esc, lambda, i, func(p uint64) token { return nonAnchorID(t, p) })
}

var errSearchTooFar = errorf(codeBadValue, "ESC position search exceeded the largest position")

// binarySearch is binarySearchCommon: the largest k >= 1 such that the document at
// lambda + k exists (documents exist at lambda+1 .. lambda+k without gaps), returned as
// lambda + k; i (the default) when there is none. The server starts rho at the ESC's document
// count (at least 2); the result does not depend on it, so this starts at 2.
func binarySearch(ctx context.Context, esc ESC, lambda uint64, i *uint64, id func(uint64) token) (*uint64, error) {
	exists := func(p uint64) (bool, error) {
		if p > maxSearchPosition {
			return false, errSearchTooFar
		}
		k := id(p)
		_, found, err := esc.Get(ctx, k[:])
		return found, err
	}
	if lambda > maxSearchPosition {
		return nil, errSearchTooFar
	}
	rho := uint64(2)
	for {
		ok, err := exists(rho + lambda)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if rho > maxSearchPosition/2 {
			return nil, errSearchTooFar
		}
		rho *= 2
	}
	lo, hi := uint64(1), rho
	iterations := bits.Len64(rho - 1) // ceil(log2(rho)), rho >= 2
	for j := 1; j <= iterations; j++ {
		median := (hi-lo+1)/2 + lo
		ok, err := exists(median + lambda)
		if err != nil {
			return nil, err
		}
		last := j == iterations
		if ok {
			lo = median
			if last {
				i = u64p(lo + lambda)
			}
			continue
		}
		hi = median
		if last && lo == 1 {
			ok, err := exists(1 + lambda)
			if err != nil {
				return nil, err
			}
			if ok {
				i = u64p(1 + lambda)
			}
		} else if last {
			i = u64p(lo + lambda)
		}
	}
	return i, nil
}

// nextCount is getEdgeCountInfo: the number of non-anchors of the chain so far (anchors
// included), for a query; an insert uses nextCount + 1.
func nextCount(ctx context.Context, esc ESC, t *escTokens) (uint64, error) {
	r, err := emuBinary(ctx, esc, t)
	if err != nil {
		return 0, err
	}
	if r.cpos != nil {
		return *r.cpos, nil
	}
	if r.apos != nil && *r.apos == 0 {
		return 0, errorf(7291902, "An ESC anchor document is expected but none is found")
	}
	id := nullAnchorID(t)
	if r.apos != nil {
		id = anchorID(t, *r.apos)
	}
	a, ok, err := readAnchor(ctx, esc, t, id)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errorf(7291903, "ESC anchor document not found")
	}
	return a.cpos, nil
}

var errNilESC = errors.New("fle2: nil ESC")
