package qe

import (
	"fmt"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const (
	minPlaceholderLen            = 1 + 5 // subtype byte and an empty document
	placeholderErrPrefix         = "FLE2EncryptionPlaceholder"
	maxContentionFactorExclusive = int64(^uint64(0) >> 1) // INT64_MAX is refused
	placeholderFieldType         = "t"
	placeholderFieldAlgorithm    = "a"
	placeholderFieldIndexKey     = "ki"
	placeholderFieldUserKey      = "ku"
	placeholderFieldValue        = "v"
	placeholderFieldContention   = "cm"
	placeholderFieldSparsity     = "s"
)

// PlaceholderType says whether a placeholder stands for a value to store or to query.
type PlaceholderType int32

// Placeholder types (field "t").
const (
	PlaceholderInsert PlaceholderType = 1
	PlaceholderFind   PlaceholderType = 2
)

// Algorithm is the Queryable Encryption algorithm of a placeholder (field "a").
type Algorithm int32

// Algorithms.
const (
	AlgorithmUnindexed Algorithm = 1
	AlgorithmEquality  Algorithm = 2
	AlgorithmRange     Algorithm = 3
	AlgorithmText      Algorithm = 4
)

// Placeholder is an FLE2EncryptionPlaceholder: what query analysis (or explicit encryption)
// asks the client to encrypt. Its serialized form is BSON binary subtype 6 whose data is
//
//	subtype 3 (1) || BSON {t: int32, a: int32, ki: UUID, ku: UUID, v: any, cm: int64, s: int64}
//
// ki is the index key (the tokens), ku the user key (the value itself). For range, v is an
// FLE2RangeInsertSpec {v, min, max, precision?, trimFactor?} on insert and an
// FLE2RangeFindSpec {edgesInfo?, payloadId, firstOperator, secondOperator?} on find; for text
// search it is an FLE2TextSearchInsertSpec {v, casef, diacf, substr?, suffix?, prefix?}.
type Placeholder struct {
	Type                PlaceholderType
	Algorithm           Algorithm
	IndexKeyID          KeyID
	UserKeyID           KeyID
	Value               bson.RawValue
	MaxContentionFactor int64
	// Sparsity is the range sparsity ("s"); query analysis before 6.1 omits it (0).
	Sparsity int64
}

// ParsePlaceholder parses the data of a BSON binary of subtype 6 that starts with subtype byte
// 3. Unknown fields are ignored, as libmongocrypt does; the specs inside v are checked when
// the placeholder is encrypted.
func ParsePlaceholder(blob []byte) (*Placeholder, error) {
	if len(blob) < minPlaceholderLen {
		return nil, fmt.Errorf("qe: invalid placeholder: %d bytes, need at least %d", len(blob), minPlaceholderLen)
	}
	if fleblob.Subtype(blob[0]) != fleblob.FLE2EncryptionPlaceholder {
		return nil, fmt.Errorf("qe: invalid placeholder: blob subtype %d, want %d", blob[0], fleblob.FLE2EncryptionPlaceholder)
	}
	doc := bsoncore.Document(blob[1:])
	if err := validateDocument(doc); err != nil {
		return nil, fmt.Errorf("qe: %s: %w", placeholderErrPrefix, err)
	}
	elems, err := docElements(doc)
	if err != nil {
		return nil, fmt.Errorf("qe: %s: %w", placeholderErrPrefix, err)
	}
	p := &Placeholder{}
	seen := fieldSet{}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("qe: "+placeholderErrPrefix+": "+format, args...)
	}
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		switch key {
		case placeholderFieldType, placeholderFieldAlgorithm, placeholderFieldIndexKey, placeholderFieldUserKey,
			placeholderFieldValue, placeholderFieldContention, placeholderFieldSparsity:
			if err := seen.add("qe: "+placeholderErrPrefix, key); err != nil {
				return nil, err
			}
		default:
			continue
		}
		switch key {
		case placeholderFieldType:
			n, err := int32Field(v, placeholderErrPrefix, key)
			if err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
			if t := PlaceholderType(n); t != PlaceholderInsert && t != PlaceholderFind {
				return nil, errf("invalid placeholder type value: %d", n)
			}
			p.Type = PlaceholderType(n)
		case placeholderFieldAlgorithm:
			n, err := int32Field(v, placeholderErrPrefix, key)
			if err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
			if a := Algorithm(n); a < AlgorithmUnindexed || a > AlgorithmText {
				return nil, errf("invalid algorithm value: %d", n)
			}
			p.Algorithm = Algorithm(n)
		case placeholderFieldIndexKey, placeholderFieldUserKey:
			id, err := uuidField(v, placeholderErrPrefix, key)
			if err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
			if key == placeholderFieldIndexKey {
				p.IndexKeyID = id
			} else {
				p.UserKeyID = id
			}
		case placeholderFieldValue:
			p.Value = bson.RawValue{Type: bson.Type(v.Type), Value: v.Data}
		case placeholderFieldContention:
			n, err := int64Field(v, placeholderErrPrefix, key)
			if err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
			if err := validateContention(n); err != nil {
				return nil, err
			}
			p.MaxContentionFactor = n
		case placeholderFieldSparsity:
			n, err := int64Field(v, placeholderErrPrefix, key)
			if err != nil {
				return nil, fmt.Errorf("qe: %w", err)
			}
			if err := validateSparsity(n); err != nil {
				return nil, err
			}
			p.Sparsity = n
		}
	}
	for _, key := range []string{placeholderFieldType, placeholderFieldAlgorithm, placeholderFieldIndexKey,
		placeholderFieldUserKey, placeholderFieldValue, placeholderFieldContention} {
		if !seen[key] {
			return nil, errf("missing field '%s'", key)
		}
	}
	return p, nil
}

