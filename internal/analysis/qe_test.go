package analysis

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// qeEI is the encryptionInformation libmongocrypt builds for qeFields.
func qeCase(t *testing.T, cmd string) (Result, string) {
	t.Helper()
	res, err := Analyze("db", jsonDoc(t, cmd), schemasFor(t, "qe"))
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	view := decodeView(copyWithout(res.Command, "encryptionInformation"), false)
	return res, extJSON(view)
}

func TestQEFind(t *testing.T) {
	cases := []struct{ name, cmd, want string }{
		{"equality", `{"find": "coll", "filter": {"eq": "v"}}`,
			`{"find": "coll", "filter": {"eq": {"$eq": {"$ph3": {"t": 2, "a": 2, "ki": KEY, "ku": KEY, "v": "v", "cm": {"$numberLong": "0"}}}}}}`},
		{"nested equality, default contention 8", `{"find": "coll", "filter": {"n.eq": {"$numberLong": "4"}}}`,
			`{"find": "coll", "filter": {"n.eq": {"$eq": {"$ph3": {"t": 2, "a": 2, "ki": KEY, "ku": KEY, "v": {"$numberLong": "4"}, "cm": {"$numberLong": "8"}}}}}}`},
		{"one-sided range $gt", `{"find": "coll", "filter": {"age": {"$gt": 5}}}`,
			`{"find": "coll", "filter": {"age": {"$gt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 5, "lbIncluded": false, "upperBound": {"$numberDouble": "Infinity"}, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 1}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}}`},
		{"one-sided range $lte", `{"find": "coll", "filter": {"age": {"$lte": 9}}}`,
			`{"find": "coll", "filter": {"age": {"$lte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": {"$numberDouble": "-Infinity"}, "lbIncluded": true, "upperBound": 9, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}}`},
		{"two-sided range pairs $gte and $lt", `{"find": "coll", "filter": {"age": {"$gte": 18, "$lt": 65}}}`,
			`{"find": "coll", "filter": {"$and": [{"age": {"$gte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 18, "lbIncluded": true, "upperBound": 65, "ubIncluded": false, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 2, "secondOperator": 3}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}, {"age": {"$lt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"payloadId": 0, "firstOperator": 2, "secondOperator": 3}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}]}}`},
		{"range in explicit $and pairs too, payloadIds count up", `{"find": "coll", "filter": {"$and": [{"age": {"$gt": 1}}, {"age": {"$lte": 2}}], "age": {"$gt": 7}}}`,
			`{"find": "coll", "filter": {"$and": [{"$and": [{"age": {"$gt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 1, "lbIncluded": false, "upperBound": 2, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 1, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}, {"age": {"$lte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"payloadId": 0, "firstOperator": 1, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}]}, {"age": {"$gt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 7, "lbIncluded": false, "upperBound": {"$numberDouble": "Infinity"}, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 1, "firstOperator": 1}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}]}}`},
		{"equality on range field is [v, v]", `{"find": "coll", "filter": {"age": 3}}`,
			`{"find": "coll", "filter": {"$and": [{"age": {"$gte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 3, "lbIncluded": true, "upperBound": 3, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 2, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}, {"age": {"$lte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"payloadId": 0, "firstOperator": 2, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}]}}`},
		{"text prefix", `{"find": "coll", "filter": {"$expr": {"$encStrStartsWith": {"input": "$txt", "prefix": "he"}}}}`,
			`{"find": "coll", "filter": {"$expr": {"$encStrStartsWith": {"input": "$txt", "prefix": {"$ph3": {"t": 2, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "he", "casef": false, "diacf": true, "prefix": {"ub": 10, "lb": 2}}, "cm": {"$numberLong": "0"}}}}}}}`},
		{"text suffix", `{"find": "coll", "filter": {"$expr": {"$encStrEndsWith": {"input": "$txt", "suffix": "llo"}}}}`,
			`{"find": "coll", "filter": {"$expr": {"$encStrEndsWith": {"input": "$txt", "suffix": {"$ph3": {"t": 2, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "llo", "casef": false, "diacf": true, "suffix": {"ub": 9, "lb": 3}}, "cm": {"$numberLong": "0"}}}}}}}`},
		{"text substring", `{"find": "coll", "filter": {"$expr": {"$encStrContains": {"input": "$sub", "substring": "bcd"}}}}`,
			`{"find": "coll", "filter": {"$expr": {"$encStrContains": {"input": "$sub", "substring": {"$ph3": {"t": 2, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "bcd", "casef": true, "diacf": false, "substr": {"mlen": 20, "ub": 6, "lb": 3}}, "cm": {"$numberLong": "2"}}}}}}}`},
		{"text normalized equality", `{"find": "coll", "filter": {"$expr": {"$encStrNormalizedEq": {"input": "$txt", "string": "hello"}}}}`,
			`{"find": "coll", "filter": {"$expr": {"$encStrNormalizedEq": {"input": "$txt", "string": {"$ph3": {"t": 2, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "hello", "casef": false, "diacf": true}, "cm": {"$numberLong": "0"}}}}}}}`},
		{"update $set gets insert placeholder", `{"update": "coll", "updates": [{"q": {"eq": "a"}, "u": {"$set": {"eq": "b"}}}]}`,
			`{"update": "coll", "updates": [{"q": {"eq": {"$eq": {"$ph3": {"t": 2, "a": 2, "ki": KEY, "ku": KEY, "v": "a", "cm": {"$numberLong": "0"}}}}}, "u": {"$set": {"eq": {"$ph3": {"t": 1, "a": 2, "ki": KEY, "ku": KEY, "v": "b", "cm": {"$numberLong": "0"}}}}}, "multi": false, "upsert": false}]}`},
		{"long bound on an int range field is converted to int", `{"find": "coll", "filter": {"age": {"$gt": {"$numberLong": "5"}}}}`,
			`{"find": "coll", "filter": {"age": {"$gt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 5, "lbIncluded": false, "upperBound": {"$numberDouble": "Infinity"}, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 1}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}}`},
		{"long equality on an int range field is converted to int", `{"find": "coll", "filter": {"age": {"$numberLong": "3"}}}`,
			`{"find": "coll", "filter": {"$and": [{"age": {"$gte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 3, "lbIncluded": true, "upperBound": 3, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 2, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}, {"age": {"$lte": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"payloadId": 0, "firstOperator": 2, "secondOperator": 4}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}]}}`},
		{"aggregate $match with range", `{"aggregate": "coll", "pipeline": [{"$match": {"age": {"$gt": 5}}}], "cursor": {}}`,
			`{"aggregate": "coll", "pipeline": [{"$match": {"age": {"$gt": {"$ph3": {"t": 2, "a": 3, "ki": KEY, "ku": KEY, "v": {"edgesInfo": {"lowerBound": 5, "lbIncluded": false, "upperBound": {"$numberDouble": "Infinity"}, "ubIncluded": true, "trimFactor": 1, "indexMin": 0, "indexMax": 200}, "payloadId": 0, "firstOperator": 1}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}}}}}], "cursor": {}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, got := qeCase(t, tc.cmd)
			if want := extJSON(jsonDoc(t, tc.want)); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if !res.HasPlaceholders || !res.UsesQE || !res.SchemaRequiresEncryption || res.EncryptionInformation == nil {
				t.Fatalf("flags: %+v", res)
			}
		})
	}
}

func TestQEExplainAndBulkWrite(t *testing.T) {
	res, err := Analyze("db", jsonDoc(t, `{"explain": {"find": "coll", "filter": {"eq": "v"}}, "verbosity": "queryPlanner", "$db": "db"}`), schemasFor(t, "qe"))
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := lookup(res.Command, "explain")
	if _, ok := lookup(inner.Data, "encryptionInformation"); !ok {
		t.Fatalf("explain: encryptionInformation must be inside explain: %s", extJSON(res.Command))
	}
	if v, _ := lookup(res.Command, "verbosity"); v.StringValue() != "queryPlanner" {
		t.Fatalf("explain: verbosity changed: %s", extJSON(res.Command))
	}

	schemas := map[string]Schema{"other.coll": {EncryptedFields: jsonDoc(t, qeFields)}}
	cmd := jsonDoc(t, `{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"eq": "x"}}, {"insert": 0, "document": {"eq": "y"}}], "nsInfo": [{"ns": "other.coll"}], "$db": "admin"}`)
	ns, err := Namespaces("admin", cmd)
	if err != nil || len(ns) != 1 || ns[0] != "other.coll" {
		t.Fatalf("Namespaces = %v, %v", ns, err)
	}
	res, err = Analyze("admin", cmd, schemas)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bulkWrite": 1, "ops": [
	  {"insert": 0, "document": {"eq": {"$ph3": {"t": 1, "a": 2, "ki": KEY, "ku": KEY, "v": "x", "cm": {"$numberLong": "0"}}}}},
	  {"insert": 0, "document": {"eq": {"$ph3": {"t": 1, "a": 2, "ki": KEY, "ku": KEY, "v": "y", "cm": {"$numberLong": "0"}}}}}],
	  "nsInfo": [{"ns": "other.coll"}]}`
	nsInfo, _ := lookup(res.Command, "nsInfo")
	entry := elements(nsInfo.Data)[0].Value()
	if _, ok := lookup(entry.Data, "encryptionInformation"); !ok {
		t.Fatalf("bulkWrite: nsInfo.0 lacks encryptionInformation")
	}
	b := newDoc()
	for _, e := range elements(res.Command) {
		if e.Key() == "nsInfo" {
			b.array("nsInfo", newArray().doc(copyWithout(entry.Data, "encryptionInformation")).build())
			continue
		}
		b.element(e)
	}
	if got, w := extJSON(decodeView(b.build(), false)), extJSON(jsonDoc(t, want)); got != w {
		t.Fatalf("bulkWrite:\ngot  %s\nwant %s", got, w)
	}
}

