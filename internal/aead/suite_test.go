package aead

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// This file is the one test suite every cipher of the package runs (after Go's
// crypto/internal/cryptotest): testCipher drives a cipherMode through round
// trips at many lengths, every single-byte change of a ciphertext, wrong keys,
// every truncation, short inputs and changed associated data.

// sealer is one keyed cipher as the suite drives it: Seal picks the IV as the
// mode does (random, or derived from the input).
type sealer interface {
	Seal(dst, aad, plaintext []byte) ([]byte, error)
	Open(dst, aad, ciphertext []byte) ([]byte, error)
	// CiphertextLen is the length Seal gives for an n-byte plaintext.
	CiphertextLen(n int) int
}

// cipherMode describes one mode to testCipher.
type cipherMode struct {
	name   string
	keyLen int
	new    func(key []byte) (sealer, error)
	// macKey is the part of the key [from, to) that the tag depends on: a key
	// differing in any of its bytes must fail authentication. (The other
	// bytes are the encryption key, which the tag does not cover, and key
	// bytes the mode does not use for decryption.)
	macKey [2]int
	// authenticated is false for the CTR cipher, which has no tag: a changed
	// ciphertext decrypts to other bytes, and there is no associated data.
	authenticated bool
	// minLen is the shortest ciphertext Open considers; shorter ones get a
	// "too short" error naming their length.
	minLen int
	// blockLen is the cipher's block size when the output has whole blocks
	// (CBC), 0 for a stream.
	blockLen int
}