// validateContention checks a contention factor: 0 <= cf < INT64_MAX.
func validateContention(cf int64) error {
	if cf < 0 {
		return fmt.Errorf("qe: contention factor must be non-negative, got: %d", cf)
	}
	if cf == maxContentionFactorExclusive {
		return fmt.Errorf("qe: contention factor must be < INT64_MAX, got: %d", cf)
	}
	return nil
}

// validateSparsity checks a range sparsity: non-negative.
func validateSparsity(s int64) error {
	if s < 0 {
		return fmt.Errorf("qe: sparsity must be non-negative, got: %d", s)
	}
	return nil
}

// KeyIDs returns the data keys the encryption needs: the index key and the user key (once if
// they are the same). libmongocrypt requests both for every placeholder.
func (p *Placeholder) KeyIDs() []KeyID {
	return appendUnique([]KeyID{p.IndexKeyID}, p.UserKeyID)
}

// Bytes returns the placeholder serialized as the data of a BSON binary of subtype 6, fields
// in the order query analysis writes them; "s" is written for range placeholders only.
func (p *Placeholder) Bytes() []byte {
	idx, doc := bsoncore.AppendDocumentStart([]byte{byte(fleblob.FLE2EncryptionPlaceholder)})
	doc = bsoncore.AppendInt32Element(doc, placeholderFieldType, int32(p.Type))
	doc = bsoncore.AppendInt32Element(doc, placeholderFieldAlgorithm, int32(p.Algorithm))
	doc = bsoncore.AppendBinaryElement(doc, placeholderFieldIndexKey, binaryUUID, p.IndexKeyID[:])
	doc = bsoncore.AppendBinaryElement(doc, placeholderFieldUserKey, binaryUUID, p.UserKeyID[:])
	doc = bsoncore.AppendValueElement(doc, placeholderFieldValue, bsoncore.Value{Type: bsoncore.Type(p.Value.Type), Data: p.Value.Value})
	doc = bsoncore.AppendInt64Element(doc, placeholderFieldContention, p.MaxContentionFactor)
	if p.Algorithm == AlgorithmRange {
		doc = bsoncore.AppendInt64Element(doc, placeholderFieldSparsity, p.Sparsity)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// value returns the placeholder value as a bsoncore.Value.
func (p *Placeholder) value() bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.Type(p.Value.Type), Data: p.Value.Value}
}
