// Package qerewrite rewrites the documents, filters, pipelines and updates of
// Queryable Encryption commands into the plain commands a store without QE
// runs, as a MongoDB 8.x server does before it executes them.
//
// It is pure: the cryptography (turning an insert payload into a stored value
// and tags, reading the tags a find payload matches) sits behind [Crypto], so
// the rewriting is tested with a fake.
//
// # What is rewritten
//
//   - Inserts ([Schema.InsertDocument]): each FLE2InsertUpdatePayloadV2 (blob
//     subtype 11) becomes the stored value [Crypto.Insert] returns, and its tags
//     are appended to __safeContent__ (EDCServerCollection::finalizeForInsert in
//     src/mongo/crypto/fle_crypto.cpp).
//   - Filters ([Schema.Filter]): {f: {$eq: P}}, {f: P}, {f: {$in: [P...]}},
//     $ne and $nin, {f: {$gt|$gte|$lt|$lte: P}} for range, and inside $expr
//     $eq, $ne, $in, $gt.., $encStrStartsWith, $encStrEndsWith, $encStrContains
//     and $encStrNormalizedEq become {__safeContent__: {$in: [tags]}}
//     (src/mongo/db/query/fle/query_rewriter.cpp, equality_predicate.cpp,
//     range_predicate.cpp, text_search_predicate.cpp). The second, stub,
//     payload of a two-sided range matches everything and disappears, so the
//     pair becomes one tag match. Range payloads are validated first as
//     range_validator.cpp does.
//   - Pipelines ([Schema.Pipeline]): $match, $geoNear's query and
//     $graphLookup's restrictSearchWithMatch and startWith
//     (src/mongo/db/query/fle/server_rewrite.cpp).
//   - Updates ([Schema.Update]): payloads in $set (and $setOnInsert) become
//     stored values and a $push of their tags with $each is added; a
//     replacement is treated as an insert; pipeline updates are refused
//     (processUpdate in src/mongo/db/fle_crud.cpp). [Schema.RemovedTags] gives
//     the tags of the $pull the server runs after the update.
//
// # Where this differs from the server
//
// The server rewrites an encrypted predicate inside $expr into a match
// expression only for text search and leaves equality and range in the
// aggregation form {$or: [{$in: [tag, "$__safeContent__"]}, ...]}. This
// package lifts every encrypted predicate of a $expr (through $and, $or and
// $not) into the match form, which selects the same documents and which a
// store with little $expr support runs; a predicate it cannot lift (under
// $cond, say) keeps the aggregation form. A find payload left anywhere after
// the rewriting (a payload where the server would compare the blob as a
// constant and match nothing) is an error here.
//
// # Errors
//
// Every error returned is an [*Error] with the server's code and message
// where the server has one. No message holds a value of a document or of a
// payload; they name paths, operators and types only.
package qerewrite
