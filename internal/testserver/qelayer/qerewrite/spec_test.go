package qerewrite

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// specFiles are the specification's QE tests: their expected command events
// are what a driver sends to the server.
func specFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"unified/fle2v2-*.json", "legacy/fle2v2-*.json", "unified/QE-Text-*.json", "unified/client-bulkWrite-qe.json"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "testdata", "spec", "tests", pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 100 {
		t.Fatalf("found %d specification test files; the testdata is missing", len(files))
	}
	return files
}

// specCommands returns the commands of a test file's expected events.
func specCommands(t *testing.T, file string) []map[string]any {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Tests []struct {
			ExpectEvents []struct {
				Events []struct {
					CommandStartedEvent *struct {
						Command map[string]any `json:"command"`
					} `json:"commandStartedEvent"`
				} `json:"events"`
			} `json:"expectEvents"`
			Expectations []struct {
				CommandStartedEvent *struct {
					Command map[string]any `json:"command"`
				} `json:"command_started_event"`
			} `json:"expectations"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []map[string]any
	for _, tc := range j.Tests {
		for _, ee := range tc.ExpectEvents {
			for _, ev := range ee.Events {
				if ev.CommandStartedEvent != nil {
					out = append(out, ev.CommandStartedEvent.Command)
				}
			}
		}
		for _, ev := range tc.Expectations {
			if ev.CommandStartedEvent != nil {
				out = append(out, ev.CommandStartedEvent.Command)
			}
		}
	}
	return out
}

// toRaw converts a decoded extended JSON value to BSON.
func toRaw(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(b, false, &raw); err != nil {
		t.Fatalf("extended JSON %s: %v", b, err)
	}
	return raw
}

// fillPayloads replaces each {"$$type": ...} (a value the test does not
// pin) under a key naming an encrypted field with a fake payload 11 for it.
func fillPayloads(t *testing.T, s *Schema, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if m, ok := c.(map[string]any); ok {
				if _, ok := m["$$type"]; ok {
					f := s.Field(k)
					if f == nil {
						t.Fatalf("$$type under %q, not an encrypted field", k)
					}
					p := payload11(f, "v")
					x[k] = map[string]any{"$binary": map[string]any{"base64": b64(p.Data), "subType": "06"}}
					continue
				}
			}
			x[k] = fillPayloads(t, s, c)
		}
	case []any:
		for i := range x {
			x[i] = fillPayloads(t, s, x[i])
		}
	}
	return v
}

func rawValue(d bson.Raw) bson.RawValue {
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: d}
}

// checkRewritten checks one rewritten filter, pipeline or update: no payload
// left, tag matches where there were payloads, unchanged otherwise.
func checkRewritten(t *testing.T, what string, in, out bson.Raw) {
	t.Helper()
	if HasPayload(rawValue(out)) {
		t.Errorf("%s: payload left in %v", what, out)
	}
	if HasPayload(rawValue(in)) {
		if !bytes.Contains(out, []byte(SafeContent)) {
			t.Errorf("%s: no tag match in %v", what, out)
		}
	} else if !bytes.Equal(in, out) {
		t.Errorf("%s: changed without payloads: %v", what, out)
	}
}

// TestSpecShapes runs every encrypted command of the specification's expected
// events through the rewriting with the fake crypto.
func TestSpecShapes(t *testing.T) {
	ctx := context.Background()
	shapes := map[string]int{}
	for _, file := range specFiles(t) {
		for _, cmd := range specCommands(t, file) {
			eiv, ok := cmd["encryptionInformation"]
			if !ok {
				continue
			}
			ei := toRaw(t, eiv)
			schemaDoc, _ := ei.Lookup("schema").DocumentOK()
			elems, _ := schemaDoc.Elements()
			if len(elems) != 1 {
				t.Fatalf("%s: schema for %d namespaces", file, len(elems))
			}
			s, err := ParseEncryptionInformation(ei, elems[0].Key())
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			fillPayloads(t, s, cmd)
			delete(cmd, "encryptionInformation")
			c := toRaw(t, cmd)
			name := filepath.Base(file)
			op := ""
			for _, name := range []string{"insert", "find", "aggregate", "delete", "update", "findAndModify"} {
				if _, ok := cmd[name]; ok {
					op = name
				}
			}
			switch op {
			case "insert":
				docs, _ := c.Lookup("documents").Array().Values()
				for _, d := range docs {
					out, err := s.InsertDocument(ctx, d.Document(), &fakeCrypto{})
					if err != nil {
						t.Errorf("%s insert: %v", name, err)
						continue
					}
					// __safeContent__ exactly when the document had insert payloads.
					if count11(out) != 0 || (out.Lookup(SafeContent).Type == bson.TypeArray) != (count11(d.Document()) > 0) {
						t.Errorf("%s insert: %v", name, out)
					}
				}
				shapes[op]++
			case "find", "aggregate", "delete", "update", "findAndModify":
				var filters, updates []bson.RawValue
				switch op {
				case "find":
					filters = append(filters, c.Lookup("filter"))
				case "delete":
					ds, _ := c.Lookup("deletes").Array().Values()
					for _, d := range ds {
						filters = append(filters, bson.RawValue(d.Document().Lookup("q")))
					}
				case "update":
					us, _ := c.Lookup("updates").Array().Values()
					for _, u := range us {
						filters = append(filters, u.Document().Lookup("q"))
						updates = append(updates, u.Document().Lookup("u"))
					}
				case "findAndModify":
					filters = append(filters, c.Lookup("query"))
					updates = append(updates, c.Lookup("update"))
				case "aggregate":
					p := c.Lookup("pipeline")
					out, err := s.Pipeline(ctx, p.Value, &fakeCrypto{})
					if err != nil {
						t.Errorf("%s aggregate: %v", name, err)
					} else {
						checkRewritten(t, name+" aggregate", p.Value, out)
					}
				}
				for _, f := range filters {
					out, err := s.Filter(ctx, f.Value, &fakeCrypto{})
					if err != nil {
						t.Errorf("%s %s filter %v: %v", name, op, f, err)
						continue
					}
					checkRewritten(t, name+" "+op, f.Value, out)
				}
				for _, u := range updates {
					if u.Type == 0 {
						continue
					}
					out, err := s.UpdateValue(ctx, u, &fakeCrypto{})
					if err != nil {
						t.Errorf("%s %s update %v: %v", name, op, u, err)
						continue
					}
					if HasPayload(rawValue(out)) {
						t.Errorf("%s %s update: payload left: %v", name, op, out)
					}
					if HasPayload(u) && out.Lookup("$push", SafeContent, "$each").Type != bson.TypeArray {
						t.Errorf("%s %s update: no $push of tags: %v", name, op, out)
					}
				}
				shapes[op]++
			}
		}
	}
	for _, op := range []string{"insert", "find", "aggregate", "delete", "update", "findAndModify"} {
		if shapes[op] == 0 {
			t.Errorf("no %s command in the specification tests", op)
		}
	}
	t.Logf("commands rewritten: %v", shapes)
}

// count11 counts the insert payloads (subtype 11) in d.
func count11(d bson.Raw) int {
	n := 0
	_ = (&Schema{}).walkBlobs(bsoncore.Document(d), "", func(_ string, st fleblob.Subtype, _ []byte) error {
		if st == fleblob.FLE2InsertUpdatePayloadV2 {
			n++
		}
		return nil
	})
	return n
}