// suiteLengths are the plaintext lengths of the round trip: every length up to
// four blocks and some larger ones.
var suiteLengths = func() []int {
	var ns []int
	for n := 1; n <= 4*16+1; n++ {
		ns = append(ns, n)
	}
	return append(ns, 100, 255, 256, 1000, 4096)
}()

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (m cipherMode) mustNew(t testing.TB, key []byte) sealer {
	t.Helper()
	c, err := m.new(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCipher runs the suite on m.
func testCipher(t *testing.T, m cipherMode) {
	key := randomBytes(t, m.keyLen)
	c := m.mustNew(t, key)
	aad := []byte("associated data")
	if !m.authenticated {
		aad = nil
	}

	t.Run("KeyLength", func(t *testing.T) {
		for _, n := range []int{0, m.keyLen - 1, m.keyLen + 1} {
			if _, err := m.new(make([]byte, n)); err == nil {
				t.Errorf("%d-byte key accepted", n)
			}
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		for _, n := range suiteLengths {
			for _, a := range [][]byte{aad, nil} {
				pt := randomBytes(t, n)
				ptCopy, aadCopy := bytes.Clone(pt), bytes.Clone(a)
				prefix := []byte("prefix")
				out, err := c.Seal(bytes.Clone(prefix), a, pt)
				if err != nil {
					t.Fatalf("n=%d: seal: %v", n, err)
				}
				if !bytes.Equal(pt, ptCopy) || !bytes.Equal(a, aadCopy) {
					t.Fatalf("n=%d: Seal modified its input", n)
				}
				if !bytes.HasPrefix(out, prefix) || len(out)-len(prefix) != c.CiphertextLen(n) {
					t.Fatalf("n=%d: output of %d bytes does not append CiphertextLen(%d) = %d bytes to dst", n, len(out), n, c.CiphertextLen(n))
				}
				if m.blockLen > 0 && (len(out)-len(prefix))%m.blockLen != 0 {
					t.Fatalf("n=%d: output is not whole blocks", n)
				}
				ct := out[len(prefix):]
				ctCopy := bytes.Clone(ct)
				got, err := c.Open([]byte("x"), a, ct)
				if err != nil {
					t.Fatalf("n=%d: open: %v", n, err)
				}
				if !bytes.Equal(got, append([]byte("x"), pt...)) {
					t.Fatalf("n=%d: round trip gave %x", n, got)
				}
				if !bytes.Equal(ct, ctCopy) {
					t.Fatalf("n=%d: Open modified its input", n)
				}
			}
		}
	})

	t.Run("EmptyPlaintext", func(t *testing.T) {
		if out, err := c.Seal(nil, aad, nil); err == nil {
			t.Fatalf("empty plaintext sealed to %x", out)
		}
	})

	// sealed returns a ciphertext of an n-byte plaintext.
	sealed := func(t *testing.T, n int) (pt, ct []byte) {
		t.Helper()
		pt = randomBytes(t, n)
		ct, err := c.Seal(nil, aad, pt)
		if err != nil {
			t.Fatal(err)
		}
		return pt, ct
	}

	t.Run("EveryByteChanged", func(t *testing.T) {
		for _, n := range []int{1, 15, 16, 17, 40} {
			pt, ct := sealed(t, n)
			var first error
			for i := range ct {
				for _, flip := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(ct)
					bad[i] ^= flip
					out, err := c.Open(nil, aad, bad)
					if !m.authenticated {
						// Counter mode: a changed body byte changes that plaintext byte by the
						// same bits; a changed IV byte changes the key stream, which for 16
						// bytes or more gives other bytes (a shorter plaintext may come out
						// the same by chance, 2^-8n, so it is not asserted).
						if err != nil || len(out) != n {
							t.Fatalf("n=%d, byte %d ^ %#x: got %x, %v; want %d bytes", n, i, flip, out, err, n)
						}
						if i >= fle2IVLen {
							want := bytes.Clone(pt)
							want[i-fle2IVLen] ^= flip
							if !bytes.Equal(out, want) {
								t.Fatalf("n=%d, byte %d ^ %#x: got %x, want %x", n, i, flip, out, want)
							}
						} else if n >= 16 && bytes.Equal(out, pt) {
							t.Fatalf("n=%d, IV byte %d ^ %#x: the plaintext came out unchanged", n, i, flip)
						}
						continue
					}
					if !errors.Is(err, ErrAuth) || out != nil {
						t.Fatalf("n=%d, byte %d ^ %#x: got %x, %v; want ErrAuth", n, i, flip, out, err)
					}
					if first == nil {
						first = err
					} else if err.Error() != first.Error() {
						t.Fatalf("n=%d, byte %d: error %q differs from %q", n, i, err, first)
					}
				}
			}
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		pt, ct := sealed(t, 20)
		other := m.mustNew(t, randomBytes(t, m.keyLen))
		if out, err := other.Open(nil, aad, ct); m.authenticated && !errors.Is(err, ErrAuth) {
			t.Fatalf("another key: got %x, %v; want ErrAuth", out, err)
		} else if !m.authenticated && bytes.Equal(out, pt) {
			t.Fatal("another key gave the plaintext")
		}
		for i := m.macKey[0]; i < m.macKey[1]; i++ {
			k := bytes.Clone(key)
			k[i] ^= 0x01
			if out, err := m.mustNew(t, k).Open(nil, aad, ct); !errors.Is(err, ErrAuth) {
				t.Fatalf("key byte %d changed: got %x, %v; want ErrAuth", i, out, err)
			}
		}
	})

	t.Run("Truncated", func(t *testing.T) {
		for _, n := range []int{1, 16, 33} {
			pt, ct := sealed(t, n)
			for cut := 0; cut < len(ct); cut++ {
				out, err := c.Open(nil, aad, ct[:cut])
				if !m.authenticated && cut >= m.minLen {
					if err != nil || bytes.Equal(out, pt) {
						t.Fatalf("n=%d truncated to %d: got %x, %v", n, cut, out, err)
					}
					continue
				}
				if err == nil || out != nil {
					t.Fatalf("n=%d truncated to %d bytes: got %x, %v; want an error", n, cut, out, err)
				}
			}
			if m.authenticated {
				if _, err := c.Open(nil, aad, append(bytes.Clone(ct), 0)); err == nil {
					t.Fatalf("n=%d: ciphertext with a byte appended opened", n)
				}
			}
		}
	})

	t.Run("TooShort", func(t *testing.T) {
		for n := 0; n < m.minLen; n++ {
			_, err := c.Open(nil, aad, make([]byte, n))
			if err == nil || errors.Is(err, ErrAuth) {
				t.Fatalf("%d bytes: err = %v, want a length error", n, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "too short") && !strings.Contains(msg, "too small") ||
				!regexp.MustCompile(fmt.Sprintf(`\b%d\b`, n)).MatchString(msg) {
				t.Fatalf("%d bytes: error %q does not say the input is too short and its length", n, msg)
			}
		}
		if _, err := c.Open(nil, aad, make([]byte, m.minLen)); m.authenticated && !errors.Is(err, ErrAuth) {
			t.Fatalf("%d bytes of zeros: err = %v, want ErrAuth", m.minLen, err)
		}
	})

	if !m.authenticated {
		return
	}
	t.Run("AssociatedData", func(t *testing.T) {
		_, ct := sealed(t, 24)
		var changed [][]byte
		for i := range aad {
			a := bytes.Clone(aad)
			a[i] ^= 0x01
			changed = append(changed, a)
		}
		// Longer, shorter and no associated data. (A byte moved from the
		// ciphertext's front to the associated data's end is not among them:
		// FLE2's tag does not cover the length of the associated data, as in
		// libmongocrypt, whose associated data has a fixed length.)
		changed = append(changed, append(bytes.Clone(aad), 0), aad[:len(aad)-1], nil)
		for _, a := range changed {
			if out, err := c.Open(nil, a, ct); !errors.Is(err, ErrAuth) || out != nil {
				t.Fatalf("associated data %q: got %x, %v; want ErrAuth", a, out, err)
			}
		}
		// And a ciphertext sealed without associated data does not open with some.
		ct2, err := c.Seal(nil, nil, []byte("value"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Open(nil, aad, ct2); !errors.Is(err, ErrAuth) {
			t.Fatalf("associated data added: %v, want ErrAuth", err)
		}
	})
}

// The modes of the package.

type fle1Sealer struct {
	k             *FLE1
	deterministic bool
}

func (s fle1Sealer) Seal(dst, aad, pt []byte) ([]byte, error) {
	var iv [IVLen]byte
	if s.deterministic {
		iv = s.k.DeterministicIV(aad, pt)
	} else if _, err := rand.Read(iv[:]); err != nil {
		return nil, err
	}
	return s.k.Encrypt(dst, iv[:], aad, pt)
}
func (s fle1Sealer) Open(dst, aad, ct []byte) ([]byte, error) { return s.k.Decrypt(dst, aad, ct) }
func (fle1Sealer) CiphertextLen(n int) int                    { return CiphertextLen(n) }

type fle2Sealer struct{ a *FLE2AEAD }

func (s fle2Sealer) Seal(dst, aad, pt []byte) ([]byte, error) {
	var iv [fle2IVLen]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, err
	}
	return s.a.Encrypt(dst, iv[:], aad, pt)
}
func (s fle2Sealer) Open(dst, aad, ct []byte) ([]byte, error) { return s.a.Decrypt(dst, aad, ct) }
func (s fle2Sealer) CiphertextLen(n int) int                  { return s.a.CiphertextLen(n) }

// ctrSealer is the unauthenticated CTR cipher, which takes no associated data.
type ctrSealer struct{ c *FLE2CTR }

func (s ctrSealer) Seal(dst, aad, pt []byte) ([]byte, error) {
	if len(aad) != 0 {
		return nil, errors.New("no associated data")
	}
	var iv [fle2IVLen]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, err
	}
	return s.c.Encrypt(dst, iv[:], pt)
}

func (s ctrSealer) Open(dst, aad, ct []byte) ([]byte, error) {
	if len(aad) != 0 {
		return nil, errors.New("no associated data")
	}
	return s.c.Decrypt(dst, ct)
}
func (ctrSealer) CiphertextLen(n int) int { return fle2IVLen + n }

var cipherModes = []cipherMode{
	{
		name: "FLE1/Deterministic", keyLen: FLE1KeyLen, macKey: [2]int{0, fle1MACKeyLen},
		authenticated: true, minLen: IVLen + 16 + FLE1TagLen, blockLen: 16,
		new: func(key []byte) (sealer, error) {
			k, err := NewFLE1(key)
			return fle1Sealer{k, true}, err
		},
	},
	{
		name: "FLE1/Random", keyLen: FLE1KeyLen, macKey: [2]int{0, fle1MACKeyLen},
		authenticated: true, minLen: IVLen + 16 + FLE1TagLen, blockLen: 16,
		new: func(key []byte) (sealer, error) {
			k, err := NewFLE1(key)
			return fle1Sealer{k, false}, err
		},
	},
	{
		name: "FLE2AEAD", keyLen: FLE2AEADKeyLen, macKey: [2]int{fle2EncKeyLen, fle2EncKeyLen + fle2MACKeyLen},
		authenticated: true, minLen: fle2IVLen + 1 + FLE2TagLen,
		new: func(key []byte) (sealer, error) {
			a, err := NewFLE2AEAD(key)
			return fle2Sealer{a}, err
		},
	},
	{
		name: "FLE2v2AEAD", keyLen: FLE2AEADKeyLen, macKey: [2]int{fle2EncKeyLen, fle2EncKeyLen + fle2MACKeyLen},
		authenticated: true, minLen: fle2IVLen + 16 + FLE2TagLen, blockLen: 16,
		new: func(key []byte) (sealer, error) {
			a, err := NewFLE2v2AEAD(key)
			return fle2Sealer{a}, err
		},
	},
	{
		name: "FLE2CTR", keyLen: FLE2CTRKeyLen, minLen: fle2IVLen + 1,
		new: func(key []byte) (sealer, error) {
			c, err := NewFLE2CTR(key)
			return ctrSealer{c}, err
		},
	},
}

// TestIVLength: every cipher takes a 16-byte IV only.
func TestIVLength(t *testing.T) {
	fle1, _ := NewFLE1(make([]byte, FLE1KeyLen))
	v1, _ := NewFLE2AEAD(make([]byte, FLE2AEADKeyLen))
	v2, _ := NewFLE2v2AEAD(make([]byte, FLE2AEADKeyLen))
	ctr, _ := NewFLE2CTR(make([]byte, FLE2CTRKeyLen))
	for _, n := range []int{0, 15, 17} {
		iv := make([]byte, n)
		for name, seal := range map[string]func() ([]byte, error){
			"FLE1":       func() ([]byte, error) { return fle1.Encrypt(nil, iv, nil, []byte("x")) },
			"FLE2AEAD":   func() ([]byte, error) { return v1.Encrypt(nil, iv, nil, []byte("x")) },
			"FLE2v2AEAD": func() ([]byte, error) { return v2.Encrypt(nil, iv, nil, []byte("x")) },
			"FLE2CTR":    func() ([]byte, error) { return ctr.Encrypt(nil, iv, []byte("x")) },
		} {
			if _, err := seal(); err == nil {
				t.Errorf("%s: %d-byte IV accepted", name, n)
			}
		}
	}
}

func TestCiphers(t *testing.T) {
	for _, m := range cipherModes {
		t.Run(m.name, func(t *testing.T) { testCipher(t, m) })
	}
}
