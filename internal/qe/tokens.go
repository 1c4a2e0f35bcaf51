package qe

// Queryable Encryption token derivation (libmongocrypt mc-tokens.c, the server's
// fle_crypto.h). Every token is HMAC-SHA-256(parent, x), 32 bytes, where x is either a
// constant or a contention factor written as a little-endian uint64, or v, the raw bytes of a
// BSON value without its type byte (or an edge string, or a text substring as a BSON string
// value).
//
//	TokenKey                          = data key [64:96]
//	CollectionsLevel1Token            = HMAC(TokenKey, 1)
//	ServerTokenDerivationLevel1Token  = HMAC(TokenKey, 2)
//	ServerDataEncryptionLevel1Token   = HMAC(TokenKey, 3)
//	EDCToken / ESCToken / ECCToken / ECOCToken = HMAC(CollectionsLevel1Token, 1 / 2 / 3 / 4)
//	X DerivedFromDataToken            = HMAC(XToken, v)                      X in EDC, ESC, ECC
//	X DerivedFromDataTokenAndContentionFactor = HMAC(X DerivedFromDataToken, cf)
//	EDCTwiceDerivedToken              = HMAC(EDC..AndContentionFactor, 1)
//	ESCTwiceDerivedTagToken / Value   = HMAC(ESC..AndContentionFactor, 1 / 2)
//	ServerDerivedFromDataToken        = HMAC(ServerTokenDerivationLevel1Token, v)
//	ServerCountAndContentionFactorEncryptionToken = HMAC(ServerDerivedFromDataToken, 1)
//	ServerZerosEncryptionToken        = HMAC(ServerDerivedFromDataToken, 2)
//	AnchorPaddingTokenRoot            = HMAC(ESCToken, 17 zero bytes)
//	AnchorPaddingKeyToken / ValueToken = HMAC(AnchorPaddingTokenRoot, 1 / 2)
//	EDCText T Token / ESCText T Token = HMAC(EDCToken / ESCToken, t)        t: exact 1, substring 2, suffix 3, prefix 4
//	ServerText T Token                = HMAC(ServerTokenDerivationLevel1Token, t)
//	..Text T DerivedFromDataToken     = HMAC(..Text T Token, v)
//	..Text T DerivedFromDataTokenAndContentionFactorToken = HMAC(.., cf)  (EDC and ESC only)

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// TokenLen is the size of every token.
const TokenLen = sha256.Size

// Token is one 32-byte HMAC-SHA-256 token.
type Token [TokenLen]byte

// Constants of the derivation chain.
const (
	labelCollectionsLevel1     = 1
	labelServerTokenDerivation = 2
	labelServerDataEncryption  = 3
	labelEDC                   = 1
	labelESC                   = 2
	labelECC                   = 3
	labelECOC                  = 4
	labelTwiceDerivedTag       = 1 // EDCTwiceDerivedToken and ESCTwiceDerivedTagToken
	labelTwiceDerivedValue     = 2
	labelServerCountAndContent = 1
	labelServerZeros           = 2
	labelAnchorPaddingKey      = 1
	labelAnchorPaddingValue    = 2
	anchorPaddingRootInputLen  = 17 // zero bytes hashed under the ESCToken
	labelTextExact             = 1
	labelTextSubstring         = 2
	labelTextSuffix            = 3
	labelTextPrefix            = 4
	tokenKeyOffset             = 64 // TokenKey = data key [64:96]
	dataKeyLen                 = 96
)

// prf computes HMAC-SHA-256 keyed by one token for many inputs, reusing one hash state.
type prf struct {
	h    hash.Hash
	used bool
	buf  [8]byte
}

func newPRF(key []byte) *prf { return &prf{h: hmac.New(sha256.New, key)} }

// data returns HMAC(key, v).
func (p *prf) data(v []byte) Token {
	if p.used {
		p.h.Reset()
	}
	p.used = true
	p.h.Write(v)
	var t Token
	p.h.Sum(t[:0])
	return t
}

// u64 returns HMAC(key, n as a little-endian uint64).
func (p *prf) u64(n uint64) Token {
	binary.LittleEndian.PutUint64(p.buf[:], n)
	return p.data(p.buf[:])
}

func hmacData(key []byte, v []byte) Token { return newPRF(key).data(v) }

func hmacU64(key []byte, n uint64) Token { return newPRF(key).u64(n) }

// rootTokens holds the tokens of one index key that do not depend on the value.
type rootTokens struct {
	collectionsLevel1     Token
	serverTokenDerivation Token
	serverDataEncryption  Token
	edc, esc, ecc, ecoc   Token
}

