package fle2

import (
	"encoding/binary"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// Stored values (mc_FLE2IndexedEncryptedValueV2_serialize):
//
//	subtype (1) || S_KeyId (16) || original BSON type (1)
//	|| edge count (1, range only)
//	|| total, substring, suffix tag counts (3 x uint32 LE, text only)
//	|| ServerEncryptedValue = EncryptCTR(ServerDataEncryptionLevel1Token "e", v)
//	|| one metadata block per tag
//
// where v is the payload's K_KeyId || ClientEncryptedValue, and a metadata block is
//
//	EncryptCTR(ServerCountAndContentionFactorEncryptionToken, le64(count) || le64(cf)) (32)
//	|| tag (32) || EncryptCTR(ServerZerosEncryptionToken, 16 zero bytes) (32)
const (
	metadataBlockLen = 96
	headerLen        = 1 + uuidLen + 1
	textCountsLen    = 12
	zerosLen         = 16
	minServerValue   = 17 // IV and at least one byte
)

// buildStored builds the stored value of a payload whose token sets got counts.
func buildStored(rng io.Reader, p *insertPayload, kind payloadKind, sets []tokenSet, counts []uint64) ([]byte, error) {
	sev, err := encryptCTR(rng, p.serverEnc, p.value)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, headerLen+textCountsLen+len(sev)+len(sets)*metadataBlockLen)
	switch kind {
	case kindEquality:
		out = append(out, byte(fleblob.FLE2IndexedEqualityEncryptedValueV2))
	case kindRange:
		out = append(out, byte(fleblob.FLE2IndexedRangeEncryptedValueV2))
	case kindText:
		out = append(out, byte(fleblob.FLE2IndexedTextEncryptedValue))
	}
	out = append(out, p.indexKeyID...)
	out = append(out, byte(p.valueType))
	switch kind {
	case kindRange:
		out = append(out, byte(len(sets)))
	case kindText:
		out = binary.LittleEndian.AppendUint32(out, uint32(len(sets)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(p.text.substrings)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(p.text.suffixes)))
	}
	out = append(out, sev...)
	var zeros [zerosLen]byte
	for i := range sets {
		s := &sets[i]
		countKey := prf1(s.server[:], labelServerCount)
		zerosKey := prf1(s.server[:], labelServerZeros)
		ecount, err := encryptPair(rng, countKey, counts[i], uint64(p.contention))
		if err != nil {
			return nil, err
		}
		tag := tagFor(s.edc, counts[i])
		ezeros, err := encryptCTR(rng, zerosKey, zeros[:])
		if err != nil {
			return nil, err
		}
		out = append(out, ecount...)
		out = append(out, tag[:]...)
		out = append(out, ezeros...)
	}
	return out, nil
}

// StoredTags returns the tags held in the metadata of a stored value 14/15/17 (the server
// reads them to remove a replaced value's tags from __safeContent__), in metadata order.
func StoredTags(stored []byte) ([][]byte, error) {
	if len(stored) < headerLen {
		return nil, errorf(codeBadValue, "Queryable Encryption stored value too short: %d bytes", len(stored))
	}
	rest := stored[headerLen:]
	var n uint64
	switch st := fleblob.Subtype(stored[0]); st {
	case fleblob.FLE2IndexedEqualityEncryptedValueV2:
		n = 1
	case fleblob.FLE2IndexedRangeEncryptedValueV2:
		if len(rest) < 1 {
			return nil, errorf(codeBadValue, "Queryable Encryption range value truncated before its edge count")
		}
		n, rest = uint64(rest[0]), rest[1:]
	case fleblob.FLE2IndexedTextEncryptedValue:
		if len(rest) < textCountsLen {
			return nil, errorf(codeBadValue, "Queryable Encryption text value truncated before its tag counts")
		}
		n = uint64(binary.LittleEndian.Uint32(rest))
		substr := uint64(binary.LittleEndian.Uint32(rest[4:]))
		suffix := uint64(binary.LittleEndian.Uint32(rest[8:]))
		if n < substr+suffix+1 {
			return nil, errorf(codeBadValue, "Queryable Encryption text value has tag count %d below its substring and suffix counts", n)
		}
		rest = rest[textCountsLen:]
	default:
		return nil, errorf(codeBadValue, "Not a Queryable Encryption indexed value: subtype %d", st)
	}
	if n == 0 {
		return nil, errorf(codeBadValue, "Queryable Encryption stored value has no tags")
	}
	if uint64(len(rest)) < minServerValue || (uint64(len(rest))-minServerValue)/metadataBlockLen < n {
		return nil, errorf(codeBadValue, "Queryable Encryption stored value too short for %d metadata blocks", n)
	}
	blocks := rest[uint64(len(rest))-n*metadataBlockLen:]
	tags := make([][]byte, n)
	for i := range tags {
		b := blocks[i*metadataBlockLen:]
		tags[i] = append([]byte(nil), b[32:64]...)
	}
	return tags, nil
}
