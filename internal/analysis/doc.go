// Package analysis is query analysis in pure Go: what mongocryptd and the
// crypt_shared library do for automatic encryption.
//
// Given a command, the database it runs on and the encryption schemas of the
// namespaces it touches, [Analyze] returns the command with every value that
// must be encrypted replaced by an encryption placeholder (BinData subtype 6),
// or refuses it with an [*Error] naming the field and the reason. Encrypting
// the placeholders is done elsewhere.
//
// # Placeholders
//
// FLE1 (CSFLE, JSON schema) placeholder, blob subtype 0:
//
//	0x00 || BSON{a: int32 (1 deterministic, 2 random), ki: UUID | ka: keyAltName, v: value}
//
// FLE2 (Queryable Encryption) placeholder, blob subtype 3:
//
//	0x03 || BSON{t: int32 (1 insert, 2 find), a: int32 (1 unindexed, 2 equality, 3 range, 4 text),
//	             ki: UUID, ku: UUID, v: value | range spec | text spec, cm: int64 contention
//	             [, s: int64 sparsity (range)]}
//
// ki and ku are both the field's keyId. Range insert spec: {v, min, max
// [, precision] [, trimFactor]}. Range find spec: {edgesInfo: {lowerBound,
// lbIncluded, upperBound, ubIncluded [, precision], trimFactor, indexMin,
// indexMax}, payloadId, firstOperator [, secondOperator]}; the second
// placeholder of a two-sided range is a stub without edgesInfo. Text spec:
// {v, casef, diacf [, prefix: {ub, lb}] [, suffix: {ub, lb}] [, substr: {mlen, ub, lb}]}.
//
// # Output form
//
// Filters are re-serialized as mongocryptd serializes its parsed match
// expression: {a: 1} becomes {a: {$eq: 1}}, several predicates become
// {$and: [...]}, $ne and $nin become $not of $eq and $in, $in values are sorted
// in BSON order and de-duplicated, an equality on a QE range field becomes
// {$and: [{f: {$gte: P1}}, {f: {$lte: P2}}]}. insert, update and delete put
// their document sequence (documents, updates, deletes) last. Update and
// delete statements are written in the server's field order (q, u, c,
// arrayFilters, hint, multi, upsert, ...; q, limit, hint, collation), update
// statements with multi and upsert spelled out. In $group, _id and the
// arguments of the one-argument accumulators have their literals written
// {$const: v}. $lookup is written from, as, localField, foreignField, let,
// pipeline when QE is in use. create, collMod and createIndexes come back as
// sent, once their validator or partialFilterExpression is found to compare
// no encrypted field. A command needing no encryption is returned as sent
// (mongocryptd's result is ignored by libmongocrypt in that case). For QE the
// result carries encryptionInformation as libmongocrypt builds it (see
// [Result]).
//
// # Failing closed
//
// On a command that touches a namespace with encrypted fields (directly or
// through $lookup, $graphLookup, $unionWith, $facet, $out, $merge, a view's
// viewOn and pipeline, or bulkWrite's nsInfo), every part of the command the
// server could read a value from is analysed or refused before anything is
// sent. Each command field, statement field, index option, pipeline stage,
// accumulator, expression operator and update operator is in one of three
// classes: analysed against the schema, passed because it carries no value of
// a document (the generic fields lsid, txnNumber, concerns, read preference,
// apiVersion, maxTimeMS, comment, and options such as limit or collation), or
// refused. Anything query analysis does not know is refused, naming it; the
// tables are in fields.go, pipeline.go and expr.go.
//
// The schema is tracked through a pipeline: a stage's output has the schema
// its expressions give it (a field path, $$ROOT, $$CURRENT, a variable or
// $getField copies the schema of what it reads; $first and $last in $group
// too). Where the output cannot be followed precisely ($push of encrypted
// data, $mergeObjects or $objectToArray of it, $unionWith of another schema,
// $facet output) every field below is taken as possibly encrypted: comparing
// it with a value is refused. Any other expression operator given data that
// is or may be encrypted is refused: the server would compare or combine a
// ciphertext with the operator's other arguments.
//
// A $jsonSchema in a query, validator or partialFilterExpression may describe
// the structure around encrypted fields but not constrain their values (enum,
// const, pattern, minimum, ...); a create or collMod validator is checked
// against the collection's schema before the command and against itself.
// In a JSON schema, properties and every matching patternProperties pattern
// apply to a field together (additionalProperties to names neither names); a
// field they describe differently is refused.
//
// # Schemas
//
// A JSON schema is checked as mongocryptd checks it: a local schema (the
// schemaMap) may only use the keywords that bear on encryption, a remote one
// (from the server) may also use validation keywords such as required;
// encrypt and encryptMetadata may only appear below a schema restricted to
// type object, outside array and logical keywords; the top-level _id may only
// be encrypted deterministically. The refusals contain mongocryptd's words.
//
// # Sources
//
// The formats and rules come from libmongocrypt (src/mongocrypt-marking.c,
// mc-fle2-encryption-placeholder.c, mongocrypt-ctx-encrypt.c,
// mc-schema-broker.c, mc-fle2-rfds.c), the client-side encryption
// specification and its tests, and libmongocrypt's recorded mongocryptd
// replies (testdata/libmongocrypt).
package analysis
