// Package compat checks this module against the real libmongocrypt: peer.c runs explicit CSFLE
// encryption and decryption through libmongocrypt's C API, and the test compares it, value by
// value and byte for byte, with this module's ClientEncryption (see README.md).
package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/keyvault"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/local"
)

// requiredEnv, set to 1 (CI does), turns a missing libmongocrypt from a skip into a failure.
const requiredEnv = "MONGOCRYPT_COMPAT_REQUIRED"

const aptHint = "install Debian's libmongocrypt-dev and libbson-dev: apt-get install -y gcc pkg-config libmongocrypt-dev libbson-dev"

const (
	detName  = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	randName = "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
	keyNS    = "keyvault.datakeys"
)

// The fixed keys: the local master key, the data key this module wraps, the data key
// libmongocrypt wraps.
var (
	masterKey  = fixedBytes("mongocrypt compat local master key", 96)
	dataKey    = fixedBytes("mongocrypt compat data key", 96)
	libDataKey = fixedBytes("mongocrypt compat data key made by libmongocrypt", 96)
)

func fixedBytes(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s %d", label, i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

// buildPeer compiles peer.c against the libmongocrypt that pkg-config names, or skips the test
// when there is none (fails when requiredEnv is 1).
func buildPeer(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "; " + aptHint
		if os.Getenv(requiredEnv) == "1" {
			t.Fatalf("%s (%s=1: a failure, not a skip)", msg, requiredEnv)
		}
		t.Skipf("skipping the libmongocrypt compatibility test: %s (with %s=1 this fails instead)", msg, requiredEnv)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		missing("no C compiler (%s)", cc)
	}
	if _, err := exec.LookPath("pkg-config"); err != nil {
		missing("no pkg-config")
	}
	for _, pkg := range []string{"libmongocrypt", "libbson-1.0"} {
		if exec.Command("pkg-config", "--exists", pkg).Run() != nil {
			missing("pkg-config finds no %s", pkg)
		}
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libmongocrypt", "libbson-1.0").CombinedOutput()
	if err != nil {
		t.Fatalf("pkg-config --cflags --libs libmongocrypt libbson-1.0: %v\n%s", err, flags)
	}
	libdir, err := exec.Command("pkg-config", "--variable=libdir", "libmongocrypt").Output()
	if err != nil {
		t.Fatalf("pkg-config --variable=libdir libmongocrypt: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "peer")
	args := []string{"-std=c11", "-O1", "-Wall", "-Wextra", "-o", bin, "peer.c"}
	args = append(args, strings.Fields(string(flags))...)
	// The rpath makes a libmongocrypt named by PKG_CONFIG_PATH (another build) the one that runs.
	args = append(args, "-Wl,-rpath,"+strings.TrimSpace(string(libdir)))
	out, err := exec.Command(cc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("building peer.c: %s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		t.Logf("building peer.c: compiler output:\n%s", out)
	}
	return bin
}

// peer runs peer.c with a master key file and a key document file.
type peer struct {
	bin, master, key string
}

// run sends every request to one peer process and returns its responses, one per request.
func (p *peer) run(t *testing.T, reqs [][]byte) []bson.Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, "-master", p.master, "-key", p.key)
	cmd.Stdin = bytes.NewReader(bytes.Join(reqs, nil))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("peer: %v\n%s", err, stderr.String())
	}
	var resps []bson.Raw
	for rest := stdout.Bytes(); len(rest) > 0; {
		d, r, ok := bsoncore.ReadDocument(rest)
		if !ok {
			t.Fatalf("peer: response %d is not a BSON document", len(resps))
		}
		if err := bson.Raw(d).Validate(); err != nil {
			t.Fatalf("peer: response %d: %v", len(resps), err)
		}
		resps = append(resps, bson.Raw(d))
		rest = r
	}
	if len(resps) != len(reqs) {
		t.Fatalf("peer: %d responses to %d requests\n%s", len(resps), len(reqs), stderr.String())
	}
	return resps
}

// request builds {op: op} or {op: op, name: v}.
func request(op, name string, v bson.RawValue) []byte {
	elems := [][]byte{bsoncore.AppendStringElement(nil, "op", op)}
	if name != "" {
		elems = append(elems, bsoncore.AppendValueElement(nil, name, bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value}))
	}
	return bsoncore.BuildDocumentFromElements(nil, elems...)
}

