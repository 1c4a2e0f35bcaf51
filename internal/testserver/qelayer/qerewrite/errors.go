package qerewrite

import (
	"errors"
	"fmt"
)

// Error is a server error: the code, its name and the message a MongoDB server
// sends for the same input. Msg never holds a document's values.
type Error struct {
	Code     int32
	CodeName string
	Msg      string
}

// Error returns the message with the code.
func (e *Error) Error() string {
	return fmt.Sprintf("qerewrite: %s (%d): %s", e.CodeName, e.Code, e.Msg)
}

// Server error codes this package uses by name (src/mongo/base/error_codes.yml).
const (
	CodeBadValue                  int32 = 2
	CodeFailedToParse             int32 = 9
	CodeTypeMismatch              int32 = 14
	CodeDocumentValidationFailure int32 = 121
	CodeIDLFailedToParse          int32 = 40414
	CodeIDLUnknownField           int32 = 40415
)

var codeNames = map[int32]string{
	CodeBadValue:                  "BadValue",
	CodeFailedToParse:             "FailedToParse",
	CodeTypeMismatch:              "TypeMismatch",
	CodeDocumentValidationFailure: "DocumentValidationFailure",
	CodeIDLFailedToParse:          "IDLFailedToParse",
	CodeIDLUnknownField:           "IDLUnknownField",
}

// newError returns an *Error with code; the name is the code's name, or
// "Location<code>" as the server names its numbered assertions.
func newError(code int32, format string, args ...any) *Error {
	name, ok := codeNames[code]
	if !ok {
		name = fmt.Sprintf("Location%d", code)
	}
	return &Error{Code: code, CodeName: name, Msg: fmt.Sprintf(format, args...)}
}

// errValidation is the error of a document the implicit encryption schema
// validator refuses (src/mongo/db/query/fle/implicit_validator.cpp).
func errValidation() *Error {
	return newError(CodeDocumentValidationFailure, "Document failed validation")
}

// asError keeps an *Error and wraps any other error (from the Crypto the
// layer implements, whose texts hold no values) with what failed.
func asError(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &cryptoError{what: what, err: err}
}

// cryptoError is an error of the Crypto implementation; it keeps the cause for
// errors.Is and errors.As.
type cryptoError struct {
	what string
	err  error
}

func (e *cryptoError) Error() string { return "qerewrite: " + e.what + ": " + e.err.Error() }
func (e *cryptoError) Unwrap() error { return e.err }
