package qe

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// ievVector is one file of libmongocrypt's test/data/iev-v2.
type ievVector struct {
	Type           string   `json:"type"`
	Payload        string   `json:"payload"`
	SKeyID         string   `json:"S_KeyId"`
	SKey           string   `json:"S_Key"`
	KKeyID         string   `json:"K_KeyId"`
	KKey           string   `json:"K_Key"`
	BSONValueType  int      `json:"bson_value_type"`
	BSONValue      string   `json:"bson_value"`
	SubstrTagCount uint32   `json:"substr_tag_count"`
	SuffixTagCount uint32   `json:"suffix_tag_count"`
	Metadata       []string `json:"metadata"`
}

func loadIEVVectors(t testing.TB) map[string]ievVector {
	t.Helper()
	files, _ := filepath.Glob("testdata/iev-v2/*.json")
	if len(files) != 4 {
		t.Fatalf("expected 4 iev-v2 files, found %d", len(files))
	}
	out := map[string]ievVector{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v ievVector
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = v
	}
	return out
}

func (v ievVector) keys(t testing.TB) KeyFunc {
	m := map[KeyID][]byte{
		KeyID(mustHex(t, v.SKeyID)): mustHex(t, v.SKey),
		KeyID(mustHex(t, v.KKeyID)): mustHex(t, v.KKey),
	}
	return func(id KeyID) ([]byte, error) {
		if k, ok := m[id]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no key %s", id)
	}
}

// buildIEVv2 assembles an indexed value from its parts as the server does (the test helper
// _mc_fle2_iev_v2_test_serialize_payload of libmongocrypt), with iv used for both layers.
func buildIEVv2(t testing.TB, v ievVector, iv []byte) []byte {
	t.Helper()
	subtype := map[string]fleblob.Subtype{"equality": fleblob.FLE2IndexedEqualityEncryptedValueV2, "range": fleblob.FLE2IndexedRangeEncryptedValueV2, "text": fleblob.FLE2IndexedTextEncryptedValue}[v.Type]
	kKeyID := mustHex(t, v.KKeyID)
	k, err := aead.NewFLE2v2AEAD(mustHex(t, v.KKey))
	if err != nil {
		t.Fatal(err)
	}
	cev, err := k.Encrypt(nil, iv, kKeyID, mustHex(t, v.BSONValue))
	if err != nil {
		t.Fatal(err)
	}
	token := hmacU64(tokenKeyOf(mustHex(t, v.SKey)), labelServerDataEncryption)
	ctr, _ := aead.NewFLE2CTR(token[:])
	sev, err := ctr.Encrypt(nil, iv, append(bytes.Clone(kKeyID), cev...))
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{byte(subtype)}, mustHex(t, v.SKeyID)...)
	out = append(out, byte(v.BSONValueType))
	switch subtype {
	case fleblob.FLE2IndexedRangeEncryptedValueV2:
		out = append(out, byte(len(v.Metadata)))
	case fleblob.FLE2IndexedTextEncryptedValue:
		out = binary.LittleEndian.AppendUint32(out, uint32(len(v.Metadata)))
		out = binary.LittleEndian.AppendUint32(out, v.SubstrTagCount)
		out = binary.LittleEndian.AppendUint32(out, v.SuffixTagCount)
	}
	out = append(out, sev...)
	for _, m := range v.Metadata {
		out = append(out, mustHex(t, m)...)
	}
	return out
}

