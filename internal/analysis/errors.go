package analysis

import (
	"errors"
	"fmt"
)

// ErrRefused is matched (errors.Is) by every *Error: the command or schema was
// refused by query analysis, before anything was sent to a server.
var ErrRefused = errors.New("query analysis refused the command")

// Error is a query-analysis refusal. It names the command, the field when one
// is at fault, and the reason. The reason reuses mongocryptd's wording where
// the specification's tests check it ("Invalid match expression operator on
// encrypted field", "Cannot query on fields encrypted with the randomized
// encryption algorithm", ...). Values are never included in the text.
type Error struct {
	// Command is the command name ("find", "update", ...), empty for schema errors.
	Command string
	// Field is the dotted path of the field at fault, empty when none is.
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *Error) Error() string {
	switch {
	case e.Field != "" && e.Command != "":
		return fmt.Sprintf("analysis of %s: %s: '%s'", e.Command, e.Reason, e.Field)
	case e.Field != "":
		return fmt.Sprintf("analysis: %s: '%s'", e.Reason, e.Field)
	case e.Command != "":
		return fmt.Sprintf("analysis of %s: %s", e.Command, e.Reason)
	default:
		return "analysis: " + e.Reason
	}
}

// Is reports whether target is ErrRefused.
func (e *Error) Is(target error) bool { return target == ErrRefused }

// refusef builds an *Error for a field.
func refusef(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// cmdErr builds an *Error without a field.
func cmdErr(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// withCommand sets the command name on err when it is an *Error without one.
func withCommand(err error, name string) error {
	var ae *Error
	if errors.As(err, &ae) && ae.Command == "" {
		ae.Command = name
	}
	return err
}
