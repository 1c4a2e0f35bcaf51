// Package aead holds the authenticated ciphers of client-side encryption.
//
// FLE1 is AEAD_AES_256_CBC_HMAC_SHA_512 of the MongoDB client-side encryption specification
// (after draft-mcgrew-aead-aes-cbc-hmac-sha2-05, with a third key for deterministic IVs). It
// encrypts CSFLE values (blob subtypes 1 and 2) and wraps data keys under a local master key.
package aead

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"unsafe"
)

// FLE1 key and output sizes.
const (
	FLE1KeyLen = 96 // MAC key (32) || encryption key (32) || IV key (32)
	IVLen      = aes.BlockSize
	FLE1TagLen = 32 // HMAC-SHA-512 truncated to 256 bits

	fle1MACKeyLen = 32
	fle1EncKeyLen = 32
)

// ErrAuth is returned for every ciphertext that fails authentication, whatever the cause, so
// that nothing about the plaintext or the key leaks through the error.
var ErrAuth = errors.New("aead: message authentication failed")

// FLE1 is an AEAD_AES_256_CBC_HMAC_SHA_512 key, ready for use by many goroutines at once.
type FLE1 struct {
	block cipher.Block
	macs  sync.Pool // of *hmacState under the MAC key
	ivs   sync.Pool // of *hmacState under the IV key
}

// hmacState is a reusable HMAC-SHA-512 with room for its sum, so that computing a tag does not
// allocate.
type hmacState struct {
	h   hash.Hash
	sum [sha512.Size]byte
	al  [8]byte
}

// NewFLE1 returns the cipher for a 96-byte key laid out as
//
//	MAC key [0:32] || encryption key [32:64] || IV key [64:96]
//
// The key is copied.
func NewFLE1(key []byte) (*FLE1, error) {
	if len(key) != FLE1KeyLen {
		return nil, fmt.Errorf("aead: FLE1 key must be %d bytes, got %d", FLE1KeyLen, len(key))
	}
	block, err := aes.NewCipher(key[fle1MACKeyLen : fle1MACKeyLen+fle1EncKeyLen])
	if err != nil {
		return nil, err
	}
	macKey := append([]byte(nil), key[:fle1MACKeyLen]...)
	ivKey := append([]byte(nil), key[fle1MACKeyLen+fle1EncKeyLen:]...)
	k := &FLE1{block: block}
	k.macs.New = func() any { return &hmacState{h: hmac.New(sha512.New, macKey)} }
	k.ivs.New = func() any { return &hmacState{h: hmac.New(sha512.New, ivKey)} }
	return k, nil
}

// CiphertextLen is the length of the output of Encrypt for a plaintext of n bytes:
// IV, the CBC ciphertext with PKCS#7 padding, and the tag.
func CiphertextLen(n int) int {
	return IVLen + (n/aes.BlockSize+1)*aes.BlockSize + FLE1TagLen
}

// DeterministicIV returns the IV of deterministic encryption:
// HMAC-SHA-512(IV key, aad || AL || plaintext)[:16], where AL is the length of aad in bits as a
// big-endian uint64.
func (k *FLE1) DeterministicIV(aad, plaintext []byte) [IVLen]byte {
	s := k.ivs.Get().(*hmacState)
	defer k.ivs.Put(s)
	s.h.Reset()
	s.h.Write(aad)
	binary.BigEndian.PutUint64(s.al[:], uint64(len(aad))*8)
	s.h.Write(s.al[:])
	s.h.Write(plaintext)
	var iv [IVLen]byte
	copy(iv[:], s.h.Sum(s.sum[:0]))
	return iv
}

// Encrypt appends to dst the encryption of plaintext under iv with associated data aad:
//
//	IV (16) || AES-256-CBC(plaintext with PKCS#7 padding) || tag (32)
//	tag = HMAC-SHA-512(MAC key, aad || IV || ciphertext || AL)[:32]
//
// where AL is the length of aad in bits as a big-endian uint64. The plaintext must not be
// empty.
func (k *FLE1) Encrypt(dst, iv, aad, plaintext []byte) ([]byte, error) {
	if len(iv) != IVLen {
		return nil, fmt.Errorf("aead: IV must be %d bytes, got %d", IVLen, len(iv))
	}
	if len(plaintext) == 0 {
		return nil, errors.New("aead: plaintext must not be empty")
	}
	n := CiphertextLen(len(plaintext))
	ret, out := sliceForAppend(dst, n)
	copy(out, iv)
	body := out[IVLen : n-FLE1TagLen]
	copy(body, plaintext)
	pad := byte(len(body) - len(plaintext))
	for i := len(plaintext); i < len(body); i++ {
		body[i] = pad
	}
	k.cbcEncrypt(iv, body)
	k.tag(out[n-FLE1TagLen:], aad, out[:n-FLE1TagLen])
	return ret, nil
}

