package mongocrypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/analysis"
)

// The leaking shapes of query analysis, end to end: each command goes through a Connect
// client whose every written byte is recorded (wireRecorder); it must be refused by query
// analysis before anything is sent, or its marker must never be on the wire. (The fuzzer of
// internal/analysis, FuzzLeak, explores the same shapes and more at the analysis level.)

const (
	leakWireMarker = "MARKER-S3CRET-7f3a"
	leakWireInt    = 770077
)

func (r *wireRecorder) resetForLeakTest() {
	r.mu.Lock()
	r.buf.Reset()
	r.mu.Unlock()
}

func (l *commandLog) resetForLeakTest() {
	l.mu.Lock()
	l.cmds = nil
	l.mu.Unlock()
}

// leakWireNeedles are the byte strings that betray the markers: the string, and the
// int32 (also the low half of the int64) encoding of the int marker.
func leakWireNeedles() []string {
	return []string{leakWireMarker, string(binary.LittleEndian.AppendUint32(nil, leakWireInt))}
}

func (r *wireRecorder) leakedMarker() string {
	for _, n := range leakWireNeedles() {
		if r.contains(n) {
			if n == leakWireMarker {
				return n
			}
			return "the int marker 770077"
		}
	}
	return ""
}

// withMarker returns the commands the client sent that hold a marker.
func (l *commandLog) withMarker() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.cmds {
		for _, n := range leakWireNeedles() {
			if bytes.Contains(c, []byte(n)) {
				out = append(out, c.String())
				break
			}
		}
	}
	return out
}

func leakWireEncSchema(keyID bson.Binary) bson.D {
	enc := func(typ, alg string) bson.D {
		return bson.D{{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{keyID}}, {Key: "bsonType", Value: typ}, {Key: "algorithm", Value: alg}}}}
	}
	const det, rnd = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic", "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
	return bson.D{
		{Key: "bsonType", Value: "object"},
		{Key: "properties", Value: bson.D{
			{Key: "ssn", Value: enc("string", det)},
			{Key: "secret", Value: enc("string", rnd)},
			{Key: "n", Value: bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{{Key: "x", Value: enc("int", det)}}}}},
		}},
		{Key: "patternProperties", Value: bson.D{{Key: "^p_", Value: enc("string", det)}}},
	}
}

