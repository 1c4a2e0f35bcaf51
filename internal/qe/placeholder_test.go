package qe

import (
	"bytes"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// replyPlaceholders returns every placeholder of every mongocryptd reply in testdata, by
// "folder:path".
func replyPlaceholders(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/*/mongocryptd-reply.json")
	more, _ := filepath.Glob("testdata/*/*/mongocryptd-reply.json")
	files = append(files, more...)
	out := map[string][]byte{}
	for _, f := range files {
		for path, blob := range encryptedBlobs(bsoncore.Document(readExtJSON(t, f))) {
			if len(blob) > 0 && fleblob.Subtype(blob[0]) == fleblob.FLE2EncryptionPlaceholder {
				out[filepath.Dir(f)+":"+path] = blob
			}
		}
	}
	if len(out) < 25 {
		t.Fatalf("found only %d placeholders in testdata", len(out))
	}
	return out
}

// TestParsePlaceholderReplies parses the placeholders of all mongocryptd replies in the test
// data and serializes them back to the same bytes.
func TestParsePlaceholderReplies(t *testing.T) {
	ph := replyPlaceholders(t)
	names := make([]string, 0, len(ph))
	for n := range ph {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		blob := ph[name]
		p, err := ParsePlaceholder(blob)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.IndexKeyID != key12345678 && p.IndexKeyID != keyABCDEFAB {
			t.Errorf("%s: unexpected index key %s", name, p.IndexKeyID)
		}
		if ids := p.KeyIDs(); len(ids) == 0 || ids[0] != p.IndexKeyID {
			t.Errorf("%s: KeyIDs = %v", name, ids)
		}
		if got := p.Bytes(); !bytes.Equal(got, blob) {
			t.Errorf("%s: Bytes() differs\n got %x\nwant %x", name, got, blob)
		}
	}
}

func placeholderDoc(t testing.TB, fields string) []byte {
	t.Helper()
	return append([]byte{byte(fleblob.FLE2EncryptionPlaceholder)}, extJSON(t, fields)...)
}

func TestParsePlaceholderErrors(t *testing.T) {
	const ki = `{"$binary": {"base64": "EjRWeBI0mHYSNBI0VniQEg==", "subType": "04"}}`
	good := `{"t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`
	if _, err := ParsePlaceholder(placeholderDoc(t, good)); err != nil {
		t.Fatalf("good placeholder: %v", err)
	}
	cases := []struct{ doc, want string }{
		{`{"t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x"}`, "missing field 'cm'"},
		{`{"t": 1, "t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "duplicate field 't'"},
		{`{"t": 3, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "invalid placeholder type value: 3"},
		{`{"t": 1, "a": 5, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "invalid algorithm value: 5"},
		{`{"t": {"$numberLong": "1"}, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "'t' must be an int32"},
		{`{"t": 1, "a": 2, "ki": "x", "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "'ki' must be bindata"},
		{`{"t": 1, "a": 2, "ki": {"$binary": {"base64": "AAAA", "subType": "04"}}, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}}`, "16-byte UUID"},
		{`{"t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": 0}`, "'cm' must be an int64"},
		{`{"t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "-1"}}`, "must be non-negative"},
		{`{"t": 1, "a": 2, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "9223372036854775807"}}`, "< INT64_MAX"},
		{`{"t": 1, "a": 3, "ki": ` + ki + `, "ku": ` + ki + `, "v": "x", "cm": {"$numberLong": "0"}, "s": {"$numberLong": "-2"}}`, "sparsity must be non-negative"},
	}
	for _, c := range cases {
		_, err := ParsePlaceholder(placeholderDoc(t, c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.doc, err, c.want)
		}
	}
	for _, blob := range [][]byte{nil, {3}, {3, 5, 0, 0, 0}, {0, 5, 0, 0, 0, 0}, {11, 5, 0, 0, 0, 0}} {
		if _, err := ParsePlaceholder(blob); err == nil {
			t.Errorf("%x: parsed", blob)
		}
	}
	// No strict prefix of a valid placeholder parses.
	full := placeholderDoc(t, good)
	for n := 0; n < len(full); n++ {
		if _, err := ParsePlaceholder(full[:n]); err == nil {
			t.Errorf("prefix of %d bytes parsed", n)
		}
	}
}

func TestPlaceholderKeyIDs(t *testing.T) {
	p := &Placeholder{IndexKeyID: key12345678, UserKeyID: keyABCDEFAB, Value: bson.RawValue{Type: bson.TypeInt32, Value: []byte{1, 0, 0, 0}}}
	if ids := p.KeyIDs(); len(ids) != 2 || ids[0] != key12345678 || ids[1] != keyABCDEFAB {
		t.Errorf("KeyIDs = %v", ids)
	}
	p.UserKeyID = key12345678
	if ids := p.KeyIDs(); len(ids) != 1 {
		t.Errorf("KeyIDs = %v, want one id", ids)
	}
	if got := key12345678.String(); got != "12345678-1234-9876-1234-123456789012" {
		t.Errorf("String() = %s", got)
	}
}

func FuzzParsePlaceholder(f *testing.F) {
	seeds := replyPlaceholders(f)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, blob := range seeds {
		f.Add(blob)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := ParsePlaceholder(blob)
		if err != nil {
			return
		}
		// A parsed placeholder serializes to a placeholder that parses to the same thing.
		again, err := ParsePlaceholder(p.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Type != p.Type || again.Algorithm != p.Algorithm || again.IndexKeyID != p.IndexKeyID ||
			again.UserKeyID != p.UserKeyID || again.MaxContentionFactor != p.MaxContentionFactor ||
			!bytes.Equal(again.Value.Value, p.Value.Value) || again.Value.Type != p.Value.Type {
			t.Fatalf("re-parse differs: %+v vs %+v", again, p)
		}
	})
}
