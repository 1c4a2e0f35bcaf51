package mongocrypt

import (
	"context"
	"testing"
)

// TestBulkDecryptAllocations: decrypting the specification's 1500-field document with its key
// cached allocates a bounded number of objects, not some per field (issue 13: O(1) objects per
// document), and the output buffer is sized from the reply, so that it ends within 1.2 times
// the output (BenchmarkBulkDecrypt reports the bytes).
func TestBulkDecryptAllocations(t *testing.T) {
	env := newEnv(t)
	doc := bulkDocument(t, env)
	a, err := NewAutoEncrypter(bypassOptions(env, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	ctx := context.Background()
	out, err := a.Decrypt(ctx, doc) // the key is fetched and cached
	if err != nil {
		t.Fatal(err)
	}
	if c := cap(out); float64(c) > 1.2*float64(len(out)) {
		t.Errorf("the output's buffer holds %d bytes for %d of output, over 1.2 times", c, len(out))
	}
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts are checked without -race")
	}
	// Other goroutines of the process (the driver's monitors) may allocate meanwhile; the
	// bound leaves room for them and is far below one object per field (1500).
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := a.Decrypt(ctx, doc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 40 {
		t.Fatalf("decrypting a %d-field document allocates %.0f objects, want a bound independent of the fields", bulkFields, allocs)
	}
}
