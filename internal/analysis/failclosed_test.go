package analysis

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// The fail-closed tests run over three collections of database db: enc has a
// CSFLE schema (ssn deterministic string, secret random, n.x deterministic
// int), qenc has encryptedFields (eq equality string, age range int), plain
// has none. The marker S3CRET is planted where the server could read it as a
// value of an encrypted field: each such command must be refused, or must
// carry the marker only inside placeholders.

const fcSchema = `{
  "bsonType": "object",
  "properties": {
    "ssn": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}},
    "secret": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}},
    "n": {"bsonType": "object", "properties": {"x": {"encrypt": {"keyId": [KEY], "bsonType": "int", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}
  }
}`

const fcQE = `{"fields": [
  {"keyId": KEY, "path": "eq", "bsonType": "string", "queries": {"queryType": "equality", "contention": 0}},
  {"keyId": KEY, "path": "age", "bsonType": "int", "queries": {"queryType": "range", "min": 0, "max": 200, "sparsity": 1, "trimFactor": 1}}
]}`

// fcSchemas returns the schemas of the namespaces the command touches.
func fcSchemas(t *testing.T, cmd []byte) map[string]Schema {
	t.Helper()
	nss, err := Namespaces("db", cmd)
	if err != nil {
		return nil
	}
	out := map[string]Schema{}
	for _, ns := range nss {
		switch ns {
		case "db.enc":
			out[ns] = Schema{JSONSchema: jsonDoc(t, fcSchema)}
		case "db.qenc":
			out[ns] = Schema{EncryptedFields: jsonDoc(t, fcQE)}
		}
	}
	return out
}

// stripPlaceholders removes every placeholder (BinData 6 of blob subtype 0 or
// 3: what is encrypted afterwards) from doc.
func stripPlaceholders(doc []byte) []byte {
	b := newDoc()
	for _, e := range elements(doc) {
		v := e.Value()
		switch v.Type {
		case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
			b.value(e.Key(), bsoncore.Value{Type: v.Type, Data: stripPlaceholders(v.Data)})
			continue
		case bsoncore.TypeBinary:
			if isPlaceholder(v) {
				continue
			}
		}
		b.element(e)
	}
	return b.build()
}

// checkNoLeak runs cmd and fails when the marker reaches what would be sent.
// It returns the refusal, nil when the command was accepted.
func checkNoLeak(t *testing.T, cmdJSON string) error {
	t.Helper()
	cmd := jsonDoc(t, cmdJSON)
	res, err := Analyze("db", cmd, fcSchemas(t, cmd))
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) || !errors.Is(err, ErrRefused) {
			t.Fatalf("refusal is not an *Error: %v", err)
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Fatalf("the refusal carries the value: %v", err)
		}
		return err
	}
	sent := []byte(cmd)
	if res.HasPlaceholders {
		sent = stripPlaceholders(res.Command)
	}
	if bytes.Contains(sent, []byte("S3CRET")) {
		t.Fatalf("accepted, and the marker would reach the server:\n%s", bsoncore.Document(res.Command))
	}
	return nil
}

