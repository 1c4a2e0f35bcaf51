package fle2

import (
	"context"
	"io"
	"math"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/qe/rangeenc"
)

// CompactionToken is what the client sends for one field in compactionTokens (or
// cleanupTokens): the ECOCToken, and for range and text search fields the
// anchorPaddingToken ({ecoc, anchorPaddingToken} in the command).
type CompactionToken struct {
	ECOC          []byte // 32 bytes
	AnchorPadding []byte // 32 bytes, or nil
	// AnchorPaddingFactor is the command's anchorPaddingFactor; nil means the server
	// default, 1.0.
	AnchorPaddingFactor *float64
}

// Stats are the ESC and ECOC counters of compactStructuredEncryptionData's reply.
type Stats struct {
	ECOCRead    int64
	ESCRead     int64
	ESCInserted int64
	ESCUpdated  int64
	ESCDeleted  int64
}

// ecocEntry is a decrypted ECOC value, ECOCCompactionDocumentV2:
//
//	DecryptCTR(ECOCToken, value) = ESCDerivedFromDataTokenAndContentionFactor (32)
//	    || isLeaf (1, range) | msize (3 LE, text search)
type ecocEntry struct {
	esc   token
	kind  payloadKind
	leaf  bool
	msize uint32
}

const defaultAnchorPaddingFactor = 1.0

// countingESC counts the reads of an ESC for the stats.
type countingESC struct {
	ESCWriter
	stats *Stats
}

func (c *countingESC) Get(ctx context.Context, id []byte) ([]byte, bool, error) {
	c.stats.ESCRead++
	return c.ESCWriter.Get(ctx, id)
}

