package aead

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type roundtripVector struct {
	Name       string `json:"name"`
	Algo       string `json:"algo"`
	Key        string `json:"key"`
	IV         string `json:"iv"`
	AAD        string `json:"aad"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertext"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFLE1McGrew checks the draft-mcgrew-aead-aes-cbc-hmac-sha2-05 section 5.4 vector, as
// libmongocrypt's test/data/roundtrip/mcgrew.json gives it (a 64-byte key followed by a
// 32-byte IV key).
func TestFLE1McGrew(t *testing.T) {
	data, err := os.ReadFile("testdata/mcgrew.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []roundtripVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Algo != "AES-256-CBC/SHA-512-256" {
			continue
		}
		n++
		k, err := NewFLE1(unhex(t, v.Key))
		if err != nil {
			t.Fatal(err)
		}
		want := unhex(t, v.Ciphertext)
		got, err := k.Encrypt(nil, unhex(t, v.IV), unhex(t, v.AAD), unhex(t, v.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encrypt\n got %x\nwant %x", v.Name, got, want)
		}
		pt, err := k.Decrypt(nil, unhex(t, v.AAD), want)
		if err != nil {
			t.Fatalf("%s: decrypt: %v", v.Name, err)
		}
		if !bytes.Equal(pt, unhex(t, v.Plaintext)) {
			t.Errorf("%s: decrypt gave %x", v.Name, pt)
		}
	}
	if n == 0 {
		t.Fatal("no FLE1 vector in testdata/mcgrew.json")
	}
}

func newKey(t testing.TB) (*FLE1, []byte) {
	raw := make([]byte, FLE1KeyLen)
	rand.Read(raw)
	k, err := NewFLE1(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k, raw
}

// TestFLE1BadPadding makes ciphertexts whose tag is right but whose padding is wrong: they must
// be refused as any other bad ciphertext.
func TestFLE1BadPadding(t *testing.T) {
	k, _ := newKey(t)
	iv := make([]byte, IVLen)
	for _, last := range []byte{0, 17, 255} {
		block := bytes.Repeat([]byte{7}, 16)
		block[15] = last
		// Encrypt a full block without padding, then drop the padding block and re-tag.
		ct, _ := k.Encrypt(nil, iv, nil, block)
		body := ct[:IVLen+16]
		var tag [FLE1TagLen]byte
		k.tag(tag[:], nil, body)
		forged := append(bytes.Clone(body), tag[:]...)
		if _, err := k.Decrypt(nil, nil, forged); !errors.Is(err, ErrAuth) {
			t.Fatalf("padding byte %d: err = %v, want ErrAuth", last, err)
		}
	}
}

func TestDeterministicIV(t *testing.T) {
	k, _ := newKey(t)
	a := k.DeterministicIV([]byte("aad"), []byte("value"))
	b := k.DeterministicIV([]byte("aad"), []byte("value"))
	c := k.DeterministicIV([]byte("aad"), []byte("valuf"))
	d := k.DeterministicIV([]byte("aaD"), []byte("value"))
	if a != b || a == c || a == d {
		t.Fatal("deterministic IV is not a function of exactly (aad, plaintext)")
	}
}

func FuzzFLE1Decrypt(f *testing.F) {
	k, _ := newKey(f)
	seeds := 0
	for _, pt := range []string{"a", "0123456789abcdef", "a longer plaintext of several blocks"} {
		ct, err := k.Encrypt(nil, make([]byte, IVLen), []byte("aad"), []byte(pt))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct, []byte("aad"))
		seeds++
	}
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, ct, aad []byte) {
		pt, err := k.Decrypt(nil, aad, ct)
		if err == nil {
			// Only a real ciphertext authenticates: re-encrypting with its IV gives it back.
			again, err := k.Encrypt(nil, ct[:IVLen], aad, pt)
			if err != nil || !bytes.Equal(again, ct) {
				t.Fatalf("decrypted a ciphertext that does not re-encrypt to itself")
			}
		}
	})
}

func BenchmarkFLE1Decrypt(b *testing.B) {
	k, _ := newKey(b)
	ct, _ := k.Encrypt(nil, make([]byte, IVLen), make([]byte, 18), []byte("\x0b\x00\x00\x00value 0001\x00"))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = k.Decrypt(buf[:0], make([]byte, 18), ct)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestFLE1InPlace(t *testing.T) {
	k, _ := newKey(t)
	for _, n := range []int{5, 40, 300} {
		pt := bytes.Repeat([]byte{'p'}, n)
		ct, _ := k.Encrypt(nil, make([]byte, IVLen), nil, pt)
		// Decrypting in place: the plaintext is written over the IV and the blocks.
		got, err := k.Decrypt(ct[:0], nil, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d in place: %v %q", n, err, got)
		}
	}
}
