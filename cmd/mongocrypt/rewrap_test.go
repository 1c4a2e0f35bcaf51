package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/local"
)

// seedKeys inserts n data keys under the local master key of v, made as the library makes
// them (the local provider wraps random data keys) but written with one InsertMany, and
// returns their ids and one deterministic ciphertext of "value <i>" under each. Creating them
// one by one through the embedded server would take most of a minute.
func seedKeys(t *testing.T, v *vault, n int) ([]bson.Binary, []bson.Binary) {
	t.Helper()
	ctx := t.Context()
	p, err := local.NewWithKey("local", v.masterKey)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]bson.Binary, n)
	cts := make([]bson.Binary, n)
	docs := make([]any, n)
	for i := range n {
		dek := randBytes(t, dataKeyLen)
		id := randBytes(t, 16)
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		material, stored, err := p.Wrap(ctx, nil, dek)
		if err != nil {
			t.Fatal(err)
		}
		now := bson.NewDateTimeFromTime(time.Now())
		ids[i] = bson.Binary{Subtype: bson.TypeBinaryUUID, Data: id}
		docs[i] = bson.D{{Key: "_id", Value: ids[i]}, {Key: "keyMaterial", Value: bson.Binary{Data: material}},
			{Key: "creationDate", Value: now}, {Key: "updateDate", Value: now}, {Key: "status", Value: int32(0)},
			{Key: "masterKey", Value: stored}}
		cts[i] = bson.Binary{Subtype: bson.TypeBinaryEncrypted, Data: fle1Deterministic(t, dek, uuidString(id), fmt.Sprintf("value %d", i))}
	}
	if _, err := v.collection(t).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// The library reads these keys: the first and last values decrypt.
	ce := v.library(t, map[string]map[string]any{"local": {"key": v.masterKey}})
	for _, i := range []int{0, n - 1} {
		got, err := ce.Decrypt(ctx, cts[i])
		if s, _ := got.StringValueOK(); err != nil || s != fmt.Sprintf("value %d", i) {
			t.Fatalf("seeded value %d decrypts to %v, %v", i, got, err)
		}
	}
	return ids, cts
}