func TestNamespacesAndBypass(t *testing.T) {
	cmd := jsonDoc(t, `{"aggregate": "c1", "pipeline": [
	    {"$lookup": {"from": "c2", "as": "m", "pipeline": [{"$lookup": {"from": "c3", "as": "n", "localField": "a", "foreignField": "b"}}]}},
	    {"$unionWith": {"coll": "c4"}}, {"$facet": {"x": [{"$lookup": {"from": "c2", "as": "k", "localField": "a", "foreignField": "b"}}], "y": [{"$unionWith": "c5"}]}}], "cursor": {}}`)
	ns, err := Namespaces("db", cmd)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ns, ","); got != "db.c1,db.c2,db.c3,db.c4,db.c5" {
		t.Fatalf("Namespaces = %s", got)
	}
	for _, name := range []string{"hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo", "getMore", "killCursors", "endSessions", "drop", "listCollections", "listIndexes", "dropIndexes", "commitTransaction", "abortTransaction", "saslStart", "saslContinue", "authenticate", "killAllSessions", "serverStatus", "createSearchIndexes"} {
		c := bson.Raw(newDoc().int32(name, 1).build())
		res, err := Analyze("admin", c, nil)
		if err != nil || !res.Bypass || string(res.Command) != string(c) {
			t.Errorf("%s: want bypass, got %+v, %v", name, res, err)
		}
		if ns, err := Namespaces("admin", c); err != nil || len(ns) != 0 {
			t.Errorf("%s: Namespaces = %v, %v", name, ns, err)
		}
	}
	for _, name := range []string{"getLastError", "killOp", "fsync", "mapReduce"} {
		_, err := Analyze("admin", bson.Raw(newDoc().str(name, "c").build()), nil)
		if err == nil || !strings.Contains(err.Error(), "command not supported for auto encryption: "+name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// create, collMod and createIndexes are analyzed, and pass through.
	res, err := Analyze("db", jsonDoc(t, `{"createIndexes": "coll", "indexes": [{"key": {"a": 1}, "name": "a"}], "$db": "db"}`), schemasFor(t, "csfle"))
	if err != nil || res.HasPlaceholders || extJSON(res.Command) != extJSON(jsonDoc(t, `{"createIndexes": "coll", "indexes": [{"key": {"a": 1}, "name": "a"}]}`)) {
		t.Fatalf("createIndexes: %+v %v", res, err)
	}
}

func TestOmitEncryptionInformation(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload bool
		want    bool
	}{
		{"create", true, true}, {"collMod", false, true}, {"createIndexes", false, true},
		{"cleanupStructuredEncryptionData", true, true},
		{"find", false, true}, {"find", true, false}, {"aggregate", false, true}, {"insert", false, true},
		{"distinct", true, false}, {"count", false, true},
		{"update", false, false}, {"delete", false, false}, {"findAndModify", false, false}, {"explain", false, false},
	} {
		if got := OmitEncryptionInformation(c.name, c.payload); got != c.want {
			t.Errorf("%s(%v) = %v", c.name, c.payload, got)
		}
	}
}

