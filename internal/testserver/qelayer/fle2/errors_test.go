package fle2

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const secret = "s3cr3t-plaintext"

// withField returns payload blob with the top-level field key replaced by v, added when
// absent, or removed when v.Type is 0, keeping the subtype byte.
func withField(t testing.TB, blob []byte, key string, v bsoncore.Value) []byte {
	t.Helper()
	elems, err := bsoncore.Document(blob[1:]).Elements()
	if err != nil {
		t.Fatal(err)
	}
	idx, doc := bsoncore.AppendDocumentStart([]byte{blob[0]})
	found := false
	for _, e := range elems {
		if e.Key() == key {
			found = true
			if v.Type != 0 {
				doc = bsoncore.AppendValueElement(doc, key, v)
			}
			continue
		}
		doc = append(doc, e...)
	}
	if !found && v.Type != 0 {
		doc = bsoncore.AppendValueElement(doc, key, v)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

func codeOf(err error) int32 {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return -1
}

// TestProcessInsertErrors: the server's codes for bad payloads, the checks against the field,
// and no plaintext in any message.
func TestProcessInsertErrors(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	good := equalityInsert(t, k, rawString(secret), 2)
	f := equalityField(k, "string", 8)
	kr := loadSpecKey(t, rangeIntFile)
	rangeBlob := rangeInsert(t, kr, 7)
	rf := rangeIntField(kr)
	int32Val := func(n int32) bsoncore.Value {
		return bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, n)}
	}
	int64Val := func(n int64) bsoncore.Value {
		return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, n)}
	}
	rangeEdges, _ := bsoncore.Document(rangeBlob[1:]).LookupErr("g")
	textB := bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: bsoncore.NewDocumentBuilder().Build()}

	wrongKey := f
	wrongKey.KeyID = make([]byte, 16)
	unindexed := f
	unindexed.QueryType = ""
	asRange := f
	asRange.QueryType = "range"
	good = withField(t, good, "k", bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, 2)})
	asInt := f
	asInt.BSONType = "int"
	lowContention := f
	lowContention.Contention = 1

	cases := []struct {
		name string
		blob []byte
		f    Field
		code int32
	}{
		{"empty", nil, f, codeBadValue},
		{"v1 payload", append([]byte{4}, good[1:]...), f, 7291901},
		{"find payload", append([]byte{12}, good[1:]...), f, 6373503},
		{"not BSON", []byte{11, 1, 2, 3}, f, codeInvalidBSON},
		{"missing d", withField(t, good, "d", bsoncore.Value{}), f, codeIDLFailedToParse},
		{"missing v", withField(t, good, "v", bsoncore.Value{}), f, codeIDLFailedToParse},
		{"d wrong type", withField(t, good, "d", int32Val(1)), f, codeTypeMismatch},
		{"k wrong type", withField(t, good, "k", int32Val(1)), f, codeTypeMismatch},
		{"double type", withField(t, good, "t", int32Val(1)), f, 6373504},
		{"type 0", withField(t, good, "t", int32Val(0)), f, 6373504},
		{"type 300", withField(t, good, "t", int32Val(300)), f, 6373504},
		{"range type", withField(t, withField(t, rangeBlob, "t", int32Val(2)), "g", rangeEdges), rf, 6775305},
		{"text type", withField(t, withField(t, good, "b", textB), "t", int32Val(16)), f, codeIDLFailedToParse},
		{"range and empty text", withField(t, withField(t, rangeBlob, "b", textB), "g", rangeEdges), rf, codeIDLFailedToParse},
		{"empty v", withField(t, good, "v", bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, 0, nil)}), f, 9697302},
		{"short v", withField(t, good, "v", bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, 0, []byte{1})}), f, codeBadValue},
		{"short token", withField(t, good, "s", bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, 0, []byte{1})}), f, codeBadValue},
		{"u not UUID", withField(t, good, "u", bsoncore.Value{Type: bsoncore.TypeBinary, Data: bsoncore.AppendBinary(nil, 0, make([]byte, 16))}), f, codeBadValue},
		{"negative contention", withField(t, good, "k", int64Val(-1)), f, codeBadValue},
		{"contention above the field's", good, lowContention, codeBadValue},
		{"wrong key", good, wrongKey, 6726301},
		{"unindexed field", good, unindexed, 6726300},
		{"equality payload on range field", good, asRange, codeBadValue},
		{"type mismatch", good, asInt, codeBadValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ProcessInsert(ctx, c.blob, c.f, newMapESC(), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.code != codeOf(err) {
				t.Fatalf("code %d, want %d: %v", codeOf(err), c.code, err)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) || strings.Contains(msg, hex.EncodeToString([]byte(secret))) {
				t.Fatalf("plaintext in %q", msg)
			}
			if !strings.Contains(msg, "(code ") {
				t.Fatalf("message %q lacks the code", msg)
			}
		})
	}
	// A full text payload with both g and b is refused with 9783801.
	textBlob := payloadFor(t, k, rawString(secret), textInsertOptions())
	tb, _ := bsoncore.Document(textBlob[1:]).LookupErr("b")
	both := withField(t, withField(t, rangeBlob, "b", tb), "g", rangeEdges)
	if _, err := ProcessInsert(ctx, both, rf, newMapESC(), nil); codeOf(err) != 9783801 {
		t.Fatalf("range and text: %v", err)
	}
	textField := f
	textField.QueryType = "prefixPreview"
	if _, err := ProcessInsert(ctx, withField(t, textBlob, "t", int32Val(16)), textField, newMapESC(), nil); codeOf(err) != 9783802 {
		t.Fatalf("text with int type: %v", err)
	}
	if _, err := ProcessInsert(ctx, good, f, nil, nil); err == nil {
		t.Fatal("nil ESC accepted")
	}
}

