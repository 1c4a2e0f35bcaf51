package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/wiremessage"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func doc(t testing.TB, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Hand-assembled messages.
const (
	// OP_MSG, requestID 1, flags 0, body {}.
	hexEmptyMsg = "1a000000 01000000 00000000 dd070000 00000000 00 0500000000"
	// OP_MSG, requestID 7, responseTo 3, flags exhaustAllowed, body {}, sequence "d" of {}.
	hexSeqMsg = "26000000 07000000 03000000 dd070000 00000100 00 0500000000 01 0b000000 6400 0500000000"
)

func TestKnownAnswers(t *testing.T) {
	m := mustHex(t, hexEmptyMsg)
	got, err := Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header != (Header{MessageLength: 26, RequestID: 1, OpCode: OpMsg}) || got.Msg.Flags != 0 ||
		!bytes.Equal(got.Msg.Body, []byte{5, 0, 0, 0, 0}) || len(got.Msg.Sequences) != 0 {
		t.Fatalf("parsed %+v %+v", got.Header, got.Msg)
	}
	out, err := (&Msg{Body: bson.Raw{5, 0, 0, 0, 0}}).Append(nil, 1, 0)
	if err != nil || !bytes.Equal(out, m) {
		t.Fatalf("Append = %x, %v; want %x", out, err, m)
	}

	m = mustHex(t, hexSeqMsg)
	got, err = Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.RequestID != 7 || got.Header.ResponseTo != 3 || got.Msg.Flags != ExhaustAllowed ||
		len(got.Msg.Sequences) != 1 || got.Msg.Sequences[0].Identifier != "d" || len(got.Msg.Sequences[0].Docs) != 1 {
		t.Fatalf("parsed %+v %+v", got.Header, got.Msg)
	}
	out, err = got.Msg.Append(nil, 7, 3)
	if err != nil || !bytes.Equal(out, m) {
		t.Fatalf("Append = %x, %v; want %x", out, err, m)
	}

	// The same with checksumPresent: the CRC-32C (Castagnoli) of every byte before it.
	withSum, err := (&Msg{Flags: ChecksumPresent, Body: bson.Raw{5, 0, 0, 0, 0}}).Append(nil, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "1e000000 01000000 00000000 dd070000 01000000 00 0500000000")
	want = binary.LittleEndian.AppendUint32(want, crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)))
	if !bytes.Equal(withSum, want) {
		t.Fatalf("checksummed Append = %x, want %x", withSum, want)
	}
	if _, err := Parse(withSum); err != nil {
		t.Fatal(err)
	}
	// The check value of CRC-32C, so the table is the right one.
	if s := crc32.Checksum([]byte("123456789"), castagnoli); s != 0xe3069283 {
		t.Fatalf("CRC-32C check value %#x", s)
	}
}

// A message as the Go driver's wiremessage package builds it: an insert with its documents
// as a kind-1 sequence after the body.
func driverInsert(t testing.TB) []byte {
	t.Helper()
	idx, m := wiremessage.AppendHeaderStart(nil, 42, 0, wiremessage.OpMsg)
	m = wiremessage.AppendMsgFlags(m, 0)
	m = wiremessage.AppendMsgSectionType(m, wiremessage.SingleDocument)
	m = append(m, doc(t, bson.D{{Key: "insert", Value: "c"}, {Key: "$db", Value: "db"}})...)
	m = wiremessage.AppendMsgSectionType(m, wiremessage.DocumentSequence)
	sidx, m := bsoncore.ReserveLength(m)
	m = append(m, "documents\x00"...)
	m = append(m, doc(t, bson.D{{Key: "_id", Value: 1}})...)
	m = append(m, doc(t, bson.D{{Key: "_id", Value: 2}, {Key: "x", Value: "y"}})...)
	m = bsoncore.UpdateLength(m, sidx, int32(len(m[sidx:])))
	return bsoncore.UpdateLength(m, idx, int32(len(m[idx:])))
}

