package analysis

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzAnalyze feeds arbitrary commands and schemas to Analyze: it must never
// panic, a refusal must be an *Error, and an accepted command must come back
// as well-formed BSON.
func FuzzAnalyze(f *testing.F) {
	seeds := 0
	add := func(cmd, schema []byte, qe bool) {
		f.Add(cmd, schema, qe)
		seeds++
	}
	// Seeds: every command and schema of the libmongocrypt vectors...
	cases, _ := loadVectorCasesForFuzz()
	for _, c := range cases {
		for _, s := range c.schemas {
			if s.EncryptedFields != nil {
				add(c.cmd, s.EncryptedFields, true)
			} else {
				add(c.cmd, s.JSONSchema, false)
			}
		}
	}
	// ...and the unit-test commands against both test schemas.
	for _, cmd := range fuzzCommands {
		var d bson.Raw
		if err := bson.UnmarshalExtJSON([]byte(cmd), false, &d); err != nil {
			f.Fatal(err)
		}
		for _, kind := range []string{"csfle", "qe"} {
			src := csfleSchema
			if kind == "qe" {
				src = qeFields
			}
			var s bson.Raw
			if err := bson.UnmarshalExtJSON([]byte(replaceKey(src)), false, &s); err != nil {
				f.Fatal(err)
			}
			add(d, s, kind == "qe")
		}
	}
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, cmd, schema []byte, qe bool) {
		s := Schema{JSONSchema: schema}
		if qe {
			s = Schema{EncryptedFields: schema}
		}
		for _, db := range []string{"db", "admin"} {
			schemas := map[string]Schema{db + ".coll": s, db + ".c1": s, db + ".test": s, db + ".c2": s}
			_, _ = Namespaces(db, cmd)
			res, err := Analyze(db, cmd, schemas)
			if err != nil {
				var ae *Error
				if !errors.As(err, &ae) || !errors.Is(err, ErrRefused) {
					t.Fatalf("refusal is not an *Error: %v", err)
				}
				continue
			}
			if err := validateDoc(res.Command, 0); err != nil {
				t.Fatalf("result is not valid BSON: %v", err)
			}
			if res.EncryptionInformation != nil {
				if err := validateDoc(res.EncryptionInformation, 0); err != nil {
					t.Fatalf("encryptionInformation is not valid BSON: %v", err)
				}
			}
		}
	})
}

func replaceKey(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if i+3 <= len(s) && s[i:i+3] == "KEY" {
			out = append(out, keyJSON...)
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// loadVectorCasesForFuzz reads the vector folders without a *testing.T.
func loadVectorCasesForFuzz() ([]vectorCase, error) {
	t := &testing.T{}
	var cases []vectorCase
	err := filepath.WalkDir(vectorDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	func() {
		defer func() { _ = recover() }()
		cases, _ = loadVectorCases(t)
	}()
	return cases, nil
}

var fuzzCommands = []string{
	`{"find": "coll", "filter": {"encrypted_string": "s0", "x": {"$in": [1, 2]}, "$or": [{"age": {"$gt": 1, "$lt": 5}}]}}`,
	`{"find": "coll", "filter": {"eq": {"$ne": "a"}, "$expr": {"$encStrStartsWith": {"input": "$txt", "prefix": "he"}}}, "sort": {"x": 1}}`,
	`{"insert": "coll", "documents": [{"encrypted_string": "s", "nested": {"secret": 1}, "eq": "e", "age": 3, "txt": "hello"}]}`,
	`{"update": "coll", "updates": [{"q": {"eq": "a"}, "u": {"$set": {"eq": "b", "nested": {"secret": 2}}, "$inc": {"x": 1}}, "upsert": true}]}`,
	`{"delete": "coll", "deletes": [{"q": {"encrypted_string": {"$nin": ["a"]}}, "limit": 0}]}`,
	`{"findAndModify": "coll", "query": {"age": 4}, "update": {"encrypted_string": "r"}}`,
	`{"aggregate": "coll", "pipeline": [{"$match": {"eq": "x"}}, {"$lookup": {"from": "c2", "as": "m", "pipeline": [{"$match": {"age": {"$gte": 2}}}]}}, {"$group": {"_id": "$x"}}], "cursor": {}}`,
	`{"explain": {"count": "coll", "query": {"encrypted_string": "s"}}, "verbosity": "queryPlanner"}`,
	`{"distinct": "coll", "key": "encrypted_string", "query": {}}`,
	`{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"eq": "x"}}, {"update": 0, "filter": {"eq": "y"}, "updateMods": {"$set": {"eq": "z"}}}], "nsInfo": [{"ns": "db.coll"}]}`,
	`{"bulkWrite": 1, "ops": [{"update": 0, "filter": {"eq": "y"}, "updateMods": {"$set": {"eq": "z"}}}], "nsInfo": [{"ns": "db.coll"}]}`,
	`{"aggregate": "coll", "pipeline": [{"$match": {"encrypted_string": "s"}}, {"$group": {"_id": {"a": 1, "b": "$b"}, "n": {"$sum": {"$add": [1, "$c"]}}, "l": {"$push": {"$literal": 2}}}}], "cursor": {}}`,
	`{"create": "coll", "validator": {"encrypted_string": "foo", "x": {"$gt": 1}}}`,
	`{"collMod": "coll", "validator": {"$jsonSchema": {"bsonType": "object", "properties": {"a": {"encrypt": {"bsonType": "string"}}}}}}`,
	`{"createIndexes": "coll", "indexes": [{"name": "n", "key": {"n": 1}, "partialFilterExpression": {"eq": {"$exists": true}}}]}`,
}
