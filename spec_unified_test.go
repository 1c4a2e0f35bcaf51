package mongocrypt

// The unified test format (specifications/source/unified-test-format), as far as the
// client-side-encryption files use it, read into specCase.

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSpecUnified runs the specification's unified client-side-encryption tests against the
// test server (the embedded FerretDB, or MONGODB_URI) with the test KMSs, comparing the
// events, the results and errors, and the collections afterwards.
func TestSpecUnified(t *testing.T) {
	specRunSuite(t, "unified", specLoadUnified)
}

func specCollDatas(v bson.RawValue, initial bool) ([]specCollData, error) {
	items, err := specDocs(v)
	if err != nil {
		return nil, err
	}
	var out []specCollData
	for _, it := range items {
		d := specCollData{db: it.Lookup("databaseName").StringValue(), coll: it.Lookup("collectionName").StringValue(), create: initial}
		d.createOptions, _ = it.Lookup("createOptions").DocumentOK()
		if d.docs, err = specDocs(it.Lookup("documents")); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func specLoadUnified(path string) ([]*specCase, error) {
	doc, err := specReadFile(path)
	if err != nil {
		return nil, err
	}
	file := filepath.Base(path)
	runOn, err := specDocs(doc.Lookup("runOnRequirements"))
	if err != nil {
		return nil, fmt.Errorf("runOnRequirements: %w", err)
	}
	entities, err := specDocs(doc.Lookup("createEntities"))
	if err != nil {
		return nil, fmt.Errorf("createEntities: %w", err)
	}
	initial, err := specCollDatas(doc.Lookup("initialData"), true)
	if err != nil {
		return nil, fmt.Errorf("initialData: %w", err)
	}
	tests, err := specDocs(doc.Lookup("tests"))
	if err != nil {
		return nil, fmt.Errorf("tests: %w", err)
	}
	var cases []*specCase
	for _, test := range tests {
		c := &specCase{suite: "unified", file: file, raw: test, initial: initial, entities: entities,
			name: test.Lookup("description").StringValue(), runOn: [][]bson.Raw{runOn}}
		c.skipReason, _ = test.Lookup("skipReason").StringValueOK()
		testRunOn, err := specDocs(test.Lookup("runOnRequirements"))
		if err != nil {
			return nil, fmt.Errorf("%s: runOnRequirements: %w", c.name, err)
		}
		c.runOn = append(c.runOn, testRunOn)
		ops, err := specDocs(test.Lookup("operations"))
		if err != nil {
			return nil, fmt.Errorf("%s: operations: %w", c.name, err)
		}
		for _, o := range ops {
			op := specOp{name: o.Lookup("name").StringValue(), object: o.Lookup("object").StringValue()}
			op.args, _ = o.Lookup("arguments").DocumentOK()
			if v, err := o.LookupErr("expectResult"); err == nil {
				op.expectResult = &v
			}
			op.expectError, _ = o.Lookup("expectError").DocumentOK()
			op.saveAs, _ = o.Lookup("saveResultAsEntity").StringValueOK()
			op.ignoreResult, _ = o.Lookup("ignoreResultAndError").BooleanOK()
			c.ops = append(c.ops, op)
		}
		expects, err := specDocs(test.Lookup("expectEvents"))
		if err != nil {
			return nil, fmt.Errorf("%s: expectEvents: %w", c.name, err)
		}
		for _, ee := range expects {
			if et, ok := ee.Lookup("eventType").StringValueOK(); ok && et != "command" {
				return nil, fmt.Errorf("%s: eventType %s is not supported", c.name, et)
			}
			ce := specClientEvents{client: ee.Lookup("client").StringValue()}
			ce.ignoreExtra, _ = ee.Lookup("ignoreExtraEvents").BooleanOK()
			evs, err := specDocs(ee.Lookup("events"))
			if err != nil {
				return nil, fmt.Errorf("%s: events: %w", c.name, err)
			}
			for _, e := range evs {
				first, err := e.IndexErr(0)
				if err != nil {
					return nil, err
				}
				body := first.Value().Document()
				var ev specEvent
				switch first.Key() {
				case "commandStartedEvent":
					ev = specEvent{kind: "started"}
					ev.doc, _ = body.Lookup("command").DocumentOK()
				case "commandSucceededEvent":
					ev = specEvent{kind: "succeeded"}
					ev.doc, _ = body.Lookup("reply").DocumentOK()
				case "commandFailedEvent":
					ev = specEvent{kind: "failed"}
				default:
					return nil, fmt.Errorf("%s: event %s is not supported", c.name, first.Key())
				}
				ev.commandName, _ = body.Lookup("commandName").StringValueOK()
				ev.databaseName, _ = body.Lookup("databaseName").StringValueOK()
				ce.events = append(ce.events, ev)
			}
			c.events = append(c.events, ce)
		}
		if c.outcome, err = specCollDatas(test.Lookup("outcome"), false); err != nil {
			return nil, fmt.Errorf("%s: outcome: %w", c.name, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}
