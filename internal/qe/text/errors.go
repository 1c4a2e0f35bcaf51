package text

import "errors"

// Sentinel errors for the classes of failure a caller may need to tell apart.
// Every error returned by this package wraps exactly one of them (test with
// errors.Is); the error text itself follows libmongocrypt's wording.
var (
	// ErrInvalidUTF8 reports a string that is not valid UTF-8 (or, where
	// libmongocrypt requires it, a string holding a NUL byte).
	ErrInvalidUTF8 = errors.New("text: invalid UTF-8")
	// ErrTooLong reports a string longer than a limit: the 16 MiB StrEncode
	// limit, or strMaxLength for substring indexing.
	ErrTooLong = errors.New("text: string too long")
	// ErrQueryLength reports a query string whose folded length is outside
	// [strMinQueryLength, strMaxQueryLength], or empty.
	ErrQueryLength = errors.New("text: query string length out of bounds")
	// ErrInvalidSpec reports an invalid FLE2TextSearchInsertSpec (placeholder
	// "v" document or a Spec value with bad bounds).
	ErrInvalidSpec = errors.New("text: invalid text search spec")
	// ErrInvalidOptions reports invalid TextOpts / StringOptions or an invalid
	// encryptedFields text query configuration.
	ErrInvalidOptions = errors.New("text: invalid text options")
)

// textError carries libmongocrypt's message while wrapping a sentinel.
type textError struct {
	kind error
	msg  string
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.kind }

func newError(kind error, msg string) error { return &textError{kind: kind, msg: msg} }