// TestNoStrictPrefixParses: no strict prefix of a valid payload 11, find payload or stored
// value is accepted.
func TestNoStrictPrefixParses(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	f := equalityField(k, "string", 0)
	ins := equalityInsert(t, k, rawString("abc"), 0)
	w, err := ProcessInsert(ctx, ins, f, newMapESC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	find := equalityFind(t, k, rawString("abc"), 0)
	for n := range len(ins) {
		if _, err := ProcessInsert(ctx, ins[:n], f, newMapESC(), nil); err == nil {
			t.Fatalf("prefix of %d bytes of the insert payload accepted", n)
		}
	}
	for n := range len(find) {
		if _, err := FindTags(ctx, find[:n], newMapESC()); err == nil {
			t.Fatalf("prefix of %d bytes of the find payload accepted", n)
		}
	}
	// Stored values carry no length; what must hold is that a truncation never panics and
	// that dropping the metadata is noticed.
	for n := range len(w.Stored) {
		_, _ = StoredTags(w.Stored[:n])
	}
	if _, err := StoredTags(w.Stored[:headerLen+minServerValue]); err == nil {
		t.Fatal("stored value without metadata accepted")
	}
}

// TestFindTagsErrors covers bad find payloads.
func TestFindTagsErrors(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	find := equalityFind(t, k, rawString("abc"), 0)
	neg := withField(t, find, "cm", bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, -1)})
	huge := withField(t, find, "cm", bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, 1<<40)})
	for name, blob := range map[string][]byte{
		"empty": nil, "insert payload": equalityInsert(t, k, rawString("abc"), 0), "negative cm": neg, "huge cm": huge,
		"missing s": withField(t, find, "s", bsoncore.Value{}),
	} {
		if _, err := FindTags(ctx, blob, newMapESC()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := FindTags(ctx, find, nil); err == nil {
		t.Error("nil ESC accepted")
	}
	if IsRangeStub(find) {
		t.Error("equality payload reported as a range stub")
	}
}

// alwaysESC claims every document exists: the position search must stop with an error.
type alwaysESC struct{}

func (alwaysESC) Get(context.Context, []byte) ([]byte, bool, error) { return nil, true, nil }

// errESC fails every read.
type errESC struct{}

var errRead = errors.New("read failed")

func (errESC) Get(context.Context, []byte) ([]byte, bool, error) { return nil, false, errRead }

func TestBrokenESC(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	f := equalityField(k, "string", 0)
	ins := equalityInsert(t, k, rawString("abc"), 0)
	if _, err := ProcessInsert(ctx, ins, f, alwaysESC{}, nil); err == nil {
		t.Fatal("an ESC where everything exists was accepted")
	}
	if _, err := ProcessInsert(ctx, ins, f, errESC{}, nil); !errors.Is(err, errRead) {
		t.Fatalf("read error not returned: %v", err)
	}
	if _, err := FindTags(ctx, equalityFind(t, k, rawString("abc"), 0), errESC{}); !errors.Is(err, errRead) {
		t.Fatalf("read error not returned: %v", err)
	}
	// An ESC with non-anchors 1..1000 and nothing else: the search finds 1000 without
	// reading more than a few dozen documents.
	esc := newMapESC()
	var tags [][]byte
	for range 1000 {
		w, err := ProcessInsert(ctx, equalityInsert(t, k, rawString("abc"), 0), f, esc, nil)
		if err != nil {
			t.Fatal(err)
		}
		esc.apply(t, w)
		tags = append(tags, w.Tags...)
	}
	esc.reads = 0
	got, err := FindTags(ctx, equalityFind(t, k, rawString("abc"), 0), esc)
	if err != nil || !sameSet(got, tags) {
		t.Fatalf("1000 inserts: %d tags, %v", len(got), err)
	}
	if esc.reads > 64 {
		t.Fatalf("the search read %d documents", esc.reads)
	}
}

func TestErrorText(t *testing.T) {
	e := errorf(6726301, "Mismatched keyId")
	if e.Error() != "Mismatched keyId (code 6726301)" || e.CodeName != "Location6726301" {
		t.Fatalf("%q %q", e.Error(), e.CodeName)
	}
	if e := errorf(codeBadValue, "x"); e.CodeName != "BadValue" {
		t.Fatal(e.CodeName)
	}
}
