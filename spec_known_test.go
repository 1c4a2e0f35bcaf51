package mongocrypt

// The known failures of the conformance runner: deviations of the library from the
// specification's tests, and the tests each one makes fail. A listed test runs; it counts as
// a known failure only when it fails with one of its recorded deviations, and the run fails
// when it passes (remove it) or fails otherwise.

// specDeviations are the library's known deviations, by short name. match is a text of the
// runner's failure message for that deviation.
var specDeviations = map[string]specDeviation{
	"removekeyaltname-fallback": {
		why: "removeKeyAltName: the embedded server refuses the specification's pipeline update (NotImplemented), " +
			"so the library falls back to single-document updates (findAndModify $unset, findAndModify $pull, update); " +
			"on MongoDB it sends the one findAndModify",
		match:        "[started:findAndModify@keyvault, started:findAndModify@keyvault, started:findAndModify@keyvault",
		embeddedOnly: true,
	},
	"update-defaults": {
		why: "update statements that auto encryption rewrites carry explicit multi: false / upsert: false " +
			"(mongocryptd and crypt_shared write them); the library sends only the fields the driver set",
		match: "missing, want false",
	},
	"aggregate-const": {
		why: "aggregate pipelines that auto encryption rewrites have their constants as {$const: v} " +
			"($group {_id: {$const: 1}, n: {$sum: {$const: 1}}}, as mongocryptd writes them); the library keeps 1",
		match: `want a document {"$const"`,
	},
	"keyaltname-checks": {
		why: "createDataKey and addKeyAltName with keyAltNames: the library reads the key vault before (find) " +
			"and after (aggregate) the write to keep keyAltNames unique; the specification sends only the write " +
			"(uniqueness is a unique index's job)",
		match: "[started:find@keyvault, started:",
	},
	"local-schema-required": {
		why: "a schemaMap schema using 'required' must be refused (\"JSON schema keyword 'required' is only " +
			"allowed with a remote schema\"); the library sends the insert",
		match: "only allowed with a remote schema",
	},
	"no-validator-analysis": {
		why: "create with a validator, collMod with a validator and createIndexes with a partialFilterExpression " +
			"that name encrypted fields must be refused (\"Comparison to encrypted fields not supported\"); the " +
			"library sends them unchanged",
		match: "Comparison to encrypted fields not supported",
	},
	"msg-type": {
		why: "error text for a value of a type deterministic encryption forbids: the specification expects " +
			"\"Cannot encrypt element of type: <type>\", the library says \"Invalid schema: deterministic " +
			"encryption is not supported for bsonType '<type>'\"",
		match: "deterministic encryption is not supported for bsonType",
	},
	"msg-id": {
		why: "error text for an encrypted _id: the specification expects \"Invalid schema containing the " +
			"'encrypt' keyword.\" (with the period), the library says \"...keyword: '_id' cannot be encrypted\"",
		match: "Invalid schema containing the 'encrypt' keyword: '_id'",
	},
	"msg-jsonpointer": {
		why: "error text for $set of a field whose keyId is a JSON pointer: the specification expects " +
			"\"A non-static (JSONPointer) keyId is not supported\", the library says \"Cannot $set a field " +
			"whose keyId is a JSON pointer\"",
		match: "Cannot $set a field whose keyId is a JSON pointer",
	},
}

// specKnownFailures maps suite/file (without .json)/test description to the deviations that
// make the test fail (the first one met ends the test).
var specKnownFailures = map[string][]string{
	"unified/removeKeyAltName/remove an existing keyAltName from an existing data key": {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove keyAltName from non-existent data key":            {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove non-existent keyAltName from existing data key":   {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove the last keyAltName from an existing data key":    {"removekeyaltname-fallback"},
	"legacy/badQueries/an insert with encrypted field on _id errors":                   {"msg-id"},
	"legacy/keyAltName/Replace with key alt name fails":                                {"msg-jsonpointer"},
	"legacy/localSchema/A local schema with no encryption is an error":                 {"local-schema-required"},
	"legacy/types/type=array":                                    {"msg-type"},
	"legacy/types/type=bool":                                     {"msg-type"},
	"legacy/types/type=decimal":                                  {"msg-type"},
	"legacy/types/type=double":                                   {"msg-type"},
	"legacy/types/type=javascriptWithScope":                      {"msg-type"},
	"legacy/types/type=maxKey":                                   {"msg-type"},
	"legacy/types/type=minKey":                                   {"msg-type"},
	"legacy/types/type=null":                                     {"msg-type"},
	"legacy/types/type=object":                                   {"msg-type"},
	"legacy/types/type=undefined":                                {"msg-type"},
	"legacy/updateMany/updateMany with deterministic encryption": {"update-defaults"},
	"legacy/validatorAndPartialFieldExpression/collMod with a validator on an encrypted field is an error":                     {"no-validator-analysis"},
	"legacy/validatorAndPartialFieldExpression/create with a validator on an encrypted field is an error":                      {"no-validator-analysis"},
	"legacy/validatorAndPartialFieldExpression/createIndexes with a partialFilterExpression on an encrypted field is an error": {"no-validator-analysis"},
	"unified/addKeyAltName/add existing keyAltName to existing data key":                                                       {"keyaltname-checks"},
	"unified/addKeyAltName/add keyAltName to non-existent data key":                                                            {"keyaltname-checks"},
	"unified/addKeyAltName/add new keyAltName to data key with no keyAltNames":                                                 {"keyaltname-checks"},
	"unified/badQueries/an insert with encrypted field on _id errors":                                                          {"msg-id"},
	"unified/bulk/Bulk write with encryption":                                                                                  {"update-defaults"},
	"unified/count/Count with deterministic encryption":                                                                        {"aggregate-const"},
	"unified/createDataKey/create datakey with single keyAltName":                                                              {"keyaltname-checks"},
	"unified/getKeys/getKeys with single key documents":                                                                        {"keyaltname-checks"},
	"unified/keyAltName/Replace with key alt name fails":                                                                       {"msg-jsonpointer"},
	"unified/localSchema/A local schema with no encryption is an error":                                                        {"local-schema-required"},
	"unified/replaceOne/replaceOne with encryption":                                                                            {"update-defaults"},
	"unified/types/type=array":                                    {"msg-type"},
	"unified/types/type=bool":                                     {"msg-type"},
	"unified/types/type=decimal":                                  {"msg-type"},
	"unified/types/type=double":                                   {"msg-type"},
	"unified/types/type=javascriptWithScope":                      {"msg-type"},
	"unified/types/type=maxKey":                                   {"msg-type"},
	"unified/types/type=minKey":                                   {"msg-type"},
	"unified/types/type=null":                                     {"msg-type"},
	"unified/types/type=object":                                   {"msg-type"},
	"unified/types/type=undefined":                                {"msg-type"},
	"unified/updateMany/updateMany with deterministic encryption": {"update-defaults"},
	"unified/updateOne/updateOne with deterministic encryption":   {"update-defaults"},
	"unified/validatorAndPartialFieldExpression/collMod with a validator on an encrypted field is an error":                     {"no-validator-analysis"},
	"unified/validatorAndPartialFieldExpression/create with a validator on an encrypted field is an error":                      {"no-validator-analysis"},
	"unified/validatorAndPartialFieldExpression/createIndexes with a partialFilterExpression on an encrypted field is an error": {"no-validator-analysis"},
}
