package wire

import (
	"encoding/binary"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Query is the content of an OP_QUERY after the header, the legacy query old clients still
// send for their handshake (a hello or isMaster on "admin.$cmd").
type Query struct {
	Flags                int32    // the OP_QUERY flags (bit 2 slaveOk, ...)
	FullCollectionName   string   // "db.collection", "admin.$cmd" for a command
	NumberToSkip         int32    // documents to skip
	NumberToReturn       int32    // documents to return (-1 for a command)
	Query                bson.Raw // the query or command document
	ReturnFieldsSelector bson.Raw // the optional projection, nil when absent
}

// parseQuery parses the content of an OP_QUERY after the header.
func parseQuery(b []byte) (*Query, error) {
	const off = HeaderLen
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: OP_QUERY is truncated before its flags", ErrMalformed)
	}
	q := &Query{Flags: le32(b)}
	name, rest, err := readCString(b[4:], "the fullCollectionName of OP_QUERY", off+4)
	if err != nil {
		return nil, err
	}
	q.FullCollectionName = name
	if len(rest) < 8 {
		return nil, fmt.Errorf("%w: OP_QUERY is truncated before numberToSkip and numberToReturn", ErrMalformed)
	}
	q.NumberToSkip = le32(rest)
	q.NumberToReturn = le32(rest[4:])
	rest = rest[8:]
	at := off + len(b) - len(rest)
	if q.Query, err = readDoc(rest, "the OP_QUERY query", at); err != nil {
		return nil, err
	}
	rest = rest[len(q.Query):]
	if len(rest) > 0 {
		at = off + len(b) - len(rest)
		if q.ReturnFieldsSelector, err = readDoc(rest, "the OP_QUERY returnFieldsSelector", at); err != nil {
			return nil, err
		}
		if extra := len(rest) - len(q.ReturnFieldsSelector); extra > 0 {
			return nil, fmt.Errorf("%w: OP_QUERY has %d bytes after its returnFieldsSelector", ErrMalformed, extra)
		}
	}
	return q, nil
}

// Reply is the content of an OP_REPLY after the header, the legacy reply to an OP_QUERY.
type Reply struct {
	Flags          int32      // the responseFlags (bit 3 awaitCapable, ...)
	CursorID       int64      // the cursor, 0 when none
	StartingFrom   int32      // the position of the first document in the cursor
	NumberReturned int32      // the number of documents, on parsing; Append writes len(Documents)
	Documents      []bson.Raw // the documents returned
}

// parseReply parses the content of an OP_REPLY after the header.
func parseReply(b []byte) (*Reply, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("%w: OP_REPLY of %d bytes after the header is shorter than its 20 bytes of fields", ErrMalformed, len(b))
	}
	r := &Reply{
		Flags:          le32(b),
		CursorID:       int64(binary.LittleEndian.Uint64(b[4:])),
		StartingFrom:   le32(b[12:]),
		NumberReturned: le32(b[16:]),
	}
	rest := b[20:]
	for len(rest) > 0 {
		d, err := readDoc(rest, "an OP_REPLY document", HeaderLen+len(b)-len(rest))
		if err != nil {
			return nil, err
		}
		r.Documents = append(r.Documents, d)
		rest = rest[len(d):]
	}
	if int64(r.NumberReturned) != int64(len(r.Documents)) {
		return nil, fmt.Errorf("%w: OP_REPLY numberReturned %d but it holds %d documents", ErrMalformed, r.NumberReturned, len(r.Documents))
	}
	return r, nil
}

// Append appends r as a whole OP_REPLY with the given header fields to dst; numberReturned is
// the number of documents, each of which must be valid BSON.
func (r *Reply) Append(dst []byte, requestID, responseTo int32) ([]byte, error) {
	start := len(dst)
	dst = Header{RequestID: requestID, ResponseTo: responseTo, OpCode: OpReply}.Append(dst)
	dst = appendI32(dst, r.Flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.CursorID))
	dst = appendI32(dst, r.StartingFrom)
	if int64(len(r.Documents)) > 1<<31-1 {
		return nil, fmt.Errorf("wire: OP_REPLY of %d documents", len(r.Documents))
	}
	dst = appendI32(dst, int32(len(r.Documents)))
	for i, d := range r.Documents {
		if err := bsoncore.Document(d).Validate(); err != nil {
			return nil, fmt.Errorf("wire: OP_REPLY document %d: %w", i, err)
		}
		dst = append(dst, d...)
	}
	return finish(dst, start)
}

// WriteReply writes an OP_REPLY with the one document doc to w, in answer to the request
// responseTo (the reply to a legacy OP_QUERY handshake).
func WriteReply(w io.Writer, requestID, responseTo int32, doc bson.Raw) error {
	b, err := (&Reply{Documents: []bson.Raw{doc}}).Append(nil, requestID, responseTo)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("wire: writing OP_REPLY %d: %w", requestID, err)
	}
	return nil
}

// Append appends q as a whole OP_QUERY with the given header fields to dst (for clients and
// tests); ReturnFieldsSelector is written when it is not nil.
func (q *Query) Append(dst []byte, requestID, responseTo int32) ([]byte, error) {
	for i := 0; i < len(q.FullCollectionName); i++ {
		if q.FullCollectionName[i] == 0 {
			return nil, fmt.Errorf("wire: fullCollectionName %q holds a NUL byte", q.FullCollectionName)
		}
	}
	if err := bsoncore.Document(q.Query).Validate(); err != nil {
		return nil, fmt.Errorf("wire: the OP_QUERY query: %w", err)
	}
	if q.ReturnFieldsSelector != nil {
		if err := bsoncore.Document(q.ReturnFieldsSelector).Validate(); err != nil {
			return nil, fmt.Errorf("wire: the OP_QUERY returnFieldsSelector: %w", err)
		}
	}
	start := len(dst)
	dst = Header{RequestID: requestID, ResponseTo: responseTo, OpCode: OpQuery}.Append(dst)
	dst = appendI32(dst, q.Flags)
	dst = append(dst, q.FullCollectionName...)
	dst = append(dst, 0)
	dst = appendI32(dst, q.NumberToSkip)
	dst = appendI32(dst, q.NumberToReturn)
	dst = append(dst, q.Query...)
	dst = append(dst, q.ReturnFieldsSelector...)
	return finish(dst, start)
}
