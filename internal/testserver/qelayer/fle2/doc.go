// Package fle2 is the server side of Queryable Encryption (protocol version 2, as MongoDB 8.x
// runs it): what mongod computes from the payloads a client sends, and how it keeps the ESC
// (state) collection. It holds pure algorithms over an [ESC] view; the wire layer reads and
// writes the collections.
//
// # Writes
//
// [ProcessInsert] turns an FLE2InsertUpdatePayloadV2 (blob subtype 11) into a [Write]: the
// stored value (subtype 14, 15 or 17), the tags for __safeContent__, the _id of each new ESC
// document and the value of each new ECOC document. [StoredTags] reads the tags back from a
// stored value.
//
// # Queries
//
// [FindTags] computes the tags that a find payload (subtype 12, 13 or 18) matches, for every
// contention factor up to the payload's maximum, reading the ESC for the counts.
//
// # Compaction and cleanup
//
// [Compact] and [Cleanup] do compactStructuredEncryptionData and
// cleanupStructuredEncryptionData for one field, from the field's ECOC values.
//
// # Sources
//
// The facts come from the MongoDB server (github.com/mongodb/mongo), read, not copied:
//
//   - src/mongo/crypto/fle_crypto.cpp: the token constants (kTwiceDerivedTokenFromEDC,
//     kESCNonNullId, kESCAnchorId, kESCNullAnchorPosition, kESCNonNullAnchorValuePrefix,
//     kESCPaddingId), ESCCollection::generateNonAnchorId / generateAnchorId /
//     generateNullAnchorId / generateAnchorDocument / generateNullAnchorDocument,
//     ESCCollectionAnchorPadding::generateAnchorId / generatePaddingDocument,
//     packAndEncrypt (uint64 little-endian pairs under AES-256-CTR), binarySearchCommon,
//     ESCCollection::emuBinaryV2 / anchorBinaryHops / binaryHops, getEdgeCountInfo (insert
//     and query counts), getEdgeCountInfoForCompact, getEdgeCountInfoForPaddingCleanupCommon,
//     parseAndVerifyInsertUpdatePayload (error codes 7291901, 9783801, 6775305, 9783802,
//     6373504), collectEDCServerInfo (6373503), FLE2TagAndEncryptedMetadataBlock::
//     encryptAndSerialize, FLE2Indexed{Equality,Range}EncryptedValueV2::fromUnencrypted and
//     FLE2IndexedTextEncryptedValue::fromUnencrypted (ServerEncryptedValue = EncryptCTR(e, v),
//     codes 9697302, 9588702, 9588705, 9784108), ECOCCompactionDocumentV2::parseAndDecrypt.
//   - src/mongo/crypto/fle_tags.cpp: readTags, generateTags (tags 1..count per contention
//     factor), verifyTagsWillFit (FLEMaxTagLimitExceeded).
//   - src/mongo/db/fle_crud.cpp: processFieldsForInsertV2 (one ESC non-anchor and one ECOC
//     document per token set), validateInsertUpdatePayloads (6726300, 6726301).
//   - src/mongo/db/commands/fle2_compact.cpp: compactOneFieldValuePairV2, padOneField,
//     compactOneRangeFieldPad, compactOneTextSearchFieldPad, cleanupOneFieldValuePairImpl,
//     cleanupESCNonAnchors, cleanupESCAnchors.
package fle2
