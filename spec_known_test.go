package mongocrypt

// The known failures of the conformance runner: deviations of the library from the
// specification's tests, and the tests each one makes fail. A listed test runs; it counts as
// a known failure only when it fails with one of its recorded deviations, and the run fails
// when it passes (remove it) or fails otherwise.

// specDeviations are the library's known deviations, by short name. match is a text of the
// runner's failure message for that deviation.
var specDeviations = map[string]specDeviation{
	"keyvault-filter": {
		why: "key vault query: libmongocrypt always sends {$or: [{_id: {$in: [ids]}}, {keyAltNames: {$in: [names]}}]} " +
			"with both clauses, empty arrays included; the library leaves out the empty one (engine.keys)",
		match: ".filter.$or: got 1 elements",
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
	"removekeyaltname-commands": {
		why: "removeKeyAltName: the specification sends one findAndModify with a pipeline update " +
			"($cond on the size of keyAltNames); the library sends findAndModify, findAndModify and update",
		match: "[started:findAndModify@keyvault, started:findAndModify@keyvault",
	},
	"collinfo-cache": {
		why: "the collection-info (schema) cache expires with keyExpirationMS (1 ms in keyCache): a second " +
			"listCollections is sent; libmongocrypt's collection-info cache does not depend on keyExpirationMS",
		match: "started:insert@default, started:listCollections@default",
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
	"msg-missing-key": {
		why: "error text for a data key absent from the key vault: the specification expects \"not all keys " +
			"requested were satisfied\", the library says \"data key not found in the key vault\"",
		match: "data key not found in the key vault",
	},
	"msg-malformed-empty": {
		why: "decrypting a 1-byte ciphertext: the specification expects \"malformed ciphertext\", the library " +
			"says \"FLE1 ciphertext too short\"",
		match: "FLE1 ciphertext too short: 1 bytes",
	},
	"malformed-key-lookup": {
		why: "decrypting a 19-byte ciphertext whose key id names no key: libmongocrypt reads the key id, asks " +
			"the key vault and fails with \"not all keys requested were satisfied\"; the library refuses the " +
			"length first (\"FLE1 ciphertext too short\") without a key vault query",
		match: "FLE1 ciphertext too short: 19 bytes",
	},
}

// specKnownFailures maps suite/file (without .json)/test description to the deviations that
// make the test fail (the first one met ends the test).
var specKnownFailures = map[string][]string{
	"legacy/awsTemporary/Insert a document with auto encryption using the AWS provider with temporary credentials": {"keyvault-filter"},
	"legacy/badQueries/an insert with encrypted field on _id errors":                                               {"msg-id"},
	"legacy/basic/Insert with deterministic encryption, then find it":                                              {"keyvault-filter"},
	"legacy/basic/Insert with randomized encryption, then find it":                                                 {"keyvault-filter"},
	"legacy/bulk/Bulk write with encryption":                                                                       {"keyvault-filter"},
	"legacy/bypassAutoEncryption/Insert with bypassAutoEncryption":                                                 {"keyvault-filter"},
	"legacy/bypassAutoEncryption/Insert with bypassAutoEncryption for local schema":                                {"keyvault-filter"},
	"legacy/count/Count with deterministic encryption":                                                             {"keyvault-filter"},
	"legacy/delete/deleteMany with deterministic encryption":                                                       {"keyvault-filter"},
	"legacy/delete/deleteOne with deterministic encryption":                                                        {"keyvault-filter"},
	"legacy/distinct/distinct with deterministic encryption":                                                       {"keyvault-filter"},
	"legacy/explain/Explain a find with deterministic encryption":                                                  {"keyvault-filter"},
	"legacy/find/Find with $in with deterministic encryption":                                                      {"keyvault-filter"},
	"legacy/find/Find with deterministic encryption":                                                               {"keyvault-filter"},
	"legacy/findOneAndDelete/findOneAndDelete with deterministic encryption":                                       {"keyvault-filter"},
	"legacy/findOneAndReplace/findOneAndReplace with deterministic encryption":                                     {"keyvault-filter"},
	"legacy/findOneAndUpdate/findOneAndUpdate with deterministic encryption":                                       {"keyvault-filter"},
	"legacy/getMore/getMore with encryption":                                                                       {"keyvault-filter"},
	"legacy/insert/insertMany with encryption":                                                                     {"keyvault-filter"},
	"legacy/insert/insertOne with encryption":                                                                      {"keyvault-filter"},
	"legacy/keyAltName/Insert with encryption using key alt name":                                                  {"keyvault-filter"},
	"legacy/keyAltName/Replace with key alt name fails":                                                            {"msg-jsonpointer"},
	"legacy/keyCache/Insert with deterministic encryption, then find it":                                           {"collinfo-cache"},
	"legacy/localKMS/Insert a document with auto encryption using local KMS provider":                              {"keyvault-filter"},
	"legacy/localSchema/A local schema should override":                                                            {"keyvault-filter"},
	"legacy/localSchema/A local schema with no encryption is an error":                                             {"local-schema-required"},
	"legacy/malformedCiphertext/Empty data":                                                                        {"msg-malformed-empty"},
	"legacy/malformedCiphertext/Malformed data":                                                                    {"malformed-key-lookup"},
	"legacy/missingKey/Insert with encryption on a missing key":                                                    {"msg-missing-key"},
	"legacy/namedKMS/Automatically encrypt and decrypt with a named KMS provider":                                  {"keyvault-filter"},
	"legacy/replaceOne/replaceOne with encryption":                                                                 {"keyvault-filter"},
	"legacy/types/type=array":                                                                                      {"msg-type"},
	"legacy/types/type=binData":                                                                                    {"keyvault-filter"},
	"legacy/types/type=bool":                                                                                       {"msg-type"},
	"legacy/types/type=date":                                                                                       {"keyvault-filter"},
	"legacy/types/type=decimal":                                                                                    {"msg-type"},
	"legacy/types/type=double":                                                                                     {"msg-type"},
	"legacy/types/type=int":                                                                                        {"keyvault-filter"},
	"legacy/types/type=javascript":                                                                                 {"keyvault-filter"},
	"legacy/types/type=javascriptWithScope":                                                                        {"msg-type"},
	"legacy/types/type=maxKey":                                                                                     {"msg-type"},
	"legacy/types/type=minKey":                                                                                     {"msg-type"},
	"legacy/types/type=null":                                                                                       {"msg-type"},
	"legacy/types/type=object":                                                                                     {"msg-type"},
	"legacy/types/type=objectId":                                                                                   {"keyvault-filter"},
	"legacy/types/type=regex":                                                                                      {"keyvault-filter"},
	"legacy/types/type=symbol":                                                                                     {"keyvault-filter"},
	"legacy/types/type=timestamp":                                                                                  {"keyvault-filter"},
	"legacy/types/type=undefined":                                                                                  {"msg-type"},
	"legacy/updateMany/updateMany with deterministic encryption":                                                   {"keyvault-filter", "update-defaults"},
	"legacy/updateOne/updateOne with deterministic encryption":                                                     {"keyvault-filter"},
	"legacy/validatorAndPartialFieldExpression/collMod with a validator on an encrypted field is an error":         {"no-validator-analysis"},
	"legacy/validatorAndPartialFieldExpression/create with a validator on an encrypted field is an error":          {"no-validator-analysis"},
	"legacy/validatorAndPartialFieldExpression/createIndexes with a partialFilterExpression on an encrypted field is an error":  {"no-validator-analysis"},
	"unified/addKeyAltName/add existing keyAltName to existing data key":                                                        {"keyaltname-checks"},
	"unified/addKeyAltName/add keyAltName to non-existent data key":                                                             {"keyaltname-checks"},
	"unified/addKeyAltName/add new keyAltName to data key with no keyAltNames":                                                  {"keyaltname-checks"},
	"unified/awsTemporary/Insert a document with auto encryption using the AWS provider with temporary credentials":             {"keyvault-filter"},
	"unified/badQueries/an insert with encrypted field on _id errors":                                                           {"msg-id"},
	"unified/basic/Insert with deterministic encryption, then find it":                                                          {"keyvault-filter"},
	"unified/basic/Insert with randomized encryption, then find it":                                                             {"keyvault-filter"},
	"unified/bulk/Bulk write with encryption":                                                                                   {"keyvault-filter", "update-defaults"},
	"unified/bypassAutoEncryption/Insert with bypassAutoEncryption":                                                             {"keyvault-filter"},
	"unified/bypassAutoEncryption/Insert with bypassAutoEncryption for local schema":                                            {"keyvault-filter"},
	"unified/count/Count with deterministic encryption":                                                                         {"keyvault-filter", "aggregate-const"},
	"unified/createDataKey/create datakey with single keyAltName":                                                               {"keyaltname-checks"},
	"unified/delete/deleteMany with deterministic encryption":                                                                   {"keyvault-filter"},
	"unified/delete/deleteOne with deterministic encryption":                                                                    {"keyvault-filter"},
	"unified/distinct/distinct with deterministic encryption":                                                                   {"keyvault-filter"},
	"unified/explain/Explain a find with deterministic encryption":                                                              {"keyvault-filter"},
	"unified/find/Find with $in with deterministic encryption":                                                                  {"keyvault-filter"},
	"unified/find/Find with deterministic encryption":                                                                           {"keyvault-filter"},
	"unified/findOneAndDelete/findOneAndDelete with deterministic encryption":                                                   {"keyvault-filter"},
	"unified/findOneAndReplace/findOneAndReplace with deterministic encryption":                                                 {"keyvault-filter"},
	"unified/findOneAndUpdate/findOneAndUpdate with deterministic encryption":                                                   {"keyvault-filter"},
	"unified/getKeys/getKeys with single key documents":                                                                         {"keyaltname-checks"},
	"unified/getMore/getMore with encryption":                                                                                   {"keyvault-filter"},
	"unified/insert/insertMany with encryption":                                                                                 {"keyvault-filter"},
	"unified/insert/insertOne with encryption":                                                                                  {"keyvault-filter"},
	"unified/keyAltName/Insert with encryption using key alt name":                                                              {"keyvault-filter"},
	"unified/keyAltName/Replace with key alt name fails":                                                                        {"msg-jsonpointer"},
	"unified/keyCache/decrypt, wait, and decrypt again":                                                                         {"keyvault-filter"},
	"unified/localKMS/Insert a document with auto encryption using local KMS provider":                                          {"keyvault-filter"},
	"unified/localSchema/A local schema should override":                                                                        {"keyvault-filter"},
	"unified/localSchema/A local schema with no encryption is an error":                                                         {"local-schema-required"},
	"unified/malformedCiphertext/Empty data":                                                                                    {"msg-malformed-empty"},
	"unified/malformedCiphertext/Malformed data":                                                                                {"malformed-key-lookup"},
	"unified/missingKey/Insert with encryption on a missing key":                                                                {"msg-missing-key"},
	"unified/namedKMS/Automatically encrypt and decrypt with a named KMS provider":                                              {"keyvault-filter"},
	"unified/removeKeyAltName/remove an existing keyAltName from an existing data key":                                          {"removekeyaltname-commands"},
	"unified/removeKeyAltName/remove keyAltName from non-existent data key":                                                     {"removekeyaltname-commands"},
	"unified/removeKeyAltName/remove non-existent keyAltName from existing data key":                                            {"removekeyaltname-commands"},
	"unified/removeKeyAltName/remove the last keyAltName from an existing data key":                                             {"removekeyaltname-commands"},
	"unified/replaceOne/replaceOne with encryption":                                                                             {"keyvault-filter", "update-defaults"},
	"unified/types/type=array":                                                                                                  {"msg-type"},
	"unified/types/type=binData":                                                                                                {"keyvault-filter"},
	"unified/types/type=bool":                                                                                                   {"msg-type"},
	"unified/types/type=date":                                                                                                   {"keyvault-filter"},
	"unified/types/type=decimal":                                                                                                {"msg-type"},
	"unified/types/type=double":                                                                                                 {"msg-type"},
	"unified/types/type=int":                                                                                                    {"keyvault-filter"},
	"unified/types/type=javascript":                                                                                             {"keyvault-filter"},
	"unified/types/type=javascriptWithScope":                                                                                    {"msg-type"},
	"unified/types/type=maxKey":                                                                                                 {"msg-type"},
	"unified/types/type=minKey":                                                                                                 {"msg-type"},
	"unified/types/type=null":                                                                                                   {"msg-type"},
	"unified/types/type=object":                                                                                                 {"msg-type"},
	"unified/types/type=objectId":                                                                                               {"keyvault-filter"},
	"unified/types/type=regex":                                                                                                  {"keyvault-filter"},
	"unified/types/type=symbol":                                                                                                 {"keyvault-filter"},
	"unified/types/type=timestamp":                                                                                              {"keyvault-filter"},
	"unified/types/type=undefined":                                                                                              {"msg-type"},
	"unified/updateMany/updateMany with deterministic encryption":                                                               {"keyvault-filter", "update-defaults"},
	"unified/updateOne/updateOne with deterministic encryption":                                                                 {"keyvault-filter", "update-defaults"},
	"unified/validatorAndPartialFieldExpression/collMod with a validator on an encrypted field is an error":                     {"no-validator-analysis"},
	"unified/validatorAndPartialFieldExpression/create with a validator on an encrypted field is an error":                      {"no-validator-analysis"},
	"unified/validatorAndPartialFieldExpression/createIndexes with a partialFilterExpression on an encrypted field is an error": {"no-validator-analysis"},
}