func TestDriverMessage(t *testing.T) {
	m := driverInsert(t)
	got, err := Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.RequestID != 42 || got.Header.OpCode != OpMsg {
		t.Fatalf("header %+v", got.Header)
	}
	if v, _ := got.Msg.Body.Lookup("insert").StringValueOK(); v != "c" {
		t.Fatalf("body %v", got.Msg.Body)
	}
	s := got.Msg.Sequences
	if len(s) != 1 || s[0].Identifier != "documents" || len(s[0].Docs) != 2 ||
		s[0].Docs[1].Lookup("x").StringValue() != "y" {
		t.Fatalf("sequences %+v", s)
	}
	// The driver's own reader agrees.
	_, _, _, _, rem, ok := wiremessage.ReadHeader(m)
	if !ok {
		t.Fatal("driver ReadHeader")
	}
	_, rem, _ = wiremessage.ReadMsgFlags(rem)
	_, rem, _ = wiremessage.ReadMsgSectionType(rem)
	_, rem, _ = wiremessage.ReadMsgSectionSingleDocument(rem)
	_, rem, _ = wiremessage.ReadMsgSectionType(rem)
	id, docs, _, ok := wiremessage.ReadMsgSectionDocumentSequence(rem)
	if !ok || id != "documents" || len(docs) != 2 || !bytes.Equal(docs[0], s[0].Docs[0]) {
		t.Fatalf("driver reads %q %d", id, len(docs))
	}
	out, err := got.Msg.Append(nil, 42, 0)
	if err != nil || !bytes.Equal(out, m) {
		t.Fatalf("Append = %x, %v; want the driver's %x", out, err, m)
	}
}