// TestIEVv2Vectors decrypts the server-produced values of test/data/iev-v2 (equality, range,
// text, large text): S_KeyId, K_KeyId and the value must come out as recorded. The same
// fields assembled again by buildIEVv2 must decrypt the same way.
func TestIEVv2Vectors(t *testing.T) {
	for name, v := range loadIEVVectors(t) {
		t.Run(name, func(t *testing.T) {
			keys := v.keys(t)
			for i, blob := range [][]byte{mustHex(t, v.Payload), buildIEVv2(t, v, bytes.Repeat([]byte{7}, 16))} {
				ids, err := DecryptKeyIDs(blob)
				if err != nil || len(ids) != 1 || ids[0] != KeyID(mustHex(t, v.SKeyID)) {
					t.Fatalf("%d: DecryptKeyIDs = %v, %v", i, ids, err)
				}
				kid, ok, err := DecryptValueKeyID(blob, keys)
				if err != nil || !ok || kid != KeyID(mustHex(t, v.KKeyID)) {
					t.Fatalf("%d: DecryptValueKeyID = %s, %v, %v", i, kid, ok, err)
				}
				got, err := Decrypt(blob, keys)
				if err != nil {
					t.Fatalf("%d: Decrypt: %v", i, err)
				}
				if int(got.Type) != v.BSONValueType || !bytes.Equal(got.Value, mustHex(t, v.BSONValue)) {
					t.Fatalf("%d: Decrypt = %v %x", i, got.Type, got.Value)
				}
				s, err := parseStored(blob)
				if err != nil {
					t.Fatal(err)
				}
				if want := len(blob) - len(s.encrypted); want < len(v.Metadata)*metadataBlockLen {
					t.Fatalf("%d: metadata not separated: %d bytes outside the envelope", i, want)
				}
				// A wrong K_Key fails authentication.
				wrong := func(id KeyID) ([]byte, error) {
					k, err := keys(id)
					if id == kid {
						k = bytes.Clone(k)
						k[40] ^= 1
					}
					return k, err
				}
				if _, err := Decrypt(blob, wrong); !errors.Is(err, aead.ErrAuth) {
					t.Fatalf("%d: wrong K_Key: err = %v, want ErrAuth", i, err)
				}
			}
		})
	}
}

// TestStoredParsedOnce decrypts the iev-v2 values and libmongocrypt's stored values through
// a Stored: the keys it names are those of DecryptKeyIDs and DecryptValueKeyID, the value that
// of Decrypt, and once ValueKeyID has opened the envelope of an indexed value Decrypt asks for
// K_Key alone (S_Key is not asked for again: the envelope is not opened twice).
func TestStoredParsedOnce(t *testing.T) {
	type value struct {
		name string
		blob []byte
		keys KeyFunc
	}
	var values []value
	for name, v := range loadIEVVectors(t) {
		values = append(values, value{name, mustHex(t, v.Payload), v.keys(t)})
	}
	files, _ := filepath.Glob("testdata/explicit-decrypt/FLE2*.json")
	for _, f := range files {
		if b := encryptedBlobs(bsoncore.Document(readExtJSON(t, f)))["v"]; b != nil && IsQE(b) {
			values = append(values, value{filepath.Base(f), b, testKeys(t)})
		}
	}
	indexed := 0
	for _, c := range values {
		t.Run(c.name, func(t *testing.T) {
			want, err := Decrypt(c.blob, c.keys)
			if err != nil {
				t.Fatal(err)
			}
			ids, _ := DecryptKeyIDs(c.blob)
			wantInner, wantOK, _ := DecryptValueKeyID(c.blob, c.keys)
			v, err := ParseStored(c.blob)
			if err != nil {
				t.Fatal(err)
			}
			if v.KeyID() != ids[0] {
				t.Fatalf("KeyID = %s, want %s", v.KeyID(), ids[0])
			}
			inner, ok, err := v.ValueKeyID(c.keys)
			if err != nil || ok != wantOK || inner != wantInner {
				t.Fatalf("ValueKeyID = %s, %v, %v; want %s, %v", inner, ok, err, wantInner, wantOK)
			}
			var asked []KeyID
			keys := func(id KeyID) ([]byte, error) {
				asked = append(asked, id)
				return c.keys(id)
			}
			got, err := v.Decrypt(keys)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != want.Type || !bytes.Equal(got.Value, want.Value) {
				t.Fatalf("Decrypt = %v, want %v", got, want)
			}
			// One key: K_Key of an opened indexed value, the user key of the others.
			wantKey := v.KeyID()
			if ok {
				indexed++
				wantKey = inner
			}
			if len(asked) != 1 || asked[0] != wantKey {
				t.Fatalf("Decrypt asked for keys %v, want only %s", asked, wantKey)
			}
		})
	}
	if indexed < 4 {
		t.Fatalf("%d indexed values, want the 4 iev-v2 values at least", indexed)
	}
	// ParseStored refuses what DecryptKeyIDs refuses.
	for _, blob := range [][]byte{nil, {1}, {5}, {14}, {15, 0}, {18}} {
		if _, err := ParseStored(blob); err == nil {
			t.Errorf("ParseStored(%x) succeeded", blob)
		}
	}
}

