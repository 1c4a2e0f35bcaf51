// Package rangeenc is the arithmetic of Queryable Encryption range indexes,
// identical in its results to libmongocrypt 1.20: the order-preserving
// encoding of int32, int64, date, double and decimal128 values, the edges
// an insert derives tokens from, the mincover a range query derives tokens
// from, and the RangeOpts of explicit encryption.
//
// # Encoding
//
// A value maps to an unsigned integer of an [Encoded] domain [0, Max]:
// [EncodeInt32], [EncodeInt64] (dates too), [EncodeDouble] and
// [EncodeDecimal128]. Bounds are optional for integers; for double and
// decimal128 they come with a precision (all three or none), which truncates
// values to that many decimal digits and shrinks the domain, using IEEE double
// arithmetic for doubles and exact decimal128 arithmetic for decimal128.
//
// # Edges and mincover
//
// An encoded value of a domain of n bits has a leaf (its n binary digits) and
// edges (the leaf's prefixes kept by the sparsity and the trimFactor, plus
// [Root]): [Encoded.Edges]. A query range has a mincover, the fewest edges
// whose ranges exactly cover it: [MincoverInt32], [MincoverInt64],
// [MincoverDouble], [MincoverDecimal128].
//
// # BSON entry points
//
// Payload code holds BSON values: [EdgesForInsert] takes the value and
// [Index] of an FLE2RangeInsertSpec, [MincoverForFind] the bounds and Index of
// an FLE2RangeFindSpec. [ParseRangeOpts] reads the rangeOpts document of
// explicit encryption and fills in default bounds ([RangeOpts.IndexMin],
// [RangeOpts.IndexMax], [RangeOpts.InsertSpec]); [DomainBits] is the bit count
// trimFactor is checked against.
//
// # Errors
//
// Every error wraps one of the Err* categories (errors.Is) and names the
// option or value at fault. Inputs never cause a panic.
package rangeenc
