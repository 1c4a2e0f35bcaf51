package analysis

import (
	"errors"
	"strings"
	"testing"
)

// analyzeErr runs Analyze and returns its refusal, failing the test when
// there is none or when it is not an *Error.
func analyzeErr(t *testing.T, cmd string, schemas map[string]Schema) string {
	t.Helper()
	_, err := Analyze("db", jsonDoc(t, cmd), schemas)
	if err == nil {
		t.Fatalf("%s: expected a refusal", cmd)
	}
	var ae *Error
	if !errors.Is(err, ErrRefused) || !errors.As(err, &ae) {
		t.Fatalf("%s: refusal is not an *Error: %v", cmd, err)
	}
	return err.Error()
}

func csfle(t *testing.T, schema string, remote bool) map[string]Schema {
	return map[string]Schema{"db.coll": {JSONSchema: jsonDoc(t, schema), Remote: remote}}
}

const insertX = `{"insert": "coll", "documents": [{"_id": 1, "x": 1}]}`

// TestSchemaKeywordsLocalAndRemote: a schemaMap schema may only use the
// keywords that bear on encryption; a schema read from the server may also use
// validation keywords; other keywords are refused either way. The check
// reaches every subschema.
func TestSchemaKeywordsLocalAndRemote(t *testing.T) {
	const remoteOnly = "is only allowed with a remote schema"
	const unsupported = "is not supported for client-side encryption"
	cases := []struct {
		name, schema        string
		localErr, remoteErr string // "" = accepted
	}{
		// spec localSchema.json "A local schema with no encryption is an error"
		{"required at the top", `{"properties": {"test": {"bsonType": "string"}}, "bsonType": "object", "required": ["test"]}`,
			"JSON schema keyword 'required' " + remoteOnly, ""},
		{"minimum in a property", `{"bsonType": "object", "properties": {"n": {"bsonType": "int", "minimum": 3}}}`, "'minimum' " + remoteOnly, ""},
		{"pattern in patternProperties", `{"bsonType": "object", "patternProperties": {"^s": {"bsonType": "string", "pattern": "^a"}}}`, "'pattern' " + remoteOnly, ""},
		{"maxItems in items", `{"bsonType": "object", "properties": {"a": {"bsonType": "array", "items": {"bsonType": "array", "maxItems": 2}}}}`, "'maxItems' " + remoteOnly, ""},
		{"enum inside anyOf", `{"bsonType": "object", "anyOf": [{"properties": {"a": {"enum": [1, 2]}}}]}`, "'enum' " + remoteOnly, ""},
		{"uniqueItems in additionalProperties", `{"bsonType": "object", "additionalProperties": {"uniqueItems": true}}`, "'uniqueItems' " + remoteOnly, ""},
		{"next to an encrypted field", `{"bsonType": "object", "required": ["a"], "properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}`,
			"'required' " + remoteOnly, ""},
		{"dependencies", `{"bsonType": "object", "dependencies": {"a": ["b"]}}`, "'dependencies' " + unsupported, "'dependencies' " + unsupported},
		{"format", `{"bsonType": "object", "properties": {"a": {"format": "email"}}}`, "'format' " + unsupported, "'format' " + unsupported},
		{"only encryption keywords", `{"bsonType": "object", "title": "t", "description": "d", "properties": {"a": {"type": "object", "additionalProperties": false}}, "not": {"properties": {"b": {"bsonType": "int"}}}}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, remote := range []bool{false, true} {
				want := tc.localErr
				if remote {
					want = tc.remoteErr
				}
				if want == "" {
					if _, err := Analyze("db", jsonDoc(t, insertX), csfle(t, tc.schema, remote)); err != nil {
						t.Errorf("remote=%v: want acceptance, got %v", remote, err)
					}
					continue
				}
				if got := analyzeErr(t, insertX, csfle(t, tc.schema, remote)); !strings.Contains(got, want) {
					t.Errorf("remote=%v: %q does not contain %q", remote, got, want)
				}
			}
		})
	}
}

// TestDeterministicTypes follows the spec's types.json: a deterministic
// field's bsonType must be one that deterministic encryption supports, and no
// field may be of a type that carries nothing but its type.
func TestDeterministicTypes(t *testing.T) {
	schema := func(typ, alg string) map[string]Schema {
		return csfle(t, `{"bsonType": "object", "properties": {"f": {"encrypt": {"keyId": [KEY], "bsonType": "`+typ+`", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-`+alg+`"}}}}`, false)
	}
	// The texts the specification's tests look for (errorContains).
	refused := map[string]string{
		"double": "element of type: double", "decimal": "element of type: decimal",
		"javascriptWithScope": "element of type: javascriptWithScope", "object": "element of type: object",
		"array": "element of type: array", "bool": "element of type: bool",
		"minKey": "Cannot encrypt element of type: minKey", "maxKey": "Cannot encrypt element of type: maxKey",
		"undefined": "Cannot encrypt element of type: undefined", "null": "Cannot encrypt element of type: null",
	}
	for typ, want := range refused {
		// types.json inserts a value of the declared type, except for null (it inserts true).
		got := analyzeErr(t, `{"insert": "coll", "documents": [{"_id": 1, "f": true}]}`, schema(typ, "Deterministic"))
		if !strings.Contains(got, want) {
			t.Errorf("deterministic %s: %q does not contain %q", typ, got, want)
		}
	}
	for _, typ := range []string{"minKey", "maxKey", "undefined", "null"} {
		got := analyzeErr(t, insertX, schema(typ, "Random"))
		if want := "Cannot encrypt element of type: " + typ; !strings.Contains(got, want) {
			t.Errorf("random %s: %q does not contain %q", typ, got, want)
		}
	}
	for _, typ := range []string{"double", "decimal", "object", "array", "bool", "javascriptWithScope"} {
		if _, err := Analyze("db", jsonDoc(t, insertX), schema(typ, "Random")); err != nil {
			t.Errorf("random %s must be accepted: %v", typ, err)
		}
	}
	got := analyzeErr(t, insertX, schema("number", "Deterministic"))
	if want := "A deterministically encrypted field must have exactly one specified type."; !strings.Contains(got, want) {
		t.Errorf("deterministic number: %q does not contain %q", got, want)
	}
	// Accepted types of types.json: the value gets a deterministic placeholder.
	for typ, val := range map[string]string{
		"objectId": `{"$oid": "01234567890abcdef0123456"}`, "symbol": `{"$symbol": "s"}`, "int": `1`,
		"binData": `{"$binary": {"base64": "AAE=", "subType": "00"}}`, "javascript": `{"$code": "x=1"}`,
		"timestamp": `{"$timestamp": {"t": 1, "i": 2}}`, "regex": `{"$regularExpression": {"pattern": "a", "options": ""}}`,
		"date": `{"$date": "2020-01-01T00:00:00Z"}`,
	} {
		res, err := Analyze("db", jsonDoc(t, `{"insert": "coll", "documents": [{"_id": 1, "f": `+val+`}]}`), schema(typ, "Deterministic"))
		if err != nil || !res.HasPlaceholders {
			t.Errorf("deterministic %s: %+v, %v", typ, res, err)
		}
	}
	// A value of a type deterministic encryption refuses, against a field of
	// no declared type (random) and one of a declared type (deterministic).
	if got := analyzeErr(t, `{"insert": "coll", "documents": [{"_id": 1, "f": [1]}]}`, schema("string", "Deterministic")); !strings.Contains(got, "Cannot encrypt element of type: array") {
		t.Errorf("array value: %q", got)
	}
}

// TestEncryptKeywordPlacement: encrypt and encryptMetadata are only allowed
// below a schema restricted to type object, never inside array or logical
// keywords, without sibling keywords, and the top-level _id may only be
// encrypted deterministically.
func TestEncryptKeywordPlacement(t *testing.T) {
	const det = `{"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}`
	const rnd = `{"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}`
	cases := []struct{ name, schema, want string }{
		{"no bsonType at the top", `{"properties": {"a": ` + det + `}}`, errEncryptKeyword},
		{"type array at the top", `{"type": ["object", "array"], "properties": {"a": ` + det + `}}`, errEncryptKeyword},
		{"nested parent without type", `{"bsonType": "object", "properties": {"p": {"properties": {"a": ` + det + `}}}}`, errEncryptKeyword},
		{"inside items", `{"bsonType": "object", "properties": {"p": {"bsonType": "array", "items": {"bsonType": "object", "properties": {"a": ` + det + `}}}}}`, errEncryptKeyword},
		{"inside oneOf", `{"bsonType": "object", "oneOf": [{"bsonType": "object", "properties": {"a": ` + det + `}}]}`, errEncryptKeyword},
		{"dotted property name", `{"bsonType": "object", "properties": {"a.b": ` + det + `}}`, errEncryptKeyword},
		{"encryptMetadata without object type", `{"properties": {"p": {"encryptMetadata": {"algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}`, errEncryptMetadataKeyword},
		{"description next to encrypt", `{"bsonType": "object", "properties": {"a": {"description": "d", "encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}}}}`, "sibling keywords are not allowed"},
		// spec badSchema.json: the server's parser refuses this before the type restriction is looked at.
		{"bsonType next to encrypt", `{"properties": {"a": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}, "bsonType": "object"}}}`, "'encrypt' cannot be used in conjunction with 'bsonType'"},
		{"random _id", `{"bsonType": "object", "properties": {"_id": ` + rnd + `}}`, "AEAD_AES_256_CBC_HMAC_SHA_512-Random encryption algorithm not allowed"},
		{"random additionalProperties may hold _id", `{"bsonType": "object", "additionalProperties": ` + rnd + `}`, "AEAD_AES_256_CBC_HMAC_SHA_512-Random encryption algorithm not allowed"},
		{"random pattern matching _id", `{"bsonType": "object", "patternProperties": {"^_": ` + rnd + `}}`, "AEAD_AES_256_CBC_HMAC_SHA_512-Random encryption algorithm not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := analyzeErr(t, insertX, csfle(t, tc.schema, false)); !strings.Contains(got, tc.want) {
				t.Errorf("%q does not contain %q", got, tc.want)
			}
		})
	}
	// Accepted: random below an object, random nested _id, random
	// additionalProperties when _id is in properties.
	for _, s := range []string{
		`{"bsonType": "object", "properties": {"p": {"bsonType": "object", "properties": {"_id": ` + rnd + `}}}}`,
		`{"bsonType": "object", "properties": {"_id": {"bsonType": "int"}}, "additionalProperties": ` + rnd + `}`,
		`{"type": "object", "properties": {"a": ` + rnd + `}}`,
	} {
		if _, err := Analyze("db", jsonDoc(t, `{"insert": "coll", "documents": [{"_id": 1, "x": "s"}]}`), csfle(t, s, false)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

// TestDeterministicID: a deterministic _id is encrypted; a write that would
// let the server generate it is refused.
func TestDeterministicID(t *testing.T) {
	schemas := csfle(t, `{"bsonType": "object", "properties": {"_id": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`, false)
	res, err := Analyze("db", jsonDoc(t, `{"insert": "coll", "documents": [{"_id": "a", "x": 1}]}`), schemas)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"insert": "coll", "documents": [{"_id": {"$ph0": {"a": 1, "ki": KEY, "v": "a"}}, "x": 1}]}`
	if got := extJSON(decodeView(res.Command, false)); got != extJSON(jsonDoc(t, want)) {
		t.Fatalf("got %s", got)
	}
	const missing = "_id must be explicitly provided when configured as encrypted"
	for _, cmd := range []string{
		`{"insert": "coll", "documents": [{"x": 1}]}`,
		`{"update": "coll", "updates": [{"q": {"x": 1}, "u": {"$set": {"x": 2}}, "upsert": true}]}`,
		`{"update": "coll", "updates": [{"q": {"x": 1}, "u": {"x": 2}, "upsert": true}]}`,
		`{"findAndModify": "coll", "query": {"x": 1}, "update": {"x": 2}, "upsert": true}`,
	} {
		if got := analyzeErr(t, cmd, schemas); !strings.Contains(got, missing) {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	// Without upsert, nothing is generated.
	if _, err := Analyze("db", jsonDoc(t, `{"update": "coll", "updates": [{"q": {"x": 1}, "u": {"x": 2}}]}`), schemas); err != nil {
		t.Fatal(err)
	}
}

// TestStoredFilters follows the spec's validatorAndPartialFieldExpression.json:
// a collection validator or a partialFilterExpression may not compare an
// encrypted field; otherwise the command comes back as sent.
func TestStoredFilters(t *testing.T) {
	const notSupported = "Comparison to encrypted fields not supported"
	for _, kind := range []string{"csfle", "qe"} {
		field := "encrypted_string"
		if kind == "qe" {
			field = "eq"
		}
		refused := []struct{ cmd, want string }{
			{`{"create": "coll", "validator": {"` + field + `": "foo"}}`, notSupported + " in collection validator."},
			{`{"collMod": "coll", "validator": {"` + field + `": "foo"}}`, notSupported + " in collection validator."},
			{`{"collMod": "coll", "validator": {"$or": [{"x": 1}, {"` + field + `": {"$in": ["a"]}}]}}`, notSupported},
			{`{"createIndexes": "coll", "indexes": [{"name": "a", "key": {"a": 1}}, {"name": "name", "key": {"name": 1}, "partialFilterExpression": {"` + field + `": "foo"}}]}`, notSupported + " in a partialFilterExpression."},
			{`{"create": "coll", "validator": {"` + field + `": {"$gt": "a"}}}`, errInvalidOperator},
		}
		for _, c := range refused {
			if got := analyzeErr(t, c.cmd, schemasFor(t, kind)); !strings.Contains(got, c.want) {
				t.Errorf("%s %s: %q does not contain %q", kind, c.cmd, got, c.want)
			}
		}
		for _, cmd := range []string{
			`{"create": "coll", "validator": {"unencrypted_string": "foo"}}`,
			`{"create": "coll", "validator": {"` + field + `": {"$exists": true}}}`,
			`{"collMod": "coll", "validator": {"unencrypted_string": "foo"}}`,
			`{"createIndexes": "coll", "indexes": [{"name": "name", "key": {"name": 1}, "partialFilterExpression": {"unencrypted_string": "foo"}}]}`,
		} {
			res, err := Analyze("db", jsonDoc(t, cmd[:len(cmd)-1]+`, "$db": "db"}`), schemasFor(t, kind))
			if err != nil {
				t.Errorf("%s %s: %v", kind, cmd, err)
				continue
			}
			if res.HasPlaceholders || extJSON(res.Command) != extJSON(jsonDoc(t, cmd)) {
				t.Errorf("%s %s: want the command as sent, got %s (placeholders %v)", kind, cmd, extJSON(res.Command), res.HasPlaceholders)
			}
		}
	}
	// A view cannot be created through auto encryption.
	if got := analyzeErr(t, `{"create": "v", "viewOn": "coll", "pipeline": []}`, nil); !strings.Contains(got, "Creating a view is not supported with automatic encryption") {
		t.Errorf("view: %q", got)
	}
	// A validator that is the collection's JSON schema is that schema
	// (libmongocrypt sends it as the remote schema), and query analysis reads it
	// as a local schema too: validation keywords are refused.
	const js = `{"bsonType": "object", "properties": {"s": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`
	res, err := Analyze("db", jsonDoc(t, `{"create": "coll", "validator": {"$jsonSchema": `+js+`}}`), nil)
	if err != nil || !res.SchemaRequiresEncryption || res.HasPlaceholders {
		t.Fatalf("create with the collection's schema: %+v, %v", res, err)
	}
	got := analyzeErr(t, `{"collMod": "coll", "validator": {"$jsonSchema": {"bsonType": "object", "required": ["a"]}}}`, schemasFor(t, "csfle"))
	if !strings.Contains(got, "JSON schema keyword 'required' is only allowed with a remote schema") {
		t.Errorf("$jsonSchema validator with required: %q", got)
	}
}

// TestBulkWriteSingleUpdateOrDelete: an update or a delete alone in a QE
// bulkWrite is analyzed.
func TestBulkWriteSingleUpdateOrDelete(t *testing.T) {
	schemas := map[string]Schema{"db.coll": {EncryptedFields: jsonDoc(t, qeFields)}}
	for cmd, want := range map[string]string{
		`{"bulkWrite": 1, "ops": [{"update": 0, "filter": {"eq": "y"}, "updateMods": {"$set": {"unindexed": "z"}}}], "nsInfo": [{"ns": "db.coll"}]}`: `{"bulkWrite": 1, "ops": [{"update": 0, "filter": {"eq": {"$eq": {"$ph3": {"t": 2, "a": 2, "ki": KEY, "ku": KEY, "v": "y", "cm": {"$numberLong": "0"}}}}}, "updateMods": {"$set": {"unindexed": {"$ph3": {"t": 1, "a": 1, "ki": KEY, "ku": KEY, "v": "z", "cm": {"$numberLong": "0"}}}}}}]}`,
		`{"bulkWrite": 1, "ops": [{"delete": 0, "filter": {"eq": "w"}}], "nsInfo": [{"ns": "db.coll"}]}`:                                             `{"bulkWrite": 1, "ops": [{"delete": 0, "filter": {"eq": {"$eq": {"$ph3": {"t": 2, "a": 2, "ki": KEY, "ku": KEY, "v": "w", "cm": {"$numberLong": "0"}}}}}}]}`,
	} {
		res, err := Analyze("db", jsonDoc(t, cmd), schemas)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if got := extJSON(decodeView(copyWithout(res.Command, "nsInfo"), false)); got != extJSON(jsonDoc(t, want)) {
			t.Errorf("got  %s\nwant %s", got, extJSON(jsonDoc(t, want)))
		}
	}
}