func ciphertext(blob []byte) bson.RawValue {
	return rv(bson.TypeBinary, bsoncore.AppendBinary(nil, 6, blob))
}

// lookup returns field name of a response, or the message of its field errName.
func lookup(resp bson.Raw, name, errName string) (v bson.RawValue, errMsg string, ok bool) {
	if e := resp.Lookup(errName); e.Type != 0 {
		s, _ := e.StringValueOK()
		return bson.RawValue{}, s, false
	}
	v = resp.Lookup(name)
	return v, "", v.Type != 0
}

// subtype6 returns the data of a binary subtype 6 value.
func subtype6(v bson.RawValue) ([]byte, error) {
	st, data, ok := v.BinaryOK()
	if !ok || st != 6 {
		return nil, fmt.Errorf("not a binary subtype 6: %s", v)
	}
	return data, nil
}

// goSide is this module's public explicit API, ClientEncryption, on the stub key vault.
type goSide struct {
	ce    *mongocrypt.ClientEncryption
	vault *stubVault
}

func newGoSide(t *testing.T) *goSide {
	t.Helper()
	vault := startStubVault(t)
	client, err := mongo.Connect(options.Client().ApplyURI(vault.uri()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	ce, err := mongocrypt.NewClientEncryption(client, options.ClientEncryption().
		SetKeyVaultNamespace(keyNS).
		SetKmsProviders(map[string]map[string]any{"local": {"key": masterKey}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ce.Close(context.Background()) })
	return &goSide{ce: ce, vault: vault}
}

func (g *goSide) encrypt(v bson.RawValue, algorithm string, id bson.Binary) ([]byte, error) {
	b, err := g.ce.Encrypt(context.Background(), v, options.Encrypt().SetAlgorithm(algorithm).SetKeyID(id))
	if err != nil {
		return nil, err
	}
	if b.Subtype != 6 {
		return nil, fmt.Errorf("Encrypt returned binary subtype %d", b.Subtype)
	}
	return b.Data, nil
}

func (g *goSide) decrypt(blob []byte) (bson.RawValue, error) {
	return g.ce.Decrypt(context.Background(), bson.Binary{Subtype: 6, Data: blob})
}

// unwrapKey parses a key document and unwraps its data key with the local master key, with this
// module's own key vault and KMS layers.
func unwrapKey(t *testing.T, kd bson.Raw) (*keyvault.Key, []byte) {
	t.Helper()
	k, err := keyvault.ParseKey(kd)
	if err != nil {
		t.Fatalf("this module refuses the key document %s: %v", kd, err)
	}
	p, err := local.NewWithKey("local", masterKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.Unwrap(context.Background(), k.MasterKey, k.KeyMaterial)
	if err != nil {
		t.Fatalf("this module cannot unwrap the key document %s: %v", kd, err)
	}
	return k, raw
}

// layout lists a document's field names and types, in order.
func layout(d bson.Raw) string {
	elems, _ := d.Elements()
	var parts []string
	for _, e := range elems {
		parts = append(parts, e.Key()+":"+e.Value().Type.String())
	}
	return strings.Join(parts, ", ")
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// counts are what the summary reports.
type counts struct {
	libToGo, goToLib, detIdentical, refusedBoth, undecryptable, forged int
}

func TestLibmongocrypt(t *testing.T) {
	start := time.Now()
	bin := buildPeer(t)
	dir := t.TempDir()
	g := newGoSide(t)

	// The data key, made by this module: ClientEncryption.CreateDataKey with the local KMS
	// provider, its key document as the module inserted it into the key vault.
	ourID, err := g.ce.CreateDataKey(context.Background(), "local", options.DataKey().SetKeyMaterial(dataKey))
	if err != nil {
		t.Fatalf("CreateDataKey: %v", err)
	}
	docs := g.vault.all(keyNS)
	if len(docs) != 1 {
		t.Fatalf("CreateDataKey inserted %d documents, want 1", len(docs))
	}
	ourDoc := docs[0]
	if k, raw := unwrapKey(t, ourDoc); !bytes.Equal(raw, dataKey) || !bytes.Equal(k.ID[:], ourID.Data) {
		t.Fatalf("our key document %s does not hold the key material and id given", ourDoc)
	}
	masterPath := writeFile(t, dir, "master.key", masterKey)
	ourKeyPath := writeFile(t, dir, "key.bson", ourDoc)
	ourPeer := &peer{bin: bin, master: masterPath, key: ourKeyPath}

	// libmongocrypt's version, and a data key made by libmongocrypt with the same master key.
	first := ourPeer.run(t, [][]byte{
		request("version", "", bson.RawValue{}),
		request("datakey", "keyMaterial", rv(bson.TypeBinary, bsoncore.AppendBinary(nil, 0, libDataKey))),
	})
	version, _ := first[0].Lookup("version").StringValueOK()
	t.Logf("libmongocrypt %s (peer.c, pkg-config libmongocrypt)", version)
	v, msg, ok := lookup(first[1], "key", "error")
	if !ok {
		t.Fatalf("libmongocrypt datakey: %s", msg)
	}
	libDoc := bson.Raw(v.Document())
	libKey, raw := unwrapKey(t, libDoc)
	if !bytes.Equal(raw, libDataKey) {
		t.Fatalf("libmongocrypt's key document unwraps here to %x, want %x", raw, libDataKey)
	}
	if got, want := layout(libDoc), layout(ourDoc); got != want {
		t.Errorf("key document layout:\nlibmongocrypt: %s\nthis module:   %s", got, want)
	}
	if lm, om := libDoc.Lookup("masterKey"), ourDoc.Lookup("masterKey"); !sameValue(lm, om) {
		t.Errorf("masterKey: libmongocrypt %s, this module %s", lm, om)
	}
	g.vault.insert(keyNS, libDoc)
	libID := bson.Binary{Subtype: 4, Data: libKey.ID[:]}
	libPeer := &peer{bin: bin, master: masterPath, key: writeFile(t, dir, "libkey.bson", libDoc)}

	vs := corpus()
	var total counts
	for _, k := range []struct {
		name string
		p    *peer
		id   bson.Binary
		raw  []byte
	}{{"key-by-this-module", ourPeer, ourID, dataKey}, {"key-by-libmongocrypt", libPeer, libID, libDataKey}} {
		t.Run(k.name, func(t *testing.T) {
			c := crossCheck(t, g, k.p, k.id, k.raw, vs)
			total.libToGo += c.libToGo
			total.goToLib += c.goToLib
			total.detIdentical += c.detIdentical
			total.refusedBoth += c.refusedBoth
			total.undecryptable += c.undecryptable
			total.forged += c.forged
		})
	}

	nonCiphertexts(t, g, ourPeer)

	// The key document as canonical extended JSON: libmongocrypt reads the same key.
	t.Run("key-json", func(t *testing.T) {
		j, err := bson.MarshalExtJSON(ourDoc, true, false)
		if err != nil {
			t.Fatal(err)
		}
		pj := &peer{bin: bin, master: masterPath, key: writeFile(t, dir, "key.json", j)}
		hello := rv(bson.TypeString, bsoncore.AppendString(nil, "hello"))
		want, err := g.encrypt(hello, detName, ourID)
		if err != nil {
			t.Fatal(err)
		}
		r := pj.run(t, [][]byte{request("encrypt", "v", hello)})
		ct, msg, ok := lookup(r[0], "det", "detError")
		if !ok {
			t.Fatalf("libmongocrypt with the JSON key document: %s", msg)
		}
		if blob, _ := subtype6(ct); !bytes.Equal(blob, want) {
			t.Errorf("deterministic ciphertext with the JSON key document: %x, want %x", blob, want)
		}
	})

	t.Logf("%d values x 2 keys: %d ciphertexts of libmongocrypt decrypted by this module, %d of this module "+
		"decrypted by libmongocrypt, %d deterministic ciphertexts byte-identical, %d refusals by both, "+
		"%d undecryptable ciphertexts refused by both, %d forged deterministic ciphertexts decrypted alike; "+
		"key vault finds: %d; %v",
		len(vs), total.libToGo, total.goToLib, total.detIdentical, total.refusedBoth, total.undecryptable,
		total.forged, g.vault.finds.Load(), time.Since(start).Round(time.Millisecond))
}

// crossCheck runs the corpus through both sides under one data key: libmongocrypt encrypts and
// this module decrypts, this module encrypts and libmongocrypt decrypts, deterministic
// ciphertexts compared byte for byte, refusals compared; then ciphertexts that must not
// decrypt, and deterministic ciphertexts of the types deterministic refuses (made without the
// type check), which both must decrypt alike.
func crossCheck(t *testing.T, g *goSide, p *peer, id bson.Binary, raw []byte, vs []value) counts {
	var c counts
	key, err := aead.NewFLE1(raw)
	if err != nil {
		t.Fatal(err)
	}
	type ours struct {
		det, rand     []byte
		detAt, randAt int // index of the request decrypting it, 0 if none
	}
	mine := make([]ours, len(vs))
	var reqs [][]byte
	for _, v := range vs {
		reqs = append(reqs, request("encrypt", "v", v.v))
	}
	for i, v := range vs {
		for _, det := range []bool{true, false} {
			alg := randName
			if det {
				alg = detName
			}
			blob, err := g.encrypt(v.v, alg, id)
			var me *mongocrypt.Error
			switch {
			case err == nil && !v.class.allows(det):
				t.Errorf("%s: %s: this module encrypts it, want a refusal", v.name, alg)
			case err != nil && v.class.allows(det):
				t.Errorf("%s: %s: this module refuses it: %v", v.name, alg, err)
			case err != nil && (!errors.As(err, &me) || me.Code != mongocrypt.CodeClient):
				t.Errorf("%s: %s: refused with %v, want a *mongocrypt.Error of code CodeClient", v.name, alg, err)
			}
			if blob == nil {
				continue
			}
			if det {
				mine[i].det, mine[i].detAt = blob, len(reqs)
			} else {
				mine[i].rand, mine[i].randAt = blob, len(reqs)
			}
			reqs = append(reqs, request("decrypt", "v", ciphertext(blob)))
		}
	}

	hello := rv(bson.TypeString, bsoncore.AppendString(nil, "hello"))
	good, err := g.encrypt(hello, detName, id)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x01; return b }
	unknownKey := bytes.Clone(good)
	unknownKey[1] ^= 0xff
	bad := []struct {
		name string
		blob []byte
	}{
		{"tampered-ciphertext", flip(len(good) - 40)},
		{"tampered-tag", flip(len(good) - 1)},
		{"tampered-iv", flip(18)},
		{"tampered-original-type", flip(17)},
		{"subtype-1-as-2", func() []byte { b := bytes.Clone(good); b[0] = 2; return b }()},
		{"truncated", good[:len(good)-1]},
		{"no-tag", good[:len(good)-32]},
		{"header-only", good[:18]},
		{"header-and-one-byte", good[:19]},
		{"unknown-key", unknownKey},
	}
	badAt := len(reqs)
	for _, b := range bad {
		reqs = append(reqs, request("decrypt", "v", ciphertext(b.blob)))
	}

	forgedAt := len(reqs)
	var forged []int
	for i, v := range vs {
		if v.class != randomOnly {
			continue
		}
		blob, err := forgeDeterministic(key, id.Data, v.v)
		if err != nil {
			t.Fatalf("%s: forging a deterministic ciphertext: %v", v.name, err)
		}
		mine[i].det = blob
		forged = append(forged, i)
		reqs = append(reqs, request("decrypt", "v", ciphertext(blob)))
	}

	resps := p.run(t, reqs)

	for i, v := range vs {
		resp := resps[i]
		t.Run(v.name, func(t *testing.T) {
			for _, a := range []struct {
				det  bool
				alg  string
				name string
				ours []byte
				at   int
			}{{true, detName, "det", mine[i].det, mine[i].detAt}, {false, randName, "rand", mine[i].rand, mine[i].randAt}} {
				ct, msg, ok := lookup(resp, a.name, a.name+"Error")
				if !v.class.allows(a.det) {
					if ok {
						t.Errorf("%s: libmongocrypt encrypts it (%s), this module refuses it", a.alg, ct)
					} else {
						c.refusedBoth++
						t.Logf("%s: refused by both; libmongocrypt: %s", a.alg, msg)
					}
					continue
				}
				if !ok {
					t.Errorf("%s: libmongocrypt refuses it (%s), this module encrypts it", a.alg, msg)
					continue
				}
				blob, err := subtype6(ct)
				if err != nil {
					t.Errorf("%s: libmongocrypt's ciphertext: %v", a.alg, err)
					continue
				}
				if want := []byte{map[bool]byte{true: 1, false: 2}[a.det]}; blob[0] != want[0] || !bytes.Equal(blob[1:17], id.Data) || blob[17] != byte(v.v.Type) {
					t.Errorf("%s: libmongocrypt's ciphertext header %x, want subtype %d, key %x, type %#x", a.alg, blob[:18], want[0], id.Data, byte(v.v.Type))
				}
				if a.det {
					if !bytes.Equal(blob, a.ours) {
						t.Errorf("%s: the ciphertexts differ:\nlibmongocrypt: %x\nthis module:   %x", a.alg, blob, a.ours)
					} else {
						c.detIdentical++
					}
				} else if len(blob) != len(a.ours) {
					t.Errorf("%s: ciphertext lengths differ: libmongocrypt %d, this module %d", a.alg, len(blob), len(a.ours))
				}
				// This module decrypts libmongocrypt's ciphertext.
				got, err := g.decrypt(blob)
				if err != nil {
					t.Errorf("%s: this module cannot decrypt libmongocrypt's ciphertext: %v", a.alg, err)
				} else if !sameValue(got, v.v) {
					t.Errorf("%s: libmongocrypt's ciphertext decrypts here to %s %x, want %s %x", a.alg, got.Type, got.Value, v.v.Type, v.v.Value)
				} else {
					c.libToGo++
				}
				// libmongocrypt decrypts this module's ciphertext.
				got, msg, ok = lookup(resps[a.at], "v", "error")
				if !ok {
					t.Errorf("%s: libmongocrypt cannot decrypt this module's ciphertext: %s", a.alg, msg)
				} else if !sameValue(got, v.v) {
					t.Errorf("%s: this module's ciphertext decrypts in libmongocrypt to %s %x, want %s %x", a.alg, got.Type, got.Value, v.v.Type, v.v.Value)
				} else {
					c.goToLib++
				}
			}
		})
	}

	t.Run("undecryptable", func(t *testing.T) {
		for j, b := range bad {
			_, goErr := g.decrypt(b.blob)
			_, msg, libOK := lookup(resps[badAt+j], "v", "error")
			switch {
			case goErr == nil && libOK:
				t.Errorf("%s: both decrypt it", b.name)
			case goErr == nil:
				t.Errorf("%s: this module decrypts it, libmongocrypt refuses it: %s", b.name, msg)
			case libOK:
				t.Errorf("%s: libmongocrypt decrypts it, this module refuses it: %v", b.name, goErr)
			default:
				c.undecryptable++
				t.Logf("%s: refused by both; this module: %v; libmongocrypt: %s", b.name, goErr, msg)
			}
		}
	})

	t.Run("forged-deterministic", func(t *testing.T) {
		for j, i := range forged {
			v := vs[i]
			goVal, goErr := g.decrypt(mine[i].det)
			libVal, msg, libOK := lookup(resps[forgedAt+j], "v", "error")
			switch {
			case goErr != nil && !libOK:
				c.forged++
				t.Logf("%s: refused by both; this module: %v; libmongocrypt: %s", v.name, goErr, msg)
			case goErr != nil:
				t.Errorf("%s: libmongocrypt decrypts a deterministic ciphertext of it, this module refuses it: %v", v.name, goErr)
			case !libOK:
				t.Errorf("%s: this module decrypts a deterministic ciphertext of it, libmongocrypt refuses it: %s", v.name, msg)
			case !sameValue(goVal, v.v) || !sameValue(libVal, v.v):
				t.Errorf("%s: decrypted to %s %x here and %s %x in libmongocrypt, want %s %x", v.name, goVal.Type, goVal.Value, libVal.Type, libVal.Value, v.v.Type, v.v.Value)
			default:
				c.forged++
			}
		}
	})
	return c
}

// forgeDeterministic makes the deterministic ciphertext of v, whatever its type, with the FLE1
// AEAD: blob subtype 1 || key id || type || AEAD(IV from HMAC of the associated data and v).
func forgeDeterministic(key *aead.FLE1, keyID []byte, v bson.RawValue) ([]byte, error) {
	ad := append(append([]byte{1}, keyID...), byte(v.Type))
	iv := key.DeterministicIV(ad, v.Value)
	return key.Encrypt(bytes.Clone(ad), iv[:], ad, v.Value)
}

// knownDivergences are the subtype 6 values whose explicit decryption differs: libmongocrypt
// (1.7.2 here; 1.20's mongocrypt_ctx_explicit_decrypt_init reads the same way, see README.md)
// finds nothing to decrypt in them and returns them unchanged, this module's
// ClientEncryption.Decrypt refuses them. The test fails when either side changes, so that the
// list stays true.
var knownDivergences = []struct {
	name, goErr string
	blob        []byte
}{
	{"empty", "empty encrypted value", nil},
	{"blob-subtype-8", "unsupported encrypted value: blob subtype 8", append([]byte{8}, make([]byte, 40)...)},
	{"blob-subtype-19", "unsupported encrypted value: blob subtype 19", append([]byte{19}, make([]byte, 40)...)},
	{"blob-subtype-99", "unsupported encrypted value: blob subtype 99", append([]byte{99}, make([]byte, 40)...)},
	{"blob-subtype-255", "unsupported encrypted value: blob subtype 255", append([]byte{255}, make([]byte, 40)...)},
}

// nonCiphertexts checks subtype 6 values that are not ciphertexts: placeholders and query
// payloads, which both sides return unchanged, and knownDivergences.
func nonCiphertexts(t *testing.T, g *goSide, p *peer) {
	t.Run("left-unchanged", func(t *testing.T) {
		// Blob subtypes both libmongocrypt 1.7.2 and 1.20 leave alone: FLE1 and FLE2
		// placeholders (0, 3) and FLE2 find payloads (5, 10, 12, 13, 18).
		var reqs [][]byte
		var blobs [][]byte
		for _, st := range []byte{0, 3, 5, 10, 12, 13, 18} {
			b := append([]byte{st}, fixedBytes("payload", 40)...)
			blobs = append(blobs, b)
			reqs = append(reqs, request("decrypt", "v", ciphertext(b)))
		}
		resps := p.run(t, reqs)
		for i, b := range blobs {
			want := ciphertext(b)
			goVal, goErr := g.decrypt(b)
			libVal, msg, libOK := lookup(resps[i], "v", "error")
			switch {
			case goErr != nil || !sameValue(goVal, want):
				t.Errorf("blob subtype %d: this module: %v %v, want it unchanged", b[0], goVal, goErr)
			case !libOK || !sameValue(libVal, want):
				t.Errorf("blob subtype %d: libmongocrypt: %v %s, want it unchanged", b[0], libVal, msg)
			}
		}
	})
	t.Run("known-divergences", func(t *testing.T) {
		var reqs [][]byte
		for _, d := range knownDivergences {
			reqs = append(reqs, request("decrypt", "v", ciphertext(d.blob)))
		}
		resps := p.run(t, reqs)
		for i, d := range knownDivergences {
			want := ciphertext(d.blob)
			_, goErr := g.decrypt(d.blob)
			libVal, msg, libOK := lookup(resps[i], "v", "error")
			if !libOK || !sameValue(libVal, want) {
				t.Errorf("%s: libmongocrypt now gives %v %q, not the value unchanged: update knownDivergences", d.name, libVal, msg)
			}
			if goErr == nil || !strings.Contains(goErr.Error(), d.goErr) {
				t.Errorf("%s: this module now gives %v, not an error %q: update knownDivergences", d.name, goErr, d.goErr)
			}
			t.Logf("KNOWN DIVERGENCE %s: libmongocrypt returns the value unchanged; this module's Decrypt: %v", d.name, goErr)
		}
	})
}
