// Package text is the string side of Queryable Encryption text search
// (query types prefix, suffix, substring and their deprecated Preview forms),
// byte for byte as libmongocrypt 1.20.
//
// # Folding
//
// [Fold] applies case folding and diacritic folding with MongoDB's own
// tables (generated into fold_tables.go by internal/genfold from the
// code point mappings libmongocrypt ships, kept as number pairs in
// internal/genfold/testdata; they follow the Unicode version the MongoDB
// server pinned, not Go's).
//
// # StrEncode and StrQuery
//
// An insert of a text search indexed string carries, besides the encrypted
// value, one token set for the exact (folded) string and one per prefix,
// suffix and substring of it, padded so that the number of token sets
// depends only on the string's encrypted length. [StrEncode] computes those
// strings in libmongocrypt's order with their repeat counts and the total
// tag count msize; the payload builder derives tokens from
// [AppendBSONString] of each entry. [StrQuery] computes the folded string of
// a find payload and checks it against the query length bounds.
//
// # Options
//
// [ParseTextOptions] and [FromStringOptions] read the explicit encryption
// TextOpts / options.StringOptions; [TextOptions.InsertSpec] and
// [TextOptions.QuerySpec] turn them into the [Spec] a placeholder carries;
// [ParseSpec] and [AppendSpec] are that spec's BSON form
// (FLE2TextSearchInsertSpec).
//
// Errors wrap one of [ErrInvalidUTF8], [ErrTooLong], [ErrQueryLength],
// [ErrInvalidSpec] and [ErrInvalidOptions] and keep libmongocrypt's wording.
// Nothing here panics on malformed BSON or strings.
package text