func TestSchemaRefusals(t *testing.T) {
	cases := []struct {
		name, schema, reason string
		qe                   bool
	}{
		{"encrypted field in an array schema", `{"bsonType": "array", "properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}`, "Invalid schema", false},
		{"parent without object type", `{"properties": {"foo": {"properties": {"bar": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}}}`, "Invalid schema", false},
		{"siblings of encrypt", `{"properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}, "bsonType": "object"}}}`, "'encrypt' cannot be used in conjunction with 'bsonType'", false},
		{"logical keywords", `{"anyOf": [{"properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}]}`, "Invalid schema", false},
		{"deterministic double", `{"bsonType": "object", "properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "double", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`, "Cannot use deterministic encryption for element of type: double", false},
		{"deterministic bool", `{"bsonType": "object", "properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "bool", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`, "Cannot use deterministic encryption for element of type: bool", false},
		{"deterministic pointer keyId", `{"bsonType": "object", "properties": {"a": {"encrypt": {"keyId": "/k", "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`, "requires a UUID keyId", false},
		{"no algorithm", `{"bsonType": "object", "properties": {"a": {"encrypt": {"keyId": [KEY]}}}}`, "no algorithm", false},
		{"encrypted _id below a top level without bsonType object (spec badQueries.json)", `{"properties": {"_id": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`, "Invalid schema containing the 'encrypt' keyword.", false},
		{"QE keyAltName not translated", `{"fields": [{"keyAltName": "k", "path": "a", "bsonType": "string"}]}`, "translate it to keyId", true},
		{"QE overlapping paths", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "string"}, {"keyId": KEY, "path": "a.b", "bsonType": "string"}]}`, "overlap", true},
		{"QE rangePreview", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "int", "queries": {"queryType": "rangePreview"}}]}`, "rangePreview", true},
		{"QE unknown query type", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "int", "queries": {"queryType": "fuzzy"}}]}`, "Did not recognize query type", true},
		{"QE range on string", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "string", "queries": {"queryType": "range"}}]}`, "not supported for range", true},
		// Refused by the client's parser (qe.ParseEncryptedFields) before mongocryptd's checks.
		{"QE fields not an array", `{"fields": {}}`, "expected 'fields' to be type array", true},
		{"QE keyId and keyAltName", `{"fields": [{"keyId": KEY, "keyAltName": "k", "path": "a", "bsonType": "string"}]}`, "only one of 'keyId' or 'keyAltName", true},
		{"QE query not a document", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "int", "queries": [1]}]}`, "Expected type document", true},
		{"QE no path", `{"fields": [{"keyId": KEY, "bsonType": "int"}]}`, "unable to find 'path'", true},
		{"QE bad strEncodeVersion", `{"fields": [], "strEncodeVersion": 2}`, "'strEncodeVersion' of 2 is not supported", true},
		{"QE no bsonType", `{"fields": [{"keyId": KEY, "path": "a"}]}`, "'bsonType' is required", true},
		{"QE substring without strMaxLength", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "string", "queries": {"queryType": "substringPreview", "strMinQueryLength": 1, "strMaxQueryLength": 2, "caseSensitive": true, "diacriticSensitive": true}}]}`, "substring queries require 'strMaxLength'", true},
		{"QE text on int", `{"fields": [{"keyId": KEY, "path": "a", "bsonType": "int", "queries": {"queryType": "prefix", "strMinQueryLength": 1, "strMaxQueryLength": 2, "caseSensitive": true, "diacriticSensitive": true}}]}`, "text search queries require bsonType 'string'", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Schema{JSONSchema: jsonDoc(t, tc.schema)}
			if tc.qe {
				s = Schema{EncryptedFields: jsonDoc(t, tc.schema)}
			}
			_, err := Analyze("db", jsonDoc(t, `{"insert": "coll", "documents": [{"x": 1}]}`), map[string]Schema{"db.coll": s})
			if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("want refusal containing %q, got %v", tc.reason, err)
			}
		})
	}
	// Mixing a QE collection and a CSFLE collection with encrypted fields.
	_, err := Analyze("db", jsonDoc(t, `{"aggregate": "coll", "pipeline": [{"$lookup": {"from": "c2", "as": "m", "localField": "a", "foreignField": "b"}}], "cursor": {}}`),
		map[string]Schema{"db.coll": {EncryptedFields: jsonDoc(t, qeFields)}, "db.c2": {JSONSchema: jsonDoc(t, csfleSchema)}})
	if err == nil || !strings.Contains(err.Error(), "mixing QE and CSFLE") {
		t.Fatalf("mixing: %v", err)
	}
}

