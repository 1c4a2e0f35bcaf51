package fleblob

import (
	"fmt"
	"testing"
)

// header is mc_fle_blob_subtype_t of libmongocrypt 1.20
// (src/mc-fle-blob-subtype-private.h), name for name and number for number.
var header = []struct {
	name  string
	value int
	got   Subtype
}{
	{"MC_SUBTYPE_FLE1EncryptionPlaceholder", 0, FLE1EncryptionPlaceholder},
	{"MC_SUBTYPE_FLE1DeterministicEncryptedValue", 1, FLE1DeterministicEncryptedValue},
	{"MC_SUBTYPE_FLE1RandomEncryptedValue", 2, FLE1RandomEncryptedValue},
	{"MC_SUBTYPE_FLE2EncryptionPlaceholder", 3, FLE2EncryptionPlaceholder},
	{"MC_SUBTYPE_FLE2InsertUpdatePayload", 4, FLE2InsertUpdatePayload},
	{"MC_SUBTYPE_FLE2FindEqualityPayload", 5, FLE2FindEqualityPayload},
	{"MC_SUBTYPE_FLE2UnindexedEncryptedValue", 6, FLE2UnindexedEncryptedValue},
	{"MC_SUBTYPE_FLE2IndexedEqualityEncryptedValue", 7, FLE2IndexedEqualityEncryptedValue},
	{"MC_SUBTYPE_FLE2IndexedRangeEncryptedValue", 9, FLE2IndexedRangeEncryptedValue},
	{"MC_SUBTYPE_FLE2FindRangePayload", 10, FLE2FindRangePayload},
	{"MC_SUBTYPE_FLE2InsertUpdatePayloadV2", 11, FLE2InsertUpdatePayloadV2},
	{"MC_SUBTYPE_FLE2FindEqualityPayloadV2", 12, FLE2FindEqualityPayloadV2},
	{"MC_SUBTYPE_FLE2FindRangePayloadV2", 13, FLE2FindRangePayloadV2},
	{"MC_SUBTYPE_FLE2IndexedEqualityEncryptedValueV2", 14, FLE2IndexedEqualityEncryptedValueV2},
	{"MC_SUBTYPE_FLE2IndexedRangeEncryptedValueV2", 15, FLE2IndexedRangeEncryptedValueV2},
	{"MC_SUBTYPE_FLE2UnindexedEncryptedValueV2", 16, FLE2UnindexedEncryptedValueV2},
	{"MC_SUBTYPE_FLE2IndexedTextEncryptedValue", 17, FLE2IndexedTextEncryptedValue},
	{"MC_SUBTYPE_FLE2FindTextPayload", 18, FLE2FindTextPayload},
}

func TestHeaderValues(t *testing.T) {
	for _, h := range header {
		if int(h.got) != h.value {
			t.Errorf("%s: constant is %d, header says %d", h.name, h.got, h.value)
		}
		if want := h.name[len("MC_SUBTYPE_"):]; h.got.String() != want {
			t.Errorf("%s: String() = %q, want %q", h.name, h.got.String(), want)
		}
	}
}

// Every number the header does not name (8, and 19 up) prints as a number.
func TestStringUnassigned(t *testing.T) {
	named := map[int]bool{}
	for _, h := range header {
		named[h.value] = true
	}
	for n := 0; n < 256; n++ {
		s := Subtype(n).String()
		if named[n] {
			continue
		}
		if want := fmt.Sprintf("Subtype(%d)", n); s != want {
			t.Errorf("Subtype(%d).String() = %q, want %q", n, s, want)
		}
	}
	if len(named) != len(names)-1 || len(names) != 19 {
		t.Errorf("names has %d slots for %d header entries; the header ends at 18 and skips 8", len(names), len(named))
	}
}
