package rangeenc

import (
	"errors"
	"fmt"
)

// Error categories. Every error returned by this package wraps exactly one of
// them, so a caller can tell the kinds apart with errors.Is; the message names
// the offending option or value and the reason.
var (
	// ErrBounds: the index bounds (min, max) are missing, inverted or unusable.
	ErrBounds = errors.New("rangeenc: invalid index bounds")
	// ErrPrecision: the precision, alone or with min and max, is unusable.
	ErrPrecision = errors.New("rangeenc: invalid precision")
	// ErrOutOfRange: a value lies outside the index bounds [min, max].
	ErrOutOfRange = errors.New("rangeenc: value out of range")
	// ErrValue: the value cannot be encoded (NaN, infinity, a non-canonical
	// Decimal128).
	ErrValue = errors.New("rangeenc: unsupported value")
	// ErrType: a BSON type is not range-indexable, or two values that must
	// share a type do not.
	ErrType = errors.New("rangeenc: unsupported or mismatched BSON type")
	// ErrSparsity: sparsity is out of range.
	ErrSparsity = errors.New("rangeenc: invalid sparsity")
	// ErrTrimFactor: trimFactor is negative or not below the domain's bit count.
	ErrTrimFactor = errors.New("rangeenc: invalid trimFactor")
	// ErrQuery: the query bounds of a range query are unusable.
	ErrQuery = errors.New("rangeenc: invalid query bounds")
	// ErrTooManyEdges: a mincover would hold more than MaxMincoverLen strings.
	ErrTooManyEdges = errors.New("rangeenc: mincover too large")
	// ErrRangeOpts: a RangeOpts document is malformed.
	ErrRangeOpts = errors.New("rangeenc: invalid RangeOpts")
)

// errorf wraps kind with a formatted explanation.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
