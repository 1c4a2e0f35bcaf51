package fle2

import "fmt"

// Error is the server's error for a bad payload or a broken ESC: the code and code name a
// mongod reply carries, and its message. Messages never hold plaintext, tokens or keys.
type Error struct {
	Code     int32
	CodeName string
	Msg      string
}

// Error returns "Msg (code N)".
func (e *Error) Error() string { return fmt.Sprintf("%s (code %d)", e.Msg, e.Code) }

// Codes of the server's ErrorCodes used here; the other codes are uassert locations, whose
// code name is "Location<code>".
const (
	codeBadValue               = 2
	codeTypeMismatch           = 14
	codeInvalidBSON            = 22
	codeFLEMaxTagLimitExceeded = 401
	codeIDLFailedToParse       = 40414
)

var codeNames = map[int32]string{
	codeBadValue:               "BadValue",
	codeTypeMismatch:           "TypeMismatch",
	codeInvalidBSON:            "InvalidBSON",
	codeFLEMaxTagLimitExceeded: "FLEMaxTagLimitExceeded",
	codeIDLFailedToParse:       "Location40414",
}

func errorf(code int32, format string, args ...any) *Error {
	name, ok := codeNames[code]
	if !ok {
		name = fmt.Sprintf("Location%d", code)
	}
	return &Error{Code: code, CodeName: name, Msg: fmt.Sprintf(format, args...)}
}
