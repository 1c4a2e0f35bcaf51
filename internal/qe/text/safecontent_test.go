package text

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// specUnifiedDir holds the specification's unified client-side-encryption
// tests (CC BY-NC-SA 3.0): read in place, never copied into the repository.
const specUnifiedDir = "../../testserver/testdata/spec/tests/unified"

// specTextTest is the part of a QE-Text-*.json unified test used here.
type specTextTest struct {
	CreateEntities []struct {
		Client *struct {
			AutoEncryptOpts struct {
				KMSProviders struct {
					Local struct {
						Key string `json:"key"`
					} `json:"local"`
				} `json:"kmsProviders"`
			} `json:"autoEncryptOpts"`
		} `json:"client"`
	} `json:"createEntities"`
	InitialData []struct {
		Documents     []json.RawMessage `json:"documents"`
		CreateOptions *struct {
			EncryptedFields json.RawMessage `json:"encryptedFields"`
		} `json:"createOptions"`
	} `json:"initialData"`
	Tests []struct {
		Description string `json:"description"`
		Operations  []struct {
			Name      string `json:"name"`
			Arguments struct {
				Document map[string]any `json:"document"`
			} `json:"arguments"`
			ExpectResult json.RawMessage `json:"expectResult"`
		} `json:"operations"`
	} `json:"tests"`
}

func readSpecTextTest(t *testing.T, file string) *specTextTest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st specTextTest
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &st
}

// specEncryptedFields returns the fields of the encryptedFields the test
// creates its collection with.
func specEncryptedFields(t *testing.T, file string) []bson.Raw {
	t.Helper()
	st := readSpecTextTest(t, file)
	var out []bson.Raw
	for _, d := range st.InitialData {
		if d.CreateOptions == nil || d.CreateOptions.EncryptedFields == nil {
			continue
		}
		ef := ejson(t, string(d.CreateOptions.EncryptedFields))
		vals, err := ef.Lookup("fields").Array().Values()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out = append(out, v.Document())
		}
	}
	return out
}

// textOptionsOf reads the text search options of an encryptedFields field
// from its queries (one document or an array), as the server holds them.
func textOptionsOf(t *testing.T, field bson.Raw) *TextOptions {
	t.Helper()
	var docs []bson.Raw
	q := field.Lookup("queries")
	if arr, ok := q.ArrayOK(); ok {
		vals, err := arr.Values()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			docs = append(docs, v.Document())
		}
	} else {
		docs = append(docs, q.Document())
	}
	length := func(d bson.Raw, key string) int32 {
		n, ok := d.Lookup(key).AsInt64OK()
		if !ok && key != "strMaxLength" {
			t.Fatalf("query %s: no integer %s", d, key)
		}
		return int32(n)
	}
	o := &TextOptions{}
	for _, d := range docs {
		qt, ok := ParseQueryType(d.Lookup("queryType").StringValue())
		if !ok {
			t.Fatalf("query %s: not a text search query type", d)
		}
		o.CaseSensitive = d.Lookup("caseSensitive").Boolean()
		o.DiacriticSensitive = d.Lookup("diacriticSensitive").Boolean()
		io := &IndexOptions{StrMinQueryLength: length(d, "strMinQueryLength"), StrMaxQueryLength: length(d, "strMaxQueryLength")}
		switch qt.Base() {
		case QuerySubstring:
			io.StrMaxLength = length(d, "strMaxLength")
			o.Substring = io
		case QueryPrefix:
			o.Prefix = io
		case QuerySuffix:
			o.Suffix = io
		}
	}
	return o
}

// decryptLocalDataKey unwraps a data key with the local KMS provider:
// AEAD_AES_256_CBC_HMAC_SHA_512 with an empty associated data,
// keyMaterial = IV(16) || AES-256-CBC ciphertext || tag(32), MAC key =
// master[0:32], encryption key = master[32:64],
// tag = HMAC-SHA-512(MAC key, IV || ciphertext || 0 as 64-bit big endian)[:32].
func decryptLocalDataKey(t *testing.T, master, material []byte) []byte {
	t.Helper()
	if len(master) != 96 || len(material) < 16+16+32 {
		t.Fatalf("bad key sizes %d, %d", len(master), len(material))
	}
	body, tag := material[:len(material)-32], material[len(material)-32:]
	mac := hmac.New(sha512.New, master[:32])
	mac.Write(body)
	mac.Write(make([]byte, 8))
	if !hmac.Equal(mac.Sum(nil)[:32], tag) {
		t.Fatal("data key MAC mismatch")
	}
	block, err := aes.NewCipher(master[32:64])
	if err != nil {
		t.Fatal(err)
	}
	iv, ct := body[:16], body[16:]
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > 16 {
		t.Fatal("bad padding")
	}
	return pt[:len(pt)-pad]
}

func hmac256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// Text token kinds (t in the token derivations).
const (
	tokenExact     = 1
	tokenSubstring = 2
	tokenSuffix    = 3
	tokenPrefix    = 4
)