// Decrypt authenticates and decrypts a ciphertext made by Encrypt and appends the plaintext to
// dst. To decrypt in place, pass ciphertext[:0] as dst; otherwise dst must not overlap
// ciphertext. Every authentication or padding failure returns ErrAuth; no plaintext is released from a
// ciphertext that fails authentication.
func (k *FLE1) Decrypt(dst, aad, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < IVLen+aes.BlockSize+FLE1TagLen {
		return nil, fmt.Errorf("aead: FLE1 ciphertext too short: %d bytes", len(ciphertext))
	}
	if (len(ciphertext)-IVLen-FLE1TagLen)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("aead: FLE1 ciphertext length %d is not IV + whole blocks + tag", len(ciphertext))
	}
	signed := ciphertext[:len(ciphertext)-FLE1TagLen]
	var want [FLE1TagLen]byte
	k.tag(want[:], aad, signed)
	if subtle.ConstantTimeCompare(want[:], ciphertext[len(signed):]) != 1 {
		return nil, ErrAuth
	}
	iv, body := signed[:IVLen], signed[IVLen:]
	ret, out := sliceForAppend(dst, len(body))
	k.cbcDecrypt(out, iv, body)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrAuth
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrAuth
		}
	}
	return ret[:len(ret)-pad], nil
}

// tag writes HMAC-SHA-512(MAC key, aad || ivAndCiphertext || AL)[:32] to out.
func (k *FLE1) tag(out, aad, ivAndCiphertext []byte) {
	s := k.macs.Get().(*hmacState)
	defer k.macs.Put(s)
	s.h.Reset()
	s.h.Write(aad)
	s.h.Write(ivAndCiphertext)
	binary.BigEndian.PutUint64(s.al[:], uint64(len(aad))*8)
	s.h.Write(s.al[:])
	copy(out, s.h.Sum(s.sum[:0]))
}

// shortCBC is the length up to which CBC runs block by block: crypto/cipher's CBC modes
// allocate on creation, which costs more than they save on the short values of a document.
const shortCBC = 8 * aes.BlockSize

// cbcEncrypt encrypts buf in place with AES-CBC under iv; len(buf) is a multiple of the block.
func (k *FLE1) cbcEncrypt(iv, buf []byte) {
	if len(buf) > shortCBC {
		cipher.NewCBCEncrypter(k.block, iv).CryptBlocks(buf, buf)
		return
	}
	prev := iv
	for i := 0; i < len(buf); i += aes.BlockSize {
		b := buf[i : i+aes.BlockSize]
		subtle.XORBytes(b, b, prev)
		k.block.Encrypt(b, b)
		prev = b
	}
}

// cbcDecrypt decrypts src into dst (same length; dst may be src itself or overlap it) with
// AES-CBC under iv.
func (k *FLE1) cbcDecrypt(dst, iv, src []byte) {
	if len(src) > shortCBC || overlaps(dst, src) {
		// crypto/cipher refuses an inexact overlap (in place, the plaintext lands where the
		// IV was): decrypt into a buffer of its own then.
		tmp := dst
		if overlaps(dst, src) {
			tmp = make([]byte, len(src))
		}
		if len(src) > shortCBC {
			cipher.NewCBCDecrypter(k.block, iv).CryptBlocks(tmp, src)
		} else {
			k.cbcDecryptShort(tmp, iv, src)
		}
		copy(dst, tmp)
		return
	}
	k.cbcDecryptShort(dst, iv, src)
}

// cbcDecryptShort decrypts block by block; dst and src must not overlap. Passing only slices
// of the caller's buffers keeps it from allocating.
func (k *FLE1) cbcDecryptShort(dst, iv, src []byte) {
	var ivCopy [aes.BlockSize]byte // iv may share memory with dst
	copy(ivCopy[:], iv)
	prev := ivCopy[:]
	for i := 0; i < len(src); i += aes.BlockSize {
		d := dst[i : i+aes.BlockSize]
		k.block.Decrypt(d, src[i:i+aes.BlockSize])
		subtle.XORBytes(d, d, prev)
		prev = src[i : i+aes.BlockSize]
	}
}

// overlaps reports whether a and b share memory.
func overlaps(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// sliceForAppend extends in by n bytes and returns the whole slice and the new tail
// (as crypto/cipher does it).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
