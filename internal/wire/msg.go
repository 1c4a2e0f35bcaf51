package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Flags are the flagBits of an OP_MSG. Bits 0-15 are required: a parser must refuse a message
// with a required bit it does not know. Bits 16-31 are optional and may be ignored.
type Flags uint32

// The OP_MSG flag bits.
const (
	ChecksumPresent Flags = 1 << 0  // the message ends with a CRC-32C checksum
	MoreToCome      Flags = 1 << 1  // the sender will send another message without waiting
	ExhaustAllowed  Flags = 1 << 16 // the client accepts several replies (moreToCome) to this request
)

const (
	knownRequired = ChecksumPresent | MoreToCome // the required bits this package knows
	requiredMask  = Flags(0xffff)                // bits 0-15
)

// The OP_MSG section kinds.
const (
	sectionBody     = 0
	sectionSequence = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sequence is a kind-1 section of an OP_MSG: documents under an identifier (such as the
// "documents" of an insert).
type Sequence struct {
	Identifier string     // the name of the sequence, a cstring without NUL bytes
	Docs       []bson.Raw // its documents, in order
}

// Msg is the content of an OP_MSG after the header: its flag bits, its one kind-0 body and
// its kind-1 document sequences.
type Msg struct {
	Flags     Flags
	Body      bson.Raw
	Sequences []Sequence
}

// ParseMsg parses a whole OP_MSG message, header included:
//
//	header (16) | flagBits uint32 | sections... | checksum uint32 (when ChecksumPresent)
//
// where a section is kind byte 0 followed by one BSON document, or kind byte 1 followed by
// int32 size (counting itself), the identifier as a cstring and BSON documents filling the rest
// of size. Integers are little-endian; the checksum is the CRC-32C of every byte before it.
func ParseMsg(m []byte) (*Msg, error) {
	h, err := ParseHeader(m)
	if err != nil {
		return nil, err
	}
	if h.OpCode != OpMsg {
		return nil, fmt.Errorf("%w: opcode %s where OP_MSG was expected", ErrMalformed, h.OpCode)
	}
	return parseMsg(m)
}

// parseMsg parses the OP_MSG m, whose header has been checked.
func parseMsg(m []byte) (*Msg, error) {
	b := m[HeaderLen:]
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: OP_MSG of %d bytes has no flagBits", ErrMalformed, len(m))
	}
	msg := &Msg{Flags: Flags(binary.LittleEndian.Uint32(b))}
	if unknown := msg.Flags & requiredMask &^ knownRequired; unknown != 0 {
		return nil, fmt.Errorf("%w: OP_MSG has unknown required flag bits %#x", ErrMalformed, uint32(unknown))
	}
	b = b[4:]
	if msg.Flags&ChecksumPresent != 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: OP_MSG has the checksumPresent flag but no room for a checksum", ErrMalformed)
		}
		want := binary.LittleEndian.Uint32(m[len(m)-4:])
		if got := crc32.Checksum(m[:len(m)-4], castagnoli); got != want {
			return nil, fmt.Errorf("%w: the message has %#08x, its bytes give %#08x", ErrChecksum, want, got)
		}
		b = b[:len(b)-4]
	}
	off := HeaderLen + 4 // offset of b in m, for errors
	bodies := 0
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		off++
		switch kind {
		case sectionBody:
			bodies++
			if bodies > 1 {
				return nil, fmt.Errorf("%w: OP_MSG has a second kind-0 section at byte %d", ErrMalformed, off-1)
			}
			doc, err := readDoc(b, "the kind-0 body", off)
			if err != nil {
				return nil, err
			}
			msg.Body = doc
			b = b[len(doc):]
			off += len(doc)
		case sectionSequence:
			if len(b) < 4 {
				return nil, fmt.Errorf("%w: kind-1 section at byte %d is truncated before its size", ErrMalformed, off-1)
			}
			size := int64(le32(b))
			if size < 5 || size > int64(len(b)) {
				return nil, fmt.Errorf("%w: kind-1 section at byte %d has size %d, the message has %d bytes left", ErrMalformed, off-1, size, len(b))
			}
			seq, err := parseSequence(b[4:size], off+4)
			if err != nil {
				return nil, err
			}
			msg.Sequences = append(msg.Sequences, seq)
			b = b[size:]
			off += int(size)
		default:
			return nil, fmt.Errorf("%w: OP_MSG section kind %d at byte %d", ErrMalformed, kind, off-1)
		}
	}
	if bodies == 0 {
		return nil, fmt.Errorf("%w: OP_MSG has no kind-0 section", ErrMalformed)
	}
	return msg, nil
}

