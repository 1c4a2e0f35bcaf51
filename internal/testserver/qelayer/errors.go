package qelayer

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The server's error codes the layer answers with (src/mongo/base/error_codes.yml).
const (
	codeBadValue             = 2
	codeFailedToParse        = 9
	codeIllegalOperation     = 20
	codeNamespaceNotFound    = 26
	codeIndexNotFound        = 27
	codeNamespaceExists      = 48
	codeInvalidOptions       = 72
	codeIndexOptionsConflict = 85
	codeCommandNotFound      = 59
	codeNotImplemented       = 238
	codeDuplicateKey         = 11000
	codeUnsupportedOpCode    = 352
	codeIDLUnknownField      = 40415
)

// codeNames are the codeName of the codes above; a code not in it (a numbered assertion such
// as 6346402) has codeName "Location<code>", as the server writes it.
var codeNames = map[int32]string{
	codeBadValue:             "BadValue",
	codeFailedToParse:        "FailedToParse",
	codeIllegalOperation:     "IllegalOperation",
	codeNamespaceNotFound:    "NamespaceNotFound",
	codeIndexNotFound:        "IndexNotFound",
	codeNamespaceExists:      "NamespaceExists",
	codeInvalidOptions:       "InvalidOptions",
	codeIndexOptionsConflict: "IndexOptionsConflict",
	codeCommandNotFound:      "CommandNotFound",
	codeNotImplemented:       "NotImplemented",
	codeDuplicateKey:         "DuplicateKey",
	codeUnsupportedOpCode:    "UnsupportedOpQueryCommand",
	codeIDLUnknownField:      "IDLUnknownField",
}

// cmdError is an error the layer answers a command with.
type cmdError struct {
	code  int32
	msg   string
	extra bson.D // more fields of the reply (keyPattern, keyValue of a duplicate key)
}

func (e *cmdError) Error() string { return e.msg }

func errorf(code int32, format string, args ...any) *cmdError {
	return &cmdError{code: code, msg: fmt.Sprintf(format, args...)}
}

func codeName(code int32) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return fmt.Sprintf("Location%d", code)
}

// reply returns the server's error document for e.
func (e *cmdError) reply() bson.Raw {
	d := bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: e.msg}, {Key: "code", Value: e.code}, {Key: "codeName", Value: codeName(e.code)}}
	d = append(d, e.extra...)
	return rawDoc(d)
}

// asInt32 returns a numeric value as an int32, false when v is not a number or does not fit.
func asInt32(v bson.RawValue) (int32, bool) {
	n, ok := v.AsInt64OK()
	if !ok || n != int64(int32(n)) {
		return 0, false
	}
	return int32(n), true
}
