package fle2

import (
	"bytes"
	"context"
	"testing"
)

// compactionToken derives the field's compaction token from the data key as a client does:
// ECOCToken = HMAC(HMAC(TokenKey, 1), 4), AnchorPaddingTokenRoot = HMAC(ESCToken, 17 zero
// bytes) with ESCToken = HMAC(HMAC(TokenKey, 1), 2), TokenKey = key[64:96].
func compactionToken(k *specKey, padding bool) CompactionToken {
	cl1 := prf1(k.material[64:96], 1)
	ecoc := prf1(cl1[:], 4)
	tok := CompactionToken{ECOC: ecoc[:]}
	if padding {
		escTok := prf1(cl1[:], 2)
		root := prfBytes(escTok[:], make([]byte, 17))
		tok.AnchorPadding = root[:]
	}
	return tok
}

// field records the writes of one field as the server's collections would.
type fieldState struct {
	esc  *mapESC
	ecoc [][]byte
	tags map[string][][]byte // value -> tags
}

func newFieldState() *fieldState {
	return &fieldState{esc: newMapESC(), tags: map[string][][]byte{}}
}

func (s *fieldState) insert(t testing.TB, f Field, blob []byte, key string) *Write {
	t.Helper()
	w, err := ProcessInsert(context.Background(), blob, f, s.esc, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.esc.apply(t, w)
	s.ecoc = append(s.ecoc, w.ECOC...)
	s.tags[key] = append(s.tags[key], w.Tags...)
	return w
}

func (s *fieldState) checkFind(t testing.TB, k *specKey, value string) {
	t.Helper()
	got, err := FindTags(context.Background(), equalityFind(t, k, rawString(value), 0), s.esc)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, s.tags[value]) {
		t.Fatalf("%q: FindTags = %d tags, want the %d inserted", value, len(got), len(s.tags[value]))
	}
}

// TestCompactEquality: after Compact each value's non-anchors are replaced by one anchor,
// FindTags still returns every tag through it, new inserts continue the count, and a
// second Compact adds a second anchor.
func TestCompactEquality(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	f := equalityField(k, "string", 0)
	s := newFieldState()
	for range 5 {
		s.insert(t, f, equalityInsert(t, k, rawString("a"), 0), "a")
	}
	for range 3 {
		s.insert(t, f, equalityInsert(t, k, rawString("b"), 0), "b")
	}
	tok := compactionToken(k, false)
	st, err := Compact(ctx, f, tok, s.ecoc, s.esc)
	if err != nil {
		t.Fatal(err)
	}
	if st.ESCInserted != 2 || st.ESCDeleted != 8 || st.ECOCRead != 8 || s.esc.len() != 2 {
		t.Fatalf("stats %+v, ESC has %d documents", st, s.esc.len())
	}
	s.checkFind(t, k, "a")
	s.checkFind(t, k, "b")

	// Compacting again with the same ECOC entries changes nothing.
	st, err = Compact(ctx, f, tok, s.ecoc, s.esc)
	if err != nil || st.ESCInserted != 0 || st.ESCDeleted != 0 || s.esc.len() != 2 {
		t.Fatalf("second compact: %+v, %v, %d documents", st, err, s.esc.len())
	}

	// An insert after compaction takes count 6.
	s.ecoc = nil
	w := s.insert(t, f, equalityInsert(t, k, rawString("a"), 0), "a")
	if want := tagFor(clientEDC(t, k, "a", 0), 6); !bytes.Equal(w.Tags[0], want[:]) {
		t.Fatal("insert after compaction does not take count 6")
	}
	s.checkFind(t, k, "a")
	if _, err := Compact(ctx, f, tok, s.ecoc, s.esc); err != nil {
		t.Fatal(err)
	}
	if s.esc.len() != 3 { // two anchors of "a", one of "b"
		t.Fatalf("ESC has %d documents", s.esc.len())
	}
	s.checkFind(t, k, "a")

	// Cleanup folds the anchors of "a" into its null anchor.
	st, err = Cleanup(ctx, f, tok, s.ecoc, s.esc)
	if err != nil {
		t.Fatal(err)
	}
	if st.ESCInserted != 1 || st.ESCDeleted != 2 || s.esc.len() != 2 {
		t.Fatalf("cleanup stats %+v, ESC has %d documents", st, s.esc.len())
	}
	s.checkFind(t, k, "a")
	s.checkFind(t, k, "b")
	w = s.insert(t, f, equalityInsert(t, k, rawString("a"), 0), "a")
	if want := tagFor(clientEDC(t, k, "a", 0), 7); !bytes.Equal(w.Tags[0], want[:]) {
		t.Fatal("insert after cleanup does not take count 7")
	}
	s.checkFind(t, k, "a")
	// Compact after cleanup puts the next anchor after the null anchor's position.
	s.ecoc = s.ecoc[len(s.ecoc)-1:]
	if _, err := Compact(ctx, f, tok, s.ecoc, s.esc); err != nil {
		t.Fatal(err)
	}
	s.checkFind(t, k, "a")
	// And a second cleanup updates the existing null anchor.
	st, err = Cleanup(ctx, f, tok, s.ecoc, s.esc)
	if err != nil || st.ESCUpdated != 1 {
		t.Fatalf("second cleanup: %+v, %v", st, err)
	}
	s.checkFind(t, k, "a")
}

