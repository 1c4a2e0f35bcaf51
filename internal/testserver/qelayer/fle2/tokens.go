package fle2

// Server-side token derivations (fle_crypto.cpp, fle_tokens.h). Every one is
// HMAC-SHA-256(key, x) with x one or two uint64 written little-endian:
//
//	EDCTwiceDerivedToken           = HMAC(EDCDerivedFromDataTokenAndContentionFactor, 1)
//	ESCTwiceDerivedTagToken        = HMAC(ESCDerivedFromDataTokenAndContentionFactor, 1)
//	ESCTwiceDerivedValueToken      = HMAC(ESCDerivedFromDataTokenAndContentionFactor, 2)
//	ServerCountAndContentionFactorEncryptionToken = HMAC(ServerDerivedFromDataToken, 1)
//	ServerZerosEncryptionToken     = HMAC(ServerDerivedFromDataToken, 2)
//	AnchorPaddingKeyToken / Value  = HMAC(AnchorPaddingTokenRoot, 1 / 2)
//	X..AndContentionFactor         = HMAC(X DerivedFromDataToken, cf)       (find payloads)
//	tag                            = HMAC(EDCTwiceDerivedToken, count)
//
// This file is deliberately separate from the client's internal/qe/tokens.go so that the
// tests cross-check the two.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// tokenLen is the size of every token, tag and ESC _id.
const tokenLen = sha256.Size

type token [tokenLen]byte

const (
	labelTwiceDerivedTag   = 1 // EDCTwiceDerivedToken, ESCTwiceDerivedTagToken
	labelTwiceDerivedValue = 2 // ESCTwiceDerivedValueToken
	labelServerCount       = 1 // ServerCountAndContentionFactorEncryptionToken
	labelServerZeros       = 2 // ServerZerosEncryptionToken
	labelPaddingKey        = 1 // AnchorPaddingKeyToken
	labelPaddingValue      = 2 // AnchorPaddingValueToken
)

// prf1 returns HMAC(key, le64(a)).
func prf1(key []byte, a uint64) token {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], a)
	return prfBytes(key, b[:])
}

// prf2 returns HMAC(key, le64(a) || le64(b)).
func prf2(key []byte, a, b uint64) token {
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], a)
	binary.LittleEndian.PutUint64(buf[8:], b)
	return prfBytes(key, buf[:])
}

func prfBytes(key, msg []byte) token {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	var t token
	h.Sum(t[:0])
	return t
}

// escTokens are the two tokens of one ESC chain: the _id key and the value key.
type escTokens struct {
	tag, value token
}

// escTokensOf derives them from an ESCDerivedFromDataTokenAndContentionFactor token.
func escTokensOf(esc token) escTokens {
	return escTokens{tag: prf1(esc[:], labelTwiceDerivedTag), value: prf1(esc[:], labelTwiceDerivedValue)}
}

// paddingTokensOf derives the anchor padding chain from an AnchorPaddingTokenRoot.
func paddingTokensOf(root token) escTokens {
	return escTokens{tag: prf1(root[:], labelPaddingKey), value: prf1(root[:], labelPaddingValue)}
}

// tagFor returns the tag of count under an EDCDerivedFromDataTokenAndContentionFactor token.
func tagFor(edc token, count uint64) token {
	twice := prf1(edc[:], labelTwiceDerivedTag)
	return prf1(twice[:], count)
}
