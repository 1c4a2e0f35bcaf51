package fle2

import (
	"context"
	"testing"
)

// TestEmuBinary follows the cases of the server's FLE_ESC EmuBinaryV2 tests
// (fle_crypto_test.cpp, EmuBinaryV2Test): a null anchor (apos, cpos) or none, anchors at
// positions [anchorStart, anchorStart+anchorCount) whose cpos climbs from anchorCposStart to
// anchorCposEnd, and non-anchors at [nonAnchorStart, nonAnchorStart+nonAnchorCount).
func TestEmuBinary(t *testing.T) {
	type want struct{ apos, cpos *uint64 }
	n := u64p
	cases := []struct {
		name                           string
		null                           *anchorPositions
		anchorStart, anchorCount       uint64
		anchorCposStart, anchorCposEnd uint64
		nonAnchorStart, nonAnchorCount uint64
		want                           want
	}{
		{"empty", nil, 0, 0, 0, 0, 0, 0, want{n(0), n(0)}},
		{"non-anchors only", nil, 0, 0, 0, 0, 1, 5, want{n(0), n(5)}},
		{"anchors only", nil, 1, 10, 0, 0, 0, 0, want{n(10), nil}},
		{"anchors and non-anchors", nil, 1, 10, 1, 10, 11, 5, want{n(10), n(15)}},
		{"null anchor only", &anchorPositions{apos: 5, cpos: 10}, 0, 0, 0, 0, 0, 0, want{nil, nil}},
		{"null anchor and non-anchors", &anchorPositions{apos: 5, cpos: 10}, 0, 0, 0, 0, 11, 5, want{nil, n(15)}},
		{"null anchor and later anchors", &anchorPositions{apos: 5, cpos: 10}, 6, 3, 11, 13, 14, 2, want{n(8), n(15)}},
		{"one non-anchor", nil, 0, 0, 0, 0, 1, 1, want{n(0), n(1)}},
		{"one anchor", nil, 1, 1, 7, 7, 0, 0, want{n(1), nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			var root token
			root[0] = 42
			tk := escTokensOf(root)
			esc := newMapESC()
			if c.null != nil {
				v, err := encryptPair(nil, tk.value, c.null.apos, c.null.cpos)
				if err != nil {
					t.Fatal(err)
				}
				id := nullAnchorID(&tk)
				_ = esc.Insert(ctx, id[:], v)
			}
			cpos := c.anchorCposStart
			for a := c.anchorStart; a < c.anchorStart+c.anchorCount; a++ {
				v, err := encryptPair(nil, tk.value, 0, cpos)
				if err != nil {
					t.Fatal(err)
				}
				id := anchorID(&tk, a)
				_ = esc.Insert(ctx, id[:], v)
				if cpos < c.anchorCposEnd {
					cpos++
				}
			}
			for p := c.nonAnchorStart; p < c.nonAnchorStart+c.nonAnchorCount; p++ {
				id := nonAnchorID(&tk, p)
				_ = esc.Insert(ctx, id[:], nil)
			}
			r, err := emuBinary(ctx, esc, &tk)
			if err != nil {
				t.Fatal(err)
			}
			if !eqPtr(r.apos, c.want.apos) || !eqPtr(r.cpos, c.want.cpos) {
				t.Fatalf("apos %v cpos %v, want %v %v", show(r.apos), show(r.cpos), show(c.want.apos), show(c.want.cpos))
			}
		})
	}
}

func eqPtr(a, b *uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(p *uint64) any {
	if p == nil {
		return "none"
	}
	return *p
}