func TestIEVv2ParseErrors(t *testing.T) {
	v := loadIEVVectors(t)["FLECrudTest-insertOneText.json"]
	blob := mustHex(t, v.Payload)
	// Counts that do not add up.
	bad := bytes.Clone(blob)
	binary.LittleEndian.PutUint32(bad[18:], 2) // edge count 2 < 2 + 1 + 1
	if _, err := DecryptKeyIDs(bad); err == nil || !strings.Contains(err.Error(), "smaller than") {
		t.Errorf("bad text counts: err = %v", err)
	}
	r := mustHex(t, loadIEVVectors(t)["FLECrudTest-insertOneRangeV2.json"].Payload)
	bad = bytes.Clone(r)
	bad[18] = 0
	if _, err := DecryptKeyIDs(bad); err == nil || !strings.Contains(err.Error(), "edge count 0") {
		t.Errorf("range edge count 0: err = %v", err)
	}
	bad[18] = 200 // more metadata than bytes
	if _, err := DecryptKeyIDs(bad); err == nil {
		t.Error("range edge count 200 parsed")
	}
	// No strict prefix of a stored value parses to something that decrypts.
	keys := v.keys(t)
	for _, b := range [][]byte{blob, r, mustHex(t, loadIEVVectors(t)["FLECrudTest-insertOneV2.json"].Payload)} {
		for n := 0; n < len(b); n += 3 {
			if _, err := Decrypt(b[:n], keys); err == nil {
				t.Fatalf("prefix of %d bytes decrypted", n)
			}
		}
	}
}

// TestExplicitDecryptVectors decrypts the QE values of libmongocrypt's
// test/data/explicit-decrypt, as _test_explicit_decrypt does, and checks that placeholders
// and find payloads are not taken for stored values.
func TestExplicitDecryptVectors(t *testing.T) {
	keys := testKeys(t)
	cases := []struct {
		file string
		want string // extended JSON of {v: value}; "" means not a stored value
	}{
		{"FLE2InsertUpdatePayload.json", `{"v": "value123"}`},
		{"FLE2InsertUpdatePayload-RangeV1.json", `{"v": 123456}`},
		{"FLE2UnindexedEncryptedValue.json", `{"v": "value123"}`},
		{"FLE2IndexedEqualityEncryptedValue.json", `{"v": "value123"}`},
		{"FLE2IndexedRangeEncryptedValue.json", `{"v": 123456}`},
		{"FLE2InsertUpdatePayloadV2.json", `{"v": "value123"}`},
		{"FLE2InsertUpdatePayloadV2-RangeV1.json", `{"v": 123456}`},
		{"FLE2InsertUpdatePayloadV2-RangeV2.json", `{"v": 123456}`},
		{"FLE2UnindexedEncryptedValueV2.json", `{"v": "foo"}`},
		{"FLE2IndexedEqualityEncryptedValueV2.json", `{"v": "foo"}`},
		{"FLE2IndexedRangeEncryptedValueV2.json", `{"v": 123}`},
		{"FLE2EncryptionPlaceholder.json", ""},
		{"FLE2FindEqualityPayload.json", ""},
		{"FLE2FindEqualityPayloadV2.json", ""},
		{"FLE1EncryptionPlaceholder.json", ""},
		{"FLE1DeterministicEncryptedValue.json", ""},
		{"FLE1RandomEncryptedValue.json", ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			doc := readExtJSON(t, filepath.Join("testdata/explicit-decrypt", c.file))
			blob := encryptedBlobs(bsoncore.Document(doc))["v"]
			if blob == nil {
				t.Fatal("no encrypted v")
			}
			if c.want == "" {
				if IsQE(blob) {
					t.Fatalf("IsQE(subtype %d) = true", blob[0])
				}
				if _, err := Decrypt(blob, keys); err == nil {
					t.Fatal("decrypted")
				}
				return
			}
			if !IsQE(blob) {
				t.Fatalf("IsQE(subtype %d) = false", blob[0])
			}
			ids, err := DecryptKeyIDs(blob)
			if err != nil || len(ids) != 1 {
				t.Fatalf("DecryptKeyIDs = %v, %v", ids, err)
			}
			got, err := Decrypt(blob, keys)
			if err != nil {
				t.Fatal(err)
			}
			want := bson.Raw(extJSON(t, c.want)).Lookup("v")
			if got.Type != want.Type || !bytes.Equal(got.Value, want.Value) {
				t.Fatalf("got %v, want %v", got, want)
			}
			// Only the listed keys are needed.
			needed := map[KeyID]bool{ids[0]: true}
			if id, ok, err := DecryptValueKeyID(blob, keys); err != nil {
				t.Fatal(err)
			} else if ok {
				needed[id] = true
			}
			restricted := func(id KeyID) ([]byte, error) {
				if !needed[id] {
					return nil, fmt.Errorf("key %s was not announced", id)
				}
				return keys(id)
			}
			if _, err := Decrypt(blob, restricted); err != nil {
				t.Fatalf("with announced keys only: %v", err)
			}
			// A flipped last byte (the MAC, or the metadata of indexed values) must not
			// give a different value.
			bad := bytes.Clone(blob)
			bad[len(bad)-1] ^= 1
			if v, err := Decrypt(bad, keys); err == nil && !bytes.Equal(v.Value, got.Value) {
				t.Fatalf("tampered value decrypted to %x", v.Value)
			}
		})
	}
}