// parseSequence parses the identifier and documents of a kind-1 section, b being the section
// after its size; off is the offset of b in the message.
func parseSequence(b []byte, off int) (Sequence, error) {
	id, rest, err := readCString(b, "the identifier of a kind-1 section", off)
	if err != nil {
		return Sequence{}, err
	}
	seq := Sequence{Identifier: id}
	off += len(b) - len(rest)
	for len(rest) > 0 {
		doc, err := readDoc(rest, "a document of sequence "+quote(id), off)
		if err != nil {
			return Sequence{}, err
		}
		seq.Docs = append(seq.Docs, doc)
		rest = rest[len(doc):]
		off += len(doc)
	}
	return seq, nil
}

// readCString reads a NUL-terminated string at the start of b.
func readCString(b []byte, what string, off int) (string, []byte, error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], nil
		}
	}
	return "", nil, fmt.Errorf("%w: %s at byte %d has no terminating NUL", ErrMalformed, what, off)
}

// readDoc reads a valid BSON document at the start of b, whose length must fit in b.
func readDoc(b []byte, what string, off int) (bson.Raw, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("%w: %s at byte %d: %d bytes left, a document has at least 5", ErrMalformed, what, off, len(b))
	}
	n := int64(le32(b))
	if n < 5 || n > int64(len(b)) {
		return nil, fmt.Errorf("%w: %s at byte %d has length %d, its section has %d bytes left", ErrMalformed, what, off, n, len(b))
	}
	doc := b[:n]
	if err := bsoncore.Document(doc).Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s at byte %d is not valid BSON: %w", ErrMalformed, what, off, err)
	}
	return bson.Raw(doc), nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// Append appends m as a whole OP_MSG with the given header fields to dst: its flag bits, the
// body as a kind-0 section, then each sequence as a kind-1 section, then, when the flags have
// ChecksumPresent, the CRC-32C checksum. It refuses an unknown required flag bit, an invalid
// document and an identifier holding a NUL byte.
func (m *Msg) Append(dst []byte, requestID, responseTo int32) ([]byte, error) {
	if unknown := m.Flags & requiredMask &^ knownRequired; unknown != 0 {
		return nil, fmt.Errorf("wire: OP_MSG with unknown required flag bits %#x", uint32(unknown))
	}
	if err := bsoncore.Document(m.Body).Validate(); err != nil {
		return nil, fmt.Errorf("wire: the OP_MSG body: %w", err)
	}
	start := len(dst)
	dst = Header{RequestID: requestID, ResponseTo: responseTo, OpCode: OpMsg}.Append(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(m.Flags))
	dst = append(dst, sectionBody)
	dst = append(dst, m.Body...)
	for _, s := range m.Sequences {
		if strings.IndexByte(s.Identifier, 0) >= 0 {
			return nil, fmt.Errorf("wire: sequence identifier %q holds a NUL byte", s.Identifier)
		}
		dst = append(dst, sectionSequence)
		sstart := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = append(dst, s.Identifier...)
		dst = append(dst, 0)
		for i, d := range s.Docs {
			if err := bsoncore.Document(d).Validate(); err != nil {
				return nil, fmt.Errorf("wire: document %d of sequence %q: %w", i, s.Identifier, err)
			}
			dst = append(dst, d...)
		}
		size := len(dst) - sstart
		if size > 1<<31-1 {
			return nil, fmt.Errorf("wire: sequence %q of %d bytes exceeds the int32 size", s.Identifier, size)
		}
		binary.LittleEndian.PutUint32(dst[sstart:], uint32(size))
	}
	if m.Flags&ChecksumPresent != 0 {
		dst = append(dst, 0, 0, 0, 0)
	}
	dst, err := finish(dst, start)
	if err != nil {
		return nil, err
	}
	if m.Flags&ChecksumPresent != 0 {
		sum := crc32.Checksum(dst[start:len(dst)-4], castagnoli)
		binary.LittleEndian.PutUint32(dst[len(dst)-4:], sum)
	}
	return dst, nil
}

// WriteMsg writes m as one OP_MSG to w (see Msg.Append).
func WriteMsg(w io.Writer, requestID, responseTo int32, m *Msg) error {
	b, err := m.Append(nil, requestID, responseTo)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("wire: writing OP_MSG %d: %w", requestID, err)
	}
	return nil
}
