package qe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mongocrypt-go/mongocrypt/internal/qe/rangeenc"
	"github.com/mongocrypt-go/mongocrypt/internal/qe/text"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Algorithm and query type names of explicit encryption (compared ignoring ASCII case, as
// libmongocrypt's mongocrypt_ctx_setopt_algorithm and _query_type do).
const (
	AlgorithmNameIndexed      = "Indexed"
	AlgorithmNameUnindexed    = "Unindexed"
	AlgorithmNameRange        = "Range"
	AlgorithmNameString       = "String"
	algorithmNameRangePreview = "RangePreview"
	algorithmNameTextPreview  = "textPreview"

	QueryTypeEquality     = "equality"
	QueryTypeRange        = "range"
	queryTypeRangePreview = "rangePreview"
)

// IsQEAlgorithm reports whether an EncryptOptions algorithm name belongs to Queryable
// Encryption (Indexed, Unindexed, Range, String, and the removed RangePreview and textPreview,
// which [ExplicitPlaceholder] refuses with libmongocrypt's message), as opposed to the CSFLE
// AEAD_AES_256_CBC_HMAC_SHA_512 algorithms.
func IsQEAlgorithm(name string) bool {
	for _, n := range []string{AlgorithmNameIndexed, AlgorithmNameUnindexed, AlgorithmNameRange,
		AlgorithmNameString, algorithmNameRangePreview, algorithmNameTextPreview} {
		if strings.EqualFold(asciiOnly(name), n) {
			return true
		}
	}
	return false
}

// queryKind is the query type of an explicit encryption.
type queryKind int

const (
	queryNone queryKind = iota
	queryEquality
	queryRange
	queryText
)

// explicitRequest is EncryptOptions checked the way libmongocrypt's explicit_encrypt_init
// checks its options.
type explicitRequest struct {
	algorithm  Algorithm
	query      queryKind
	textQuery  text.QueryType
	contention *int64
	rangeOpts  *rangeenc.RangeOpts
	textOpts   *text.TextOptions
}

// indexName and queryName are libmongocrypt's display names used in its messages.
func (r *explicitRequest) indexName() string {
	return map[Algorithm]string{AlgorithmUnindexed: "None", AlgorithmEquality: "Equality", AlgorithmRange: "Range", AlgorithmText: "String"}[r.algorithm]
}

func (r *explicitRequest) queryName() string {
	switch r.query {
	case queryEquality:
		return "Equality"
	case queryRange:
		return "Range"
	case queryText:
		return r.textQuery.String()
	}
	return "None"
}

// parseExplicitOptions resolves the option builders and validates the combination.
func parseExplicitOptions(opts *options.EncryptOptions) (*explicitRequest, error) {
	if opts == nil {
		return nil, errors.New("qe: explicit encryption needs options")
	}
	r := &explicitRequest{contention: opts.ContentionFactor}
	name := asciiOnly(opts.Algorithm)
	switch {
	case strings.EqualFold(name, AlgorithmNameIndexed):
		r.algorithm = AlgorithmEquality
	case strings.EqualFold(name, AlgorithmNameUnindexed):
		r.algorithm = AlgorithmUnindexed
	case strings.EqualFold(name, AlgorithmNameRange):
		r.algorithm = AlgorithmRange
	case strings.EqualFold(name, AlgorithmNameString):
		r.algorithm = AlgorithmText
	case strings.EqualFold(name, algorithmNameRangePreview):
		return nil, errors.New("qe: Algorithm 'rangePreview' is deprecated, please use 'range'")
	case strings.EqualFold(name, algorithmNameTextPreview):
		return nil, errors.New("qe: Algorithm 'textPreview' is deprecated, please use 'string'")
	case opts.Algorithm == "":
		return nil, errors.New("qe: algorithm or index type required")
	default:
		return nil, fmt.Errorf("qe: unsupported algorithm string %q", opts.Algorithm)
	}
	if qt := opts.QueryType; qt != "" {
		q := asciiOnly(qt)
		switch {
		case strings.EqualFold(q, QueryTypeEquality):
			r.query = queryEquality
		case strings.EqualFold(q, QueryTypeRange):
			r.query = queryRange
		case strings.EqualFold(q, queryTypeRangePreview):
			return nil, errors.New("qe: Query type 'rangePreview' is deprecated, please use 'range'")
		default:
			t, ok := text.ParseQueryType(qt)
			if !ok {
				return nil, fmt.Errorf("qe: Unsupported query_type %q", qt)
			}
			r.query, r.textQuery = queryText, t
		}
	}
	if opts.KeyAltName != nil {
		return nil, errors.New("qe: cannot set both key alt name and index type")
	}
	if opts.RangeOptions != nil {
		ro, err := rangeOptions(opts.RangeOptions)
		if err != nil {
			return nil, err
		}
		r.rangeOpts = ro
	}
	if opts.StringOptions != nil {
		var so options.StringOptions
		for _, set := range opts.StringOptions.List() {
			if err := set(&so); err != nil {
				return nil, fmt.Errorf("qe: string options: %w", err)
			}
		}
		to, err := text.FromStringOptions(&so)
		if err != nil {
			return nil, fmt.Errorf("qe: %w", err)
		}
		r.textOpts = &to
	}
	return r, r.validate()
}

// rangeOptions builds the RangeOpts document the Go driver hands to libmongocrypt
// ({min, max, precision, sparsity, trimFactor}, each when set) and parses it.
func rangeOptions(b *options.RangeOptionsBuilder) (*rangeenc.RangeOpts, error) {
	var ro options.RangeOptions
	for _, set := range b.List() {
		if err := set(&ro); err != nil {
			return nil, fmt.Errorf("qe: range options: %w", err)
		}
	}
	idx, doc := bsoncore.AppendDocumentStart(nil)
	if ro.Min != nil {
		doc = bsoncore.AppendValueElement(doc, "min", bsoncore.Value{Type: bsoncore.Type(ro.Min.Type), Data: ro.Min.Value})
	}
	if ro.Max != nil {
		doc = bsoncore.AppendValueElement(doc, "max", bsoncore.Value{Type: bsoncore.Type(ro.Max.Type), Data: ro.Max.Value})
	}
	if ro.Precision != nil {
		doc = bsoncore.AppendInt32Element(doc, "precision", *ro.Precision)
	}
	if ro.Sparsity != nil {
		doc = bsoncore.AppendInt64Element(doc, "sparsity", *ro.Sparsity)
	}
	if ro.TrimFactor != nil {
		doc = bsoncore.AppendInt32Element(doc, "trimFactor", *ro.TrimFactor)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	parsed, err := rangeenc.ParseRangeOpts(bson.Raw(doc))
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	return parsed, nil
}

// validate applies libmongocrypt's checks of explicit_encrypt_init, in its order.
func (r *explicitRequest) validate() error {
	unindexed := r.algorithm == AlgorithmUnindexed
	if r.contention != nil && unindexed {
		return errors.New("qe: cannot set contention factor with no index type")
	}
	if r.query != queryNone && unindexed {
		return errors.New("qe: cannot set query type with no index type")
	}
	if r.query == queryText && r.algorithm != AlgorithmText {
		return fmt.Errorf("qe: %s query type requires string index type", r.textQuery.Base().Name())
	}
	if r.rangeOpts != nil {
		switch r.algorithm {
		case AlgorithmUnindexed:
			return errors.New("qe: cannot set range opts with no index type")
		case AlgorithmEquality:
			return errors.New("qe: cannot set range opts with equality index type")
		case AlgorithmText:
			return errors.New("qe: cannot set range opts with 'string' algorithm")
		}
	}
	if r.textOpts != nil && r.algorithm != AlgorithmText {
		return errors.New("qe: cannot set string opts without string index type")
	}
	if r.contention != nil {
		if err := validateContention(*r.contention); err != nil {
			return err
		}
	}
	switch r.algorithm {
	case AlgorithmEquality:
		if r.contention == nil {
			return errors.New("qe: contention factor is required for indexed algorithm")
		}
	case AlgorithmRange:
		if r.contention == nil {
			return errors.New("qe: contention factor is required for range indexed algorithm")
		}
		if r.rangeOpts == nil {
			return errors.New("qe: range opts are required for range indexed algorithm")
		}
	case AlgorithmText:
		if r.contention == nil {
			return errors.New("qe: contention factor is required for string algorithm")
		}
		if r.textOpts == nil {
			return errors.New("qe: string opts are required for string algorithm")
		}
	}
	if r.query != queryNone {
		match := (r.query == queryEquality && r.algorithm == AlgorithmEquality) ||
			(r.query == queryRange && r.algorithm == AlgorithmRange) ||
			(r.query == queryText && r.algorithm == AlgorithmText)
		if !match {
			return fmt.Errorf("qe: query_type (%s) must match index_type (%s)", r.queryName(), r.indexName())
		}
	}
	return nil
}

// checkExplicitValue refuses the values libmongocrypt refuses to encrypt
// (_permitted_for_encryption, with no CSFLE algorithm).
func checkExplicitValue(v bson.RawValue) error {
	switch v.Type {
	case bson.TypeNull, bson.TypeMinKey, bson.TypeMaxKey, bson.TypeUndefined:
		return fmt.Errorf("qe: BSON type %s is invalid for encryption", typeName(bsoncore.Type(v.Type)))
	case bson.TypeBinary:
		if st, _, ok := v.BinaryOK(); ok && st == binaryEncrypted {
			return errors.New("qe: BSON binary subtype 6 is invalid for encryption")
		}
	case bson.TypeDouble, bson.TypeString, bson.TypeEmbeddedDocument, bson.TypeArray, bson.TypeObjectID,
		bson.TypeBoolean, bson.TypeDateTime, bson.TypeRegex, bson.TypeDBPointer, bson.TypeJavaScript,
		bson.TypeSymbol, bson.TypeCodeWithScope, bson.TypeInt32, bson.TypeTimestamp, bson.TypeInt64,
		bson.TypeDecimal128:
	default:
		return fmt.Errorf("qe: invalid BSON value type %#02x", byte(v.Type))
	}
	if err := checkValue(bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value}); err != nil {
		return fmt.Errorf("qe: value to encrypt is not valid BSON: %w", err)
	}
	return nil
}

// ExplicitPlaceholder returns the placeholder that explicit encryption of value with opts
// (ClientEncryption.Encrypt with a Queryable Encryption algorithm: Indexed, Unindexed, Range or
// String) stands for; [Placeholder.Encrypt] then gives the payload. keyID is the data key
// (opts.KeyID resolved by the caller), used both as the user key and as the index key.
// opts.KeyAltName must be nil: libmongocrypt refuses key alt names with an index type.
//
// Range queries go through [EncryptExpression]: with query type "range" this returns an
// error, as libmongocrypt does.
func ExplicitPlaceholder(value bson.RawValue, keyID KeyID, opts *options.EncryptOptions) (*Placeholder, error) {
	return explicitPlaceholder(value, keyID, keyID, opts)
}

func explicitPlaceholder(value bson.RawValue, userKey, indexKey KeyID, opts *options.EncryptOptions) (*Placeholder, error) {
	r, err := parseExplicitOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := checkExplicitValue(value); err != nil {
		return nil, err
	}
	if r.query == queryRange {
		return nil, errors.New("qe: Encrypt may not be used for range queries. Use EncryptExpression")
	}
	p := &Placeholder{Type: PlaceholderInsert, Algorithm: r.algorithm, IndexKeyID: indexKey, UserKeyID: userKey, Value: value}
	if r.query != queryNone {
		p.Type = PlaceholderFind
	}
	if r.contention != nil {
		p.MaxContentionFactor = *r.contention
	}
	switch {
	case r.rangeOpts != nil:
		spec, err := r.rangeOpts.InsertSpec(value)
		if err != nil {
			return nil, fmt.Errorf("qe: %w", err)
		}
		p.Value = bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: spec}
		p.Sparsity = r.rangeOpts.Sparsity
	case r.textOpts != nil:
		var spec text.Spec
		if r.query == queryText {
			spec, err = r.textOpts.QuerySpec(value, r.textQuery)
		} else {
			spec, err = r.textOpts.InsertSpec(value)
		}
		if err != nil {
			return nil, fmt.Errorf("qe: %w", err)
		}
		p.Value = bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: text.AppendSpec(nil, &spec)}
	}
	return p, nil
}