// TestRewrap1000 rewraps 1,000 data keys from one local master key to another: a dry run
// first, which writes nothing, then the rewrap with a progress bar; afterwards every key is
// under the new master key, still the same data key, and every value encrypted before
// decrypts with the new master key alone.
//
// Nearly all of its time is the embedded server's: FerretDB 1.24 (SQLite) finds a document by
// its _id with an index only when the _id is a string or an ObjectID, so each of the 1,000
// updates by key id (a UUID) decodes the collection up to its key and scans it again to write:
// about 20 s of the server's CPU, quadratic in the number of keys; the binary itself spends
// about 0.1 s. A MongoDB server updates by the _id index.
func TestRewrap1000(t *testing.T) {
	t.Parallel()
	const n = 1000
	v := newVault(t)
	start := time.Now()
	_, cts := seedKeys(t, v, n)
	t.Logf("seeded %d keys in %v", n, time.Since(start).Round(time.Millisecond))
	before := v.keyDocs(t)
	if len(before) != n {
		t.Fatalf("%d keys in the vault, want %d", len(before), n)
	}

	newKey := randBytes(t, 96)
	env := append(append([]string(nil), v.env...), "MONGOCRYPT_LOCAL_KEY_new="+base64.StdEncoding.EncodeToString(newKey))
	filter := `{"masterKey.provider":"local"}`

	// The dry run lists every key and writes nothing.
	start = time.Now()
	r := cli(t, env, "", "keys", "rewrap", "--filter", filter, "--provider", "local:new", "--dry-run")
	t.Logf("dry run of %d keys: %v", n, time.Since(start).Round(time.Millisecond))
	if r.code != exitOK {
		t.Fatalf("dry run: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != n+2 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("dry run printed %d lines, want a header, %d keys and a summary", len(lines), n)
	}
	if !strings.Contains(lines[1], "local") || !strings.Contains(lines[1], "local:new") {
		t.Fatalf("dry run row: %s", lines[1])
	}
	if want := fmt.Sprintf(`dry run: matched %d data keys in %s; they would be rewrapped under KMS provider "local:new"; nothing was written`, n, v.ns); lines[n+1] != want {
		t.Fatalf("dry run summary %q, want %q", lines[n+1], want)
	}
	for id, d := range v.keyDocs(t) {
		if !bytes.Equal(d, before[id]) {
			t.Fatalf("the dry run changed key %s", id)
		}
	}

	// The rewrap, in batches of 100, with the progress bar forced on.
	start = time.Now()
	r = cli(t, env, "", "keys", "rewrap", "--filter", filter, "--provider", "local:new", "--progress", "always")
	elapsed := time.Since(start)
	t.Logf("rewrap of %d keys by the binary: %v", n, elapsed.Round(time.Millisecond))
	if r.code != exitOK {
		t.Fatalf("rewrap: %s", r)
	}
	if want := fmt.Sprintf("matched %d data keys in %s; rewrapped %d under KMS provider \"local:new\"\n", n, v.ns, n); r.stdout != want {
		t.Fatalf("rewrap summary %q, want %q", r.stdout, want)
	}
	for done := 0; done <= n; done += defaultRewrapBatch {
		if !strings.Contains(r.stderr, fmt.Sprintf("] %d/%d", done, n)) {
			t.Fatalf("the progress bar never showed %d/%d: %q", done, n, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "\rrewrapping [##############################] 1000/1000\n") {
		t.Fatalf("the progress bar did not finish: %q", r.stderr)
	}

	after := v.keyDocs(t)
	if len(after) != n {
		t.Fatalf("%d keys after the rewrap", len(after))
	}
	for id, d := range after {
		b := before[id]
		if p := viewKey(d).provider; p != "local:new" {
			t.Fatalf("key %s is under %q after the rewrap", id, p)
		}
		if bytes.Equal(d.Lookup("keyMaterial").Value, b.Lookup("keyMaterial").Value) {
			t.Fatalf("key %s: keyMaterial unchanged", id)
		}
		if !d.Lookup("creationDate").Equal(b.Lookup("creationDate")) {
			t.Fatalf("key %s: creationDate changed", id)
		}
		u1, _ := d.Lookup("updateDate").DateTimeOK()
		u0, _ := b.Lookup("updateDate").DateTimeOK()
		if u1 < u0 {
			t.Fatalf("key %s: updateDate went back", id)
		}
	}

	// Every value still decrypts, with the new master key alone: one reply holding the 1,000
	// ciphertexts, decrypted by an AutoEncrypter in one key vault query.
	ae, err := mongocrypt.NewAutoEncrypter(options.Client().ApplyURI(serverURI).SetAutoEncryptionOptions(
		options.AutoEncryption().SetKeyVaultNamespace(v.ns).SetBypassAutoEncryption(true).
			SetKmsProviders(map[string]map[string]any{"local:new": {"key": newKey}})))
	if err != nil {
		t.Fatal(err)
	}
	defer ae.Close(context.Background())
	reply := bson.D{}
	for i, ct := range cts {
		reply = append(reply, bson.E{Key: fmt.Sprintf("k%d", i), Value: ct})
	}
	raw, err := bson.Marshal(reply)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	plain, err := ae.Decrypt(t.Context(), raw)
	if err != nil {
		t.Fatalf("decrypting the %d values with the new master key: %v", n, err)
	}
	t.Logf("decrypted %d values under the rewrapped keys in %v", n, time.Since(start).Round(time.Millisecond))
	for i := range n {
		if got, _ := plain.Lookup(fmt.Sprintf("k%d", i)).StringValueOK(); got != fmt.Sprintf("value %d", i) {
			t.Fatalf("value %d decrypts to %q", i, got)
		}
	}
	// The binary decrypts with the new master key alone too; the old one no longer serves.
	newOnly := []string{"MONGODB_URI=" + serverURI, "MONGOCRYPT_KEY_VAULT=" + v.ns,
		"MONGOCRYPT_LOCAL_KEY_new=" + base64.StdEncoding.EncodeToString(newKey)}
	for _, i := range []int{0, n / 2, n - 1} {
		r := cli(t, newOnly, "", "decrypt", base64.StdEncoding.EncodeToString(cts[i].Data))
		if r.code != exitOK || strings.TrimSpace(r.stdout) != fmt.Sprintf(`"value %d"`, i) {
			t.Fatalf("decrypt of value %d with the new master key: %s", i, r)
		}
	}
	checkFailure(t, v.run(t, "decrypt", base64.StdEncoding.EncodeToString(cts[0].Data)), exitFail, "local:new")
}

// TestRewrapFailure breaks one key in the middle and checks that the batches before it are
// rewrapped, its batch and the later ones are untouched, and the summary says so; then rewraps
// the rest under their own master key.
func TestRewrapFailure(t *testing.T) {
	t.Parallel()
	const n, batch, broken = 20, 5, 12 // the 13th key by id breaks the third batch
	v := newVault(t)
	ids, cts := seedKeys(t, v, n)
	sorted := append([]bson.Binary(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return string(sorted[i].Data) < string(sorted[j].Data) })
	if _, err := v.collection(t).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: sorted[broken]}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "masterKey.provider", Value: "local:gone"}}}}); err != nil {
		t.Fatal(err)
	}
	before := v.keyDocs(t)
	newKey := randBytes(t, 96)
	env := append(append([]string(nil), v.env...), "MONGOCRYPT_LOCAL_KEY_new="+base64.StdEncoding.EncodeToString(newKey))

	r := cli(t, env, "", "keys", "rewrap", "--provider", "local:new", "--batch-size", fmt.Sprint(batch))
	checkFailure(t, r, exitFail, "rewrapped 10 of 20 data keys, then the batch of keys 11 to 15 failed (its keys, and the 5 after it, were not rewrapped)")
	if !strings.Contains(r.stderr, "local:gone") || !strings.Contains(r.stderr, uuidString(sorted[broken].Data)) {
		t.Fatalf("the error does not name the broken key and its provider: %s", r.stderr)
	}
	if want := fmt.Sprintf("matched 20 data keys in %s; rewrapped 10 under KMS provider \"local:new\" before a failure\n", v.ns); r.stdout != want {
		t.Fatalf("summary %q, want %q", r.stdout, want)
	}
	after := v.keyDocs(t)
	for i, id := range sorted {
		s := uuidString(id.Data)
		switch rewrapped := viewKey(after[s]).provider == "local:new"; {
		case i < 10 && !rewrapped:
			t.Fatalf("key %d (%s) of a batch before the failure was not rewrapped", i, s)
		case i >= 10 && !bytes.Equal(after[s], before[s]):
			t.Fatalf("key %d (%s) of the failed batch or after it changed", i, s)
		}
	}

	// Mend the broken key; rewrap what is left under its own master key, in one batch.
	if _, err := v.collection(t).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: sorted[broken]}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "masterKey.provider", Value: "local"}}}}); err != nil {
		t.Fatal(err)
	}
	out := v.ok(t, "keys", "rewrap", "--filter", `{"masterKey.provider":"local"}`)
	if want := fmt.Sprintf("matched 10 data keys in %s; rewrapped 10 under their own master keys\n", v.ns); out != want {
		t.Fatalf("summary %q, want %q", out, want)
	}
	final := v.keyDocs(t)
	for i, id := range sorted[10:] {
		s := uuidString(id.Data)
		if viewKey(final[s]).provider != "local" || bytes.Equal(final[s].Lookup("keyMaterial").Value, before[s].Lookup("keyMaterial").Value) {
			t.Fatalf("key %d (%s) was not rewrapped under its own master key", i+10, s)
		}
	}
	// A master key the provider refuses fails every key of the batch: one line, with the
	// number of failures and the first of them.
	r = cli(t, env, "", "keys", "rewrap", "--provider", "local", "--master-key", `{"unexpected":1}`)
	checkFailure(t, r, exitFail, "rewrapped 0 of 20 data keys, then the batch of keys 1 to 20 failed (its keys, and the 0 after it, were not rewrapped): 20 keys could not be rewrapped; the first: rewrapping key ")
	if !strings.Contains(r.stderr, `unexpected field "unexpected"`) {
		t.Fatalf("the cause is missing: %s", r.stderr)
	}
	// Every value decrypts through the binary, with both master keys configured.
	for i, ct := range cts {
		r := cli(t, env, "", "decrypt", base64.StdEncoding.EncodeToString(ct.Data))
		if r.code != exitOK || strings.TrimSpace(r.stdout) != fmt.Sprintf(`"value %d"`, i) {
			t.Fatalf("decrypt of value %d: %s", i, r)
		}
	}
}
