package rangeenc

// Defaults of the range index options.
const (
	// DefaultSparsity is the sparsity used when a range index names none.
	DefaultSparsity = 2
	// DefaultTrimFactor is the trimFactor used when a range index names none
	// and the domain has more than DefaultTrimFactor bits; smaller domains
	// use their bit count minus one.
	DefaultTrimFactor = 6
)

// Root is the edge string standing for the whole domain (the root of the
// hypergraph), present when trimFactor is 0.
const Root = "root"

// Options tune the hypergraph of a range index.
type Options struct {
	// Sparsity keeps one level of edges in Sparsity; it must be at least 1
	// (DefaultSparsity when the index names none).
	Sparsity int64
	// TrimFactor drops that many top levels of the hypergraph; nil selects
	// the default (see TrimFactorFor).
	TrimFactor *int32
}

// TrimFactorFor returns the trimFactor used for a domain of bits bits: tf
// when set, otherwise min(DefaultTrimFactor, bits-1). As in libmongocrypt, an
// empty domain (bits 0) gets DefaultTrimFactor.
func TrimFactorFor(bits int, tf *int32) int32 {
	if tf != nil {
		return *tf
	}
	if bits > 0 && DefaultTrimFactor > bits-1 {
		return int32(bits - 1)
	}
	return DefaultTrimFactor
}

// checkTrimFactor validates a trimFactor for a domain of bits bits: it must be
// non-negative and, unless 0, below bits (a trimFactor equal to the bit count
// would leave only the leaf, an equality index).
func checkTrimFactor(tf int32, bits int) error {
	if tf != 0 && int64(tf) >= int64(bits) {
		return errorf(ErrTrimFactor, "trimFactor %d must be less than the number of bits (%d) of the domain", tf, bits)
	}
	if tf < 0 {
		return errorf(ErrTrimFactor, "trimFactor must be non-negative, got %d", tf)
	}
	return nil
}

// EdgeSet is the set of edges of one encoded value: the strings an insert
// derives its edge tokens from.
type EdgeSet struct {
	// Edges in libmongocrypt's order: Root first when TrimFactor is 0, then
	// the leaf, then the leaf's proper prefixes of the kept levels, shortest
	// first.
	Edges []string
	// Leaf is the full bit string of the value, Bits() characters long.
	Leaf string
	// TrimFactor is the trimFactor used, after defaulting.
	TrimFactor int32
}

// IsLeaf reports whether edge is the leaf of s.
func (s *EdgeSet) IsLeaf(edge string) bool { return edge == s.Leaf }

// Edges returns the edges of e: the leaf is e.Value written with e.Bits()
// binary digits, and an edge of length l (trimFactor <= l < Bits(), l > 0) is
// kept when l is a multiple of the sparsity.
func (e Encoded) Edges(o Options) (*EdgeSet, error) {
	if o.Sparsity < 1 {
		return nil, errorf(ErrSparsity, "sparsity must be at least 1, got %d", o.Sparsity)
	}
	n := e.Bits()
	leaf := e.Value.lowBits(n)
	tf := TrimFactorFor(n, o.TrimFactor)
	if err := checkTrimFactor(tf, n); err != nil {
		return nil, err
	}
	s := &EdgeSet{Leaf: leaf, TrimFactor: tf}
	edges := make([]string, 0, 2+n/int(min(o.Sparsity, int64(n+1))))
	if tf == 0 {
		edges = append(edges, Root)
	}
	edges = append(edges, leaf)
	for l := max(int64(tf), 1); l < int64(n); l++ {
		if l%o.Sparsity == 0 {
			edges = append(edges, leaf[:l])
		}
	}
	s.Edges = edges
	return s, nil
}