// serverTags computes the __safeContent__ tags the server stores for an
// insert with contention 0 into an empty collection: per token set,
// EDCTwiceDerivedToken = HMAC(HMAC(HMAC(HMAC(EDCToken, t), v), cf), 1) with
// EDCToken = HMAC(HMAC(TokenKey, 1), 1), and tag = HMAC(EDCTwiceDerivedToken,
// count) where count numbers the repeats of one token set from 1. Integers
// are 64-bit little endian; v is the string as a BSON value.
func serverTags(dataKey []byte, sets *Sets) [][]byte {
	tokenKey := dataKey[64:96]
	edc := hmac256(hmac256(tokenKey, le64(1)), le64(1))
	var tags [][]byte
	add := func(kind uint64, e Entry) {
		v := AppendBSONString(nil, e.Value)
		twice := hmac256(hmac256(hmac256(hmac256(edc, le64(kind)), v), le64(0)), le64(1))
		for c := uint64(1); c <= uint64(e.Count); c++ {
			tags = append(tags, hmac256(twice, le64(c)))
		}
	}
	add(tokenExact, Entry{Value: sets.Exact, Count: 1})
	for _, e := range sets.Substrings {
		add(tokenSubstring, e)
	}
	for _, e := range sets.Suffixes {
		add(tokenSuffix, e)
	}
	for _, e := range sets.Prefixes {
		add(tokenPrefix, e)
	}
	return tags
}

// The specification's QE-Text tests insert "foobar" with contention 0 and
// show the __safeContent__ a real server computed from libmongocrypt's
// payload. Recomputing those tags from StrEncode's sets checks every string,
// the padding counts and the order of all entries against libmongocrypt and
// the server end to end.
func TestStrEncodeMatchesSpecSafeContent(t *testing.T) {
	files, _ := filepath.Glob(specUnifiedDir + "/QE-Text-*.json")
	if len(files) == 0 {
		t.Skipf("specification tests not found in %s", specUnifiedDir)
	}
	checked := 0
	for _, file := range files {
		st := readSpecTextTest(t, file)
		var masterB64, materialB64 string
		for _, e := range st.CreateEntities {
			if e.Client != nil && e.Client.AutoEncryptOpts.KMSProviders.Local.Key != "" {
				masterB64 = e.Client.AutoEncryptOpts.KMSProviders.Local.Key
			}
		}
		fields := specEncryptedFields(t, file)
		for _, d := range st.InitialData {
			for _, doc := range d.Documents {
				raw := ejson(t, string(doc))
				if v, err := raw.LookupErr("keyMaterial"); err == nil {
					_, b := v.Binary()
					materialB64 = base64.StdEncoding.EncodeToString(b)
				}
			}
		}
		if masterB64 == "" || materialB64 == "" || len(fields) != 1 {
			t.Fatalf("%s: key or encryptedFields not found", file)
		}
		master, err := base64.StdEncoding.DecodeString(masterB64)
		if err != nil {
			t.Fatal(err)
		}
		material, _ := base64.StdEncoding.DecodeString(materialB64)
		dataKey := decryptLocalDataKey(t, master, material)
		opts := textOptionsOf(t, fields[0])
		for _, test := range st.Tests {
			var value string
			for _, op := range test.Operations {
				if s, ok := op.Arguments.Document["encryptedText"].(string); ok {
					value = s
				}
				if op.ExpectResult == nil || op.Name != "find" {
					continue
				}
				var results []json.RawMessage
				if json.Unmarshal(op.ExpectResult, &results) != nil {
					continue
				}
				for _, r := range results {
					doc := ejson(t, string(r))
					sc, err := doc.LookupErr("__safeContent__")
					if err != nil {
						continue
					}
					if doc.Lookup("encryptedText").StringValue() != value {
						t.Fatalf("%s: found document does not hold the inserted value", file)
					}
					want, err := sc.Array().Values()
					if err != nil {
						t.Fatal(err)
					}
					spec, err := opts.InsertSpec(bson.RawValue{Type: bson.TypeString, Value: bsoncore.AppendString(nil, value)})
					if err != nil {
						t.Fatal(err)
					}
					sets, err := StrEncode(&spec)
					if err != nil {
						t.Fatal(err)
					}
					got := serverTags(dataKey, sets)
					if len(got) != len(want) || int(sets.MSize) != len(want) {
						t.Fatalf("%s %q: %d tags (msize %d), spec test has %d", filepath.Base(file), test.Description, len(got), sets.MSize, len(want))
					}
					for i := range want {
						_, w := want[i].Binary()
						if !hmac.Equal(got[i], w) {
							t.Fatalf("%s %q: tag %d = %x, want %x", filepath.Base(file), test.Description, i, got[i], w)
						}
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no __safeContent__ found in the QE-Text tests")
	}
	t.Logf("%d __safeContent__ arrays matched tag for tag", checked)
}
