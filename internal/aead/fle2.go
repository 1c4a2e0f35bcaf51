package aead

// The Queryable Encryption (FLE2) ciphers of libmongocrypt (mongocrypt-crypto.c):
//
//   - FLE2 "CTR":         AES-256-CTR, no MAC. Key: 32 bytes. Used for the server-side
//     envelopes (ServerEncryptedValue, encrypted ESC tokens "p") keyed by a token.
//   - FLE2AEAD (v1):      AES-256-CTR + HMAC-SHA-256. Key: 96 bytes, Ke [0:32] || Km [32:64]
//     (the last 32 bytes are not used). FLE2 v1 values (subtypes 4, 6, 7, 9), decrypt only.
//   - FLE2v2AEAD:         AES-256-CBC (PKCS#7) + HMAC-SHA-256. Same key layout. Every FLE2 v2
//     client value (subtypes 11, 14-17).
//
// Output layout of all three:
//
//	IV (16) || S || T (32, absent for CTR)
//
// where S is the cipher output and T = HMAC-SHA-256(Km, AAD || IV || S). Unlike FLE1, the
// AAD length is not part of the MAC input.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// FLE2 key and tag sizes.
const (
	// FLE2CTRKeyLen is the key size of the unauthenticated AES-256-CTR cipher (a token).
	FLE2CTRKeyLen = 32
	// FLE2AEADKeyLen is the key size of both FLE2 AEAD ciphers: Ke || Km || unused.
	FLE2AEADKeyLen = 96
	// FLE2TagLen is the HMAC-SHA-256 tag size.
	FLE2TagLen = sha256.Size

	fle2IVLen     = aes.BlockSize
	fle2EncKeyLen = 32
	fle2MACKeyLen = 32
)

// FLE2CTR is AES-256-CTR under a 32-byte token, with no authentication: libmongocrypt's
// "FLE2" algorithm (_mcFLE2Algorithm).
type FLE2CTR struct {
	block cipher.Block
}

