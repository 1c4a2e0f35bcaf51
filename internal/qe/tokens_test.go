package qe

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestTokenVectors checks every token of libmongocrypt's test/data/tokens (mc.json, and
// server.json from the server's FLETokens test) the way test-mc-tokens.c does, through the
// derivation paths the payload code uses.
func TestTokenVectors(t *testing.T) {
	for _, file := range []string{"mc.json", "server.json"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/tokens/" + file)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{}
			var cf uint64
			for k, v := range raw {
				if k == "contentionFactor" {
					cf = uint64(v.(float64))
					continue
				}
				want[k] = mustHex(t, v.(string))
			}
			if cf == 0 || len(want) != 56 {
				t.Fatalf("unexpected test file shape: cf=%d, %d tokens", cf, len(want))
			}
			checked := map[string]bool{}
			check := func(name string, got Token) {
				t.Helper()
				w, ok := want[name]
				if !ok {
					t.Fatalf("no expected value for %s", name)
				}
				if !strings.EqualFold(hex.EncodeToString(got[:]), hex.EncodeToString(w)) {
					t.Errorf("%s\n got %x\nwant %x", name, got, w)
				}
				checked[name] = true
			}
			root, value := want["root"], want["value"]
			checked["root"], checked["value"] = true, true

			r := deriveRootTokens(root)
			check("collectionsLevel1Token", r.collectionsLevel1)
			check("ServerTokenDerivationLevel1Token", r.serverTokenDerivation)
			check("serverDataEncryptionLevel1Token", r.serverDataEncryption)
			check("EDCToken", r.edc)
			check("ESCToken", r.esc)
			check("ECCToken", r.ecc)
			check("ECOCToken", r.ecoc)

			find := r.equalityDeriver().forFind(value)
			check("EDCDerivedFromDataToken", find.edc)
			check("ESCDerivedFromDataToken", find.esc)
			check("serverDerivedFromDataToken", find.server)
			ins := r.equalityDeriver().forInsert(value, cf)
			check("EDCDerivedFromDataTokenAndContentionFactor", ins.edc)
			check("ESCDerivedFromDataTokenAndContentionFactor", ins.esc)
			check("serverDerivedFromDataToken", ins.server)

			// v1-only and server-side tokens, from the documented chain.
			eccData := hmacData(r.ecc[:], value)
			check("ECCDerivedFromDataToken", eccData)
			check("ECCDerivedFromDataTokenAndContentionFactor", hmacU64(eccData[:], cf))
			check("EDCTwiceDerivedToken", hmacU64(ins.edc[:], labelTwiceDerivedTag))
			check("ESCTwiceDerivedTagToken", hmacU64(ins.esc[:], labelTwiceDerivedTag))
			check("ESCTwiceDerivedValueToken", hmacU64(ins.esc[:], labelTwiceDerivedValue))
			check("serverCountAndContentionFactorEncryptionToken", hmacU64(find.server[:], labelServerCountAndContent))
			check("serverZerosEncryptionToken", hmacU64(find.server[:], labelServerZeros))

			pad := r.anchorPaddingRoot()
			check("AnchorPaddingTokenRoot", pad)
			check("AnchorPaddingKeyToken", hmacU64(pad[:], labelAnchorPaddingKey))
			check("AnchorPaddingValueToken", hmacU64(pad[:], labelAnchorPaddingValue))

			for _, kind := range []struct {
				name  string
				label uint64
			}{{"Exact", labelTextExact}, {"Substring", labelTextSubstring}, {"Suffix", labelTextSuffix}, {"Prefix", labelTextPrefix}} {
				check("EDCText"+kind.name+"Token", hmacU64(r.edc[:], kind.label))
				check("ESCText"+kind.name+"Token", hmacU64(r.esc[:], kind.label))
				check("ServerText"+kind.name+"Token", hmacU64(r.serverTokenDerivation[:], kind.label))
				d := r.textDeriver(kind.label)
				f := d.forFind(value)
				check("EDCText"+kind.name+"DerivedFromDataToken", f.edc)
				check("ESCText"+kind.name+"DerivedFromDataToken", f.esc)
				check("ServerText"+kind.name+"DerivedFromDataToken", f.server)
				i := d.forInsert(value, cf)
				check("EDCText"+kind.name+"DerivedFromDataTokenAndContentionFactorToken", i.edc)
				check("ESCText"+kind.name+"DerivedFromDataTokenAndContentionFactorToken", i.esc)
			}
			for name := range want {
				if !checked[name] {
					t.Errorf("token %s not checked", name)
				}
			}
		})
	}
}

// TestOneShotHMAC compares the reusable-state HMAC of the contention factor step with
// crypto/hmac for random keys and factors.
func TestOneShotHMAC(t *testing.T) {
	o := newOneShotHMAC()
	for i := 0; i < 200; i++ {
		var key Token
		rand.Read(key[:])
		n := uint64(i) * 0x9e3779b97f4a7c15
		m := hmac.New(sha256.New, key[:])
		binary.Write(m, binary.LittleEndian, n)
		if got, want := o.u64(key, n), m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("key %x n %d: got %x want %x", key, n, got, want)
		}
	}
}
