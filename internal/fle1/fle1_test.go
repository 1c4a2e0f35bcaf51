package fle1

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

func readExtJSONBlob(t testing.TB, path string) []byte {
	t.Helper()
	js, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(js, false, &doc); err != nil {
		t.Fatal(err)
	}
	st, data, ok := doc.Lookup("v").BinaryOK()
	if !ok || st != 6 {
		t.Fatalf("%s: v is not BinData 6", path)
	}
	return data
}

func abcKey(t testing.TB) *aead.FLE1 {
	t.Helper()
	h, err := os.ReadFile("testdata/ABCDEFAB123498761234123456789012-key-material.txt")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	k, err := aead.NewFLE1(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLibmongocryptBlobs decrypts libmongocrypt's FLE1 explicit-decrypt vectors (both give the
// string "foo") and re-encrypts the deterministic one byte for byte.
func TestLibmongocryptBlobs(t *testing.T) {
	k := abcKey(t)
	wantID, _ := hex.DecodeString("ABCDEFAB123498761234123456789012")
	for _, name := range []string{"FLE1DeterministicEncryptedValue", "FLE1RandomEncryptedValue"} {
		blob := readExtJSONBlob(t, "testdata/"+name+".json")
		bl, err := Parse(blob)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(bl.KeyID[:], wantID) || bl.OriginalType != bson.TypeString {
			t.Fatalf("%s: key %x type %v", name, bl.KeyID, bl.OriginalType)
		}
		v, err := Decrypt(k, bl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s, ok := v.StringValueOK(); !ok || s != "foo" {
			t.Fatalf("%s: decrypted %v", name, v)
		}
		if bl.Subtype == fleblob.FLE1DeterministicEncryptedValue {
			again, err := Encrypt(k, bl.KeyID, Deterministic, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, blob) {
				t.Fatalf("deterministic re-encryption differs:\n got %x\nwant %x", again, blob)
			}
		}
	}
}

func TestPlaceholderVector(t *testing.T) {
	blob := readExtJSONBlob(t, "testdata/FLE1EncryptionPlaceholder.json")
	p, err := ParsePlaceholder(blob)
	if err != nil {
		t.Fatal(err)
	}
	if p.Algorithm != Deterministic || p.KeyID == nil || string(p.KeyID[:]) != "aaaaaaaaaaaaaaaa" {
		t.Fatalf("parsed %+v", p)
	}
	if s, _ := p.Value.StringValueOK(); s != "457-55-5462" {
		t.Fatalf("value %v", p.Value)
	}
	// Every strict prefix of the placeholder is refused.
	for n := 0; n < len(blob); n++ {
		if _, err := ParsePlaceholder(blob[:n]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		}
	}
}

func TestPlaceholderRefusals(t *testing.T) {
	id := bson.Binary{Subtype: 4, Data: make([]byte, 16)}
	for name, doc := range map[string]bson.D{
		"no a":       {{Key: "ki", Value: id}, {Key: "v", Value: 1}},
		"no v":       {{Key: "a", Value: int32(1)}, {Key: "ki", Value: id}},
		"no key":     {{Key: "a", Value: int32(1)}, {Key: "v", Value: 1}},
		"both keys":  {{Key: "a", Value: int32(1)}, {Key: "ki", Value: id}, {Key: "ka", Value: "n"}, {Key: "v", Value: 1}},
		"bad a":      {{Key: "a", Value: int32(3)}, {Key: "ki", Value: id}, {Key: "v", Value: 1}},
		"a not int":  {{Key: "a", Value: 1.0}, {Key: "ki", Value: id}, {Key: "v", Value: 1}},
		"ki not id":  {{Key: "a", Value: int32(1)}, {Key: "ki", Value: bson.Binary{Subtype: 0, Data: make([]byte, 16)}}, {Key: "v", Value: 1}},
		"ka not str": {{Key: "a", Value: int32(1)}, {Key: "ka", Value: 5}, {Key: "v", Value: 1}},
		"extra":      {{Key: "a", Value: int32(1)}, {Key: "ki", Value: id}, {Key: "v", Value: 1}, {Key: "x", Value: 1}},
	} {
		raw, _ := bson.Marshal(doc)
		if _, err := ParsePlaceholder(append([]byte{byte(fleblob.FLE1EncryptionPlaceholder)}, raw...)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func rv(t testing.TB, v any) bson.RawValue {
	t.Helper()
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return bson.RawValue{Type: typ, Value: data}
}

func TestCheckType(t *testing.T) {
	never := []any{bson.Null{}, bson.Undefined{}, bson.MinKey{}, bson.MaxKey{}, bson.Binary{Subtype: 6, Data: []byte{1}}}
	notDet := []any{1.5, bson.D{{Key: "a", Value: 1}}, bson.A{1}, true, bson.CodeWithScope{Code: "x", Scope: bson.D{}}, bson.NewDecimal128(1, 1)}
	always := []any{"s", bson.NewObjectID(), bson.DateTime(5), bson.Regex{Pattern: "a"}, int32(1), int64(2), bson.Timestamp{T: 1}, bson.JavaScript("x"), bson.Symbol("y"), bson.Binary{Subtype: 4, Data: make([]byte, 16)}}
	for _, v := range never {
		for _, a := range []Algorithm{Deterministic, Random} {
			if err := CheckType(rv(t, v), a); !errors.Is(err, ErrTypeNotAllowed) {
				t.Errorf("%T with %v: err = %v", v, a, err)
			}
		}
	}
	for _, v := range notDet {
		if err := CheckType(rv(t, v), Deterministic); err == nil || !strings.Contains(err.Error(), rv(t, v).Type.String()) {
			t.Errorf("%T deterministic: err = %v, want one naming the type", v, err)
		}
		if err := CheckType(rv(t, v), Random); err != nil {
			t.Errorf("%T random: %v", v, err)
		}
	}
	for _, v := range always {
		for _, a := range []Algorithm{Deterministic, Random} {
			if err := CheckType(rv(t, v), a); err != nil {
				t.Errorf("%T with %v: %v", v, a, err)
			}
		}
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	raw := make([]byte, 96)
	rand.Read(raw)
	k, _ := aead.NewFLE1(raw)
	var id [16]byte
	rand.Read(id[:])
	vals := []any{"", "héllo", int32(-7), int64(1 << 40), 2.5, true, bson.D{{Key: "x", Value: "y"}}, bson.A{1, "2"},
		bson.NewObjectID(), bson.DateTime(1234), bson.Regex{Pattern: "^a", Options: "i"}, bson.Timestamp{T: 5, I: 6},
		bson.NewDecimal128(3, 4), bson.Binary{Subtype: 0, Data: []byte("bin")}, bson.JavaScript("f()"),
		bson.CodeWithScope{Code: "g()", Scope: bson.D{{Key: "a", Value: 1}}}, bson.DBPointer{DB: "db.c", Pointer: bson.NewObjectID()}, bson.Symbol("sym")}
	for _, v := range vals {
		for _, a := range []Algorithm{Deterministic, Random} {
			val := rv(t, v)
			if CheckType(val, a) != nil {
				continue
			}
			blob, err := Encrypt(k, id, a, val, rand.Reader)
			if err != nil {
				t.Fatalf("%T %v: %v", v, a, err)
			}
			bl, err := Parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decrypt(k, bl)
			if err != nil {
				t.Fatalf("%T %v: %v", v, a, err)
			}
			if got.Type != val.Type || !bytes.Equal(got.Value, val.Value) {
				t.Fatalf("%T %v: round trip changed the value", v, a)
			}
			if a == Deterministic {
				again, _ := Encrypt(k, id, a, val, nil)
				if !bytes.Equal(again, blob) {
					t.Fatalf("%T: deterministic encryption is not deterministic", v)
				}
			}
		}
	}
}

func TestDecryptRefusals(t *testing.T) {
	k := abcKey(t)
	blob := readExtJSONBlob(t, "testdata/FLE1RandomEncryptedValue.json")
	for n := 0; n < len(blob); n++ {
		if bl, err := Parse(blob[:n]); err == nil {
			if _, err := Decrypt(k, bl); err == nil {
				t.Fatalf("prefix of %d bytes decrypted", n)
			}
		}
	}
	// A changed key id or original type breaks authentication (they are associated data).
	for _, i := range []int{1, 17} {
		bad := bytes.Clone(blob)
		bad[i] ^= 1
		bl, err := Parse(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decrypt(k, bl); !errors.Is(err, aead.ErrAuth) {
			t.Fatalf("byte %d changed: err = %v", i, err)
		}
	}
	// A genuine ciphertext of bytes that are not a value of the stated type is refused.
	var id [16]byte
	ad := append([]byte{byte(fleblob.FLE1RandomEncryptedValue)}, id[:]...)
	ad = append(ad, byte(bson.TypeString))
	ct, _ := k.Encrypt(nil, make([]byte, 16), ad, []byte{9, 0, 0, 0, 'x', 0})
	bl, _ := Parse(append(bytes.Clone(ad), ct...))
	if _, err := Decrypt(k, bl); err == nil {
		t.Fatal("a malformed string value was accepted")
	}
}

func FuzzParseAndDecrypt(f *testing.F) {
	k := abcKey(f)
	seeds := 0
	for _, name := range []string{"FLE1DeterministicEncryptedValue", "FLE1RandomEncryptedValue", "FLE1EncryptionPlaceholder"} {
		f.Add(readExtJSONBlob(f, "testdata/"+name+".json"))
		seeds++
	}
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bl, err := Parse(b); err == nil {
			_, _ = Decrypt(k, bl)
		}
		_, _ = ParsePlaceholder(b)
	})
}