func TestLookupCarriesForeignSchema(t *testing.T) {
	schemas := map[string]Schema{"db.c2": {JSONSchema: jsonDoc(t, csfleSchema)}}
	res, err := Analyze("db", jsonDoc(t, `{"aggregate": "c1", "pipeline": [
	    {"$lookup": {"from": "c2", "localField": "a", "foreignField": "b", "as": "m"}},
	    {"$match": {"m.encrypted_string": "s"}}], "cursor": {}}`), schemas)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"aggregate": "c1", "pipeline": [{"$lookup": {"from": "c2", "localField": "a", "foreignField": "b", "as": "m"}},
	    {"$match": {"m.encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}}}}], "cursor": {}}`
	if got, w := extJSON(decodeView(res.Command, false)), extJSON(jsonDoc(t, want)); got != w {
		t.Fatalf("got  %s\nwant %s", got, w)
	}
	// A sub-pipeline is analyzed with the foreign schema.
	res, err = Analyze("db", jsonDoc(t, `{"aggregate": "c1", "pipeline": [
	    {"$lookup": {"from": "c2", "as": "m", "pipeline": [{"$match": {"encrypted_string": "t"}}]}}], "cursor": {}}`), schemas)
	if err != nil || !res.HasPlaceholders {
		t.Fatalf("sub-pipeline: %+v %v", res, err)
	}
}
