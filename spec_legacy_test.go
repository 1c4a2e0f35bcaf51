package mongocrypt

// The legacy client-side-encryption format (tests/legacy, README of the specification's
// client-side-encryption tests, on top of the legacy transactions format), read into specCase.

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSpecLegacy runs the specification's legacy client-side-encryption tests against the
// test server (the embedded FerretDB, or MONGODB_URI) with the test KMSs, comparing the
// commands sent, the results and errors, and the collections afterwards.
func TestSpecLegacy(t *testing.T) {
	specRunSuite(t, "legacy", specLoadLegacy)
}

func specRunSuite(t *testing.T, suite string, load func(string) ([]*specCase, error)) {
	r := newSpecRunner(t)
	defer specRunSuiteCleanups()
	tally := newSpecTally(suite)
	for _, f := range specFiles(t, suite) {
		cases, err := load(f)
		if err != nil {
			t.Errorf("reading %s: %v", f, err)
			continue
		}
		for _, c := range cases {
			tally.run(t, r, c)
		}
	}
	tally.report(t)
}

// specDocs returns the documents of an array value.
func specDocs(v bson.RawValue) ([]bson.Raw, error) {
	if v.Type == 0 {
		return nil, nil
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, fmt.Errorf("%s is not an array", v)
	}
	vals, err := arr.Values()
	if err != nil {
		return nil, err
	}
	docs := make([]bson.Raw, 0, len(vals))
	for _, x := range vals {
		d, ok := x.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("%s is not a document", x)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func specMarshal(v any) bson.Raw {
	b, err := bson.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// specLegacyErrorKeys are the keys of a legacy result that describe an error.
var specLegacyErrorKeys = []string{"errorContains", "errorCodeName", "errorLabelsContain", "errorLabelsOmit", "isTimeoutError"}

func specLoadLegacy(path string) ([]*specCase, error) {
	doc, err := specReadFile(path)
	if err != nil {
		return nil, err
	}
	file := filepath.Base(path)
	dbName := doc.Lookup("database_name").StringValue()
	collName := doc.Lookup("collection_name").StringValue()
	runOn, err := specDocs(doc.Lookup("runOn"))
	if err != nil {
		return nil, fmt.Errorf("runOn: %w", err)
	}
	data, err := specDocs(doc.Lookup("data"))
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	keys, err := specDocs(doc.Lookup("key_vault_data"))
	if err != nil {
		return nil, fmt.Errorf("key_vault_data: %w", err)
	}
	_, noKeys := doc.LookupErr("key_vault_data")
	tests, err := specDocs(doc.Lookup("tests"))
	if err != nil {
		return nil, fmt.Errorf("tests: %w", err)
	}
	var initial []specCollData
	if noKeys == nil {
		initial = append(initial, specCollData{db: "keyvault", coll: "datakeys", docs: keys, keyVault: true})
	}
	main := specCollData{db: dbName, coll: collName, docs: data}
	if js, ok := doc.Lookup("json_schema").DocumentOK(); ok {
		main.createOptions = specMarshal(bson.D{{Key: "validator", Value: bson.D{{Key: "$jsonSchema", Value: js}}}})
	}
	if ef, ok := doc.Lookup("encrypted_fields").DocumentOK(); ok {
		main.encryptedFields = ef
	}
	initial = append(initial, main)

	var cases []*specCase
	for _, test := range tests {
		c := &specCase{suite: "legacy", file: file, legacy: true, raw: test, initial: initial,
			name: test.Lookup("description").StringValue(), runOn: [][]bson.Raw{runOn}}
		c.skipReason, _ = test.Lookup("skipReason").StringValueOK()
		c.failPoint, _ = test.Lookup("failPoint").DocumentOK()
		client := bson.D{{Key: "id", Value: "client0"}}
		if co, ok := test.Lookup("clientOptions").DocumentOK(); ok {
			elems, _ := co.Elements()
			for _, e := range elems {
				switch e.Key() {
				case "autoEncryptOpts":
					client = append(client, bson.E{Key: "autoEncryptOpts", Value: e.Value()})
				case "timeoutMS":
					client = append(client, bson.E{Key: "uriOptions", Value: bson.D{{Key: "timeoutMS", Value: e.Value()}}})
				default:
					return nil, fmt.Errorf("%s: clientOptions.%s is not supported", c.name, e.Key())
				}
			}
		}
		c.entities = []bson.Raw{
			specMarshal(bson.D{{Key: "client", Value: client}}),
			specMarshal(bson.D{{Key: "database", Value: bson.D{{Key: "id", Value: "database"}, {Key: "client", Value: "client0"}, {Key: "databaseName", Value: dbName}}}}),
			specMarshal(bson.D{{Key: "collection", Value: bson.D{{Key: "id", Value: "collection"}, {Key: "database", Value: "database"}, {Key: "collectionName", Value: collName}}}}),
		}
		ops, err := specDocs(test.Lookup("operations"))
		if err != nil {
			return nil, fmt.Errorf("%s: operations: %w", c.name, err)
		}
		for _, o := range ops {
			op := specOp{name: o.Lookup("name").StringValue(), object: "collection"}
			if obj, ok := o.Lookup("object").StringValueOK(); ok {
				op.object = obj
			}
			op.args, _ = o.Lookup("arguments").DocumentOK()
			if res, err := o.LookupErr("result"); err == nil && res.Type != bson.TypeNull {
				isErr := false
				if d, ok := res.DocumentOK(); ok {
					for _, k := range specLegacyErrorKeys {
						if _, err := d.LookupErr(k); err == nil {
							isErr = true
						}
					}
					if isErr {
						op.expectError = d
					}
				}
				if !isErr {
					r := res
					op.expectResult = &r
				}
			}
			if b, ok := o.Lookup("error").BooleanOK(); ok && b && op.expectError == nil {
				op.expectError = specMarshal(bson.D{{Key: "isError", Value: true}})
			}
			c.ops = append(c.ops, op)
		}
		if exps, err := specDocs(test.Lookup("expectations")); err != nil {
			return nil, fmt.Errorf("%s: expectations: %w", c.name, err)
		} else if exps != nil {
			ce := specClientEvents{client: "client0"}
			for _, e := range exps {
				cse, ok := e.Lookup("command_started_event").DocumentOK()
				if !ok {
					return nil, fmt.Errorf("%s: expectation %s is not a command_started_event", c.name, e)
				}
				ev := specEvent{kind: "started", doc: cse.Lookup("command").Document()}
				ev.commandName, _ = cse.Lookup("command_name").StringValueOK()
				ev.databaseName, _ = cse.Lookup("database_name").StringValueOK()
				ce.events = append(ce.events, ev)
			}
			c.events = []specClientEvents{ce}
		}
		if oc, ok := test.Lookup("outcome").DocumentOK(); ok {
			coll := oc.Lookup("collection").Document()
			docs, err := specDocs(coll.Lookup("data"))
			if err != nil {
				return nil, fmt.Errorf("%s: outcome: %w", c.name, err)
			}
			name := collName
			if n, ok := coll.Lookup("name").StringValueOK(); ok {
				name = n
			}
			c.outcome = []specCollData{{db: dbName, coll: name, docs: docs}}
		}
		cases = append(cases, c)
	}
	return cases, nil
}