func TestFailClosedRefusals(t *testing.T) {
	cases := []struct{ name, cmd, reason string }{
		// aggregation expressions that reach the document through variables
		{"$$ROOT path in $expr", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$ROOT.ssn", "S3CRET"]}}}`, "$eq on an encrypted field"},
		{"$$CURRENT path in $expr", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$CURRENT.ssn", "S3CRET"]}}}`, "$eq on an encrypted field"},
		{"$let variable", `{"find": "enc", "filter": {"$expr": {"$let": {"vars": {"v": "$ssn"}, "in": {"$eq": ["$$v", "S3CRET"]}}}}}`, "$eq on an encrypted field"},
		{"$let of $$ROOT", `{"find": "enc", "filter": {"$expr": {"$let": {"vars": {"d": "$$ROOT"}, "in": {"$eq": ["$$d.ssn", "S3CRET"]}}}}}`, "$eq on an encrypted field"},
		{"$getField string form", `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": "ssn"}, "S3CRET"]}}}`, "$eq on an encrypted field"},
		{"$getField of $$ROOT", `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": {"field": "ssn", "input": "$$ROOT"}}, "S3CRET"]}}}`, "$eq on an encrypted field"},
		{"$objectToArray of $$ROOT", `{"find": "enc", "filter": {"$expr": {"$in": [{"k": "ssn", "v": "S3CRET"}, {"$objectToArray": "$$ROOT"}]}}}`, "$in on an encrypted field"},
		{"$mergeObjects of $$ROOT and a value", `{"aggregate": "enc", "pipeline": [{"$replaceRoot": {"newRoot": {"$mergeObjects": ["$$ROOT", {"ssn": "S3CRET"}]}}}], "cursor": {}}`, "$mergeObjects"},
		{"$map over a copy", `{"find": "enc", "filter": {"$expr": {"$in": ["S3CRET", {"$map": {"input": ["$ssn"], "as": "s", "in": "$$s"}}]}}}`, "$in on an encrypted field"},
		{"undefined variable", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$nope", "S3CRET"]}}}`, "undefined variable"},
		{"$ifNull fallback into an encrypted field", `{"find": "enc", "filter": {"$expr": {"$eq": [{"$ifNull": ["$ssn", "S3CRET"]}, "x"]}}}`, "$ifNull on an encrypted field"},
		{"unknown expression operator", `{"find": "enc", "filter": {"$expr": {"$fooBar": ["$ssn", "S3CRET"]}}}`, "Unsupported aggregation expression operator for encryption: $fooBar"},
		{"find let then $$var", `{"find": "enc", "filter": {"$expr": {"$eq": ["$ssn", "$$v"]}}, "let": {"v": "S3CRET"}}`, "$eq on an encrypted field"},
		{"$lookup let of an encrypted field", `{"aggregate": "enc", "pipeline": [{"$lookup": {"from": "plain", "let": {"s": "$ssn"}, "pipeline": [{"$match": {"$expr": {"$eq": ["$$s", "S3CRET"]}}}], "as": "j"}}], "cursor": {}}`, "$eq on an encrypted field"},
		{"$redact", `{"aggregate": "enc", "pipeline": [{"$redact": {"$cond": [{"$eq": ["$ssn", "S3CRET"]}, "$$KEEP", "$$PRUNE"]}}], "cursor": {}}`, "$eq on an encrypted field"},
		{"window function on an encrypted field", `{"aggregate": "enc", "pipeline": [{"$setWindowFields": {"output": {"m": {"$max": "$ssn"}}}}], "cursor": {}}`, "$max on an encrypted field"},
		{"projection expression", `{"find": "enc", "filter": {}, "projection": {"x": {"$eq": ["$ssn", "S3CRET"]}}}`, "$eq on an encrypted field"},
		{"update pipeline constants", `{"update": "enc", "updates": [{"q": {}, "u": {"$set": {"a": 1}}, "c": {"v": {"$fooBar": "S3CRET"}}}]}`, "$fooBar"},
		// $jsonSchema on an encrypted namespace
		{"$jsonSchema enum in a query", `{"find": "enc", "filter": {"$jsonSchema": {"properties": {"ssn": {"enum": ["S3CRET"]}}}}}`, "cannot constrain the value of an encrypted field"},
		{"$jsonSchema through anyOf", `{"find": "enc", "filter": {"$jsonSchema": {"anyOf": [{"properties": {"ssn": {"const": "S3CRET"}}}]}}}`, "cannot constrain"},
		{"$jsonSchema pattern through patternProperties", `{"find": "enc", "filter": {"$jsonSchema": {"patternProperties": {"^s": {"pattern": "S3CRET"}}}}}`, "cannot constrain"},
		{"$jsonSchema enum of whole documents", `{"find": "enc", "filter": {"$jsonSchema": {"enum": [{"ssn": "S3CRET"}]}}}`, "cannot constrain"},
		{"collMod validator constraining an encrypted field", `{"collMod": "enc", "validator": {"$jsonSchema": {"bsonType": "object", "properties": {"ssn": {"enum": ["S3CRET"]}}}}}`, ""},
		{"collMod validator $jsonSchema inside $and", `{"collMod": "enc", "validator": {"$and": [{"$jsonSchema": {"properties": {"ssn": {"enum": ["S3CRET"]}}}}]}}`, "cannot constrain"},
		{"partialFilterExpression $jsonSchema", `{"createIndexes": "enc", "indexes": [{"key": {"a": 1}, "name": "a", "partialFilterExpression": {"$jsonSchema": {"properties": {"ssn": {"enum": ["S3CRET"]}}}}}]}`, "cannot constrain"},
		// nested pipelines reached from an unencrypted collection
		{"$facet of $lookup from enc", `{"aggregate": "plain", "pipeline": [{"$facet": {"f": [{"$lookup": {"from": "enc", "pipeline": [{"$match": {"ssn": {"$gt": "S3CRET"}}}], "as": "j"}}]}}], "cursor": {}}`, "Invalid match expression operator on encrypted field"},
		{"$unionWith pipeline", `{"aggregate": "plain", "pipeline": [{"$unionWith": {"coll": "enc", "pipeline": [{"$match": {"ssn": {"$regex": "S3CRET"}}}]}}], "cursor": {}}`, "Invalid match expression operator on encrypted field"},
		{"$unionWith then a comparison", `{"aggregate": "plain", "pipeline": [{"$unionWith": "enc"}, {"$match": {"ssn": "S3CRET"}}], "cursor": {}}`, "encryption is not known"},
		{"$graphLookup restrictSearchWithMatch", `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "g", "restrictSearchWithMatch": {"ssn": {"$exists": true}, "secret": "S3CRET"}}}], "cursor": {}}`, "randomized"},
		{"$graphLookup connectToField encrypted", `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "S3CRET", "connectFromField": "ssn", "connectToField": "ssn", "as": "g"}}], "cursor": {}}`, "$graphLookup on an encrypted field"},
		{"$lookup from another database", `{"aggregate": "plain", "pipeline": [{"$lookup": {"from": {"db": "db", "coll": "enc"}, "pipeline": [{"$match": {"ssn": {"$gt": "S3CRET"}}}], "as": "j"}}], "cursor": {}}`, "Invalid match expression operator on encrypted field"},
		// schema lost after a stage that copies the document
		{"$group $first $$ROOT then $replaceRoot keeps the schema", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "f": {"$first": "$$ROOT"}}}, {"$replaceRoot": {"newRoot": "$f"}}, {"$match": {"ssn": {"$gt": "S3CRET"}}}], "cursor": {}}`, "Invalid match expression operator on encrypted field"},
		{"$push $$ROOT", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "all": {"$push": "$$ROOT"}}}, {"$match": {"all.ssn": "S3CRET"}}], "cursor": {}}`, "encryption is not known"},
		{"$replaceWith $mergeObjects of references", `{"aggregate": "enc", "pipeline": [{"$replaceWith": {"$mergeObjects": ["$$ROOT", "$n"]}}, {"$match": {"anything": "S3CRET"}}], "cursor": {}}`, "encryption is not known"},
		{"$addFields copy then compare", `{"aggregate": "enc", "pipeline": [{"$addFields": {"copy": "$$ROOT"}}, {"$match": {"copy.secret": "S3CRET"}}], "cursor": {}}`, "randomized"},
		{"$facet output compared", `{"aggregate": "enc", "pipeline": [{"$facet": {"f": [{"$match": {}}]}}, {"$match": {"f.ssn": "S3CRET"}}], "cursor": {}}`, "encryption is not known"},
		// $out / $merge into an encrypted collection
		{"$merge into enc", `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "S3CRET"}}, {"$merge": {"into": "enc"}}], "cursor": {}}`, "$merge into a collection with encrypted fields"},
		{"$merge into enc, string form", `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "S3CRET"}}, {"$merge": "enc"}], "cursor": {}}`, "$merge into a collection with encrypted fields"},
		{"$out into enc", `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "S3CRET"}}, {"$out": "enc"}], "cursor": {}}`, "$out into a collection with encrypted fields"},
		{"$out into qenc {db, coll}", `{"aggregate": "plain", "pipeline": [{"$addFields": {"eq": "S3CRET"}}, {"$out": {"db": "db", "coll": "qenc"}}], "cursor": {}}`, "$out into a collection with encrypted fields"},
		// command fields
		{"find min", `{"find": "enc", "filter": {}, "min": {"ssn": "S3CRET"}, "hint": {"ssn": 1}}`, "'min' on an encrypted field"},
		{"find max", `{"find": "enc", "filter": {}, "max": {"ssn": "S3CRET"}, "hint": {"ssn": 1}}`, "'max' on an encrypted field"},
		{"find projection $elemMatch", `{"find": "enc", "filter": {}, "projection": {"n": {"$elemMatch": {"x": "S3CRET"}}}}`, "$elemMatch in a projection"},
		{"findAndModify fields", `{"findAndModify": "enc", "query": {}, "fields": {"z": {"$concat": ["$ssn", "S3CRET"]}}, "remove": true}`, "$concat on an encrypted field"},
		{"unknown find field", `{"find": "enc", "filter": {}, "newOption": {"ssn": "S3CRET"}}`, "Unsupported field of the find command"},
		{"unknown aggregate field", `{"aggregate": "enc", "pipeline": [], "cursor": {}, "x": "S3CRET"}`, "Unsupported field of the aggregate command"},
		{"encryptionInformation given by the caller", `{"find": "enc", "filter": {}, "encryptionInformation": {"type": 1}}`, "Unsupported field"},
		{"arrayFilters not used by the update", `{"update": "enc", "updates": [{"q": {}, "u": {"$set": {"a": 1}}, "arrayFilters": [{"e.ssn": "S3CRET"}]}]}`, "an array filter must name an identifier"},
		{"unknown delete statement field", `{"delete": "enc", "deletes": [{"q": {}, "limit": 1, "x": "S3CRET"}]}`, "Unsupported field of a delete statement"},
		{"unknown bulkWrite op field", `{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"eq": "a"}, "x": "S3CRET"}], "nsInfo": [{"ns": "db.qenc"}]}`, "Unsupported field of a bulkWrite insert operation"},
		{"unknown index option", `{"createIndexes": "enc", "indexes": [{"key": {"a": 1}, "name": "a", "newOpt": "S3CRET"}]}`, "Unsupported field of an index specification"},
		// JSON Schema keywords applied together
		// (see TestPatternPropertiesApplyTogether)
		// operator bodies of the wrong type
		{"$set of an array", `{"update": "enc", "updates": [{"q": {}, "u": {"$set": [{"ssn": "S3CRET"}]}}]}`, "an update operator needs a document"},
		{"$setOnInsert of a string", `{"findAndModify": "enc", "query": {}, "update": {"$setOnInsert": "S3CRET"}}`, "an update operator needs a document"},
		{"$unset with a value", `{"update": "enc", "updates": [{"q": {}, "u": {"$unset": {"ssn": "S3CRET"}}}]}`, "$unset takes"},
		{"$rename to a document", `{"update": "enc", "updates": [{"q": {}, "u": {"$rename": {"a": {"ssn": "S3CRET"}}}}]}`, "'to' field for $rename must be a string"},
		{"unknown update operator", `{"update": "enc", "updates": [{"q": {}, "u": {"$setX": {"ssn": "S3CRET"}}}]}`, "Unknown update operator"},
		{"unknown stage", `{"aggregate": "enc", "pipeline": [{"$newStage": {"ssn": "S3CRET"}}], "cursor": {}}`, "Aggregation stage $newStage is not supported"},
		{"unknown stage on plain next to enc", `{"aggregate": "plain", "pipeline": [{"$lookup": {"from": "enc", "localField": "a", "foreignField": "b", "as": "j"}}, {"$newStage": {"j.ssn": "S3CRET"}}], "cursor": {}}`, "Aggregation stage $newStage is not supported"},
		{"unknown accumulator", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "x": {"$newAcc": ["$ssn", "S3CRET"]}}}], "cursor": {}}`, "Unsupported accumulator"},
		{"unknown match operator", `{"find": "enc", "filter": {"ssn": {"$newOp": "S3CRET"}}}`, "Unknown match expression operator $newOp"},
		{"unknown match operator on a plain field", `{"find": "enc", "filter": {"x": {"$newOp": "S3CRET"}}}`, "Unknown match expression operator $newOp"},
		{"unknown top-level match operator", `{"find": "enc", "filter": {"$newTop": {"ssn": "S3CRET"}}}`, "Unsupported match expression operator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNoLeak(t, tc.cmd)
			if err == nil {
				t.Fatal("expected a refusal")
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not contain %q", err, tc.reason)
			}
		})
	}
}

// TestFailClosedKeepsWorking checks that the supported forms still encrypt:
// the marker goes into a placeholder.
func TestFailClosedKeepsWorking(t *testing.T) {
	cases := []struct{ name, cmd string }{
		{"equality", `{"find": "enc", "filter": {"ssn": "S3CRET"}}`},
		{"$in", `{"find": "enc", "filter": {"ssn": {"$in": ["S3CRET", "b"]}}, "projection": {"ssn": 1, "c": "$a"}, "sort": {"a": 1}}`},
		{"find with let and plain $expr", `{"find": "enc", "filter": {"ssn": "S3CRET", "$expr": {"$eq": ["$a", "$$v"]}}, "let": {"v": 1}}`},
		{"insert", `{"insert": "enc", "documents": [{"ssn": "S3CRET", "n": {"x": 1}}]}`},
		{"$set", `{"update": "enc", "updates": [{"q": {"ssn": "S3CRET"}, "u": {"$set": {"ssn": "S3CRET"}}, "upsert": true}]}`},
		{"$unset with the customary values", `{"update": "enc", "updates": [{"q": {"ssn": "S3CRET"}, "u": {"$unset": {"ssn": "", "secret": 1, "n.x": true}}}]}`},
		{"arrayFilters on a plain array", `{"update": "enc", "updates": [{"q": {}, "u": {"$set": {"arr.$[e].v": 1}}, "arrayFilters": [{"e.v": {"$gt": 2}}]}]}`},
		{"replacement", `{"findAndModify": "enc", "query": {"ssn": "S3CRET"}, "update": {"ssn": "S3CRET"}, "new": true}`},
		{"QE equality", `{"find": "qenc", "filter": {"eq": "S3CRET"}}`},
		{"QE range", `{"aggregate": "qenc", "pipeline": [{"$match": {"age": {"$gt": 5, "$lt": 10}}}], "cursor": {}}`},
		{"$lookup with both schemas known", `{"aggregate": "enc", "pipeline": [{"$lookup": {"from": "plain", "localField": "a", "foreignField": "b", "as": "j"}}, {"$match": {"ssn": "S3CRET", "j.b": 1}}], "cursor": {}}`},
		{"$group by an encrypted field, then equality on _id", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": "$ssn", "c": {"$sum": 1}}}, {"$match": {"_id": "S3CRET"}}], "cursor": {}}`},
		{"$group $first $$ROOT, $replaceRoot, then equality", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "f": {"$first": "$$ROOT"}}}, {"$replaceRoot": {"newRoot": "$f"}}, {"$match": {"ssn": {"$in": ["S3CRET"]}}}], "cursor": {}}`},
		{"$project copy, then equality on the copy", `{"aggregate": "enc", "pipeline": [{"$project": {"s": "$ssn"}}, {"$match": {"s": "S3CRET"}}], "cursor": {}}`},
		{"$replaceRoot into a prefix", `{"aggregate": "enc", "pipeline": [{"$replaceRoot": {"newRoot": "$n"}}, {"$match": {"x": 7}}], "cursor": {}}`},
		{"$facet, $unionWith and $graphLookup on plain data", `{"aggregate": "enc", "pipeline": [{"$match": {"ssn": "S3CRET"}}, {"$unionWith": {"coll": "enc", "pipeline": [{"$match": {"ssn": "S3CRET"}}]}}, {"$graphLookup": {"from": "plain", "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "g"}}, {"$facet": {"f": [{"$count": "c"}]}}], "cursor": {}}`},
		{"$out of ciphertexts into a plain collection", `{"aggregate": "enc", "pipeline": [{"$match": {"ssn": "S3CRET"}}, {"$out": "plain"}], "cursor": {}}`},
		{"$jsonSchema describing structure only", `{"find": "enc", "filter": {"ssn": "S3CRET", "$jsonSchema": {"required": ["ssn"], "properties": {"ssn": {"bsonType": "binData"}, "other": {"enum": [1, 2]}}}}}`},
		{"count, distinct, explain", `{"explain": {"count": "enc", "query": {"ssn": "S3CRET"}}, "verbosity": "queryPlanner"}`},
		{"delete", `{"delete": "enc", "deletes": [{"q": {"ssn": "S3CRET"}, "limit": 1}]}`},
		{"window function on plain fields", `{"aggregate": "enc", "pipeline": [{"$match": {"ssn": "S3CRET"}}, {"$setWindowFields": {"sortBy": {"a": 1}, "output": {"r": {"$rank": {}}, "s": {"$sum": "$a", "window": {"documents": ["unbounded", "current"]}}}}}], "cursor": {}}`},
		{"generic fields", `{"find": "enc", "filter": {"ssn": "S3CRET"}, "lsid": {"id": 1}, "txnNumber": 1, "readConcern": {"level": "local"}, "$readPreference": {"mode": "primary"}, "apiVersion": "1", "maxTimeMS": 5, "comment": "c"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := jsonDoc(t, tc.cmd)
			if err := checkNoLeak(t, tc.cmd); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if bytes.Contains(cmd, []byte("S3CRET")) {
				res, _ := Analyze("db", cmd, fcSchemas(t, cmd))
				if !res.HasPlaceholders {
					t.Fatal("the marker was not put in a placeholder")
				}
			}
		})
	}
}

// TestPatternPropertiesApplyTogether: properties and a matching
// patternProperties pattern both apply to a field; when they disagree on its
// encryption the field is refused (before, the first match won and the value
// went in plaintext); when they agree it is encrypted.
func TestPatternPropertiesApplyTogether(t *testing.T) {
	enc := `{"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}`
	disagree := `{"bsonType": "object", "properties": {"ssn": {"bsonType": "string"}}, "patternProperties": {"^ss": ` + enc + `}}`
	twoPatterns := `{"bsonType": "object", "patternProperties": {"^s": {"bsonType": "string"}, "n$": ` + enc + `}}`
	agreeing := `{"bsonType": "object", "properties": {"ssn": ` + enc + `}, "patternProperties": {"^ss": ` + enc + `}}`
	additional := `{"bsonType": "object", "properties": {"_id": {"bsonType": "int"}, "a": {"bsonType": "string"}}, "additionalProperties": ` + enc + `}`
	for _, tc := range []struct {
		name, schema, cmd string
		refused           bool
	}{
		{"insert: properties and pattern disagree", disagree, `{"insert": "c", "documents": [{"ssn": "S3CRET"}]}`, true},
		{"find: properties and pattern disagree", disagree, `{"find": "c", "filter": {"ssn": "S3CRET"}}`, true},
		{"$set: properties and pattern disagree", disagree, `{"update": "c", "updates": [{"q": {}, "u": {"$set": {"ssn": "S3CRET"}}}]}`, true},
		{"insert: two patterns disagree", twoPatterns, `{"insert": "c", "documents": [{"ssn": "S3CRET"}]}`, true},
		{"insert: properties and pattern agree", agreeing, `{"insert": "c", "documents": [{"ssn": "S3CRET"}]}`, false},
		{"insert: additionalProperties applies to other names only", additional, `{"insert": "c", "documents": [{"a": "plain", "b": "S3CRET"}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := jsonDoc(t, tc.cmd)
			res, err := Analyze("db", cmd, map[string]Schema{"db.c": {JSONSchema: jsonDoc(t, tc.schema)}})
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "more than one way") {
					t.Fatalf("want a refusal naming the disagreement, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.HasPlaceholders || bytes.Contains(stripPlaceholders(res.Command), []byte("S3CRET")) {
				t.Fatal("the value was not marked for encryption")
			}
			if tc.name == "insert: additionalProperties applies to other names only" && !bytes.Contains(stripPlaceholders(res.Command), []byte("plain")) {
				t.Fatal("the field named by properties was encrypted by additionalProperties")
			}
		})
	}
}

// TestFieldClasses says for every command field, statement field and stage
// which of the three classes it is, and checks that Analyze treats it so: a
// passed field is accepted with any value, an analysed one is read against the
// schema, an unknown one is refused.
func TestFieldClasses(t *testing.T) {
	for cmd, f := range commandFields {
		for field := range f.passed {
			if f.analysed[field] {
				t.Errorf("%s.%s is both analysed and passed", cmd, field)
			}
		}
		if fieldClassOf(cmd, "surelyUnknownField") != fieldRefused {
			t.Errorf("%s: an unknown field is not refused", cmd)
		}
	}
	for g := range genericFields {
		if fieldClassOf("find", g) != fieldPassed {
			t.Errorf("generic field %s is not passed", g)
		}
	}
	// Every passed field of find is accepted whatever it holds.
	for field := range commandFields["find"].passed {
		cmd := `{"find": "enc", "filter": {}, "` + field + `": 1}`
		if err := checkNoLeak(t, cmd); err != nil {
			t.Errorf("passed field %s refused: %v", field, err)
		}
	}
	stages := map[string]fieldClass{
		"$match": fieldAnalysed, "$project": fieldAnalysed, "$addFields": fieldAnalysed, "$set": fieldAnalysed,
		"$unset": fieldAnalysed, "$replaceRoot": fieldAnalysed, "$replaceWith": fieldAnalysed,
		"$group": fieldAnalysed, "$bucket": fieldAnalysed, "$bucketAuto": fieldAnalysed,
		"$sortByCount": fieldAnalysed, "$count": fieldAnalysed, "$sort": fieldAnalysed,
		"$unwind": fieldAnalysed, "$lookup": fieldAnalysed, "$graphLookup": fieldAnalysed,
		"$unionWith": fieldAnalysed, "$facet": fieldAnalysed, "$out": fieldAnalysed, "$merge": fieldAnalysed,
		"$redact": fieldAnalysed, "$setWindowFields": fieldAnalysed, "$documents": fieldAnalysed,
		"$densify": fieldAnalysed, "$fill": fieldAnalysed, "$changeStream": fieldAnalysed,
		"$limit": fieldPassed, "$skip": fieldPassed, "$sample": fieldPassed, "$collStats": fieldPassed,
		"$indexStats": fieldPassed, "$currentOp": fieldPassed,
		// on a collection with encrypted fields:
		"$geoNear": fieldRefused, "$search": fieldRefused, "$searchMeta": fieldRefused,
		"$vectorSearch": fieldRefused, "$listSearchIndexes": fieldRefused, "$newStage": fieldRefused,
	}
	for stage, class := range stages {
		_, _, err := (&analyzer{db: "db", schemas: map[string]*nsSchema{}}).stage(unknownNode, nil, stage, docValue(newDoc().build()), 0)
		refusedForEncryption := err != nil && strings.Contains(err.Error(), "is not supported")
		switch class {
		case fieldRefused:
			if !refusedForEncryption {
				t.Errorf("stage %s: want refused, got %v", stage, err)
			}
		default:
			if refusedForEncryption {
				t.Errorf("stage %s is refused but listed as %v", stage, class)
			}
		}
	}
}
