// Package wire reads and writes MongoDB wire-protocol messages: the message header, OP_MSG
// (body and document-sequence sections, with an optional CRC-32C checksum), and OP_QUERY and
// OP_REPLY as far as the legacy handshake of old clients needs. OP_COMPRESSED is recognised
// and refused (compression is never advertised); any other opcode gives an
// *UnsupportedOpCodeError naming it.
//
// Every function validates its input and returns an error, never panics, on any bytes.
// Documents returned by the parsers alias the message they were parsed from.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderLen is the length of the message header: messageLength, requestID, responseTo and
// opCode, each a little-endian int32.
const HeaderLen = 16

// DefaultMaxMessageSize is the server's default maxMessageSizeBytes, the limit ReadMessage
// applies when given a maxSize of 0 or less.
const DefaultMaxMessageSize = 48000000

// OpCode is the opCode field of a message header.
type OpCode int32

// The opcodes of the wire protocol.
const (
	OpReply       OpCode = 1    // OP_REPLY, the legacy reply
	OpUpdate      OpCode = 2001 // OP_UPDATE, removed in MongoDB 5.1
	OpInsert      OpCode = 2002 // OP_INSERT, removed in MongoDB 5.1
	OpQuery       OpCode = 2004 // OP_QUERY, the legacy query (still used by old handshakes)
	OpGetMore     OpCode = 2005 // OP_GET_MORE, removed in MongoDB 5.1
	OpDelete      OpCode = 2006 // OP_DELETE, removed in MongoDB 5.1
	OpKillCursors OpCode = 2007 // OP_KILL_CURSORS, removed in MongoDB 5.1
	OpCompressed  OpCode = 2012 // OP_COMPRESSED, a compressed message
	OpMsg         OpCode = 2013 // OP_MSG, the message of every command
)

// String returns the opcode's name in the documentation (OP_MSG) or its number.
func (c OpCode) String() string {
	switch c {
	case OpReply:
		return "OP_REPLY"
	case OpUpdate:
		return "OP_UPDATE"
	case OpInsert:
		return "OP_INSERT"
	case OpQuery:
		return "OP_QUERY"
	case OpGetMore:
		return "OP_GET_MORE"
	case OpDelete:
		return "OP_DELETE"
	case OpKillCursors:
		return "OP_KILL_CURSORS"
	case OpCompressed:
		return "OP_COMPRESSED"
	case OpMsg:
		return "OP_MSG"
	}
	return fmt.Sprintf("opcode %d", int32(c))
}

var (
	// ErrMalformed is wrapped by every error about bytes that are not a valid message.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrMessageLength is wrapped by the errors of a messageLength below HeaderLen or above
	// the size limit.
	ErrMessageLength = errors.New("wire: message length out of bounds")
	// ErrCompressed is wrapped by the error of an OP_COMPRESSED message: compression is not
	// supported (and never advertised).
	ErrCompressed = errors.New("wire: OP_COMPRESSED is not supported (compression is not advertised)")
	// ErrChecksum is wrapped by the error of an OP_MSG whose CRC-32C checksum does not match.
	ErrChecksum = errors.New("wire: OP_MSG checksum mismatch")
)

// UnsupportedOpCodeError is the error of a message whose opcode this package does not parse,
// so that a caller can reply with the server's error shape.
type UnsupportedOpCodeError struct {
	OpCode OpCode // the opcode of the message
}

// Error names the opcode.
func (e *UnsupportedOpCodeError) Error() string {
	return fmt.Sprintf("wire: unsupported opcode %d (%s)", int32(e.OpCode), e.OpCode)
}

// Header is the header of a message.
type Header struct {
	MessageLength int32  // the length of the whole message, header included
	RequestID     int32  // the sender's identifier of the message
	ResponseTo    int32  // the RequestID of the request a reply answers, 0 in requests
	OpCode        OpCode // the kind of message
}

// ParseHeader reads the header at the start of m, and checks that MessageLength is len(m).
func ParseHeader(m []byte) (Header, error) {
	if len(m) < HeaderLen {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(m), HeaderLen)
	}
	h := Header{
		MessageLength: le32(m[0:]),
		RequestID:     le32(m[4:]),
		ResponseTo:    le32(m[8:]),
		OpCode:        OpCode(le32(m[12:])),
	}
	if int64(h.MessageLength) != int64(len(m)) {
		return Header{}, fmt.Errorf("%w: messageLength %d but the message has %d bytes", ErrMalformed, h.MessageLength, len(m))
	}
	return h, nil
}

// Append appends the header to dst.
func (h Header) Append(dst []byte) []byte {
	dst = appendI32(dst, h.MessageLength)
	dst = appendI32(dst, h.RequestID)
	dst = appendI32(dst, h.ResponseTo)
	return appendI32(dst, int32(h.OpCode))
}

// ReadMessage reads one whole message from r, header included. A messageLength below
// HeaderLen or above maxSize (DefaultMaxMessageSize when maxSize <= 0) is refused with an
// error wrapping ErrMessageLength before anything is allocated for the message. It returns
// io.EOF when r ends before the first byte, and an error wrapping io.ErrUnexpectedEOF when it
// ends inside a message.
func ReadMessage(r io.Reader, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("wire: reading the message length: %w", err)
	}
	n := int64(le32(lb[:]))
	if n < HeaderLen {
		return nil, fmt.Errorf("%w: messageLength %d is below the %d-byte header", ErrMessageLength, n, HeaderLen)
	}
	if n > int64(maxSize) {
		return nil, fmt.Errorf("%w: messageLength %d exceeds the limit of %d bytes", ErrMessageLength, n, maxSize)
	}
	m := make([]byte, n)
	copy(m, lb[:])
	if _, err := io.ReadFull(r, m[4:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("wire: reading a message of %d bytes: %w", n, err)
	}
	return m, nil
}

// Message is a parsed message: its header and, by opcode, one of Msg, Query and Reply.
type Message struct {
	Header Header
	Msg    *Msg   // set for OP_MSG
	Query  *Query // set for OP_QUERY
	Reply  *Reply // set for OP_REPLY
}

// Parse parses a whole message, header included (as ReadMessage returns it). OP_COMPRESSED
// gives an error wrapping ErrCompressed, and an opcode other than OP_MSG, OP_QUERY and
// OP_REPLY an *UnsupportedOpCodeError.
func Parse(m []byte) (*Message, error) {
	h, err := ParseHeader(m)
	if err != nil {
		return nil, err
	}
	out := &Message{Header: h}
	switch h.OpCode {
	case OpMsg:
		out.Msg, err = parseMsg(m)
	case OpQuery:
		out.Query, err = parseQuery(m[HeaderLen:])
	case OpReply:
		out.Reply, err = parseReply(m[HeaderLen:])
	case OpCompressed:
		err = fmt.Errorf("request %d: %w", h.RequestID, ErrCompressed)
	default:
		err = &UnsupportedOpCodeError{OpCode: h.OpCode}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func le32(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }

func appendI32(dst []byte, v int32) []byte { return binary.LittleEndian.AppendUint32(dst, uint32(v)) }

// finish sets the messageLength of the message that starts at dst[start:].
func finish(dst []byte, start int) ([]byte, error) {
	n := len(dst) - start
	if n > 1<<31-1 {
		return nil, fmt.Errorf("wire: message of %d bytes exceeds the int32 messageLength", n)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}