// leakWirePPSchema: ssn is in properties, unencrypted, and a patternProperties pattern that
// matches it encrypts it.
func leakWirePPSchema(keyID bson.Binary) bson.D {
	return bson.D{
		{Key: "bsonType", Value: "object"},
		{Key: "properties", Value: bson.D{{Key: "ssn", Value: bson.D{{Key: "bsonType", Value: "string"}}}}},
		{Key: "patternProperties", Value: bson.D{{Key: "^ss", Value: bson.D{{Key: "encrypt", Value: bson.D{
			{Key: "keyId", Value: bson.A{keyID}}, {Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}}}},
	}
}

// leakWireShapes are the classes of the leak table, as commands in extended JSON: M is the
// string marker, 770077 the int marker; enc, pp (schemaMap) and plain (no schema) are
// collections of the test's database.
var leakWireShapes = []struct{ name, cmd string }{
	// $$ROOT / $$CURRENT / $let / $getField / $objectToArray reach ssn in $expr.
	{"$expr $$ROOT.ssn", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$ROOT.ssn", "M"]}}}`},
	{"$expr $$CURRENT.ssn", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$CURRENT.ssn", "M"]}}}`},
	{"$expr $$ROOT.n.x int", `{"find": "enc", "filter": {"$expr": {"$eq": ["$$ROOT.n.x", 770077]}}}`},
	{"$let of $$ROOT", `{"find": "enc", "filter": {"$expr": {"$let": {"vars": {"r": "$$ROOT"}, "in": {"$eq": ["$$r.ssn", "M"]}}}}}`},
	{"find let variable", `{"find": "enc", "filter": {"$expr": {"$eq": ["$ssn", "$$v"]}}, "let": {"v": "M"}}`},
	{"$getField", `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": {"field": "ssn", "input": "$$ROOT"}}, "M"]}}}`},
	{"$objectToArray", `{"find": "enc", "filter": {"$expr": {"$in": ["M", {"$map": {"input": {"$objectToArray": "$$ROOT"}, "in": "$$this.v"}}]}}}`},
	// $jsonSchema constraining ssn: query, collMod validator, partialFilterExpression.
	{"$jsonSchema enum in find", `{"find": "enc", "filter": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}`},
	{"collMod validator $jsonSchema", `{"collMod": "enc", "validator": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}`},
	{"collMod validator mixing $jsonSchema and a comparison", `{"collMod": "enc", "validator": {"$jsonSchema": {"bsonType": "object"}, "ssn": "M"}}`},
	{"createIndexes partialFilterExpression", `{"createIndexes": "enc", "indexes": [{"key": {"x": 1}, "name": "x_1", "partialFilterExpression": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}]}`},
	// Sub-pipelines on enc from a plain collection.
	{"$facet > $lookup from enc", `{"aggregate": "plain", "pipeline": [{"$facet": {"f": [{"$lookup": {"from": "enc", "pipeline": [{"$match": {"ssn": "M"}}], "as": "j"}}]}}], "cursor": {}}`},
	{"$unionWith enc", `{"aggregate": "plain", "pipeline": [{"$unionWith": {"coll": "enc", "pipeline": [{"$match": {"ssn": "M"}}]}}], "cursor": {}}`},
	{"$unionWith enc, $gt", `{"aggregate": "plain", "pipeline": [{"$unionWith": {"coll": "enc", "pipeline": [{"$match": {"ssn": {"$gt": "M"}}}]}}], "cursor": {}}`},
	{"$unionWith enc then $match", `{"aggregate": "plain", "pipeline": [{"$unionWith": "enc"}, {"$match": {"ssn": "M"}}], "cursor": {}}`},
	{"$graphLookup from enc", `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "M", "connectFromField": "x", "connectToField": "ssn", "as": "g"}}], "cursor": {}}`},
	{"$graphLookup restrictSearchWithMatch", `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "$x", "connectFromField": "x", "connectToField": "x", "as": "g", "restrictSearchWithMatch": {"ssn": "M"}}}], "cursor": {}}`},
	// Schema through stages.
	{"$group $$ROOT, $replaceRoot, $match", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "f": {"$first": "$$ROOT"}}}, {"$replaceRoot": {"newRoot": "$f"}}, {"$match": {"ssn": "M"}}], "cursor": {}}`},
	{"$group $push $$ROOT, $unwind, $match", `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "a": {"$push": "$$ROOT"}}}, {"$unwind": "$a"}, {"$match": {"a.ssn": "M"}}], "cursor": {}}`},
	// Writes into enc by aggregation.
	{"$merge into enc", `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "M"}}, {"$merge": {"into": "enc"}}], "cursor": {}}`},
	{"$out to enc", `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "M"}}, {"$out": "enc"}], "cursor": {}}`},
	// Command fields.
	{"find projection $eq", `{"find": "enc", "filter": {}, "projection": {"x": {"$eq": ["$ssn", "M"]}}}`},
	{"find min", `{"find": "enc", "filter": {}, "min": {"ssn": "M"}, "hint": {"ssn": 1}}`},
	{"find max", `{"find": "enc", "filter": {}, "max": {"ssn": "M"}, "hint": {"ssn": 1}}`},
	{"findAndModify fields", `{"findAndModify": "enc", "query": {"x": 1}, "update": {"$set": {"x": 2}}, "fields": {"y": {"$eq": ["$ssn", "M"]}}}`},
	{"unknown find field", `{"find": "enc", "filter": {}, "newOption": {"ssn": "M"}}`},
	// patternProperties encrypting a field properties leaves unencrypted.
	{"insert pp", `{"insert": "pp", "documents": [{"_id": 1, "ssn": "M"}]}`},
	// Updates of the wrong shape.
	{"update $set as an array", `{"update": "enc", "updates": [{"q": {"x": 1}, "u": {"$set": [{"ssn": "M"}]}}]}`},
	{"update pipeline", `{"update": "enc", "updates": [{"q": {"x": 1}, "u": [{"$set": {"ssn": "M"}}]}]}`},
	{"update arrayFilters", `{"update": "enc", "updates": [{"q": {"x": 1}, "u": {"$set": {"ssn.$[i]": "a"}}, "arrayFilters": [{"i": "M"}]}]}`},
}

// TestLeakWire runs every class of the leak table through a Connect client: refused by
// query analysis, or the marker is never written to the connection. It starts with an
// accepted equality find, which proves that the recorder sees what is sent (ciphertext, not
// the marker) and that the find matches.
func TestLeakWire(t *testing.T) {
	env := newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
		ae.SetSchemaMap(map[string]any{e.db + ".enc": leakWireEncSchema(e.keyID), e.db + ".pp": leakWirePPSchema(e.keyID)})
	})
	ctx := t.Context()
	db := env.client.Database(env.db)
	if _, err := env.testEnv.client.Database(env.db).Collection("plain").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}

	// The accepted shape: insert and equality find on ssn.
	env.wire.resetForLeakTest()
	enc := db.Collection("enc")
	if _, err := enc.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: leakWireMarker}, {Key: "n", Value: bson.D{{Key: "x", Value: int32(leakWireInt)}}}, {Key: "x", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got bson.M
	if err := enc.FindOne(ctx, bson.D{{Key: "ssn", Value: leakWireMarker}}).Decode(&got); err != nil {
		t.Fatalf("equality find on ssn: %v", err)
	}
	if got["ssn"] != leakWireMarker || got["_id"] != int32(1) {
		t.Fatalf("equality find on ssn returned %v", got)
	}
	find := env.sent.last("find")
	if st, data, ok := find.Lookup("filter", "ssn", "$eq").BinaryOK(); !ok || st != 6 || len(data) == 0 || data[0] != 1 {
		t.Fatalf("the find does not carry a deterministic ciphertext: %s", find)
	}
	if m := env.wire.leakedMarker(); m != "" {
		t.Fatalf("the accepted insert and find wrote %s on the wire: %v", m, env.sent.withMarker())
	}
	stored, err := env.testEnv.client.Database(env.db).Collection("enc").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if st, _, ok := stored.Lookup("ssn").BinaryOK(); !ok || st != 6 {
		t.Fatalf("ssn is not stored encrypted: %s", stored)
	}

	// Control: a marker sent to a collection without a schema is seen by the recorder (the
	// string and the int32 encoding), so the guard below cannot pass by seeing nothing.
	for _, v := range []any{leakWireMarker, int32(leakWireInt)} {
		env.wire.resetForLeakTest()
		if err := db.RunCommand(ctx, bson.D{{Key: "find", Value: "plain"}, {Key: "filter", Value: bson.D{{Key: "x", Value: v}}}}).Err(); err != nil {
			t.Fatal(err)
		}
		if env.wire.leakedMarker() == "" {
			t.Fatalf("the recorder does not see the marker %v sent in the clear", v)
		}
	}

	for _, s := range leakWireShapes {
		t.Run(s.name, func(t *testing.T) {
			var cmd bson.D
			if err := bson.UnmarshalExtJSON([]byte(strings.ReplaceAll(s.cmd, `"M"`, `"`+leakWireMarker+`"`)), false, &cmd); err != nil {
				t.Fatalf("bad JSON: %v", err)
			}
			env.wire.resetForLeakTest()
			env.sent.resetForLeakTest()
			err := db.RunCommand(ctx, cmd).Err()
			var me *Error
			refused := errors.As(err, &me) && me.Code == CodeAnalysis && errors.Is(err, analysis.ErrRefused)
			if m := env.wire.leakedMarker(); m != "" {
				t.Errorf("LEAK: %s was written to the connection (err %v); commands sent with it: %v", m, err, env.sent.withMarker())
			}
			if err != nil && strings.Contains(err.Error(), leakWireMarker) && refused {
				t.Errorf("the refusal text holds the marker: %v", err)
			}
			switch {
			case refused:
				t.Logf("refused by query analysis: %v", err)
			case err != nil:
				t.Logf("not refused by query analysis; the server answered %v (the marker was not on the wire)", err)
			default:
				t.Logf("accepted; the marker was not on the wire")
			}
		})
	}
}
