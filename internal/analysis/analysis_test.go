package analysis

import (
	"errors"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const keyJSON = `{"$binary":{"base64":"EjRWeBI0mHYSNBI0VniQEg==","subType":"04"}}`

// jsonDoc parses extended JSON, replacing the token KEY by the test key id.
func jsonDoc(t *testing.T, s string) bson.Raw {
	t.Helper()
	s = strings.ReplaceAll(s, "KEY", keyJSON)
	var d bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return d
}

const csfleSchema = `{
  "bsonType": "object",
  "properties": {
    "encrypted_string": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}},
    "encrypted_string_equivalent": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}},
    "random": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}},
    "anytype": {"encrypt": {"keyId": [KEY], "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}},
    "encrypted_w_altname": {"encrypt": {"keyId": "/altname", "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}},
    "nested": {"bsonType": "object", "properties": {"secret": {"encrypt": {"keyId": [KEY], "bsonType": "int", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}},
    "meta": {"bsonType": "object", "encryptMetadata": {"keyId": [KEY], "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"},
             "properties": {"inherits": {"encrypt": {"bsonType": "string"}}}}
  },
  "patternProperties": {"^pat_": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}},
  "additionalProperties": {"bsonType": "string"}
}`

const qeFields = `{
  "fields": [
    {"keyId": KEY, "path": "eq", "bsonType": "string", "queries": {"queryType": "equality", "contention": 0}},
    {"keyId": KEY, "path": "unindexed", "bsonType": "string"},
    {"keyId": KEY, "path": "age", "bsonType": "int", "queries": {"queryType": "range", "min": 0, "max": 200, "sparsity": 1, "contention": 4, "trimFactor": 1}},
    {"keyId": KEY, "path": "txt", "bsonType": "string", "queries": [
       {"queryType": "prefix", "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false, "contention": 0},
       {"queryType": "suffix", "strMinQueryLength": 3, "strMaxQueryLength": 9, "caseSensitive": true, "diacriticSensitive": false, "contention": 0}]},
    {"keyId": KEY, "path": "sub", "bsonType": "string", "queries": {"queryType": "substringPreview", "strMaxLength": 20, "strMinQueryLength": 3, "strMaxQueryLength": 6, "caseSensitive": false, "diacriticSensitive": true, "contention": 2}},
    {"keyId": KEY, "path": "n.eq", "bsonType": "long", "queries": {"queryType": "equality"}}
  ]
}`

func schemasFor(t *testing.T, kind string) map[string]Schema {
	switch kind {
	case "csfle":
		return map[string]Schema{"db.coll": {JSONSchema: jsonDoc(t, csfleSchema)}}
	case "qe":
		return map[string]Schema{"db.coll": {EncryptedFields: jsonDoc(t, qeFields)}}
	}
	return nil
}

// decodeView replaces every placeholder by {"$ph0": doc} or {"$ph3": doc} so
// that tests can state the placeholder contents in extended JSON. (The
// placeholder bytes themselves are checked against mongocryptd's in
// TestLibmongocryptVectors.)
func decodeView(doc []byte, isArray bool) []byte {
	b := newDoc()
	for _, e := range elements(doc) {
		v := e.Value()
		switch v.Type {
		case bsoncore.TypeEmbeddedDocument:
			b.doc(e.Key(), decodeView(v.Data, false))
			continue
		case bsoncore.TypeArray:
			b.array(e.Key(), decodeView(v.Data, true))
			continue
		case bsoncore.TypeBinary:
			_, data, _ := v.BinaryOK()
			if len(data) > 1 && isPlaceholder(v) {
				key := "$ph0"
				if fleblob.Subtype(data[0]) == fleblob.FLE2EncryptionPlaceholder {
					key = "$ph3"
				}
				b.doc(e.Key(), newDoc().doc(key, data[1:]).build())
				continue
			}
		}
		b.element(e)
	}
	_ = isArray
	return b.build()
}

func TestAnalyzeCommands(t *testing.T) {
	cases := []struct {
		name, schema, cmd, want string
		noPH                    bool
	}{
		// --- CSFLE find / count / distinct / delete -------------------------------
		{name: "find implicit equality", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": "s0"}, "$db": "db"}`,
			want: `{"find": "coll", "filter": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}}`},
		{name: "find $eq and plain field make $and", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": {"$eq": "s0"}, "x": 1}}`,
			want: `{"find": "coll", "filter": {"$and": [{"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}, {"x": {"$eq": 1}}]}}`},
		{name: "find $in sorted and de-duplicated", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": {"$in": ["s1", "s0", "s1"]}}}`,
			want: `{"find": "coll", "filter": {"encrypted_string": {"$in": [{"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}, {"$ph0": {"a": 1, "ki": KEY, "v": "s1"}}]}}}`},
		{name: "find $ne becomes $not $eq", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": {"$ne": "s0"}}}`,
			want: `{"find": "coll", "filter": {"encrypted_string": {"$not": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}}}`},
		{name: "find $nin becomes $not $in", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": {"$nin": ["s0"]}}}`,
			want: `{"find": "coll", "filter": {"encrypted_string": {"$not": {"$in": [{"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}]}}}}`},
		{name: "find $or $nor $and", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"$or": [{"encrypted_string": "a"}, {"x": 2, "y": 3}], "$nor": [{"nested.secret": 5}]}}`,
			want: `{"find": "coll", "filter": {"$and": [{"$or": [{"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "a"}}}}, {"$and": [{"x": {"$eq": 2}}, {"y": {"$eq": 3}}]}]}, {"$nor": [{"nested.secret": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": 5}}}}]}]}}`},
		{name: "find $not $eq", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"encrypted_string": {"$not": {"$eq": "z"}}}}`,
			want: `{"find": "coll", "filter": {"encrypted_string": {"$not": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "z"}}}}}}`},
		{name: "find $exists on encrypted needs no value", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"random": {"$exists": true}, "encrypted_string": "q"}}`,
			want: `{"find": "coll", "filter": {"$and": [{"random": {"$exists": true}}, {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "q"}}}}]}}`},
		{name: "find on patternProperties and encryptMetadata", schema: "csfle",
			cmd:  `{"find": "coll", "filter": {"pat_x": "p", "meta.inherits": "m"}}`,
			want: `{"find": "coll", "filter": {"$and": [{"pat_x": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "p"}}}}, {"meta.inherits": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "m"}}}}]}}`},
		{name: "find touching no encrypted field: no placeholder, filter re-serialized", schema: "csfle", noPH: true,
			cmd:  `{"find": "coll", "filter": {"x": 1}, "$db": "db"}`,
			want: `{"find": "coll", "filter": {"x": {"$eq": 1}}}`},
		{name: "no schema: returned as sent without $db", schema: "none", noPH: true,
			cmd:  `{"find": "coll", "filter": {"x": 1}, "$db": "db"}`,
			want: `{"find": "coll", "filter": {"x": 1}}`},
		{name: "count", schema: "csfle",
			cmd:  `{"count": "coll", "query": {"encrypted_string": "s0"}}`,
			want: `{"count": "coll", "query": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}}`},
		{name: "distinct on deterministic key", schema: "csfle",
			cmd:  `{"distinct": "coll", "key": "encrypted_string", "query": {"encrypted_string": "s0"}}`,
			want: `{"distinct": "coll", "key": "encrypted_string", "query": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}}`},
		{name: "delete", schema: "csfle",
			cmd:  `{"delete": "coll", "deletes": [{"q": {"encrypted_string": "s0"}, "limit": 1}], "ordered": true}`,
			want: `{"delete": "coll", "ordered": true, "deletes": [{"q": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}, "limit": 1}]}`},
		// --- CSFLE insert / update / findAndModify ------------------------------------
		{name: "insert with nested, random, keyAltName pointer", schema: "csfle",
			cmd:  `{"insert": "coll", "documents": [{"_id": 1, "encrypted_string": "s", "random": "r", "nested": {"secret": 7, "plain": 1}, "altname": "alice", "encrypted_w_altname": "w", "other": "o"}], "ordered": true}`,
			want: `{"insert": "coll", "ordered": true, "documents": [{"_id": 1, "encrypted_string": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}, "random": {"$ph0": {"a": 2, "ki": KEY, "v": "r"}}, "nested": {"secret": {"$ph0": {"a": 1, "ki": KEY, "v": 7}}, "plain": 1}, "altname": "alice", "encrypted_w_altname": {"$ph0": {"a": 2, "ka": "alice", "v": "w"}}, "other": "o"}]}`},
		{name: "insert random field of any type", schema: "csfle",
			cmd:  `{"insert": "coll", "documents": [{"anytype": {"a": [1, 2]}}]}`,
			want: `{"insert": "coll", "documents": [{"anytype": {"$ph0": {"a": 2, "ki": KEY, "v": {"a": [1, 2]}}}}]}`},
		{name: "update $set, $unset, replacement, upsert, arrayFilters", schema: "csfle",
			cmd: `{"update": "coll", "updates": [
			        {"q": {"encrypted_string": "s0"}, "u": {"$set": {"encrypted_string": "s1", "random": "r", "x": 1}, "$unset": {"encrypted_string_equivalent": ""}}, "upsert": true},
			        {"q": {}, "u": {"encrypted_string": "s2"}, "multi": false},
			        {"q": {}, "u": {"$set": {"arr.$[i].x": 1}}, "arrayFilters": [{"i.x": 1}]}]}`,
			want: `{"update": "coll", "updates": [
			        {"q": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}, "u": {"$set": {"encrypted_string": {"$ph0": {"a": 1, "ki": KEY, "v": "s1"}}, "random": {"$ph0": {"a": 2, "ki": KEY, "v": "r"}}, "x": 1}, "$unset": {"encrypted_string_equivalent": ""}}, "multi": false, "upsert": true},
			        {"q": {}, "u": {"encrypted_string": {"$ph0": {"a": 1, "ki": KEY, "v": "s2"}}}, "multi": false, "upsert": false},
			        {"q": {}, "u": {"$set": {"arr.$[i].x": 1}}, "arrayFilters": [{"i.x": 1}], "multi": false, "upsert": false}]}`},
		{name: "update statement: mongocryptd's field order, multi and upsert written, fields mongocryptd does not order kept last", schema: "csfle",
			cmd:  `{"update": "coll", "ordered": true, "updates": [{"collation": {"locale": "simple"}, "multi": true, "hint": "a_1", "u": {"$set": {"encrypted_string": "s"}}, "q": {"x": 1}}], "$db": "db"}`,
			want: `{"update": "coll", "ordered": true, "updates": [{"q": {"x": {"$eq": 1}}, "u": {"$set": {"encrypted_string": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}}}, "hint": "a_1", "multi": true, "upsert": false, "collation": {"locale": "simple"}}]}`},
		{name: "delete statement: mongocryptd's field order", schema: "csfle",
			cmd:  `{"delete": "coll", "deletes": [{"collation": {"locale": "simple"}, "limit": 0, "q": {"encrypted_string": "s0"}}]}`,
			want: `{"delete": "coll", "deletes": [{"q": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}, "limit": 0, "collation": {"locale": "simple"}}]}`},
		{name: "update $set of an object containing encrypted fields", schema: "csfle",
			cmd:  `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"nested": {"secret": 3}}}}]}`,
			want: `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"nested": {"secret": {"$ph0": {"a": 1, "ki": KEY, "v": 3}}}}}, "multi": false, "upsert": false}]}`},
		{name: "update $rename between equivalent fields", schema: "csfle", noPH: true,
			cmd:  `{"update": "coll", "updates": [{"q": {}, "u": {"$rename": {"encrypted_string": "encrypted_string_equivalent"}}}]}`,
			want: `{"update": "coll", "updates": [{"q": {}, "u": {"$rename": {"encrypted_string": "encrypted_string_equivalent"}}, "multi": false, "upsert": false}]}`},
		{name: "findAndModify", schema: "csfle",
			cmd:  `{"findAndModify": "coll", "query": {"encrypted_string": "s0"}, "update": {"$set": {"encrypted_string": "s1"}}, "new": true}`,
			want: `{"findAndModify": "coll", "query": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s0"}}}}, "update": {"$set": {"encrypted_string": {"$ph0": {"a": 1, "ki": KEY, "v": "s1"}}}}, "new": true}`},
		{name: "explain find adds verbosity", schema: "csfle",
			cmd:  `{"explain": {"find": "coll", "filter": {"encrypted_string": "s1"}}, "$db": "db"}`,
			want: `{"explain": {"find": "coll", "filter": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s1"}}}}}, "verbosity": "allPlansExecution"}`},
		// --- CSFLE aggregate ------------------------------------------------------------
		{name: "aggregate $match and harmless stages", schema: "csfle",
			cmd:  `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": "s"}}, {"$project": {"encrypted_string": 1, "x": {"$add": ["$a", 1]}}}, {"$sort": {"x": 1}}, {"$limit": 5}, {"$group": {"_id": "$x", "n": {"$sum": 1}}}, {"$match": {"n": 2}}], "cursor": {}}`,
			want: `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}}}}, {"$project": {"encrypted_string": 1, "x": {"$add": ["$a", 1]}}}, {"$sort": {"x": 1}}, {"$limit": 5}, {"$group": {"_id": "$x", "n": {"$sum": {"$const": 1}}}}, {"$match": {"n": {"$eq": 2}}}], "cursor": {}}`},
		{name: "aggregate: countDocuments' $group gets $const literals (spec unified count.json)", schema: "csfle",
			cmd:  `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": "s"}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}], "cursor": {}}`,
			want: `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}}}}, {"$group": {"_id": {"$const": 1}, "n": {"$sum": {"$const": 1}}}}], "cursor": {}}`},
		{name: "aggregate: $group expressions, literals as $const, argument documents kept", schema: "csfle",
			cmd: `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": "s"}}, {"$group": {
			        "_id": {"a": "$a", "k": "text", "l": {"$literal": "$notAPath"}, "z": null},
			        "s": {"$max": {"$add": ["$a", 2, [3, "$b"]]}},
			        "t": {"$top": {"sortBy": {"a": 1}, "output": "$a"}},
			        "u": {"$push": {"$toUpper": "$c"}},
			        "v": {"$first": "$$ROOT"}}}], "cursor": {}}`,
			want: `{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": {"$eq": {"$ph0": {"a": 1, "ki": KEY, "v": "s"}}}}}, {"$group": {
			        "_id": {"a": "$a", "k": {"$const": "text"}, "l": {"$const": "$notAPath"}, "z": {"$const": null}},
			        "s": {"$max": {"$add": ["$a", {"$const": 2}, [{"$const": 3}, "$b"]]}},
			        "t": {"$top": {"sortBy": {"a": 1}, "output": "$a"}},
			        "u": {"$push": {"$toUpper": "$c"}},
			        "v": {"$first": "$$ROOT"}}}], "cursor": {}}`},
		// --- QE --------------------------------------------------------------------------
		{name: "QE insert: equality, unindexed, range, text, nested", schema: "qe",
			cmd: `{"insert": "coll", "documents": [{"eq": "e", "unindexed": "u", "age": 30, "txt": "hello", "sub": "abcdef", "n": {"eq": {"$numberLong": "9"}}}]}`,
			want: `{"insert": "coll", "encryptionInformation": {"type": 1, "schema": {"db.coll": {"fields": [
			    {"keyId": KEY, "path": "eq", "bsonType": "string", "queries": {"queryType": "equality", "contention": 0}},
			    {"keyId": KEY, "path": "unindexed", "bsonType": "string"},
			    {"keyId": KEY, "path": "age", "bsonType": "int", "queries": {"queryType": "range", "min": 0, "max": 200, "sparsity": 1, "contention": 4, "trimFactor": 1}},
			    {"keyId": KEY, "path": "txt", "bsonType": "string", "queries": [
			       {"queryType": "prefix", "strMinQueryLength": 2, "strMaxQueryLength": 10, "caseSensitive": true, "diacriticSensitive": false, "contention": 0},
			       {"queryType": "suffix", "strMinQueryLength": 3, "strMaxQueryLength": 9, "caseSensitive": true, "diacriticSensitive": false, "contention": 0}]},
			    {"keyId": KEY, "path": "sub", "bsonType": "string", "queries": {"queryType": "substringPreview", "strMaxLength": 20, "strMinQueryLength": 3, "strMaxQueryLength": 6, "caseSensitive": false, "diacriticSensitive": true, "contention": 2}},
			    {"keyId": KEY, "path": "n.eq", "bsonType": "long", "queries": {"queryType": "equality"}}],
			  "escCollection": "enxcol_.coll.esc", "ecocCollection": "enxcol_.coll.ecoc", "strEncodeVersion": 1}}},
			  "documents": [{
			    "eq": {"$ph3": {"t": 1, "a": 2, "ki": KEY, "ku": KEY, "v": "e", "cm": {"$numberLong": "0"}}},
			    "unindexed": {"$ph3": {"t": 1, "a": 1, "ki": KEY, "ku": KEY, "v": "u", "cm": {"$numberLong": "0"}}},
			    "age": {"$ph3": {"t": 1, "a": 3, "ki": KEY, "ku": KEY, "v": {"v": 30, "min": 0, "max": 200, "trimFactor": 1}, "cm": {"$numberLong": "4"}, "s": {"$numberLong": "1"}}},
			    "txt": {"$ph3": {"t": 1, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "hello", "casef": false, "diacf": true, "prefix": {"ub": 10, "lb": 2}, "suffix": {"ub": 9, "lb": 3}}, "cm": {"$numberLong": "0"}}},
			    "sub": {"$ph3": {"t": 1, "a": 4, "ki": KEY, "ku": KEY, "v": {"v": "abcdef", "casef": true, "diacf": false, "substr": {"mlen": 20, "ub": 6, "lb": 3}}, "cm": {"$numberLong": "2"}}},
			    "n": {"eq": {"$ph3": {"t": 1, "a": 2, "ki": KEY, "ku": KEY, "v": {"$numberLong": "9"}, "cm": {"$numberLong": "8"}}}}}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Analyze("db", jsonDoc(t, tc.cmd), schemasFor(t, tc.schema))
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			if res.HasPlaceholders == tc.noPH {
				t.Errorf("HasPlaceholders = %v", res.HasPlaceholders)
			}
			got := extJSON(decodeView(res.Command, false))
			want := extJSON(jsonDoc(t, tc.want))
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestAnalyzeRefusals(t *testing.T) {
	cases := []struct {
		name, schema, cmd, field, reason string
	}{
		// commands
		{"unsupported command", "csfle", `{"killOp": 1, "op": 1234}`, "", "command not supported for auto encryption: killOp"},
		{"database aggregate", "csfle", `{"aggregate": 1, "pipeline": []}`, "", "non-collection command not supported for auto encryption: aggregate"},
		{"empty collection name", "csfle", `{"find": "", "filter": {}}`, "", "empty collection name on command: find"},
		{"bulkWrite with two namespaces", "qe", `{"bulkWrite": 1, "ops": [], "nsInfo": [{"ns": "db.a"}, {"ns": "db.b"}]}`, "", "expected one namespace in `bulkWrite`"},
		{"bulkWrite with CSFLE", "csfle", `{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"encrypted_string": "x"}}], "nsInfo": [{"ns": "db.coll"}]}`, "", "bulkWrite does not support CSFLE"},
		// match operators on deterministic fields
		{"$gt on deterministic", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$gt": "a"}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$lte on deterministic", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$lte": "a"}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$regex on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$regex": "x", "$options": ""}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"regex literal on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$regularExpression": {"pattern": "x", "options": ""}}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$size on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$size": 2}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$type on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$type": 2}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$mod on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$mod": [3, 1]}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$bitsAllSet on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$bitsAllSet": 35}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$near on encrypted", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$near": [0, 0]}}}`, "encrypted_string", "Invalid match expression operator on encrypted field"},
		{"$eq null", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$eq": null}}}`, "encrypted_string", "Illegal equality to null predicate for encrypted field"},
		{"$in null", "csfle", `{"find": "coll", "filter": {"encrypted_string": {"$in": [null]}}}`, "encrypted_string", "Illegal equality to null inside $in against an encrypted field"},
		{"$text", "csfle", `{"find": "coll", "filter": {"$text": {"$search": "x"}}}`, "", "Unsupported match expression operator for encryption"},
		{"$where", "csfle", `{"find": "coll", "filter": {"$where": "true"}}`, "", "Unsupported match expression operator for encryption"},
		{"value type differs from bsonType", "csfle", `{"find": "coll", "filter": {"encrypted_string": 5}}`, "encrypted_string", "because schema requires that type is one of: [ string ]"},
		{"object containing encrypted fields", "csfle", `{"find": "coll", "filter": {"nested": {"secret": 1}}}`, "nested", "Cannot compare to an object or array that contains encrypted fields"},
		{"path below encrypted field", "csfle", `{"find": "coll", "filter": {"encrypted_string.x": 1}}`, "encrypted_string.x", "below an encrypted field"},
		{"sort on encrypted", "csfle", `{"find": "coll", "filter": {}, "sort": {"encrypted_string": 1}}`, "encrypted_string", "Sorting on an encrypted field"},
		// random fields
		{"equality on random", "csfle", `{"find": "coll", "filter": {"random": "abc"}}`, "random", "Cannot query on fields encrypted with the randomized encryption algorithm"},
		{"$in on random", "csfle", `{"count": "coll", "query": {"random": {"$in": ["a"]}}}`, "random", "Cannot query on fields encrypted with the randomized encryption algorithm"},
		{"$gt on random", "csfle", `{"find": "coll", "filter": {"random": {"$gt": "a"}}}`, "random", "Cannot query on fields encrypted with the randomized encryption algorithm"},
		{"distinct on pointer keyId", "csfle", `{"distinct": "coll", "key": "encrypted_w_altname"}`, "encrypted_w_altname", "The distinct key is not allowed to be marked for encryption with a non-UUID keyId"},
		{"distinct on random", "csfle", `{"distinct": "coll", "key": "random"}`, "random", "randomized encryption"},
		// update operators
		{"$inc", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$inc": {"encrypted_string": 1}}}]}`, "encrypted_string", "$inc and $mul not allowed on encrypted values"},
		{"$mul", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$mul": {"encrypted_string": 1}}}]}`, "encrypted_string", "$inc and $mul not allowed on encrypted values"},
		{"$max", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$max": {"encrypted_string": 1}}}]}`, "encrypted_string", "$max and $min not allowed on encrypted values"},
		{"$min", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$min": {"encrypted_string": 1}}}]}`, "encrypted_string", "$max and $min not allowed on encrypted values"},
		{"$currentDate", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$currentDate": {"encrypted_string": true}}}]}`, "encrypted_string", "$currentDate not allowed on encrypted values"},
		{"$pop", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$pop": {"encrypted_string": 1}}}]}`, "encrypted_string", "$pop not allowed on encrypted values"},
		{"$pull", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$pull": {"encrypted_string": 1}}}]}`, "encrypted_string", "$pull not allowed on encrypted values"},
		{"$pullAll", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$pullAll": {"encrypted_string": [1]}}}]}`, "encrypted_string", "$pullAll not allowed on encrypted values"},
		{"$push", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$push": {"encrypted_string": 1}}}]}`, "encrypted_string", "$push not allowed on encrypted values"},
		{"$addToSet", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$addToSet": {"encrypted_string": ["a"]}}}]}`, "encrypted_string", "$addToSet not allowed on encrypted values"},
		{"$bit", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$bit": {"nested.secret": {"and": 1}}}}]}`, "nested.secret", "$bit not allowed on encrypted values"},
		{"$rename to different metadata", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$rename": {"encrypted_string": "random"}}}]}`, "encrypted_string", "$rename between two encrypted fields must have the same metadata or both be unencrypted"},
		{"array filter on encrypted", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"encrypted_string.$[i].x": 1}}, "arrayFilters": [{"i.x": 1}]}]}`, "encrypted_string.$[i].x", "Array update operations not allowed on encrypted values"},
		{"positional on encrypted", "csfle", `{"update": "coll", "updates": [{"q": {"encrypted_string": "abc"}, "u": {"$set": {"encrypted_string.$": "abc"}}}]}`, "encrypted_string.$", "Cannot encrypt fields below '$' positional update operator"},
		{"array value on deterministic", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"encrypted_string": [1, 2]}}}]}`, "encrypted_string", "Cannot encrypt element of type"},
		{"pipeline update", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": [{"$set": {"x": 1}}]}]}`, "", "Pipelines in update are not supported"},
		// inserts
		{"array on deterministic insert", "csfle", `{"insert": "coll", "documents": [{"encrypted_string": ["1", "2"]}]}`, "encrypted_string", "Cannot encrypt element of type"},
		{"Timestamp(0,0)", "csfle", `{"insert": "coll", "documents": [{"random": {"$timestamp": {"t": 0, "i": 0}}}]}`, "random", "A command that inserts cannot supply Timestamp(0, 0) for an encrypted top-level field"},
		{"null value", "csfle", `{"insert": "coll", "documents": [{"anytype": null}]}`, "anytype", "Cannot encrypt element of type: null"},
		{"insert type differs from bsonType", "csfle", `{"insert": "coll", "documents": [{"nested": {"secret": "x"}}]}`, "nested.secret", "because schema requires that type is one of: [ int ]"},
		{"pointer keyAltName missing", "csfle", `{"insert": "coll", "documents": [{"encrypted_w_altname": "w"}]}`, "encrypted_w_altname", "keyId pointer '/altname' must point to a field that exists"},
		{"pointer keyAltName not a string", "csfle", `{"insert": "coll", "documents": [{"altname": 5, "encrypted_w_altname": "w"}]}`, "encrypted_w_altname", "keyId pointer '/altname' must point to a string"},
		{"$set of a pointer keyId field (spec keyAltName.json)", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"encrypted_w_altname": "w"}}}]}`, "encrypted_w_altname", "A non-static (JSONPointer) keyId is not supported"},
		{"encrypted field below an array", "csfle", `{"insert": "coll", "documents": [{"nested": [{"secret": 1}]}]}`, "nested", "Cannot encrypt fields below an array"},
		// aggregation
		{"$unwind encrypted", "csfle", `{"aggregate": "coll", "pipeline": [{"$unwind": "$encrypted_string"}], "cursor": {}}`, "encrypted_string", "$unwind on an encrypted field"},
		{"$group computing on an encrypted key", "csfle", `{"aggregate": "coll", "pipeline": [{"$group": {"_id": {"$concat": ["$encrypted_string", "x"]}}}], "cursor": {}}`, "encrypted_string", "Aggregation expression $concat on an encrypted field"},
		{"$expr comparing two encrypted fields", "csfle", `{"find": "coll", "filter": {"$expr": {"$eq": ["$encrypted_string", "$encrypted_string_equivalent"]}}}`, "encrypted_string", "Aggregation expression $eq on an encrypted field"},
		{"unknown stage", "csfle", `{"aggregate": "coll", "pipeline": [{"$bucketAutoX": {"groupBy": "$x", "buckets": 2}}], "cursor": {}}`, "", "Aggregation stage $bucketAutoX is not supported"},
		{"unknown update statement field", "csfle", `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"x": 1}}, "extra": 1}]}`, "extra", "Unsupported field of an update statement"},
		{"$addFields overwriting encrypted", "csfle", `{"aggregate": "coll", "pipeline": [{"$addFields": {"encrypted_string": "x"}}], "cursor": {}}`, "encrypted_string", "cannot overwrite an encrypted field"},
		{"$lookup on encrypted localField", "csfle", `{"aggregate": "coll", "pipeline": [{"$lookup": {"from": "other", "localField": "encrypted_string", "foreignField": "x", "as": "m"}}], "cursor": {}}`, "encrypted_string", "$lookup with a localField that is encrypted"},
		// QE
		{"QE comparison on equality field", "qe", `{"find": "coll", "filter": {"eq": {"$gt": "a"}}}`, "eq", "Invalid match expression operator on encrypted field"},
		{"QE query on unindexed", "qe", `{"find": "coll", "filter": {"unindexed": "a"}}`, "unindexed", "Cannot query on an unindexed Queryable Encryption field"},
		{"QE match on text field", "qe", `{"find": "coll", "filter": {"txt": "a"}}`, "txt", "A text search encrypted field can only be queried with"},
		{"QE range double bound on int field", "qe", `{"find": "coll", "filter": {"age": {"$gt": 3.5}}}`, "age", "coercion of the value to field type is not supported"},
		{"QE range date bound on int field", "qe", `{"find": "coll", "filter": {"age": {"$gte": {"$date": "2020-01-01T00:00:00Z"}}}}`, "age", "If the value type is a date, the type of the index must also be date"},
		{"QE range string bound", "qe", `{"find": "coll", "filter": {"age": {"$lt": "x"}}}`, "age", "type string type isn't supported for the range encrypted index"},
		{"QE range long bound out of int range", "qe", `{"find": "coll", "filter": {"age": {"$lt": {"$numberLong": "4294967296"}}}}`, "age", "Can't coerce out of range value"},
		{"QE multi update", "qe", `{"update": "coll", "updates": [{"q": {}, "u": {"$set": {"x": 1}}, "multi": true}]}`, "", "Multi-document updates are not allowed with Queryable Encryption"},
		{"bulkWrite: update next to other ops", "qe", `{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"x": 1}}, {"update": 0, "filter": {}, "updateMods": {"$set": {"x": 2}}}], "nsInfo": [{"ns": "db.coll"}]}`, "", "Only insert is supported in BulkWrite with multiple operations and Queryable Encryption"},
		{"bulkWrite: two deletes, even unencrypted", "none", `{"bulkWrite": 1, "ops": [{"delete": 0, "filter": {}}, {"delete": 0, "filter": {}}], "nsInfo": [{"ns": "db.coll"}]}`, "", "Only insert is supported in BulkWrite"},
		{"QE $in with null on range field", "qe", `{"find": "coll", "filter": {"age": {"$in": [1, null]}}}`, "age", "Illegal equality to null inside $in"},
		{"QE $nin with a regex on range field", "qe", `{"find": "coll", "filter": {"age": {"$nin": [{"$regularExpression": {"pattern": "^1", "options": ""}}]}}}`, "age", "regex inside $nin"},
		{"QE insert type mismatch", "qe", `{"insert": "coll", "documents": [{"eq": 5}]}`, "eq", "because schema requires that type is one of: [ string ]"},
		{"QE __safeContent__", "qe", `{"insert": "coll", "documents": [{"__safeContent__": []}]}`, "__safeContent__", "reserved field"},
		{"QE suffix op on a field without suffix index", "qe", `{"find": "coll", "filter": {"$expr": {"$encStrEndsWith": {"input": "$sub", "suffix": "abc"}}}}`, "sub", "requires a suffix text search index"},
		{"QE text op on non-text field", "qe", `{"find": "coll", "filter": {"$expr": {"$encStrStartsWith": {"input": "$eq", "prefix": "abc"}}}}`, "eq", "requires a Queryable Encryption field with text search queries"},
		{"QE $rename", "qe", `{"update": "coll", "updates": [{"q": {}, "u": {"$rename": {"eq": "unindexed"}}}]}`, "eq", "$rename between two encrypted fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Analyze("db", jsonDoc(t, tc.cmd), schemasFor(t, tc.schema))
			if err == nil {
				t.Fatal("expected a refusal")
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error is not ErrRefused: %v", err)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error is not *Error: %v", err)
			}
			if ae.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", ae.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not contain %q", err, tc.reason)
			}
		})
	}
}