// TestDecryptRoundTrip decrypts what Encrypt produces for unindexed and equality inserts.
func TestDecryptRoundTrip(t *testing.T) {
	keys := testKeys(t)
	for _, a := range []Algorithm{AlgorithmUnindexed, AlgorithmEquality} {
		for _, v := range []bson.RawValue{
			{Type: bson.TypeString, Value: bsoncore.AppendString(nil, "héllo")},
			{Type: bson.TypeInt64, Value: bsoncore.AppendInt64(nil, -5)},
			{Type: bson.TypeEmbeddedDocument, Value: bsoncore.NewDocumentBuilder().AppendInt32("a", 1).Build()},
		} {
			p := &Placeholder{Type: PlaceholderInsert, Algorithm: a, IndexKeyID: key12345678, UserKeyID: keyABCDEFAB, Value: v, MaxContentionFactor: 3}
			blob, err := p.Encrypt(keys, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decrypt(blob, keys)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != v.Type || !bytes.Equal(got.Value, v.Value) {
				t.Fatalf("%d: round trip gave %v", a, got)
			}
		}
	}
}

func TestDecryptRefusesBadValues(t *testing.T) {
	keys := testKeys(t)
	for _, blob := range [][]byte{nil, {1}, {2}, {3}, {5}, {8}, {12}, {13}, {18}, {19}, {255}} {
		if _, err := Decrypt(blob, keys); err == nil {
			t.Errorf("%x decrypted", blob)
		}
		if _, err := DecryptKeyIDs(blob); err == nil {
			t.Errorf("%x: DecryptKeyIDs succeeded", blob)
		}
	}
	// A value whose declared type does not match its bytes is refused after decryption.
	p := &Placeholder{Type: PlaceholderInsert, Algorithm: AlgorithmUnindexed, UserKeyID: keyABCDEFAB,
		Value: bson.RawValue{Type: bson.TypeInt32, Value: []byte{1, 2, 3}}}
	blob, err := p.Encrypt(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(blob, keys); err == nil || !strings.Contains(err.Error(), "not valid BSON") {
		t.Errorf("bad int32: err = %v", err)
	}
	// Missing keys are reported with their id.
	none := func(id KeyID) ([]byte, error) { return nil, errors.New("absent") }
	if _, err := Decrypt(mustHex(t, loadIEVVectors(t)["FLECrudTest-insertOneV2.json"].Payload), none); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("missing key: err = %v", err)
	}
	short := func(id KeyID) ([]byte, error) { return make([]byte, 64), nil }
	if _, err := Decrypt(blob, short); err == nil || !strings.Contains(err.Error(), "96 bytes") {
		t.Errorf("short key: err = %v", err)
	}
}

// storedSeeds returns real stored values for the fuzz targets.
func storedSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, v := range loadIEVVectors(t) {
		if len(v.Payload) < 20000 {
			out = append(out, mustHex(t, v.Payload))
		}
	}
	files, _ := filepath.Glob("testdata/explicit-decrypt/FLE2*.json")
	for _, f := range files {
		if b := encryptedBlobs(bsoncore.Document(readExtJSON(t, f)))["v"]; b != nil {
			out = append(out, b)
		}
	}
	return out
}