// NewFLE2CTR returns the CTR cipher for a 32-byte key (a token).
func NewFLE2CTR(key []byte) (*FLE2CTR, error) {
	if len(key) != FLE2CTRKeyLen {
		return nil, fmt.Errorf("aead: FLE2 CTR key must be %d bytes, got %d", FLE2CTRKeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &FLE2CTR{block: block}, nil
}

// Encrypt appends IV || AES-256-CTR(plaintext) to dst. The IV must be 16 bytes and the
// plaintext must not be empty.
func (c *FLE2CTR) Encrypt(dst, iv, plaintext []byte) ([]byte, error) {
	if len(iv) != fle2IVLen {
		return nil, fmt.Errorf("aead: IV must be %d bytes, got %d", fle2IVLen, len(iv))
	}
	if len(plaintext) == 0 {
		return nil, errors.New("aead: input plaintext too small, must be more than zero bytes")
	}
	ret, out := sliceForAppend(dst, fle2IVLen+len(plaintext))
	copy(out, iv)
	ctrXOR(c.block, iv, out[fle2IVLen:], plaintext)
	return ret, nil
}

// shortCTR is the length up to which ctrXOR runs the counter by hand: the encrypted ESC tokens
// (33 to 35 bytes) of range and text payloads, thousands per payload, then need no CTR state.
const shortCTR = 4 * aes.BlockSize

// ctrXOR sets dst to src XOR the AES-CTR key stream of iv, a 128-bit big-endian counter
// incremented per block, as crypto/cipher's CTR does.
func ctrXOR(b cipher.Block, iv, dst, src []byte) {
	if len(src) > shortCTR {
		cipher.NewCTR(b, iv).XORKeyStream(dst, src)
		return
	}
	var ctr, ks [aes.BlockSize]byte
	copy(ctr[:], iv)
	for len(src) > 0 {
		b.Encrypt(ks[:], ctr[:])
		n := subtle.XORBytes(dst, src, ks[:])
		dst, src = dst[n:], src[n:]
		for i := len(ctr) - 1; i >= 0; i-- {
			ctr[i]++
			if ctr[i] != 0 {
				break
			}
		}
	}
}

// Decrypt appends the plaintext of IV || S to dst. Without a MAC, a wrong key or altered
// ciphertext is not detected: the result is garbage of the same length.
func (c *FLE2CTR) Decrypt(dst, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) <= fle2IVLen {
		return nil, fmt.Errorf("aead: input ciphertext too small, must be more than %d bytes, got %d", fle2IVLen, len(ciphertext))
	}
	ret, out := sliceForAppend(dst, len(ciphertext)-fle2IVLen)
	ctrXOR(c.block, ciphertext[:fle2IVLen], out, ciphertext[fle2IVLen:])
	return ret, nil
}

// FLE2AEAD is one of the two authenticated FLE2 ciphers, AES-256 with HMAC-SHA-256 over
// AAD || IV || S.
type FLE2AEAD struct {
	block  cipher.Block
	macKey []byte
	cbc    bool
}

// NewFLE2AEAD returns libmongocrypt's FLE2AEAD cipher (v1: AES-256-CTR then HMAC-SHA-256) for a
// 96-byte key laid out as Ke [0:32] || Km [32:64] || unused [64:96]. The key is copied.
func NewFLE2AEAD(key []byte) (*FLE2AEAD, error) { return newFLE2AEAD(key, false) }

// NewFLE2v2AEAD returns libmongocrypt's FLE2v2AEAD cipher (AES-256-CBC with PKCS#7 padding then
// HMAC-SHA-256) for a 96-byte key laid out as Ke [0:32] || Km [32:64] || unused [64:96]. The
// key is copied.
func NewFLE2v2AEAD(key []byte) (*FLE2AEAD, error) { return newFLE2AEAD(key, true) }

func newFLE2AEAD(key []byte, cbc bool) (*FLE2AEAD, error) {
	if len(key) != FLE2AEADKeyLen {
		return nil, fmt.Errorf("aead: FLE2 AEAD key must be %d bytes, got %d", FLE2AEADKeyLen, len(key))
	}
	block, err := aes.NewCipher(key[:fle2EncKeyLen])
	if err != nil {
		return nil, err
	}
	macKey := append([]byte(nil), key[fle2EncKeyLen:fle2EncKeyLen+fle2MACKeyLen]...)
	return &FLE2AEAD{block: block, macKey: macKey, cbc: cbc}, nil
}

// CiphertextLen returns the size of the ciphertext of an n-byte plaintext.
func (a *FLE2AEAD) CiphertextLen(n int) int {
	if a.cbc {
		n += aes.BlockSize - n%aes.BlockSize
	}
	return fle2IVLen + n + FLE2TagLen
}

// Encrypt appends IV || S || HMAC-SHA-256(Km, aad || IV || S) to dst. The IV must be 16 bytes
// and the plaintext must not be empty.
func (a *FLE2AEAD) Encrypt(dst, iv, aad, plaintext []byte) ([]byte, error) {
	if len(iv) != fle2IVLen {
		return nil, fmt.Errorf("aead: IV must be %d bytes, got %d", fle2IVLen, len(iv))
	}
	if len(plaintext) == 0 {
		return nil, errors.New("aead: input plaintext too small, must be more than zero bytes")
	}
	n := a.CiphertextLen(len(plaintext))
	ret, out := sliceForAppend(dst, n)
	copy(out, iv)
	s := out[fle2IVLen : n-FLE2TagLen]
	if a.cbc {
		copy(s, plaintext)
		pad := byte(len(s) - len(plaintext))
		for i := len(plaintext); i < len(s); i++ {
			s[i] = pad
		}
		cipher.NewCBCEncrypter(a.block, iv).CryptBlocks(s, s)
	} else {
		cipher.NewCTR(a.block, iv).XORKeyStream(s, plaintext)
	}
	a.tag(out[n-FLE2TagLen:n-FLE2TagLen], aad, out[:n-FLE2TagLen])
	return ret, nil
}

// Decrypt checks the tag of IV || S || T under aad before decrypting anything, and appends the
// plaintext to dst. Every authentication or padding failure returns [ErrAuth].
func (a *FLE2AEAD) Decrypt(dst, aad, ciphertext []byte) ([]byte, error) {
	minLen := fle2IVLen + 1 + FLE2TagLen
	if a.cbc {
		minLen = fle2IVLen + aes.BlockSize + FLE2TagLen
	}
	if len(ciphertext) < minLen {
		return nil, fmt.Errorf("aead: input ciphertext too small, must be at least %d bytes, got %d", minLen, len(ciphertext))
	}
	body := ciphertext[:len(ciphertext)-FLE2TagLen]
	s := body[fle2IVLen:]
	if a.cbc && len(s)%aes.BlockSize != 0 {
		return nil, errors.New("aead: ciphertext length is not a multiple of the block size")
	}
	var want [FLE2TagLen]byte
	a.tag(want[:0], aad, body)
	if subtle.ConstantTimeCompare(want[:], ciphertext[len(body):]) != 1 {
		return nil, ErrAuth
	}
	iv := body[:fle2IVLen]
	if !a.cbc {
		ret, out := sliceForAppend(dst, len(s))
		cipher.NewCTR(a.block, iv).XORKeyStream(out, s)
		return ret, nil
	}
	plain := make([]byte, len(s))
	cipher.NewCBCDecrypter(a.block, iv).CryptBlocks(plain, s)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrAuth
	}
	bad := 0
	for _, b := range plain[len(plain)-pad:] {
		bad |= int(b) ^ pad
	}
	if bad != 0 {
		return nil, ErrAuth
	}
	return append(dst, plain[:len(plain)-pad]...), nil
}

// tag appends HMAC-SHA-256(Km, aad || ivAndS) to dst.
func (a *FLE2AEAD) tag(dst, aad, ivAndS []byte) []byte {
	m := hmac.New(sha256.New, a.macKey)
	m.Write(aad)
	m.Write(ivAndS)
	return m.Sum(dst)
}