func TestRoundTrips(t *testing.T) {
	body := doc(t, bson.D{{Key: "hello", Value: 1}, {Key: "$db", Value: "admin"}})
	msgs := []*Msg{
		{Body: body},
		{Flags: MoreToCome, Body: body},
		{Flags: ChecksumPresent | ExhaustAllowed | 1<<20, Body: body, Sequences: []Sequence{
			{Identifier: "documents", Docs: []bson.Raw{doc(t, bson.D{{Key: "a", Value: 1}})}},
			{Identifier: "updates"},
			{Identifier: "", Docs: []bson.Raw{body, body}},
		}},
	}
	for i, msg := range msgs {
		var buf bytes.Buffer
		if err := WriteMsg(&buf, int32(i), 9, msg); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMessage(&buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(m)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got.Header.RequestID != int32(i) || got.Header.ResponseTo != 9 || got.Msg.Flags != msg.Flags ||
			!bytes.Equal(got.Msg.Body, msg.Body) || len(got.Msg.Sequences) != len(msg.Sequences) {
			t.Fatalf("%d: %+v", i, got.Msg)
		}
		for j, s := range msg.Sequences {
			g := got.Msg.Sequences[j]
			if g.Identifier != s.Identifier || len(g.Docs) != len(s.Docs) {
				t.Fatalf("%d: sequence %d %+v", i, j, g)
			}
			for k := range s.Docs {
				if !bytes.Equal(g.Docs[k], s.Docs[k]) {
					t.Fatalf("%d: sequence %d doc %d", i, j, k)
				}
			}
		}
		if _, err := ReadMessage(&buf, 0); err != io.EOF {
			t.Fatalf("after the last message: %v, want io.EOF", err)
		}
		if got2, err := ParseMsg(m); err != nil || !bytes.Equal(got2.Body, msg.Body) {
			t.Fatalf("ParseMsg: %v", err)
		}
	}
}

func TestLegacyHandshake(t *testing.T) {
	q := &Query{Flags: 4, FullCollectionName: "admin.$cmd", NumberToReturn: -1,
		Query: doc(t, bson.D{{Key: "isMaster", Value: 1}})}
	m, err := q.Append(nil, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The driver builds the same bytes.
	idx, d := wiremessage.AppendHeaderStart(nil, 5, 0, wiremessage.OpCode(OpQuery)) // the driver deprecates its OP_QUERY name
	d = wiremessage.AppendQueryFlags(d, wiremessage.SecondaryOK)
	d = wiremessage.AppendQueryFullCollectionName(d, "admin.$cmd")
	d = wiremessage.AppendQueryNumberToSkip(d, 0)
	d = wiremessage.AppendQueryNumberToReturn(d, -1)
	d = append(d, q.Query...)
	d = bsoncore.UpdateLength(d, idx, int32(len(d[idx:])))
	if !bytes.Equal(m, d) {
		t.Fatalf("OP_QUERY %x, driver %x", m, d)
	}
	got, err := Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Query; got.Header.OpCode != OpQuery || g.Flags != 4 || g.FullCollectionName != "admin.$cmd" ||
		g.NumberToSkip != 0 || g.NumberToReturn != -1 || !bytes.Equal(g.Query, q.Query) || g.ReturnFieldsSelector != nil {
		t.Fatalf("parsed %+v", got.Query)
	}
	q.ReturnFieldsSelector = doc(t, bson.D{{Key: "x", Value: 1}})
	q.NumberToSkip = 3
	m, err = q.Append(nil, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = Parse(m); err != nil || got.Query.NumberToSkip != 3 || !bytes.Equal(got.Query.ReturnFieldsSelector, q.ReturnFieldsSelector) {
		t.Fatalf("with a selector: %+v %v", got, err)
	}

	reply := doc(t, bson.D{{Key: "ismaster", Value: true}, {Key: "ok", Value: 1.0}})
	var buf bytes.Buffer
	if err := WriteReply(&buf, 11, 5, reply); err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "00000000 0b000000 05000000 01000000 00000000 0000000000000000 00000000 01000000")
	want = append(want, reply...)
	binary.LittleEndian.PutUint32(want, uint32(len(want)))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("OP_REPLY %x, want %x", buf.Bytes(), want)
	}
	// The driver reads it.
	_, _, respTo, op, rem, ok := wiremessage.ReadHeader(buf.Bytes())
	if !ok || respTo != 5 || op != wiremessage.OpReply {
		t.Fatal("driver ReadHeader of the reply")
	}
	_, rem, _ = wiremessage.ReadReplyFlags(rem)
	_, rem, _ = wiremessage.ReadReplyCursorID(rem)
	_, rem, _ = wiremessage.ReadReplyStartingFrom(rem)
	n, rem, _ := wiremessage.ReadReplyNumberReturned(rem)
	docs, _, ok := wiremessage.ReadReplyDocuments(rem)
	if !ok || n != 1 || len(docs) != 1 || !bytes.Equal(docs[0], reply) {
		t.Fatal("driver reads the reply wrongly")
	}
	got, err = Parse(buf.Bytes())
	if err != nil || len(got.Reply.Documents) != 1 || got.Reply.NumberReturned != 1 {
		t.Fatalf("parsing the reply: %+v %v", got, err)
	}
}

func TestOtherOpcodes(t *testing.T) {
	m := mustHex(t, "14000000 01000000 00000000 dc070000 00000000")
	if _, err := Parse(m); !errors.Is(err, ErrCompressed) || !strings.Contains(err.Error(), "OP_COMPRESSED") {
		t.Fatalf("OP_COMPRESSED: %v", err)
	}
	for _, op := range []OpCode{OpInsert, OpGetMore, 9999} {
		binary.LittleEndian.PutUint32(m[12:], uint32(op))
		_, err := Parse(m)
		var ue *UnsupportedOpCodeError
		if !errors.As(err, &ue) || ue.OpCode != op || !strings.Contains(err.Error(), op.String()) {
			t.Fatalf("opcode %d: %v", op, err)
		}
	}
	if _, err := ParseMsg(m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseMsg of another opcode: %v", err)
	}
}

func TestReadMessageLimits(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		max  int
		want string
		is   error
	}{
		{mustHex(t, "0f000000"), 0, "messageLength 15", ErrMessageLength},
		{mustHex(t, "00000000"), 0, "messageLength 0", ErrMessageLength},
		{mustHex(t, "ffffffff"), 0, "messageLength -1", ErrMessageLength},
		{mustHex(t, "01366e03"), 0, "messageLength 57554433 exceeds the limit of 48000000", ErrMessageLength},
		{mustHex(t, "ffffff7f"), 0, "messageLength 2147483647", ErrMessageLength},
		{mustHex(t, hexEmptyMsg), 20, "messageLength 26 exceeds the limit of 20", ErrMessageLength},
		{mustHex(t, "1a00"), 0, "length", io.ErrUnexpectedEOF},
		{mustHex(t, "1a000000 01000000"), 0, "26 bytes", io.ErrUnexpectedEOF},
	} {
		_, err := ReadMessage(bytes.NewReader(tc.in), tc.max)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%x: %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := ReadMessage(bytes.NewReader(nil), 0); err != io.EOF {
		t.Fatalf("empty reader: %v", err)
	}
	// A reader that would give 2 GB: refused before allocating.
	r := io.MultiReader(bytes.NewReader(mustHex(t, "ffffff7f")), zeros{})
	if _, err := ReadMessage(r, 0); !errors.Is(err, ErrMessageLength) {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(10, func() {
		_, _ = ReadMessage(bytes.NewReader(mustHex(t, "ffffff7f")), 0)
	}); a > 10 {
		t.Fatalf("%v allocations refusing a length", a)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// setLen fixes the messageLength of m.
func setLen(m []byte) []byte {
	binary.LittleEndian.PutUint32(m, uint32(len(m)))
	return m
}

func TestMalformed(t *testing.T) {
	hdr := "00000000 01000000 00000000 dd070000"
	body := "0500000000"
	cases := []struct {
		name string
		m    []byte
		want string
	}{
		{"truncated header", mustHex(t, "1a000000 0100"), "shorter than the 16-byte header"},
		{"length longer than the bytes", mustHex(t, "1b000000 01000000 00000000 dd070000 00000000 00 0500000000"), "messageLength 27 but the message has 26"},
		{"length shorter than the bytes", mustHex(t, "19000000 01000000 00000000 dd070000 00000000 00 0500000000"), "messageLength 25"},
		{"no flags", setLen(mustHex(t, hdr+"0000")), "no flagBits"},
		{"no sections", setLen(mustHex(t, hdr+"00000000")), "no kind-0 section"},
		{"unknown required flag", setLen(mustHex(t, hdr+"04000000 00"+body)), "unknown required flag bits 0x4"},
		{"unknown required flag 15", setLen(mustHex(t, hdr+"00800000 00"+body)), "0x8000"},
		{"two kind-0 sections", setLen(mustHex(t, hdr+"00000000 00"+body+"00"+body)), "second kind-0 section"},
		{"unknown section kind", setLen(mustHex(t, hdr+"00000000 00"+body+"02"+body)), "section kind 2"},
		{"body truncated", setLen(mustHex(t, hdr+"00000000 00 0500")), "2 bytes left"},
		{"body length beyond message", setLen(mustHex(t, hdr+"00000000 00 0600000000")), "has length 6"},
		{"body length negative", setLen(mustHex(t, hdr+"00000000 00 ffffffff00")), "has length -1"},
		{"body length too small", setLen(mustHex(t, hdr+"00000000 00 0400000000")), "has length 4"},
		{"body invalid BSON", setLen(mustHex(t, hdr+"00000000 00 060000000100")), "not valid BSON"},
		{"body missing NUL", setLen(mustHex(t, hdr+"00000000 00 0500000001")), "not valid BSON"},
		{"sequence truncated size", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0b00")), "truncated before its size"},
		{"sequence overruns message", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0c000000 6400 0500000000")), "size 12"},
		{"sequence size too small", setLen(mustHex(t, hdr+"00000000 00"+body+"01 04000000 6400 0500000000")), "size 4"},
		{"sequence size negative", setLen(mustHex(t, hdr+"00000000 00"+body+"01 feffffff 6400 0500000000")), "size -2"},
		{"identifier without NUL", setLen(mustHex(t, hdr+"00000000 00"+body+"01 06000000 6464")), "no terminating NUL"},
		{"document truncated by its section", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0a000000 6400 0500000000")), "4 bytes left"},
		{"document beyond its section", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0b000000 6400 0600000000 00")), "has length 6, its section has 5 bytes left"},
		{"document length beyond section into next", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0b000000 6400 0a00000000 01 0600000000 00")), "has length 10"},
		{"document invalid in sequence", setLen(mustHex(t, hdr+"00000000 00"+body+"01 0b000000 6400 0500000007")), "not valid BSON"},
		{"checksum absent", setLen(mustHex(t, hdr+"01000000")), "no room for a checksum"},
		{"bad checksum", setLen(mustHex(t, hdr+"01000000 00"+body+"00000000")), "checksum mismatch"},
		{"query truncated", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 0000")), "before its flags"},
		{"query bad cstring", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 00000000 6162")), "no terminating NUL"},
		{"query no numbers", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 00000000 6100 0000")), "before numberToSkip"},
		{"query no document", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 00000000 6100 00000000 ffffffff")), "query"},
		{"query trailing bytes", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 00000000 6100 00000000 ffffffff"+body+body+"00")), "after its returnFieldsSelector"},
		{"query bad selector", setLen(mustHex(t, "00000000 01000000 00000000 d4070000 00000000 6100 00000000 ffffffff"+body+"0600000000")), "returnFieldsSelector"},
		{"reply truncated", setLen(mustHex(t, "00000000 01000000 00000000 01000000 00000000")), "shorter than its 20 bytes"},
		{"reply count lies", setLen(mustHex(t, "00000000 01000000 00000000 01000000 00000000 0000000000000000 00000000 02000000"+body)), "numberReturned 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.m)
			if err == nil {
				t.Fatalf("Parse(%x) succeeded", tc.m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%x) = %v, want %q", tc.m, err, tc.want)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrChecksum) {
				t.Fatalf("%v wraps neither ErrMalformed nor ErrChecksum", err)
			}
			// Every truncation of the message is refused too, through ReadMessage and Parse.
			for n := 0; n < len(tc.m); n++ {
				if m, err := ReadMessage(bytes.NewReader(tc.m[:n]), 0); err == nil {
					_, _ = Parse(m)
				}
				_, _ = Parse(tc.m[:n])
			}
		})
	}
}

func TestAppendRefuses(t *testing.T) {
	good := bson.Raw{5, 0, 0, 0, 0}
	for _, m := range []*Msg{
		{Body: nil},
		{Body: bson.Raw{6, 0, 0, 0, 0}},
		{Flags: 1 << 3, Body: good},
		{Body: good, Sequences: []Sequence{{Identifier: "a\x00b"}}},
		{Body: good, Sequences: []Sequence{{Identifier: "a", Docs: []bson.Raw{{1, 2}}}}},
	} {
		if _, err := m.Append(nil, 1, 0); err == nil {
			t.Errorf("Append(%+v) succeeded", m)
		}
	}
	if _, err := (&Query{FullCollectionName: "a\x00", Query: good}).Append(nil, 1, 0); err == nil {
		t.Error("OP_QUERY with a NUL in its name")
	}
	if _, err := (&Query{FullCollectionName: "a", Query: good, ReturnFieldsSelector: bson.Raw{1}}).Append(nil, 1, 0); err == nil {
		t.Error("OP_QUERY with a bad selector")
	}
	if err := WriteReply(io.Discard, 1, 0, bson.Raw{9}); err == nil {
		t.Error("OP_REPLY with a bad document")
	}
	if err := WriteMsg(failWriter{}, 1, 0, &Msg{Body: good}); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("WriteMsg to a failing writer: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func FuzzParse(f *testing.F) {
	f.Add(mustHex(f, hexEmptyMsg))
	f.Add(mustHex(f, hexSeqMsg))
	f.Add(driverInsert(f))
	if m, err := (&Msg{Flags: ChecksumPresent, Body: bson.Raw{5, 0, 0, 0, 0},
		Sequences: []Sequence{{Identifier: "documents", Docs: []bson.Raw{{5, 0, 0, 0, 0}}}}}).Append(nil, 1, 0); err == nil {
		f.Add(m)
	}
	if m, err := (&Query{FullCollectionName: "admin.$cmd", NumberToReturn: -1, Query: doc(f, bson.D{{Key: "isMaster", Value: 1}}),
		ReturnFieldsSelector: bson.Raw{5, 0, 0, 0, 0}}).Append(nil, 1, 0); err == nil {
		f.Add(m)
	}
	if m, err := (&Reply{Documents: []bson.Raw{doc(f, bson.D{{Key: "ok", Value: 1}})}}).Append(nil, 1, 2); err == nil {
		f.Add(m)
	}
	f.Add(mustHex(f, "14000000 01000000 00000000 dc070000 00000000"))
	f.Add(mustHex(f, "ffffff7f"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadMessage(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		got, err := Parse(m)
		if err != nil {
			return
		}
		// What parses writes back and parses the same.
		var out []byte
		switch {
		case got.Msg != nil:
			out, err = got.Msg.Append(nil, got.Header.RequestID, got.Header.ResponseTo)
		case got.Query != nil:
			out, err = got.Query.Append(nil, got.Header.RequestID, got.Header.ResponseTo)
		case got.Reply != nil:
			out, err = got.Reply.Append(nil, got.Header.RequestID, got.Header.ResponseTo)
		default:
			t.Fatal("Parse gave no content")
		}
		if err != nil {
			t.Fatalf("re-encoding a parsed message: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("parsing a re-encoded message: %v", err)
		}
		if got.Msg != nil {
			if !bytes.Equal(again.Msg.Body, got.Msg.Body) || len(again.Msg.Sequences) != len(got.Msg.Sequences) {
				t.Fatal("the re-encoded OP_MSG differs")
			}
			// A body first and no checksum: the bytes are the same.
			if m[HeaderLen+4] == 0 && got.Msg.Flags&ChecksumPresent == 0 && !bytes.Equal(out, m) {
				t.Fatalf("re-encoded %x, read %x", out, m)
			}
		}
	})
}