func FuzzDecrypt(f *testing.F) {
	seeds := storedSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	keys := testKeys(f)
	ievKeys := loadIEVVectors(f)["FLECrudTest-insertOneV2.json"].keys(f)
	both := func(id KeyID) ([]byte, error) {
		if k, err := keys(id); err == nil {
			return k, nil
		}
		return ievKeys(id)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		ids, err := DecryptKeyIDs(blob)
		if err == nil && len(ids) != 1 {
			t.Fatalf("DecryptKeyIDs returned %d ids", len(ids))
		}
		inner, innerOK, innerErr := DecryptValueKeyID(blob, both)
		v, err := Decrypt(blob, both)
		if err == nil {
			if err := checkValue(bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value}); err != nil {
				t.Fatalf("Decrypt returned an invalid value: %v", err)
			}
		}
		// A Stored agrees with the package functions.
		st, perr := ParseStored(blob)
		if (perr == nil) != (len(ids) == 1) {
			t.Fatalf("ParseStored error %v, DecryptKeyIDs %d ids", perr, len(ids))
		}
		if perr != nil {
			return
		}
		if st.KeyID() != ids[0] {
			t.Fatalf("KeyID %s, DecryptKeyIDs %s", st.KeyID(), ids[0])
		}
		if id, ok, e := st.ValueKeyID(both); id != inner || ok != innerOK || (e == nil) != (innerErr == nil) {
			t.Fatalf("ValueKeyID = %s, %v, %v; DecryptValueKeyID = %s, %v, %v", id, ok, e, inner, innerOK, innerErr)
		}
		sv, serr := st.Decrypt(both)
		if (serr == nil) != (err == nil) || sv.Type != v.Type || !bytes.Equal(sv.Value, v.Value) {
			t.Fatalf("Stored.Decrypt = %v, %v; Decrypt = %v, %v", sv, serr, v, err)
		}
	})
}

// TestInsertPayloadParseErrors covers the checks of the FLE2InsertUpdatePayloadV2 parser that
// decryption runs (mc_FLE2InsertUpdatePayloadV2_parse).
func TestInsertPayloadParseErrors(t *testing.T) {
	keys := testKeys(t)
	p := &Placeholder{Type: PlaceholderInsert, Algorithm: AlgorithmEquality, IndexKeyID: key12345678, UserKeyID: keyABCDEFAB, Value: rawString("v")}
	good, err := p.Encrypt(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := bsoncore.Document(good[1:])
	rebuild := func(edit func(key string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool) []byte {
		b := bsoncore.NewDocumentBuilder()
		elems, _ := doc.Elements()
		for _, e := range elems {
			if !edit(e.Key(), e.Value(), b) {
				b.AppendValue(e.Key(), e.Value())
			}
		}
		return append([]byte{byte(fleblob.FLE2InsertUpdatePayloadV2)}, b.Build()...)
	}
	cases := []struct {
		blob []byte
		want string
	}{
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool { return k == "e" }), "missing field 'e'"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "k" {
				b.AppendInt64("k", 0).AppendInt64("k", 0)
				return true
			}
			return false
		}), "duplicate field 'k'"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "t" {
				b.AppendInt32("t", 300)
				return true
			}
			return false
		}), "must be a valid BSON type"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "k" {
				b.AppendInt32("k", 0)
				return true
			}
			return false
		}), "'k' must be an int64"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "u" {
				b.AppendBinary("u", 0, make([]byte, 16))
				return true
			}
			return false
		}), "bindata subtype 4"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "v" {
				b.AppendBinary("v", 0, make([]byte, 15))
				return true
			}
			return false
		}), "too short for a user key id"},
		{rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
			if k == "k" {
				b.AppendInt64("k", 0).AppendInt64("sp", -1)
				return true
			}
			return false
		}), "sparsity must be non-negative"},
	}
	for _, c := range cases {
		if _, err := Decrypt(c.blob, keys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	// Unknown fields are ignored, as in libmongocrypt.
	extra := rebuild(func(k string, v bsoncore.Value, b *bsoncore.DocumentBuilder) bool {
		if k == "k" {
			b.AppendInt64("k", 0).AppendString("zz", "ignored")
			return true
		}
		return false
	})
	if v, err := Decrypt(extra, keys); err != nil || v.StringValue() != "v" {
		t.Errorf("extra field: %v, %v", v, err)
	}
}