// uniqueEntries decrypts the ECOC values and keeps one of each (the set C_f), in order of
// first appearance.
func uniqueEntries(f *Field, tok *CompactionToken, values [][]byte, stats *Stats) ([]ecocEntry, error) {
	if len(tok.ECOC) != tokenLen {
		return nil, errorf(codeBadValue, "Compaction token for field '%s' must be %d bytes", f.Path, tokenLen)
	}
	if tok.AnchorPadding != nil && len(tok.AnchorPadding) != tokenLen {
		return nil, errorf(codeBadValue, "Anchor padding token for field '%s' must be %d bytes", f.Path, tokenLen)
	}
	c, err := aead.NewFLE2CTR(tok.ECOC)
	if err != nil {
		return nil, err
	}
	seen := map[ecocEntry]bool{}
	var out []ecocEntry
	for _, v := range values {
		stats.ECOCRead++
		plain, err := c.Decrypt(nil, v)
		if err != nil {
			return nil, errorf(codeBadValue, "Invalid ECOC document value for field '%s'", f.Path)
		}
		var e ecocEntry
		copy(e.esc[:], plain)
		switch len(plain) {
		case tokenLen:
			e.kind = kindEquality
		case tokenLen + 1:
			e.kind = kindRange
			if plain[tokenLen] > 1 {
				return nil, errorf(codeBadValue, "Invalid isLeaf byte in ECOC document value for field '%s'", f.Path)
			}
			e.leaf = plain[tokenLen] == 1
		case tokenLen + 3:
			e.kind = kindText
			e.msize = uint32(plain[tokenLen]) | uint32(plain[tokenLen+1])<<8 | uint32(plain[tokenLen+2])<<16
		default:
			return nil, errorf(codeBadValue, "Invalid ECOC document value length %d for field '%s'", len(plain), f.Path)
		}
		if (e.kind != kindEquality) != (tok.AnchorPadding != nil) {
			tokenKind, docKind := "equality", "equality"
			if tok.AnchorPadding != nil {
				tokenKind = "range-or-text-search"
			}
			if e.kind == kindRange {
				docKind = "range"
			} else if e.kind == kindText {
				docKind = "text-search"
			}
			return nil, errorf(8574701, "Compaction token for field '%s' is of type '%s', but ECOCDocument is of type '%s'", f.Path, tokenKind, docKind)
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// Compact does compactStructuredEncryptionData for one field (fle2_compact.cpp
// processFLECompactV2): for each distinct ECOC entry with new non-anchors it inserts an
// anchor holding the latest position (compactOneFieldValuePairV2), then, for range and text
// search fields, the anchor padding documents (compactOneRangeFieldPad,
// compactOneTextSearchFieldPad), then it deletes the non-anchors the anchors replace (the
// coordinator's cleanupESCNonAnchors). ecocValues are the "value"s of the field's ECOC
// documents; token is the compaction token the client sent for the field.
func Compact(ctx context.Context, f Field, token CompactionToken, ecocValues [][]byte, esc ESCWriter) (Stats, error) {
	return compact(ctx, &f, &token, ecocValues, esc, nil)
}

func compact(ctx context.Context, f *Field, tok *CompactionToken, ecocValues [][]byte, w ESCWriter, rng io.Reader) (Stats, error) {
	var stats Stats
	if w == nil {
		return stats, errNilESC
	}
	esc := &countingESC{ESCWriter: w, stats: &stats}
	entries, err := uniqueEntries(f, tok, ecocValues, &stats)
	if err != nil {
		return stats, err
	}
	var nonAnchors [][]byte
	var rangeTokens, rangeLeaves, textTokens, textMsize uint64
	for _, e := range entries {
		switch e.kind {
		case kindRange:
			rangeTokens++
			if e.leaf {
				rangeLeaves++
			}
		case kindText:
			textTokens++
			textMsize += uint64(e.msize)
		}
		t := escTokensOf(e.esc)
		r, base, err := emuBinaryWithBase(ctx, esc, &t)
		if err != nil {
			return stats, err
		}
		if r.cpos != nil && *r.cpos == 0 {
			return stats, errorf(7666502, "Queryable Encryption compaction encountered invalid searched ESC positions for field %s. This may be due to invalid compaction tokens or corrupted state collections.", f.Path)
		}
		if r.cpos == nil {
			continue // no new non-anchors since the last compact or cleanup
		}
		var next uint64
		if r.apos == nil {
			null, ok, err := readAnchor(ctx, esc, &t, nullAnchorID(&t))
			if err != nil {
				return stats, err
			}
			if !ok {
				return stats, errorf(7293601, "ESC null anchor document not found")
			}
			next = null.apos + 1
		} else {
			next = *r.apos + 1
		}
		value, err := encryptPair(rng, t.value, escAnchorValueFirst, *r.cpos)
		if err != nil {
			return stats, err
		}
		id := anchorID(&t, next)
		if err := esc.Insert(ctx, id[:], value); err != nil {
			return stats, err
		}
		stats.ESCInserted++
		for p := base + 1; p <= *r.cpos; p++ {
			id := nonAnchorID(&t, p)
			nonAnchors = append(nonAnchors, id[:])
		}
	}
	if rangeTokens > 0 && tok.AnchorPadding != nil {
		if f.Range == nil {
			return stats, errorf(8574705, "Missing range field '%s' in 'encryptionInformation'", f.Path)
		}
		pathLength, err := edgesLength(f)
		if err != nil {
			return stats, err
		}
		gamma := defaultAnchorPaddingFactor
		if tok.AnchorPaddingFactor != nil {
			gamma = *tok.AnchorPaddingFactor
		}
		if want := pathLength * rangeLeaves; want > rangeTokens {
			if pads := math.Ceil(gamma * float64(want-rangeTokens)); pads > 0 {
				if err := padField(ctx, esc, tok.AnchorPadding, uint64(pads), rng, &stats); err != nil {
					return stats, err
				}
			}
		}
	}
	if textTokens > 0 && tok.AnchorPadding != nil && textMsize > textTokens {
		if err := padField(ctx, esc, tok.AnchorPadding, textMsize-textTokens, rng, &stats); err != nil {
			return stats, err
		}
	}
	if err := deleteIDs(ctx, esc, nonAnchors, &stats); err != nil {
		return stats, err
	}
	return stats, nil
}

// maxPads bounds the padding documents one compaction inserts.
const maxPads = 1 << 24

// padOneField: insert numPads padding anchors after the last one.
func padField(ctx context.Context, esc ESCWriter, root []byte, numPads uint64, rng io.Reader, stats *Stats) error {
	if numPads > maxPads {
		return errorf(codeBadValue, "Queryable Encryption compaction: %d padding documents is too many", numPads)
	}
	var r token
	copy(r[:], root)
	t := paddingTokensOf(r)
	x, err := anchorBinaryHops(ctx, esc, &t)
	if err != nil {
		return err
	}
	var apos uint64
	if x != nil {
		apos = *x
	} else {
		null, ok, err := readAnchor(ctx, esc, &t, nullAnchorID(&t))
		if err != nil {
			return err
		}
		if !ok {
			return errorf(7295004, "ESC null anchor is expected but not found")
		}
		apos = null.apos
	}
	for i := uint64(1); i <= numPads; i++ {
		value, err := encryptPair(rng, t.value, 0, 0)
		if err != nil {
			return err
		}
		id := anchorID(&t, apos+i)
		if err := esc.Insert(ctx, id[:], value); err != nil {
			return err
		}
		stats.ESCInserted++
	}
	return nil
}

// edgesLength is getEdgesLength: the number of edges of a value of the field's range index.
func edgesLength(f *Field) (uint64, error) {
	ro := f.Range
	sparsity := ro.Sparsity
	if sparsity == 0 {
		sparsity = 2
	}
	edges, err := rangeenc.EdgesForInsert(ro.Min, rangeenc.Index{Min: ro.Min, Max: ro.Max, Precision: ro.Precision, Sparsity: sparsity, TrimFactor: ro.TrimFactor})
	if err != nil {
		return 0, errorf(codeBadValue, "Invalid range options for field '%s': %v", f.Path, err)
	}
	return uint64(len(edges.Edges)), nil
}

// maxDeleteBatch is the number of _id one Delete call takes (maxESCEntriesPerCompactionDelete
// plays this part in the server).
const maxDeleteBatch = 1000

func deleteIDs(ctx context.Context, esc ESCWriter, ids [][]byte, stats *Stats) error {
	for len(ids) > 0 {
		n := min(len(ids), maxDeleteBatch)
		if err := esc.Delete(ctx, ids[:n]); err != nil {
			return err
		}
		stats.ESCDeleted += int64(n)
		ids = ids[n:]
	}
	return nil
}

// emuBinaryWithBase is emuBinary that also returns the cpos the non-anchor search started
// from (the latest anchor's, 0 without anchors): the non-anchors at base+1 .. cpos exist.
func emuBinaryWithBase(ctx context.Context, esc ESC, t *escTokens) (emuResult, uint64, error) {
	r, err := emuBinary(ctx, esc, t)
	if err != nil {
		return r, 0, err
	}
	if r.apos != nil && *r.apos == 0 {
		return r, 0, nil
	}
	id := nullAnchorID(t)
	if r.apos != nil {
		id = anchorID(t, *r.apos)
	}
	a, ok, err := readAnchor(ctx, esc, t, id)
	if err != nil {
		return r, 0, err
	}
	if !ok {
		return r, 0, errorf(7291501, "ESC anchor document not found")
	}
	return r, a.cpos, nil
}

// Cleanup does cleanupStructuredEncryptionData for one field (fle2_compact.cpp
// processFLECleanup and cleanupOneFieldValuePairImpl): for each distinct ECOC entry it
// writes the null anchor with the latest positions and deletes the anchors it replaces and
// the non-anchors below the latest position; for range and text search fields it does the
// same for the anchor padding chain.
func Cleanup(ctx context.Context, f Field, token CompactionToken, ecocValues [][]byte, esc ESCWriter) (Stats, error) {
	return cleanup(ctx, &f, &token, ecocValues, esc, nil)
}

func cleanup(ctx context.Context, f *Field, tok *CompactionToken, ecocValues [][]byte, w ESCWriter, rng io.Reader) (Stats, error) {
	var stats Stats
	if w == nil {
		return stats, errNilESC
	}
	esc := &countingESC{ESCWriter: w, stats: &stats}
	entries, err := uniqueEntries(f, tok, ecocValues, &stats)
	if err != nil {
		return stats, err
	}
	var deletes [][]byte
	padded := false
	for _, e := range entries {
		if e.kind != kindEquality {
			padded = true
		}
		t := escTokensOf(e.esc)
		r, base, err := emuBinaryWithBase(ctx, esc, &t)
		if err != nil {
			return stats, err
		}
		if r.cpos != nil && *r.cpos == 0 {
			return stats, errorf(7618816, "Queryable Encryption cleanup encountered invalid searched ESC positions for field %s. This may be due to invalid compaction tokens or corrupted state collections.", f.Path)
		}
		ids, err := cleanupChain(ctx, esc, &t, r, rng, &stats)
		if err != nil {
			return stats, err
		}
		deletes = append(deletes, ids...)
		if r.cpos != nil {
			for p := base + 1; p <= *r.cpos; p++ {
				id := nonAnchorID(&t, p)
				deletes = append(deletes, id[:])
			}
		}
	}
	if padded && tok.AnchorPadding != nil {
		var root token
		copy(root[:], tok.AnchorPadding)
		t := paddingTokensOf(root)
		x, err := anchorBinaryHops(ctx, esc, &t)
		if err != nil {
			return stats, err
		}
		if x == nil || *x > 0 {
			// getEdgeCountInfoForPadding: no non-anchors, so cpos is none unless there
			// are no padding anchors at all.
			ids, err := cleanupChain(ctx, esc, &t, emuResult{apos: x}, rng, &stats)
			if err != nil {
				return stats, err
			}
			deletes = append(deletes, ids...)
		}
	}
	if err := deleteIDs(ctx, esc, deletes, &stats); err != nil {
		return stats, err
	}
	return stats, nil
}

// cleanupChain updates or inserts the null anchor of one chain from the emuBinary result r
// (getEdgeCountInfoForPaddingCleanupCommon and cases E, F, G of cleanupOneFieldValuePairImpl)
// and returns the _id of the anchors to delete.
func cleanupChain(ctx context.Context, esc ESCWriter, t *escTokens, r emuResult, rng io.Reader, stats *Stats) ([][]byte, error) {
	nullID := nullAnchorID(t)
	null, hasNull, err := readAnchor(ctx, esc, t, nullID)
	if err != nil {
		return nil, err
	}
	var latestApos, latestCpos uint64
	switch {
	case r.apos == nil: // (E) the null anchor holds the latest anchor position
		if !hasNull {
			return nil, errorf(7295004, "ESC null anchor is expected but not found")
		}
		if r.cpos == nil {
			return nil, nil // the null anchor is up to date
		}
		latestApos, latestCpos = null.apos, *r.cpos
	case *r.apos == 0: // (F) no anchors yet
		if hasNull {
			return nil, errorf(7295006, "Unexpected ESC null anchor is found")
		}
		if r.cpos == nil {
			return nil, errorf(7295007, "Invalid non-anchor position encountered")
		}
		latestCpos = *r.cpos
	default: // (G) new anchors; a null anchor holds stale positions
		latestApos = *r.apos
		if r.cpos != nil {
			latestCpos = *r.cpos
		} else {
			a, ok, err := readAnchor(ctx, esc, t, anchorID(t, latestApos))
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, errorf(7295009, "ESC anchor is expected but not found")
			}
			latestCpos = a.cpos
		}
	}
	value, err := encryptPair(rng, t.value, latestApos, latestCpos)
	if err != nil {
		return nil, err
	}
	if hasNull {
		if err := esc.Delete(ctx, [][]byte{nullID[:]}); err != nil {
			return nil, err
		}
		stats.ESCUpdated++
	} else {
		stats.ESCInserted++
	}
	if err := esc.Insert(ctx, nullID[:], value); err != nil {
		return nil, err
	}
	var deletes [][]byte
	if r.apos != nil && *r.apos > 0 {
		bottom := uint64(0)
		if hasNull {
			bottom = null.apos
		}
		for i := bottom + 1; i <= latestApos; i++ {
			id := anchorID(t, i)
			deletes = append(deletes, id[:])
		}
	}
	return deletes, nil
}