// TestCleanupWithoutAnchors: cleanup of non-anchors only writes a null anchor (case F).
func TestCleanupWithoutAnchors(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, "fle2v2-InsertFind-Indexed.json")
	f := equalityField(k, "string", 0)
	s := newFieldState()
	for range 4 {
		s.insert(t, f, equalityInsert(t, k, rawString("c"), 0), "c")
	}
	st, err := Cleanup(ctx, f, compactionToken(k, false), s.ecoc, s.esc)
	if err != nil {
		t.Fatal(err)
	}
	if st.ESCInserted != 1 || st.ESCDeleted != 4 || s.esc.len() != 1 {
		t.Fatalf("stats %+v, ESC has %d documents", st, s.esc.len())
	}
	s.checkFind(t, k, "c")
	s.insert(t, f, equalityInsert(t, k, rawString("c"), 0), "c")
	s.checkFind(t, k, "c")
}

// TestCompactErrors: a wrong-sized token, an ECOC value of a padded field under an equality
// token, and a token that decrypts nothing useful.
func TestCompactErrors(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, rangeIntFile)
	f := rangeIntField(k)
	s := newFieldState()
	s.insert(t, f, rangeInsert(t, k, 5), "5")
	if _, err := Compact(ctx, f, CompactionToken{ECOC: []byte{1}}, s.ecoc, s.esc); err == nil {
		t.Fatal("short token accepted")
	}
	_, err := Compact(ctx, f, compactionToken(k, false), s.ecoc, s.esc)
	if e, ok := err.(*Error); !ok || e.Code != 8574701 {
		t.Fatalf("equality token on range entries: %v", err)
	}
	if _, err := Compact(ctx, f, compactionToken(k, true), [][]byte{{1, 2, 3}}, s.esc); err == nil {
		t.Fatal("bad ECOC value accepted")
	}
	if _, err := Compact(ctx, f, compactionToken(k, true), s.ecoc, nil); err == nil {
		t.Fatal("nil ESC accepted")
	}
}

// TestCompactRange: range compaction inserts one anchor per distinct edge, then
// ceil(pathLength * uniqueLeaves - uniqueTokens) padding anchors; the range find still
// matches; cleanup folds the padding anchors into the padding null anchor.
func TestCompactRange(t *testing.T) {
	ctx := context.Background()
	k := loadSpecKey(t, rangeIntFile)
	f := rangeIntField(k)
	s := newFieldState()
	unique := map[token]bool{} // distinct ESC tokens of the edges
	ins := func(v int32) *Write {
		blob := rangeInsert(t, k, v)
		p, err := parseInsertPayload(blob[1:])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.edges {
			unique[e.esc] = true
		}
		return s.insert(t, f, blob, "")
	}
	w0, w1 := ins(0), ins(1)
	inserted := len(w0.ESCIDs) + len(w1.ESCIDs)
	tok := compactionToken(k, true)
	st, err := Compact(ctx, f, tok, s.ecoc, s.esc)
	if err != nil {
		t.Fatal(err)
	}
	pads := int64(8*2 - len(unique))
	if pads <= 0 || st.ESCInserted != int64(len(unique))+pads || st.ESCDeleted != int64(inserted) {
		t.Fatalf("stats %+v, %d unique edges, %d pads", st, len(unique), pads)
	}
	if s.esc.len() != len(unique)+int(pads) {
		t.Fatalf("ESC has %d documents", s.esc.len())
	}
	blobs := rangeFind(t, k, `{"$and": [{"encryptedInt": {"$gte": {"$numberInt": "1"}}}]}`)
	tags, err := FindTags(ctx, blobs[0], s.esc)
	if err != nil || !intersects(tags, w1.Tags) || intersects(tags, w0.Tags) {
		t.Fatalf("range find after compaction: %v", err)
	}
	// A second compaction adds padding after the first.
	if _, err := Compact(ctx, f, tok, s.ecoc, s.esc); err != nil {
		t.Fatal(err)
	}
	if s.esc.len() != len(unique)+2*int(pads) {
		t.Fatalf("after second compact ESC has %d documents; unique %d pads %d", s.esc.len(), len(unique), pads)
	}
	st, err = Cleanup(ctx, f, tok, s.ecoc, s.esc)
	if err != nil {
		t.Fatal(err)
	}
	// Per edge: anchor -> null anchor; padding: 2*pads anchors -> one null anchor.
	if s.esc.len() != len(unique)+1 {
		t.Fatalf("after cleanup ESC has %d documents (stats %+v)", s.esc.len(), st)
	}
	tags, err = FindTags(ctx, blobs[0], s.esc)
	if err != nil || !intersects(tags, w1.Tags) || intersects(tags, w0.Tags) {
		t.Fatalf("range find after cleanup: %v", err)
	}
}
