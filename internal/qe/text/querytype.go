package text

// QueryType is a text search query type of explicit encryption and of
// encryptedFields. The Preview forms are deprecated aliases that behave like
// their plain forms; they are kept apart only because libmongocrypt names them
// apart in messages.
type QueryType uint8

// The text search query types.
const (
	QueryPrefix QueryType = iota + 1
	QuerySuffix
	QuerySubstring
	QueryPrefixPreview
	QuerySuffixPreview
	QuerySubstringPreview
)

var queryTypeNames = [...]struct{ wire, display string }{
	QueryPrefix:           {"prefix", "Prefix"},
	QuerySuffix:           {"suffix", "Suffix"},
	QuerySubstring:        {"substring", "Substring"},
	QueryPrefixPreview:    {"prefixPreview", "PrefixPreview"},
	QuerySuffixPreview:    {"suffixPreview", "SuffixPreview"},
	QuerySubstringPreview: {"substringPreview", "SubstringPreview"},
}

// ParseQueryType recognizes a text query type name ("prefix", "suffix",
// "substring", "prefixPreview", "suffixPreview", "substringPreview"),
// ignoring ASCII case as libmongocrypt does. ok is false for any other name,
// including "equality" and "range".
func ParseQueryType(name string) (qt QueryType, ok bool) {
	for q := QueryPrefix; q <= QuerySubstringPreview; q++ {
		if equalFoldASCII(name, queryTypeNames[q].wire) {
			return q, true
		}
	}
	return 0, false
}

// Name returns the wire name ("prefix", "substringPreview", ...).
func (q QueryType) Name() string {
	if q < QueryPrefix || q > QuerySubstringPreview {
		return "unknown"
	}
	return queryTypeNames[q].wire
}

// String returns libmongocrypt's display name ("Prefix",
// "SubstringPreview", ...), as used in its error messages.
func (q QueryType) String() string {
	if q < QueryPrefix || q > QuerySubstringPreview {
		return "Unknown"
	}
	return queryTypeNames[q].display
}

// Base maps a Preview form to its plain form; plain forms map to themselves.
func (q QueryType) Base() QueryType {
	switch q {
	case QueryPrefixPreview:
		return QueryPrefix
	case QuerySuffixPreview:
		return QuerySuffix
	case QuerySubstringPreview:
		return QuerySubstring
	}
	return q
}

// equalFoldASCII compares ignoring ASCII case only (strings.EqualFold would
// also match non-ASCII folds such as U+212A KELVIN SIGN with 'k').
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x |= 0x20
		}
		if 'A' <= y && y <= 'Z' {
			y |= 0x20
		}
		if x != y {
			return false
		}
	}
	return true
}