// deriveRootTokens derives the value-independent tokens from a 32-byte TokenKey.
func deriveRootTokens(tokenKey []byte) *rootTokens {
	k := newPRF(tokenKey)
	r := &rootTokens{
		collectionsLevel1:     k.u64(labelCollectionsLevel1),
		serverTokenDerivation: k.u64(labelServerTokenDerivation),
		serverDataEncryption:  k.u64(labelServerDataEncryption),
	}
	c := newPRF(r.collectionsLevel1[:])
	r.edc = c.u64(labelEDC)
	r.esc = c.u64(labelESC)
	r.ecc = c.u64(labelECC)
	r.ecoc = c.u64(labelECOC)
	return r
}

// anchorPaddingRoot returns AnchorPaddingTokenRoot = HMAC(ESCToken, 17 zero bytes).
func (r *rootTokens) anchorPaddingRoot() Token {
	return hmacData(r.esc[:], make([]byte, anchorPaddingRootInputLen))
}

// valueTokens are the derived tokens of one value (or edge, or text substring).
type valueTokens struct {
	edc    Token // EDCDerivedFromDataToken[AndContentionFactor]
	esc    Token // ESCDerivedFromDataToken[AndContentionFactor]
	server Token // ServerDerivedFromDataToken
}

// deriver derives value tokens of one index key, keeping the keyed hash states of the three
// roots (EDC, ESC, ServerTokenDerivation or their text variants) so that range edges and text
// substrings each cost five HMACs with no allocation of hash state.
type deriver struct {
	edc, esc, server *prf
	oneShot          oneShotHMAC
}

func newDeriver(edcRoot, escRoot, serverRoot Token) *deriver {
	return &deriver{edc: newPRF(edcRoot[:]), esc: newPRF(escRoot[:]), server: newPRF(serverRoot[:]), oneShot: newOneShotHMAC()}
}

// oneShotHMAC computes HMAC-SHA-256 (RFC 2104) under a different 32-byte key each time with
// one reusable SHA-256 state: H((K ^ opad) || H((K ^ ipad) || m)), the key zero-padded to the
// 64-byte block. It serves the contention factor step, whose key is the token just derived.
type oneShotHMAC struct {
	h   hash.Hash
	pad [sha256.BlockSize]byte
	sum [sha256.Size]byte
	msg [8]byte
}

func newOneShotHMAC() oneShotHMAC { return oneShotHMAC{h: sha256.New()} }

// u64 returns HMAC(key, n as a little-endian uint64).
func (o *oneShotHMAC) u64(key Token, n uint64) Token {
	const ipad, opad = 0x36, 0x5c
	binary.LittleEndian.PutUint64(o.msg[:], n)
	o.setPad(key, ipad)
	o.h.Reset()
	o.h.Write(o.pad[:])
	o.h.Write(o.msg[:])
	inner := o.h.Sum(o.sum[:0])
	o.setPad(key, opad)
	o.h.Reset()
	o.h.Write(o.pad[:])
	o.h.Write(inner)
	var t Token
	o.h.Sum(t[:0])
	return t
}

func (o *oneShotHMAC) setPad(key Token, b byte) {
	for i := range o.pad {
		o.pad[i] = b
	}
	for i, k := range key {
		o.pad[i] ^= k
	}
}

// equalityDeriver derives the value tokens of equality and range payloads.
func (r *rootTokens) equalityDeriver() *deriver {
	return newDeriver(r.edc, r.esc, r.serverTokenDerivation)
}

// textDeriver derives the value tokens of one text index kind (labelText*).
func (r *rootTokens) textDeriver(kind uint64) *deriver {
	return newDeriver(hmacU64(r.edc[:], kind), hmacU64(r.esc[:], kind), hmacU64(r.serverTokenDerivation[:], kind))
}

// forFind returns the tokens of find payloads: EDC and ESC derived from data only.
func (d *deriver) forFind(v []byte) valueTokens {
	return valueTokens{edc: d.edc.data(v), esc: d.esc.data(v), server: d.server.data(v)}
}

// forInsert returns the tokens of insert payloads: EDC and ESC derived from data and the
// contention factor cf.
func (d *deriver) forInsert(v []byte, cf uint64) valueTokens {
	t := d.forFind(v)
	t.edc = d.oneShot.u64(t.edc, cf)
	t.esc = d.oneShot.u64(t.esc, cf)
	return t
}
