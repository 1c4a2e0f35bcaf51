package analysis

// The leak fuzzer: a grammar, driven by the fuzzer's bytes, builds commands
// over namespaces with encrypted fields and plants MARKER values in them. The
// generator knows, from how it built the command, which markers are
// "sensitive": compared with, assigned to or copied into a field that the
// schema encrypts (or that holds a copy of one, or whose encryption cannot be
// known: after an unknown stage or operator in a command that involves an
// encrypted namespace). The oracle runs Analyze as the auto encrypter does and
// fails when a sensitive marker would be sent in the clear: everything but
// the placeholders (BinData 6 whose first byte is 0 or 3, which get
// encrypted) of Result.Command, or the original command when there are no
// placeholders (libmongocrypt then sends the command as it was given), or for
// create (the auto encrypter always sends the original create).
//
// Every marker is unique: "MARKER-S3CRET-7f3a-NNN" for strings and
// 770077000+NNN for integers, so that a marker planted at a harmless place
// (compared with a plain field, a comment, ...) and left in the clear does not
// hide or fake the verdict about another one.
//
//	go test -run 'TestLeak' ./internal/analysis                 # fixed shapes, seeds, 20000 random inputs
//	go test -run XXX -fuzz FuzzLeak -fuzztime 60s ./internal/analysis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const (
	leakMarker    = "MARKER-S3CRET-7f3a"
	leakIntMarker = 770077
)

// ---------------------------------------------------------------------------
// Schemas: db.enc (CSFLE), db.qenc (QE), db.pp (properties vs patternProperties),
// db.plain (none).

const leakKeyJSON = `{"$binary":{"base64":"EjRWeBI0mHYSNBI0VniQEg==","subType":"04"}}`

const leakEncSchema = `{"bsonType": "object",
  "properties": {
    "ssn": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}},
    "secret": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}},
    "n": {"bsonType": "object", "properties": {"x": {"encrypt": {"keyId": [KEY], "bsonType": "int", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}},
  "patternProperties": {"^p_": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`

const leakQEFields = `{"fields": [
  {"keyId": KEY, "path": "eq", "bsonType": "string", "queries": {"queryType": "equality", "contention": 0}},
  {"keyId": KEY, "path": "age", "bsonType": "int", "queries": {"queryType": "range", "min": 0, "max": 200, "sparsity": 1, "contention": 0, "trimFactor": 1}},
  {"keyId": KEY, "path": "u", "bsonType": "string"}]}`

// leakPPSchema: ssn is in properties, unencrypted, and a patternProperties
// pattern matching "ssn" encrypts it: JSON schema applies both, so ssn is
// encrypted.
const leakPPSchema = `{"bsonType": "object",
  "properties": {"ssn": {"bsonType": "string"}},
  "patternProperties": {"^ss": {"encrypt": {"keyId": [KEY], "bsonType": "string", "algorithm": "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}}}}`

var leakSchemaOnce struct {
	sync.Once
	m map[string]Schema
}

func leakParse(s string) bson.Raw {
	var d bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(strings.ReplaceAll(s, "KEY", leakKeyJSON)), false, &d); err != nil {
		panic(fmt.Sprintf("bad leak test JSON %s: %v", s, err))
	}
	return d
}

// leakSchemas is what the schemaMap / encryptedFieldsMap hold.
func leakSchemas() map[string]Schema {
	leakSchemaOnce.Do(func() {
		leakSchemaOnce.m = map[string]Schema{
			"db.enc":  {JSONSchema: leakParse(leakEncSchema)},
			"db.qenc": {EncryptedFields: leakParse(leakQEFields)},
			"db.pp":   {JSONSchema: leakParse(leakPPSchema)},
		}
	})
	return leakSchemaOnce.m
}

// baseShape is the generator's model of the documents of a collection: the
// paths holding ciphertext. p_a stands for the ^p_ pattern (the generator
// never makes another name starting with p_ or ss).
func baseShape(coll string) *shape {
	switch coll {
	case "enc":
		return newShape("ssn", "secret", "n.x", "p_a")
	case "qenc":
		return newShape("eq", "age", "u")
	case "pp":
		return newShape("ssn")
	}
	return newShape()
}

// ---------------------------------------------------------------------------
// Markers.

type plant struct {
	id        int
	str       string
	num       int32
	isInt     bool
	sensitive bool
	topOnly   bool // compared with a value the analysis cannot know: sensitive iff the command involves an encrypted namespace
	why       string
}

func (p *plant) String() string {
	if p.isInt {
		return strconv.Itoa(int(p.num))
	}
	return p.str
}

// needles are the byte strings that betray the marker: the string, or the
// int32 (also the low half of the int64) and double encodings of the number.
func (p *plant) needles() [][]byte {
	if !p.isInt {
		return [][]byte{[]byte(p.str)}
	}
	return [][]byte{
		binary.LittleEndian.AppendUint32(nil, uint32(p.num)),
		binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(p.num))),
	}
}

func mark(p *plant, hit, top bool, why string) {
	if p.sensitive {
		return
	}
	if hit {
		p.sensitive, p.topOnly, p.why = true, false, why
		return
	}
	if top && !p.topOnly {
		p.topOnly, p.why = true, why
	}
}

// ---------------------------------------------------------------------------
// Shapes: which paths of a value (a document, relative paths; "" is the value
// itself) may hold ciphertext, which hold planted markers, and whether the
// value is forceTop (top). Arrays are transparent, as in MongoDB paths.

type shape struct {
	enc   map[string]bool
	taint map[string][]*plant
	top   bool
}

func newShape(enc ...string) *shape {
	s := &shape{enc: map[string]bool{}, taint: map[string][]*plant{}}
	for _, k := range enc {
		s.enc[k] = true
	}
	return s
}

func tainted(p *plant) *shape {
	s := newShape()
	s.taint[""] = []*plant{p}
	return s
}

func (s *shape) clone() *shape {
	c := newShape()
	for k := range s.enc {
		c.enc[k] = true
	}
	for k, v := range s.taint {
		c.taint[k] = append([]*plant(nil), v...)
	}
	c.top = s.top
	return c
}

func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// under reports whether path p is k or below k.
func under(p, k string) bool { return k == "" || p == k || strings.HasPrefix(p, k+".") }

func (s *shape) encHit(p string) bool {
	for k := range s.enc {
		if under(p, k) {
			return true
		}
	}
	return false
}

func (s *shape) hasEnc() bool { return len(s.enc) > 0 }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *shape) plantsAll() []*plant {
	var out []*plant
	for _, k := range sortedKeys(s.taint) {
		out = append(out, s.taint[k]...)
	}
	return out
}

// sub is the shape of the value at path p.
func (s *shape) sub(p string) *shape {
	if p == "" {
		return s.clone()
	}
	c := newShape()
	c.top = s.top
	for k := range s.enc {
		switch {
		case strings.HasPrefix(k, p+"."):
			c.enc[k[len(p)+1:]] = true
		case under(p, k):
			c.enc[""] = true
		}
	}
	for k, v := range s.taint {
		switch {
		case k == p:
			c.taint[""] = append(c.taint[""], v...)
		case strings.HasPrefix(k, p+"."):
			c.taint[k[len(p)+1:]] = append(c.taint[k[len(p)+1:]], v...)
		}
	}
	return c
}

// at is s placed at path p.
func (s *shape) at(p string) *shape {
	c := newShape()
	c.top = s.top
	for k := range s.enc {
		c.enc[joinPath(p, k)] = true
	}
	for k, v := range s.taint {
		c.taint[joinPath(p, k)] = append([]*plant(nil), v...)
	}
	return c
}

func (s *shape) remove(p string) {
	for k := range s.enc {
		if under(k, p) {
			delete(s.enc, k)
		}
	}
	for k := range s.taint {
		if under(k, p) {
			delete(s.taint, k)
		}
	}
}

func (s *shape) union(o *shape) *shape {
	for k := range o.enc {
		s.enc[k] = true
	}
	for k, v := range o.taint {
		s.taint[k] = append(s.taint[k], v...)
	}
	s.top = s.top || o.top
	return s
}

// set replaces the value at p (and a scalar ancestor of p) by v.
func (s *shape) set(p string, v *shape) {
	s.remove(p)
	for k := range s.enc {
		if k != p && under(p, k) {
			delete(s.enc, k)
		}
	}
	s.union(v.at(p))
}

// pool lists the known paths and their prefixes, sorted.
func (s *shape) pool() []string {
	set := map[string]bool{}
	add := func(k string) {
		for k != "" {
			set[k] = true
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
	}
	for k := range s.enc {
		add(k)
	}
	for k := range s.taint {
		add(k)
	}
	return sortedKeys(set)
}

// children are the known field names directly below base.
func (s *shape) children(base string) []string {
	var out []string
	for _, k := range s.pool() {
		rest := k
		if base != "" {
			if !strings.HasPrefix(k, base+".") {
				continue
			}
			rest = k[len(base)+1:]
		}
		if rest != "" && !strings.Contains(rest, ".") {
			out = append(out, rest)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The choice stream.

type tape struct {
	data    []byte
	pos     int
	script  []string // seed authoring: choose by name
	rec     []byte   // the bytes that replay the script
	trace   []string
	traceOn bool
}

func (t *tape) pick(label string, alts []string) int {
	i := 0
	switch {
	case len(alts) <= 1:
		return 0
	case t.script != nil:
		if len(t.script) > 0 {
			tok := t.script[0]
			i = -1
			for j, a := range alts {
				if a == tok {
					i = j
					break
				}
			}
			if i < 0 {
				panic(fmt.Sprintf("leak seed script: at %s: %q is not one of %q (consumed %d choices)", label, tok, alts, len(t.rec)))
			}
			t.script = t.script[1:]
			t.rec = append(t.rec, byte(i))
		}
	case t.pos < len(t.data):
		i = int(t.data[t.pos]) % len(alts)
		t.pos++
	}
	if t.traceOn {
		t.trace = append(t.trace, fmt.Sprintf("%s=%s %q", label, alts[i], alts))
	}
	return i
}

// ---------------------------------------------------------------------------
// The generator.

type gen struct {
	t      *tape
	plants []*plant
	used   map[string]bool
	depth  int
	nodes  int
	extra  []string // more path names (arrayFilters identifiers)
}

type pctx struct {
	top       bool // top-level aggregate: may end with $out / $merge
	sub       bool // sub-pipeline
	facet     bool // inside $facet
	update    bool // update pipeline
	docsFirst bool // starts with $documents
}

func (g *gen) deep() bool { return g.depth > 6 || g.nodes > 70 }

func (g *gen) oneOf(label string, alts ...string) string { return alts[g.t.pick(label, alts)] }

// more says whether a list gets another element (the first is always there
// where the caller writes i == 0 || g.more(...)).
func (g *gen) more(label string, i, max int) bool {
	if i >= max || g.deep() {
		return false
	}
	return g.oneOf(label, "end", "more") == "more"
}

func (g *gen) rand(label string) string { return "z" + g.oneOf(label, "q", "r", "s") }

func (g *gen) coll(label string) string {
	c := g.oneOf(label, "enc", "qenc", "plain", "pp")
	g.used[c] = true
	return c
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (g *gen) path(label string, sh *shape) string {
	alts := append(sh.pool(), g.extra...)
	alts = dedupe(append(alts, "x", "name", "ssn", "eq", "n.x", "zrand"))
	p := g.oneOf(label, alts...)
	if p == "zrand" {
		p = g.rand(label + "Z")
	}
	return p
}

// name is a field name without dots (document keys).
func (g *gen) name(label string, sh *shape) string {
	alts := dedupe(append(sh.children(""), "x", "name", "ssn", "zrand"))
	p := g.oneOf(label, alts...)
	if p == "zrand" {
		p = g.rand(label + "Z")
	}
	return p
}

func (g *gen) plantStr() *plant {
	p := &plant{id: len(g.plants)}
	p.str = fmt.Sprintf("%s-%03d", leakMarker, p.id)
	g.plants = append(g.plants, p)
	return p
}

func (g *gen) plantInt() *plant {
	p := &plant{id: len(g.plants), isInt: true, num: int32(leakIntMarker*1000 + len(g.plants))}
	g.plants = append(g.plants, p)
	return p
}

func (g *gen) compare(sh *shape, path string, val *shape, why string) {
	for _, rel := range sortedKeys(val.taint) {
		full := joinPath(path, rel)
		for _, p := range val.taint[rel] {
			mark(p, sh.encHit(full), sh.top, fmt.Sprintf("%s '%s'", why, full))
		}
	}
}

// exprCompare: a marker in one operand of an operator whose other operand
// holds (or may hold) ciphertext.
func (g *gen) exprCompare(why string, args ...*shape) {
	for i, a := range args {
		if !a.hasEnc() && !a.top {
			continue
		}
		for j, b := range args {
			if j != i {
				for _, p := range b.plantsAll() {
					mark(p, a.hasEnc(), a.top, why)
				}
			}
		}
	}
}

// write: val is stored at base in a collection of shape target.
func (g *gen) write(target *shape, base string, val *shape, why string) {
	for _, rel := range sortedKeys(val.taint) {
		full := joinPath(base, rel)
		if target.encHit(full) {
			for _, p := range val.taint[rel] {
				mark(p, true, false, fmt.Sprintf("%s '%s'", why, full))
			}
		}
	}
}

// forceTop is sh seen through an unknown stage or command field, which may
// read anything (other collections too): forceTop in any command that
// involves an encrypted namespace.
func forceTop(sh *shape) *shape {
	c := sh.clone()
	c.top = true
	return c
}

// markUnknown: markers given to a construct no analysis can know.
func (g *gen) markUnknown(val *shape, why string) {
	for _, p := range val.plantsAll() {
		mark(p, false, true, why)
	}
}

func copyVars(vars map[string]*shape) map[string]*shape {
	out := make(map[string]*shape, len(vars)+1)
	for k, v := range vars {
		out[k] = v
	}
	return out
}

func e(k string, v any) bson.E { return bson.E{Key: k, Value: v} }

// value is a literal.
func (g *gen) value(label string) (any, *shape) {
	g.nodes++
	alts := []string{"mstr", "mint", "mlong", "str", "int", "null", "bool", "regex", "arr", "doc"}
	if g.deep() {
		alts = alts[:8]
	}
	switch g.oneOf(label, alts...) {
	case "mstr":
		p := g.plantStr()
		return p.str, tainted(p)
	case "mint":
		p := g.plantInt()
		return p.num, tainted(p)
	case "mlong":
		p := g.plantInt()
		return int64(p.num), tainted(p)
	case "str":
		return "plain-value", newShape()
	case "int":
		return int32(7), newShape()
	case "null":
		return nil, newShape()
	case "bool":
		return true, newShape()
	case "regex":
		p := g.plantStr()
		return bson.Regex{Pattern: p.str}, tainted(p)
	case "arr":
		g.depth++
		defer func() { g.depth-- }()
		arr, s := bson.A{}, newShape()
		for i := 0; i == 0 || g.more(label+"Arr", i, 3); i++ {
			v, vs := g.value(label)
			arr = append(arr, v)
			s.union(vs)
		}
		return arr, s
	default: // doc
		g.depth++
		defer func() { g.depth-- }()
		d, s := bson.D{}, newShape()
		for i := 0; i == 0 || g.more(label+"Doc", i, 3); i++ {
			k := g.oneOf(label+"Key", "x", "a", "ssn", "eq")
			v, vs := g.value(label)
			d = append(d, e(k, v))
			s.union(vs.at(k))
		}
		return d, s
	}
}

// doc is a document to store (insert, replacement, $documents).
func (g *gen) doc(label string, names []string) (bson.D, *shape) {
	d, s := bson.D{}, newShape()
	for i := 0; i == 0 || g.more(label+"More", i, 4); i++ {
		k := g.oneOf(label+"Key", names...)
		if k == "zrand" {
			k = g.rand(label + "Z")
		}
		v, vs := g.value(label + "Val")
		d = append(d, e(k, v))
		s.union(vs.at(k))
	}
	return d, s
}

func docNames(sh *shape) []string {
	return dedupe(append(sh.children(""), "x", "name", "_id", "ssn", "zrand"))
}

var documentsNames = []string{"ssn", "n", "p_a", "eq", "age", "x", "zrand"}

// ---------------------------------------------------------------------------
// Aggregation expressions.

func isLiteralDoc(v any) ([]string, bool) {
	d, ok := v.(bson.D)
	if !ok || len(d) == 0 || strings.HasPrefix(d[0].Key, "$") {
		return nil, false
	}
	var keys []string
	for _, el := range d {
		keys = append(keys, el.Key)
	}
	return keys, true
}

func (g *gen) varNames(vars map[string]*shape) []string { return sortedKeys(vars) }

func (g *gen) expr(sh *shape, vars map[string]*shape) (any, *shape) {
	g.nodes++
	alts := []string{"lit", "path", "root", "rootpath", "var", "cmp", "in", "let", "getField", "objectToArray",
		"mergeObjects", "cond", "ifNull", "concat", "literal", "literalPath", "map", "filter", "zop", "doc"}
	if g.deep() {
		alts = alts[:5]
	}
	g.depth++
	defer func() { g.depth-- }()
	switch g.oneOf("expr", alts...) {
	case "lit":
		return g.value("exprLit")
	case "path":
		p := g.path("exprPath", sh)
		return "$" + p, sh.sub(p)
	case "root":
		return g.oneOf("rootVar", "$$ROOT", "$$CURRENT"), sh.clone()
	case "rootpath":
		r := g.oneOf("rootVar", "$$ROOT", "$$CURRENT")
		p := g.path("rootPath", sh)
		return r + "." + p, sh.sub(p)
	case "var":
		names := g.varNames(vars)
		if len(names) == 0 {
			return "$$NOW", newShape()
		}
		v := g.oneOf("varName", names...)
		if g.oneOf("varSub", "whole", "path") == "path" {
			p := g.path("varPath", vars[v])
			return "$$" + v + "." + p, vars[v].sub(p)
		}
		return "$$" + v, vars[v].clone()
	case "cmp":
		op := g.oneOf("cmpOp", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$cmp")
		a, as := g.expr(sh, vars)
		b, bs := g.expr(sh, vars)
		g.exprCompare("$expr "+op, as, bs)
		return bson.D{e(op, bson.A{a, b})}, newShape()
	case "in":
		a, as := g.expr(sh, vars)
		var arr any
		var ars *shape
		if g.oneOf("inForm", "array", "expr") == "array" {
			l, ls := bson.A{}, newShape()
			for i := 0; i == 0 || g.more("inMore", i, 3); i++ {
				x, xs := g.expr(sh, vars)
				l = append(l, x)
				ls.union(xs)
			}
			arr, ars = l, ls
		} else {
			arr, ars = g.expr(sh, vars)
		}
		g.exprCompare("$expr $in", as, ars)
		return bson.D{e("$in", bson.A{a, arr})}, newShape()
	case "let":
		name := g.oneOf("letName", "v", "w")
		x, xs := g.expr(sh, vars)
		nv := copyVars(vars)
		nv[name] = xs
		in, ins := g.expr(sh, nv)
		return bson.D{e("$let", bson.D{e("vars", bson.D{e(name, x)}), e("in", in)})}, ins
	case "getField":
		switch g.oneOf("getFieldForm", "string", "doc", "literalField") {
		case "string":
			f := g.name("getField", sh)
			return bson.D{e("$getField", f)}, sh.sub(f)
		case "doc":
			f := g.name("getField", sh)
			in, ins := g.expr(sh, vars)
			return bson.D{e("$getField", bson.D{e("field", f), e("input", in)})}, ins.sub(f)
		default:
			f := g.name("getField", sh)
			return bson.D{e("$getField", bson.D{e("field", bson.D{e("$literal", f)}), e("input", "$$ROOT")})}, sh.sub(f)
		}
	case "objectToArray":
		in, ins := g.expr(sh, vars)
		out := newShape()
		out.top = ins.top
		for k := range ins.enc {
			_, rest, _ := strings.Cut(k, ".")
			if k == "" {
				rest = ""
			}
			out.enc[joinPath("v", rest)] = true
		}
		for _, k := range sortedKeys(ins.taint) {
			_, rest, _ := strings.Cut(k, ".")
			out.taint[joinPath("v", rest)] = append(out.taint[joinPath("v", rest)], ins.taint[k]...)
		}
		return bson.D{e("$objectToArray", in)}, out
	case "mergeObjects":
		arr, out := bson.A{}, newShape()
		for i := 0; i == 0 || g.more("mergeMore", i, 3); i++ {
			x, xs := g.expr(sh, vars)
			if keys, ok := isLiteralDoc(x); ok {
				for _, k := range keys {
					out.remove(k)
				}
			}
			out.union(xs)
			arr = append(arr, x)
		}
		return bson.D{e("$mergeObjects", arr)}, out
	case "cond":
		c, _ := g.expr(sh, vars)
		a, as := g.expr(sh, vars)
		b, bs := g.expr(sh, vars)
		if g.oneOf("condForm", "array", "doc") == "array" {
			return bson.D{e("$cond", bson.A{c, a, b})}, as.union(bs)
		}
		return bson.D{e("$cond", bson.D{e("if", c), e("then", a), e("else", b)})}, as.union(bs)
	case "ifNull":
		a, as := g.expr(sh, vars)
		b, bs := g.expr(sh, vars)
		return bson.D{e("$ifNull", bson.A{a, b})}, as.union(bs)
	case "concat":
		a, as := g.expr(sh, vars)
		b, bs := g.expr(sh, vars)
		u := as.union(bs)
		out := newShape()
		out.top = u.top
		if u.hasEnc() {
			out.enc[""] = true
		}
		out.taint[""] = u.plantsAll()
		return bson.D{e("$concat", bson.A{a, b})}, out
	case "literal":
		v, vs := g.value("literal")
		return bson.D{e("$literal", v)}, vs
	case "literalPath":
		// "$ssn" inside $literal is a string, not a field path.
		return bson.D{e("$literal", "$"+g.path("literalPath", sh))}, newShape()
	case "map", "filter":
		op := "$map"
		if g.oneOf("mapOrFilter", "map", "filter") == "filter" {
			op = "$filter"
		}
		in, ins := g.expr(sh, vars)
		nv := copyVars(vars)
		d := bson.D{e("input", in)}
		if g.oneOf("mapAs", "this", "e") == "e" {
			d = append(d, e("as", "e"))
			nv["e"] = ins
		} else {
			nv["this"] = ins
		}
		body, bodys := g.expr(sh, nv)
		if op == "$map" {
			return bson.D{e(op, append(d, e("in", body)))}, bodys
		}
		return bson.D{e(op, append(d, e("cond", body)))}, ins
	case "zop":
		name := "$" + g.rand("zop")
		a, as := g.expr(sh, vars)
		b, bs := g.expr(sh, vars)
		g.exprCompare("unknown expression operator "+name, as, bs)
		out := as.union(bs)
		out.top = out.top || out.hasEnc() || sh.hasEnc() || sh.top
		return bson.D{e(name, bson.A{a, b})}, out
	default: // doc
		d, out := bson.D{}, newShape()
		for i := 0; i == 0 || g.more("exprDocMore", i, 3); i++ {
			k := g.oneOf("exprDocKey", "a", "ssn", "x")
			x, xs := g.expr(sh, vars)
			d = append(d, e(k, x))
			out.set(k, xs)
		}
		return d, out
	}
}

// ---------------------------------------------------------------------------
// Match expressions.

func (g *gen) filter(sh *shape, vars map[string]*shape) bson.D {
	g.depth++
	defer func() { g.depth-- }()
	d := bson.D{}
	for i := 0; g.more("clause", i, 3); i++ {
		g.nodes++
		alts := []string{"eq", "ops", "and", "or", "nor", "expr", "jsonSchema", "ztop"}
		if g.deep() {
			alts = alts[:2]
		}
		switch k := g.oneOf("clause", alts...); k {
		case "eq":
			p := g.path("eqPath", sh)
			v, vs := g.value("eqVal")
			g.compare(sh, p, vs, "equality")
			d = append(d, e(p, v))
		case "ops":
			p := g.path("opPath", sh)
			d = append(d, e(p, g.operators(sh, p, vars)))
		case "and", "or", "nor":
			arr := bson.A{}
			for j := 0; j == 0 || g.more("logicMore", j, 3); j++ {
				arr = append(arr, g.filter(sh, vars))
			}
			d = append(d, e("$"+k, arr))
		case "expr":
			x, _ := g.expr(sh, vars)
			d = append(d, e("$expr", x))
		case "jsonSchema":
			d = append(d, e("$jsonSchema", g.jsonSchema(sh, []string{""})))
		default: // ztop: an unknown top-level operator around a filter
			d = append(d, e("$"+g.rand("ztop"), g.filter(forceTop(sh), vars)))
		}
	}
	return d
}

func (g *gen) operators(sh *shape, p string, vars map[string]*shape) bson.D {
	g.depth++
	defer func() { g.depth-- }()
	od := bson.D{}
	for i := 0; i == 0 || g.more("opMore", i, 3); i++ {
		g.nodes++
		alts := []string{"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$all", "$exists", "$size", "$regex", "$not", "$elemMatch", "$zop"}
		if g.deep() {
			alts = alts[:6]
		}
		op := g.oneOf("op", alts...)
		switch op {
		case "$in", "$nin", "$all":
			arr := bson.A{}
			for j := 0; j == 0 || g.more("opArrMore", j, 3); j++ {
				v, vs := g.value("opArrVal")
				g.compare(sh, p, vs, op)
				arr = append(arr, v)
			}
			od = append(od, e(op, arr))
		case "$exists":
			od = append(od, e(op, true))
		case "$regex":
			if g.oneOf("regexForm", "marker", "plain") == "plain" {
				od = append(od, e(op, "^a"))
			} else {
				pl := g.plantStr()
				g.compare(sh, p, tainted(pl), op)
				od = append(od, e(op, pl.str))
			}
		case "$not":
			if g.oneOf("notForm", "ops", "regex") == "regex" {
				pl := g.plantStr()
				g.compare(sh, p, tainted(pl), "$not regex")
				od = append(od, e(op, bson.Regex{Pattern: pl.str}))
			} else {
				od = append(od, e(op, g.operators(sh, p, vars)))
			}
		case "$elemMatch":
			if g.oneOf("elemMatchForm", "ops", "filter") == "filter" {
				od = append(od, e(op, g.filter(sh.sub(p), vars)))
			} else {
				od = append(od, e(op, g.operators(sh, p, vars)))
			}
		case "$zop":
			name := "$" + g.rand("zop")
			v, vs := g.value("opVal")
			g.compare(sh, p, vs, "unknown operator "+name)
			od = append(od, e(name, v))
		default: // comparisons, $size
			v, vs := g.value("opVal")
			g.compare(sh, p, vs, op)
			od = append(od, e(op, v))
		}
	}
	return od
}

// jsonSchema is a $jsonSchema over the values at paths (relative to sh).
func (g *gen) jsonSchema(sh *shape, paths []string) bson.D {
	g.depth++
	defer func() { g.depth-- }()
	g.nodes++
	js := bson.D{}
	var named []string
	var patterns []*regexp.Regexp
	if !g.deep() && g.oneOf("jsProps", "no", "yes") == "yes" {
		props := bson.D{}
		for i := 0; i == 0 || g.more("jsPropMore", i, 3); i++ {
			var kids []string
			for _, b := range paths {
				kids = append(kids, sh.children(b)...)
			}
			alts := dedupe(append(kids, "x", "zrand"))
			name := g.oneOf("jsPropName", alts...)
			if name == "zrand" {
				name = g.rand("jsPropZ")
			}
			named = append(named, name)
			var sub []string
			for _, b := range paths {
				sub = append(sub, joinPath(b, name))
			}
			props = append(props, e(name, g.jsonSchema(sh, sub)))
		}
		js = append(js, e("properties", props))
	}
	if !g.deep() && g.oneOf("jsPattern", "no", "yes") == "yes" {
		re := g.oneOf("jsPatternRe", "^ss", "^s", "^p_", "sn$", "^x")
		rx := regexp.MustCompile(re)
		patterns = append(patterns, rx)
		var sub []string
		for _, b := range paths {
			for _, k := range sh.children(b) {
				if rx.MatchString(k) {
					sub = append(sub, joinPath(b, k))
				}
			}
		}
		js = append(js, e("patternProperties", bson.D{e(re, g.jsonSchema(sh, sub))}))
	}
	if !g.deep() && g.oneOf("jsAdditional", "no", "yes") == "yes" {
		var sub []string
		for _, b := range paths {
		kids:
			for _, k := range sh.children(b) {
				for _, n := range named {
					if n == k {
						continue kids
					}
				}
				for _, rx := range patterns {
					if rx.MatchString(k) {
						continue kids
					}
				}
				sub = append(sub, joinPath(b, k))
			}
		}
		js = append(js, e("additionalProperties", g.jsonSchema(sh, sub)))
	}
	cmp := func(vs *shape, kw string) {
		for _, p := range paths {
			g.compare(sh, p, vs, "$jsonSchema "+kw)
		}
	}
	for i := 0; g.more("jsKwMore", i, 2); i++ {
		kw := g.oneOf("jsKw", "enum", "const", "minimum", "maximum", "pattern", "minLength", "not", "bsonType", "required")
		switch kw {
		case "enum":
			arr := bson.A{}
			for j := 0; j == 0 || g.more("jsEnumMore", j, 3); j++ {
				v, vs := g.value("jsEnumVal")
				cmp(vs, kw)
				arr = append(arr, v)
			}
			js = append(js, e(kw, arr))
		case "pattern":
			pl := g.plantStr()
			cmp(tainted(pl), kw)
			js = append(js, e(kw, pl.str))
		case "not":
			js = append(js, e(kw, g.jsonSchema(sh, paths)))
		case "bsonType":
			js = append(js, e(kw, "string"))
		case "required":
			js = append(js, e(kw, bson.A{"x"}))
		default:
			v, vs := g.value("jsVal")
			cmp(vs, kw)
			js = append(js, e(kw, v))
		}
	}
	return js
}

// ---------------------------------------------------------------------------
// Pipelines.

var pipelineStages = []string{"$match", "$project", "$addFields", "$set", "$unset", "$replaceRoot", "$replaceWith",
	"$group", "$lookup", "$unionWith", "$facet", "$graphLookup", "$sort", "$limit", "$unwind", "$redact",
	"$setWindowFields", "$bucket", "$sortByCount", "$densify", "$fill", "$count", "$zstage"}

var updateStages = []string{"$set", "$addFields", "$project", "$unset", "$replaceRoot", "$replaceWith", "$zstage"}

func (g *gen) pipeline(in *shape, vars map[string]*shape, c pctx) (bson.A, *shape) {
	g.depth++
	defer func() { g.depth-- }()
	cur := in.clone()
	st := bson.A{}
	if c.docsFirst {
		arr, ds := bson.A{}, newShape()
		for i := 0; i == 0 || g.more("documentsMore", i, 2); i++ {
			d, s := g.doc("documents", documentsNames)
			arr = append(arr, d)
			ds.union(s)
		}
		st = append(st, bson.D{e("$documents", arr)})
		cur = ds
	}
	for i := 0; g.more("stage", i, 4); i++ {
		g.nodes++
		alts := pipelineStages
		if c.update {
			alts = updateStages
		}
		name := g.oneOf("stage", alts...)
		if name == "$facet" && (c.facet || g.deep()) {
			name = "$match"
		}
		key := name
		if name == "$zstage" {
			key = "$" + g.rand("zstage")
		}
		var s any
		s, cur = g.stage(name, cur, vars, c)
		st = append(st, bson.D{e(key, s)})
	}
	if c.top {
		switch g.oneOf("finalStage", "none", "$out", "$merge") {
		case "$out":
			x := g.coll("outColl")
			var spec any = x
			if g.oneOf("outForm", "string", "doc") == "doc" {
				spec = bson.D{e("db", "db"), e("coll", x)}
			}
			g.write(baseShape(x), "", cur, "$out into "+x+":")
			st = append(st, bson.D{e("$out", spec)})
		case "$merge":
			x := g.coll("mergeInto")
			var into any = x
			if g.oneOf("mergeForm", "string", "doc") == "doc" {
				into = bson.D{e("db", "db"), e("coll", x)}
			}
			m := bson.D{e("into", into)}
			switch wm := g.oneOf("whenMatched", "default", "merge", "replace", "pipeline"); wm {
			case "merge", "replace":
				m = append(m, e("whenMatched", wm))
			case "pipeline":
				nv := copyVars(vars)
				nv["new"] = cur
				p, r := g.pipeline(baseShape(x), nv, pctx{update: true})
				g.write(baseShape(x), "", r, "$merge whenMatched pipeline into "+x+":")
				m = append(m, e("whenMatched", p))
			}
			g.write(baseShape(x), "", cur, "$merge into "+x+":")
			st = append(st, bson.D{e("$merge", m)})
		}
	}
	return st, cur
}

func (g *gen) subPipeline(label string, in *shape, vars map[string]*shape, c pctx, docs bool) (bson.A, *shape) {
	return g.pipeline(in, vars, pctx{sub: true, facet: c.facet, docsFirst: docs})
}

func (g *gen) stage(name string, cur *shape, vars map[string]*shape, c pctx) (any, *shape) {
	switch name {
	case "$match":
		return g.filter(cur, vars), cur
	case "$project":
		d := bson.D{}
		mode := g.oneOf("projMode", "include", "exclude")
		next := newShape()
		next.top = cur.top
		if mode == "exclude" {
			next = cur.clone()
		} else {
			next.union(cur.sub("_id").at("_id"))
		}
		for i := 0; i == 0 || g.more("projMore", i, 3); i++ {
			p := g.path("projPath", cur)
			if mode == "exclude" {
				d = append(d, e(p, int32(0)))
				next.remove(p)
				continue
			}
			if g.oneOf("projKind", "include", "expr") == "include" {
				d = append(d, e(p, int32(1)))
				next.union(cur.sub(p).at(p))
			} else {
				x, xs := g.expr(cur, vars)
				d = append(d, e(p, x))
				next.set(p, xs)
			}
		}
		return d, next
	case "$addFields", "$set":
		d, next := bson.D{}, cur.clone()
		for i := 0; i == 0 || g.more("setMore", i, 3); i++ {
			p := g.path("setPath", cur)
			x, xs := g.expr(cur, vars)
			d = append(d, e(p, x))
			next.set(p, xs)
		}
		return d, next
	case "$unset":
		next := cur.clone()
		p := g.path("unsetPath", cur)
		next.remove(p)
		return p, next
	case "$replaceRoot":
		x, xs := g.expr(cur, vars)
		return bson.D{e("newRoot", x)}, xs.clone()
	case "$replaceWith":
		x, xs := g.expr(cur, vars)
		return x, xs.clone()
	case "$group":
		d, next := bson.D{}, newShape()
		next.top = cur.top
		if g.oneOf("groupId", "null", "expr") == "null" {
			d = append(d, e("_id", nil))
		} else {
			x, xs := g.expr(cur, vars)
			d = append(d, e("_id", x))
			next.set("_id", xs)
		}
		for i := 0; g.more("accMore", i, 2); i++ {
			n := g.oneOf("accName", "f", "g")
			op := g.oneOf("accOp", "$first", "$push", "$addToSet", "$max", "$last", "$sum")
			x, xs := g.expr(cur, vars)
			d = append(d, e(n, bson.D{e(op, x)}))
			next.set(n, xs)
		}
		return d, next
	case "$lookup":
		form := g.oneOf("lookupForm", "local", "pipeline", "both", "docs")
		d := bson.D{}
		var fromShape *shape
		if form != "docs" {
			x := g.coll("lookupFrom")
			fromShape = baseShape(x)
			d = append(d, e("from", x))
		}
		if form == "local" || form == "both" {
			d = append(d, e("localField", g.path("localField", cur)), e("foreignField", g.path("foreignField", fromShape)))
		}
		as := g.oneOf("lookupAs", "j", "ssn", "x")
		result := fromShape
		if form != "local" {
			nv := copyVars(vars)
			if g.oneOf("lookupLet", "nolet", "let") == "let" {
				ld := bson.D{}
				for i := 0; i == 0 || g.more("lookupLetMore", i, 2); i++ {
					n := g.oneOf("lookupLetName", "v", "w")
					x, xs := g.expr(cur, vars)
					ld = append(ld, e(n, x))
					nv[n] = xs
				}
				d = append(d, e("let", ld))
			}
			in := fromShape
			if in == nil {
				in = newShape()
			}
			p, r := g.subPipeline("lookup", in, nv, c, form == "docs")
			d = append(d, e("pipeline", p))
			result = r
		}
		d = append(d, e("as", as))
		d = g.maybeUnknown("lookupExtra", d, cur, vars)
		next := cur.clone()
		next.set(as, result)
		return d, next
	case "$unionWith":
		next := cur.clone()
		switch g.oneOf("unionForm", "string", "pipeline", "docs") {
		case "string":
			x := g.coll("unionColl")
			next.union(baseShape(x))
			return x, next
		case "pipeline":
			x := g.coll("unionColl")
			p, r := g.subPipeline("union", baseShape(x), vars, c, false)
			next.union(r)
			return bson.D{e("coll", x), e("pipeline", p)}, next
		default:
			p, r := g.subPipeline("union", newShape(), vars, c, true)
			next.union(r)
			return bson.D{e("pipeline", p)}, next
		}
	case "$facet":
		d, next := bson.D{}, newShape()
		next.top = cur.top
		for i := 0; i == 0 || g.more("facetMore", i, 2); i++ {
			n := g.oneOf("facetName", "f", "g")
			p, r := g.pipeline(cur, vars, pctx{sub: true, facet: true})
			d = append(d, e(n, p))
			next.set(n, r)
		}
		return d, next
	case "$graphLookup":
		x := g.coll("graphFrom")
		xs := baseShape(x)
		sw, sws := g.expr(cur, vars)
		cf := g.path("connectFrom", xs)
		ct := g.path("connectTo", xs)
		as := g.oneOf("graphAs", "g", "ssn")
		g.compare(xs, ct, sws, "$graphLookup startWith vs connectToField")
		d := bson.D{e("from", x), e("startWith", sw), e("connectFromField", cf), e("connectToField", ct), e("as", as), e("maxDepth", int32(2))}
		if g.oneOf("graphRestrict", "no", "yes") == "yes" {
			d = append(d, e("restrictSearchWithMatch", g.filter(xs, vars)))
		}
		next := cur.clone()
		next.set(as, xs)
		return d, next
	case "$sort":
		return bson.D{e(g.path("sortPath", cur), int32(1))}, cur
	case "$limit":
		return int32(3), cur
	case "$unwind":
		p := "$" + g.path("unwindPath", cur)
		if g.oneOf("unwindForm", "string", "doc") == "doc" {
			return bson.D{e("path", p), e("preserveNullAndEmptyArrays", true)}, cur
		}
		return p, cur
	case "$redact":
		x, _ := g.expr(cur, vars)
		return bson.D{e("$cond", bson.A{x, "$$DESCEND", "$$PRUNE"})}, cur
	case "$setWindowFields":
		pb, _ := g.expr(cur, vars)
		sb := g.path("windowSort", cur)
		op := g.oneOf("windowOp", "$first", "$push", "$sum", "$max")
		x, xs := g.expr(cur, vars)
		next := cur.clone()
		next.set("o", xs)
		return bson.D{e("partitionBy", pb), e("sortBy", bson.D{e(sb, int32(1))}),
			e("output", bson.D{e("o", bson.D{e(op, x), e("window", bson.D{e("documents", bson.A{"unbounded", "current"})})})})}, next
	case "$bucket":
		gb, gbs := g.expr(cur, vars)
		b1, s1 := g.value("bucketBound")
		b2, s2 := g.value("bucketBound")
		bs := s1.union(s2)
		g.exprCompare("$bucket boundaries vs groupBy", gbs, bs)
		next := newShape()
		next.top = cur.top
		next.union(bs.at("_id"))
		out := bson.D{e("c", bson.D{e("$sum", int32(1))})}
		if g.oneOf("bucketOut", "count", "first") == "first" {
			x, xs := g.expr(cur, vars)
			out = bson.D{e("c", bson.D{e("$first", x)})}
			next.set("c", xs)
		}
		return bson.D{e("groupBy", gb), e("boundaries", bson.A{b1, b2}), e("default", "other"), e("output", out)}, next
	case "$sortByCount":
		x, xs := g.expr(cur, vars)
		next := newShape()
		next.top = cur.top
		next.set("_id", xs)
		return x, next
	case "$densify":
		p := g.path("densifyField", cur)
		b1, s1 := g.value("densifyBound")
		b2, s2 := g.value("densifyBound")
		bs := s1.union(s2)
		g.compare(cur, p, bs, "$densify bounds")
		next := cur.clone().union(bs.at(p))
		return bson.D{e("field", p), e("range", bson.D{e("step", int32(1)), e("bounds", bson.A{b1, b2})})}, next
	case "$fill":
		p := g.path("fillField", cur)
		next := cur.clone()
		if g.oneOf("fillForm", "value", "locf") == "locf" {
			return bson.D{e("sortBy", bson.D{e("x", int32(1))}), e("output", bson.D{e(p, bson.D{e("method", "locf")})})}, next
		}
		v, vs := g.value("fillValue")
		next.union(vs.at(p))
		return bson.D{e("output", bson.D{e(p, bson.D{e("value", v)})})}, next
	case "$count":
		return "c", newShape()
	default: // $zstage: an unknown stage whose body reads like a filter
		return g.filter(forceTop(cur), vars), forceTop(cur)
	}
}

// ---------------------------------------------------------------------------
// Update specifications and commands.

func (g *gen) updateSpec(coll string) (u any, arrayFilters bson.A) {
	base := baseShape(coll)
	switch g.oneOf("updateKind", "set", "ops", "replacement", "pipeline", "setArray", "arrayFilters", "setScalar") {
	case "set":
		d := bson.D{}
		for i := 0; i == 0 || g.more("setMore", i, 3); i++ {
			p := g.path("setPath", base)
			v, vs := g.value("setVal")
			g.write(base, p, vs, "$set")
			d = append(d, e(p, v))
		}
		return bson.D{e("$set", d)}, nil
	case "ops":
		d := bson.D{}
		for i := 0; i == 0 || g.more("updateOpMore", i, 3); i++ {
			op := g.oneOf("updateOp", "$set", "$setOnInsert", "$inc", "$push", "$addToSet", "$min", "$max", "$unset", "$rename", "$zop")
			p := g.path("updateOpPath", base)
			switch op {
			case "$unset":
				d = append(d, e(op, bson.D{e(p, "")}))
			case "$rename":
				d = append(d, e(op, bson.D{e(p, g.rand("renameTo"))}))
			default:
				if op == "$zop" {
					op = "$" + g.rand("updateZop")
				}
				v, vs := g.value("updateOpVal")
				g.write(base, p, vs, "update "+op)
				if strings.HasPrefix(op, "$z") {
					g.markUnknown(vs, "unknown update operator "+op)
				}
				d = append(d, e(op, bson.D{e(p, v)}))
			}
		}
		return d, nil
	case "replacement":
		d, ds := g.doc("replacement", docNames(base))
		g.write(base, "", ds, "replacement document:")
		return d, nil
	case "pipeline":
		p, r := g.pipeline(base, map[string]*shape{}, pctx{update: true})
		g.write(base, "", r, "update pipeline:")
		return p, nil
	case "setArray":
		arr := bson.A{}
		for i := 0; i == 0 || g.more("setArrayMore", i, 2); i++ {
			p := g.path("setPath", base)
			v, vs := g.value("setVal")
			g.write(base, p, vs, "$set as an array")
			arr = append(arr, bson.D{e(p, v)})
		}
		return bson.D{e("$set", arr)}, nil
	case "arrayFilters":
		f := g.path("arrayFilterPath", base)
		v, vs := g.value("setVal")
		g.write(base, f, vs, "$set $[i]")
		saved := g.extra
		g.extra = []string{"i", "i.x"}
		af := g.filter(base.sub(f).at("i"), nil)
		g.extra = saved
		return bson.D{e("$set", bson.D{e(f+".$[i]", v)})}, bson.A{af}
	default: // setScalar
		v, _ := g.value("setScalar")
		return bson.D{e("$set", v)}, nil
	}
}

func (g *gen) letVars(label string) (bson.D, map[string]*shape) {
	vars := map[string]*shape{}
	if g.oneOf(label, "nolet", "let") == "nolet" {
		return nil, vars
	}
	d := bson.D{}
	for i := 0; i == 0 || g.more(label+"More", i, 2); i++ {
		n := g.oneOf(label+"Name", "v", "w")
		v, vs := g.value(label + "Val")
		d = append(d, e(n, v))
		vars[n] = vs
	}
	return d, vars
}

func (g *gen) projection(base *shape, vars map[string]*shape) bson.D {
	d := bson.D{}
	for i := 0; i == 0 || g.more("projectionMore", i, 3); i++ {
		p := g.path("projectionPath", base)
		switch g.oneOf("projectionKind", "include", "exclude", "expr") {
		case "include":
			d = append(d, e(p, int32(1)))
		case "exclude":
			d = append(d, e(p, int32(0)))
		default:
			x, _ := g.expr(base, vars)
			d = append(d, e(p, x))
		}
	}
	return d
}

// unknownField is a command field no version of the server knows.
func (g *gen) unknownField(base *shape, vars map[string]*shape) bson.E {
	n := g.rand("unknownField")
	u := forceTop(base)
	switch g.oneOf("unknownFieldKind", "filter", "value", "expr") {
	case "filter":
		return e(n, g.filter(u, vars))
	case "value":
		v, vs := g.value("unknownFieldVal")
		g.markUnknown(vs, "unknown field "+n)
		return e(n, v)
	default:
		x, xs := g.expr(u, vars)
		g.markUnknown(xs, "unknown field "+n)
		return e(n, x)
	}
}

// maybeUnknown appends, sometimes, a field no server knows to a command,
// statement or stage.
func (g *gen) maybeUnknown(label string, d bson.D, base *shape, vars map[string]*shape) bson.D {
	if g.deep() || g.oneOf(label, "none", "zfield") == "none" {
		return d
	}
	return append(d, g.unknownField(base, vars))
}

func (g *gen) bounds(base *shape, what string) bson.D {
	d := bson.D{}
	for i := 0; i == 0 || g.more("boundsMore", i, 2); i++ {
		p := g.path("boundsPath", base)
		v, vs := g.value("boundsVal")
		g.compare(base, p, vs, what)
		d = append(d, e(p, v))
	}
	return d
}

func (g *gen) command() (string, bson.D) {
	name := g.oneOf("command", "find", "aggregate", "count", "distinct", "findAndModify", "insert", "update",
		"delete", "explain", "bulkWrite", "create", "collMod", "createIndexes")
	switch name {
	case "explain":
		inner := g.oneOf("explainOf", "find", "aggregate", "count", "distinct", "findAndModify", "update", "delete")
		return "db", bson.D{e("explain", g.commandBody(inner)), e("verbosity", "queryPlanner")}
	case "bulkWrite":
		c := g.coll("target")
		base := baseShape(c)
		ops := bson.A{}
		for i := 0; i == 0 || g.more("bulkOpMore", i, 3); i++ {
			switch g.oneOf("bulkOp", "insert", "update", "delete") {
			case "insert":
				d, ds := g.doc("insertDoc", docNames(base))
				g.write(base, "", ds, "bulkWrite insert:")
				ops = append(ops, bson.D{e("insert", int32(0)), e("document", d)})
			case "update":
				f := g.filter(base, nil)
				u, af := g.updateSpec(c)
				op := bson.D{e("update", int32(0)), e("filter", f), e("updateMods", u), e("multi", false)}
				if af != nil {
					op = append(op, e("arrayFilters", af))
				}
				ops = append(ops, op)
			default:
				ops = append(ops, bson.D{e("delete", int32(0)), e("filter", g.filter(base, nil)), e("multi", false)})
			}
		}
		return "admin", bson.D{e("bulkWrite", int32(1)), e("ops", ops), e("nsInfo", bson.A{bson.D{e("ns", "db."+c)}})}
	}
	return "db", g.commandBody(name)
}

func (g *gen) commandBody(name string) bson.D {
	if name == "aggregate" && g.oneOf("aggregateOn", "collection", "database") == "database" {
		letDoc, vars := g.letVars("aggregateLet")
		p, _ := g.pipeline(newShape(), vars, pctx{top: true, docsFirst: true})
		cmd := bson.D{e("aggregate", int32(1)), e("pipeline", p), e("cursor", bson.D{})}
		if letDoc != nil {
			cmd = append(cmd, e("let", letDoc))
		}
		return cmd
	}
	c := g.coll("target")
	base := baseShape(c)
	switch name {
	case "find":
		letDoc, vars := g.letVars("findLet")
		cmd := bson.D{e("find", c)}
		for i := 0; g.more("findFieldMore", i, 5); i++ {
			switch f := g.oneOf("findField", "filter", "projection", "sort", "min", "max", "hint", "limit", "comment", "zfield"); f {
			case "filter":
				cmd = append(cmd, e(f, g.filter(base, vars)))
			case "projection":
				cmd = append(cmd, e(f, g.projection(base, vars)))
			case "sort":
				cmd = append(cmd, e(f, bson.D{e(g.path("sortPath", base), int32(1))}))
			case "min", "max":
				cmd = append(cmd, e(f, g.bounds(base, f)))
			case "hint":
				cmd = append(cmd, e(f, bson.D{e(g.path("hintPath", base), int32(1))}))
			case "limit":
				cmd = append(cmd, e(f, int32(1)))
			case "comment":
				v, _ := g.value("comment")
				cmd = append(cmd, e(f, v))
			default:
				cmd = append(cmd, g.unknownField(base, vars))
			}
		}
		if letDoc != nil {
			cmd = append(cmd, e("let", letDoc))
		}
		return cmd
	case "aggregate":
		letDoc, vars := g.letVars("aggregateLet")
		p, _ := g.pipeline(base, vars, pctx{top: true})
		cmd := bson.D{e("aggregate", c), e("pipeline", p), e("cursor", bson.D{})}
		if letDoc != nil {
			cmd = append(cmd, e("let", letDoc))
		}
		if g.oneOf("aggregateExtra", "none", "zfield") == "zfield" {
			cmd = append(cmd, g.unknownField(base, vars))
		}
		return cmd
	case "count":
		return g.maybeUnknown("countExtra", bson.D{e("count", c), e("query", g.filter(base, nil))}, base, nil)
	case "distinct":
		return g.maybeUnknown("distinctExtra", bson.D{e("distinct", c), e("key", g.path("distinctKey", base)), e("query", g.filter(base, nil))}, base, nil)
	case "findAndModify":
		cmd := bson.D{e("findAndModify", c), e("query", g.filter(base, nil))}
		if g.oneOf("famKind", "update", "remove") == "remove" {
			cmd = append(cmd, e("remove", true))
		} else {
			u, af := g.updateSpec(c)
			cmd = append(cmd, e("update", u))
			if af != nil {
				cmd = append(cmd, e("arrayFilters", af))
			}
		}
		for i := 0; g.more("famFieldMore", i, 3); i++ {
			switch f := g.oneOf("famField", "fields", "sort", "new", "upsert", "zfield"); f {
			case "fields":
				cmd = append(cmd, e(f, g.projection(base, nil)))
			case "sort":
				cmd = append(cmd, e(f, bson.D{e(g.path("sortPath", base), int32(1))}))
			case "new", "upsert":
				cmd = append(cmd, e(f, true))
			default:
				cmd = append(cmd, g.unknownField(base, nil))
			}
		}
		return cmd
	case "insert":
		docs := bson.A{}
		for i := 0; i == 0 || g.more("insertMore", i, 2); i++ {
			d, ds := g.doc("insertDoc", docNames(base))
			g.write(base, "", ds, "insert:")
			docs = append(docs, d)
		}
		return bson.D{e("insert", c), e("documents", docs)}
	case "update":
		ups := bson.A{}
		for i := 0; i == 0 || g.more("updateMore", i, 2); i++ {
			q := g.filter(base, nil)
			u, af := g.updateSpec(c)
			st := bson.D{e("q", q), e("u", u)}
			if g.oneOf("upsert", "no", "yes") == "yes" {
				st = append(st, e("upsert", true))
			}
			if af != nil {
				st = append(st, e("arrayFilters", af))
			}
			ups = append(ups, g.maybeUnknown("updateStmtExtra", st, base, nil))
		}
		return bson.D{e("update", c), e("updates", ups)}
	case "delete":
		st := g.maybeUnknown("deleteStmtExtra", bson.D{e("q", g.filter(base, nil)), e("limit", int32(1))}, base, nil)
		return bson.D{e("delete", c), e("deletes", bson.A{st})}
	case "create", "collMod":
		cmd := bson.D{e(name, c)}
		switch g.oneOf("validatorForm", "none", "filter", "jsonSchema", "view") {
		case "filter":
			cmd = append(cmd, e("validator", g.filter(base, nil)))
		case "jsonSchema":
			cmd = append(cmd, e("validator", bson.D{e("$jsonSchema", g.jsonSchema(base, []string{""}))}))
		case "view":
			// A view on c (the command's own namespace is the view's).
			p, _ := g.pipeline(base, map[string]*shape{}, pctx{sub: true})
			cmd = bson.D{e(name, "v"+g.rand("viewName")), e("viewOn", c), e("pipeline", p)}
		}
		return cmd
	default: // createIndexes
		ix := bson.D{e("key", bson.D{e(g.path("indexKey", base), int32(1))}), e("name", "i1")}
		if g.oneOf("partial", "yes", "no") == "yes" {
			ix = append(ix, e("partialFilterExpression", g.filter(base, nil)))
		}
		return bson.D{e("createIndexes", c), e("indexes", bson.A{ix})}
	}
}

// ---------------------------------------------------------------------------
// Cases and the oracle.

type leakCase struct {
	db     string
	cmd    bson.Raw
	plants []*plant
	rec    []byte // the choice bytes (seed scripts)
	trace  []string
}

func (c *leakCase) sensitive() bool {
	for _, p := range c.plants {
		if p.sensitive {
			return true
		}
	}
	return false
}

func genLeakCase(data []byte, script []string, trace bool) *leakCase {
	g := &gen{t: &tape{data: data, script: script, traceOn: trace}, used: map[string]bool{}}
	db, cmd := g.command()
	raw, err := bson.Marshal(cmd)
	if err != nil {
		panic(err)
	}
	if g.used["enc"] || g.used["qenc"] || g.used["pp"] {
		for _, p := range g.plants {
			if p.topOnly && !p.sensitive {
				p.sensitive, p.why = true, "unanalysable: "+p.why
			}
		}
	}
	return &leakCase{db: db, cmd: raw, plants: g.plants, rec: g.t.rec, trace: g.t.trace}
}

func extJSON2(b []byte) string {
	j, err := bson.MarshalExtJSON(bson.Raw(b), false, false)
	if err != nil {
		return fmt.Sprintf("<invalid BSON %x>", b)
	}
	return string(j)
}

// leafPieces are the bytes of every value of doc, placeholders left out when
// strip is set.
func leafPieces(doc []byte, strip bool) [][]byte {
	var out [][]byte
	var walk func(d []byte) bool
	walk = func(d []byte) bool {
		els, err := bsoncore.Document(d).Elements()
		if err != nil {
			return false
		}
		for _, el := range els {
			v := el.Value()
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
				if !walk(v.Data) {
					return false
				}
			case bsoncore.TypeBinary:
				if strip && isPlaceholder(v) {
					continue
				}
				out = append(out, v.Data)
			default:
				out = append(out, v.Data)
			}
		}
		return true
	}
	if !walk(doc) {
		return [][]byte{doc}
	}
	return out
}

// placeholderPayloads are the placeholders of doc.
func placeholderPayloads(doc []byte) [][]byte {
	var out [][]byte
	var walk func(d []byte)
	walk = func(d []byte) {
		els, _ := bsoncore.Document(d).Elements()
		for _, el := range els {
			v := el.Value()
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
				walk(v.Data)
			case bsoncore.TypeBinary:
				if isPlaceholder(v) {
					_, data, _ := v.BinaryOK()
					out = append(out, data)
				}
			}
		}
	}
	walk(doc)
	return out
}

type leakVerdict struct {
	refused bool
	err     error
	res     Result
	problem string // non-empty: the test fails
}

// leakCheck runs analysis as the auto encrypter does (schemas only for the
// namespaces Namespaces returns; create and drop: the target) and judges it.
func leakCheck(db string, cmd bson.Raw, plants []*plant) leakVerdict {
	var v leakVerdict
	els, _ := bsoncore.Document(cmd).Elements()
	name := ""
	if len(els) > 0 {
		name = els[0].Key()
	}
	nss, err := Namespaces(db, cmd)
	if err == nil {
		if name == "create" || name == "drop" {
			target, _ := els[0].Value().StringValueOK()
			nss = []string{db + "." + target}
		}
		all := leakSchemas()
		schemas := map[string]Schema{}
		for _, ns := range nss {
			if s, ok := all[ns]; ok {
				schemas[ns] = s
			}
		}
		v.res, err = Analyze(db, cmd, schemas)
	}
	if err != nil {
		v.refused, v.err = true, err
		var ae *Error
		if !errors.As(err, &ae) || !errors.Is(err, ErrRefused) {
			v.problem = fmt.Sprintf("the refusal is not an analysis *Error (%T): %v", err, err)
			return v
		}
		msg := err.Error()
		if strings.Contains(msg, leakMarker) {
			v.problem = "the refusal text contains the marker: " + msg
		}
		for _, p := range plants {
			if strings.Contains(msg, p.String()) {
				v.problem = "the refusal text contains the marker " + p.String() + ": " + msg
			}
		}
		return v
	}
	var pieces [][]byte
	sentWhat := "the command with its placeholders encrypted"
	if v.res.HasPlaceholders && name != "create" {
		pieces = leafPieces(v.res.Command, true)
	} else {
		pieces = leafPieces(cmd, false)
		sentWhat = "the original command (no placeholders)"
		if name == "create" {
			sentWhat = "the original create command"
		}
	}
	if v.res.EncryptionInformation != nil {
		pieces = append(pieces, v.res.EncryptionInformation)
	}
	var leaked []string
	for _, p := range plants {
		if !p.sensitive {
			continue
		}
	search:
		for _, nd := range p.needles() {
			for _, pc := range pieces {
				if bytes.Contains(pc, nd) {
					leaked = append(leaked, fmt.Sprintf("%s (%s)", p, p.why))
					break search
				}
			}
		}
	}
	if len(leaked) > 0 {
		v.problem = fmt.Sprintf("LEAK: %s would be sent in the clear in %s; result: %s", strings.Join(leaked, ", "), sentWhat, extJSON2(v.res.Command))
	}
	return v
}

func runLeakInput(t *testing.T, data []byte) {
	c := genLeakCase(data, nil, false)
	if v := leakCheck(c.db, c.cmd, c.plants); v.problem != "" {
		t.Fatalf("db %s, command %s\n%s", c.db, extJSON2(c.cmd), v.problem)
	}
}

// ---------------------------------------------------------------------------
// The known leaking shapes (the table). Each is a fixed command, run
// by TestLeakShapes, and a script for the generator whose bytes seed
// FuzzLeak; TestLeakSeeds checks that the script builds that very command.

type leakShape struct {
	name   string
	db     string
	cmd    string // extended JSON; M is the string marker, 770077 the int marker
	script []string
}

var leakShapes = []leakShape{
	{name: "$expr $$ROOT.ssn", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": ["$$ROOT.ssn", "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "rootpath", "$$ROOT", "ssn", "lit", "mstr"}},
	{name: "$expr $$CURRENT.ssn", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": ["$$CURRENT.ssn", "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "rootpath", "$$CURRENT", "ssn", "lit", "mstr"}},
	{name: "$expr $$ROOT.n.x int", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": ["$$ROOT.n.x", 770077]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "rootpath", "$$ROOT", "n.x", "lit", "mint"}},
	{name: "$let variable bound to $$ROOT", cmd: `{"find": "enc", "filter": {"$expr": {"$let": {"vars": {"v": "$$ROOT"}, "in": {"$eq": ["$$v.ssn", "M"]}}}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "let", "v", "root", "$$ROOT", "cmp", "$eq", "var", "path", "ssn", "lit", "mstr"}},
	{name: "$let variable bound to $ssn", cmd: `{"find": "enc", "filter": {"$expr": {"$let": {"vars": {"v": "$ssn"}, "in": {"$eq": ["$$v", "M"]}}}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "let", "v", "path", "ssn", "cmp", "$eq", "var", "whole", "lit", "mstr"}},
	{name: "command let variable compared with ssn", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": ["$ssn", "$$v"]}}, "let": {"v": "M"}}`,
		script: []string{"find", "enc", "let", "v", "mstr", "end", "more", "filter", "more", "expr", "cmp", "$eq", "path", "ssn", "var", "whole"}},
	{name: "$getField string form", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": "ssn"}, "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "getField", "string", "ssn", "lit", "mstr"}},
	{name: "$getField {field, input: $$ROOT}", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": {"field": "ssn", "input": "$$ROOT"}}, "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "getField", "doc", "ssn", "root", "$$ROOT", "lit", "mstr"}},
	{name: "$getField {field: {$literal}}", cmd: `{"find": "enc", "filter": {"$expr": {"$eq": [{"$getField": {"field": {"$literal": "ssn"}, "input": "$$ROOT"}}, "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "getField", "literalField", "ssn", "lit", "mstr"}},
	{name: "$objectToArray $$ROOT", cmd: `{"find": "enc", "filter": {"$expr": {"$in": ["M", {"$map": {"input": {"$objectToArray": "$$ROOT"}, "in": "$$this.v"}}]}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "expr", "in", "lit", "mstr", "expr", "map", "map", "objectToArray", "root", "$$ROOT", "this", "var", "path", "v"}},
	{name: "$jsonSchema enum on ssn", cmd: `{"find": "enc", "filter": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "jsonSchema", "yes", "ssn", "no", "no", "no", "more", "enum", "mstr", "end", "end", "end", "no", "no", "end"}},
	{name: "$jsonSchema minimum on n.x", cmd: `{"find": "enc", "filter": {"$jsonSchema": {"properties": {"n": {"properties": {"x": {"minimum": 770077}}}}}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "jsonSchema", "yes", "n", "yes", "x", "no", "no", "no", "more", "minimum", "mint", "end", "end", "no", "no", "end", "end", "no", "no", "end"}},
	{name: "$jsonSchema patternProperties const", cmd: `{"find": "enc", "filter": {"$jsonSchema": {"patternProperties": {"^s": {"const": "M"}}}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "jsonSchema", "no", "yes", "^s", "no", "no", "no", "more", "const", "mstr", "end", "no", "end"}},
	{name: "collMod validator $jsonSchema enum", cmd: `{"collMod": "enc", "validator": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}`,
		script: []string{"collMod", "enc", "jsonSchema", "yes", "ssn", "no", "no", "no", "more", "enum", "mstr", "end", "end", "end", "no", "no", "end"}},
	{name: "create validator $jsonSchema enum", cmd: `{"create": "enc", "validator": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}`,
		script: []string{"create", "enc", "jsonSchema", "yes", "ssn", "no", "no", "no", "more", "enum", "mstr", "end", "end", "end", "no", "no", "end"}},
	{name: "createIndexes partialFilterExpression $jsonSchema", cmd: `{"createIndexes": "enc", "indexes": [{"key": {"x": 1}, "name": "i1", "partialFilterExpression": {"$jsonSchema": {"properties": {"ssn": {"enum": ["M"]}}}}}]}`,
		script: []string{"createIndexes", "enc", "x", "yes", "more", "jsonSchema", "yes", "ssn", "no", "no", "no", "more", "enum", "mstr", "end", "end", "end", "no", "no", "end"}},
	{name: "$facet > $lookup from enc pipeline", cmd: `{"aggregate": "plain", "pipeline": [{"$facet": {"f": [{"$lookup": {"from": "enc", "pipeline": [{"$match": {"ssn": "M"}}], "as": "j"}}]}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$facet", "f", "more", "$lookup", "pipeline", "enc", "j", "nolet", "more", "$match", "more", "eq", "ssn", "mstr", "end", "end", "none", "end", "end", "end", "none", "none"}},
	{name: "$unionWith enc pipeline", cmd: `{"aggregate": "plain", "pipeline": [{"$unionWith": {"coll": "enc", "pipeline": [{"$match": {"ssn": "M"}}]}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$unionWith", "pipeline", "enc", "more", "$match", "more", "eq", "ssn", "mstr", "end", "end", "end", "none", "none"}},
	{name: "$unionWith enc then $match", cmd: `{"aggregate": "plain", "pipeline": [{"$unionWith": "enc"}, {"$match": {"ssn": "M"}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$unionWith", "string", "enc", "more", "$match", "more", "eq", "ssn", "mstr", "end", "end", "none", "none"}},
	{name: "$graphLookup from enc startWith", cmd: `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "M", "connectFromField": "x", "connectToField": "ssn", "as": "g", "maxDepth": 2}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$graphLookup", "enc", "lit", "mstr", "x", "ssn", "g", "no", "end", "none", "none"}},
	{name: "$graphLookup from enc restrictSearchWithMatch", cmd: `{"aggregate": "plain", "pipeline": [{"$graphLookup": {"from": "enc", "startWith": "$x", "connectFromField": "x", "connectToField": "x", "as": "g", "maxDepth": 2, "restrictSearchWithMatch": {"ssn": "M"}}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$graphLookup", "enc", "path", "x", "x", "x", "g", "yes", "more", "eq", "ssn", "mstr", "end", "end", "none", "none"}},
	{name: "$group $$ROOT, $replaceRoot, $match", cmd: `{"aggregate": "enc", "pipeline": [{"$group": {"_id": null, "f": {"$first": "$$ROOT"}}}, {"$replaceRoot": {"newRoot": "$f"}}, {"$match": {"ssn": "M"}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "enc", "nolet", "more", "$group", "null", "more", "f", "$first", "root", "$$ROOT", "end", "more", "$replaceRoot", "path", "f", "more", "$match", "more", "eq", "ssn", "mstr", "end", "end", "none", "none"}},
	{name: "$lookup let $ssn into pipeline", cmd: `{"aggregate": "enc", "pipeline": [{"$lookup": {"from": "plain", "let": {"v": "$ssn"}, "pipeline": [{"$match": {"$expr": {"$eq": ["$$v", "M"]}}}], "as": "j"}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "enc", "nolet", "more", "$lookup", "pipeline", "plain", "j", "let", "v", "path", "ssn", "end", "more", "$match", "more", "expr", "cmp", "$eq", "var", "whole", "lit", "mstr", "end", "end", "none", "end", "none", "none"}},
	{name: "$addFields then $merge into enc", cmd: `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "M"}}, {"$merge": {"into": "enc"}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$addFields", "ssn", "lit", "mstr", "end", "end", "$merge", "enc", "string", "default", "none"}},
	{name: "$addFields then $out enc", cmd: `{"aggregate": "plain", "pipeline": [{"$addFields": {"ssn": "M"}}, {"$out": "enc"}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$addFields", "ssn", "lit", "mstr", "end", "end", "$out", "enc", "string", "none"}},
	{name: "find projection $eq", cmd: `{"find": "enc", "projection": {"x": {"$eq": ["$ssn", "M"]}}}`,
		script: []string{"find", "enc", "nolet", "more", "projection", "x", "expr", "cmp", "$eq", "path", "ssn", "lit", "mstr", "end", "end"}},
	{name: "find min", cmd: `{"find": "enc", "min": {"ssn": "M"}, "hint": {"ssn": 1}}`,
		script: []string{"find", "enc", "nolet", "more", "min", "ssn", "mstr", "end", "more", "hint", "ssn", "end"}},
	{name: "find max", cmd: `{"find": "enc", "max": {"ssn": "M"}, "hint": {"ssn": 1}}`,
		script: []string{"find", "enc", "nolet", "more", "max", "ssn", "mstr", "end", "more", "hint", "ssn", "end"}},
	{name: "findAndModify fields", cmd: `{"findAndModify": "enc", "query": {}, "update": {"$set": {"x": 7}}, "fields": {"x": {"$eq": ["$ssn", "M"]}}}`,
		script: []string{"findAndModify", "enc", "end", "update", "set", "x", "int", "end", "more", "fields", "x", "expr", "cmp", "$eq", "path", "ssn", "lit", "mstr", "end", "end"}},
	{name: "insert pp: patternProperties encrypts a property", cmd: `{"insert": "pp", "documents": [{"ssn": "M"}]}`,
		script: []string{"insert", "pp", "ssn", "mstr", "end", "end"}},
	{name: "update $set as an array", cmd: `{"update": "enc", "updates": [{"q": {}, "u": {"$set": [{"ssn": "M"}]}}]}`,
		script: []string{"update", "enc", "end", "setArray", "ssn", "mstr", "end", "no", "none", "end"}},
	{name: "update pipeline $set", cmd: `{"update": "enc", "updates": [{"q": {}, "u": [{"$set": {"ssn": "M"}}]}]}`,
		script: []string{"update", "enc", "end", "pipeline", "more", "$set", "ssn", "lit", "mstr", "end", "end", "no", "none", "end"}},
	{name: "update arrayFilters on ssn", cmd: `{"update": "enc", "updates": [{"q": {}, "u": {"$set": {"ssn.$[i]": "M"}}, "arrayFilters": [{"i": "M"}]}]}`,
		script: []string{"update", "enc", "end", "arrayFilters", "ssn", "mstr", "more", "eq", "i", "mstr", "end", "no", "none", "end"}},
	{name: "unknown command field with a filter", cmd: `{"find": "enc", "zq": {"ssn": "M"}}`,
		script: []string{"find", "enc", "nolet", "more", "zfield", "q", "filter", "more", "eq", "ssn", "mstr", "end", "end"}},
	{name: "unknown match operator on ssn", cmd: `{"find": "enc", "filter": {"ssn": {"$zq": "M"}}}`,
		script: []string{"find", "enc", "nolet", "more", "filter", "more", "ops", "ssn", "$zop", "q", "mstr", "end", "end", "end"}},
	{name: "unknown stage then $match", cmd: `{"aggregate": "plain", "pipeline": [{"$lookup": {"from": "enc", "localField": "x", "foreignField": "x", "as": "j"}}, {"$zq": {}}, {"$match": {"x": "M"}}], "cursor": {}}`,
		script: []string{"aggregate", "collection", "plain", "nolet", "more", "$lookup", "local", "enc", "x", "x", "j", "none", "more", "$zstage", "q", "end", "more", "$match", "more", "eq", "x", "mstr", "end", "end", "none", "none"}},
	{name: "QE $expr $$ROOT.eq", cmd: `{"find": "qenc", "filter": {"$expr": {"$eq": ["$$ROOT.eq", "M"]}}}`,
		script: []string{"find", "qenc", "nolet", "more", "filter", "more", "expr", "cmp", "$eq", "rootpath", "$$ROOT", "eq", "lit", "mstr"}},
}

// leakShapeCmd parses a shape's command with the fixed markers.
func leakShapeCmd(t testing.TB, s leakShape) bson.Raw {
	t.Helper()
	var d bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(strings.ReplaceAll(s.cmd, `"M"`, `"`+leakMarker+`"`)), false, &d); err != nil {
		t.Fatalf("%s: bad JSON: %v", s.name, err)
	}
	return d
}

func fixedPlants() []*plant {
	return []*plant{
		{str: leakMarker, sensitive: true, why: "planted at a sensitive place"},
		{num: leakIntMarker, isInt: true, sensitive: true, why: "planted at a sensitive place"},
	}
}

func (s leakShape) dbName() string {
	if s.db == "" {
		return "db"
	}
	return s.db
}

// TestLeakShapes: each known leaking shape is refused, or its marker is only
// inside placeholders.
func TestLeakShapes(t *testing.T) {
	for _, s := range leakShapes {
		t.Run(s.name, func(t *testing.T) {
			cmd := leakShapeCmd(t, s)
			v := leakCheck(s.dbName(), cmd, fixedPlants())
			if v.problem != "" {
				t.Fatalf("%s\n%s", s.cmd, v.problem)
			}
			if v.refused {
				t.Logf("refused: %v", v.err)
			} else {
				t.Logf("accepted, marker only in placeholders: %s", extJSON2(v.res.Command))
			}
		})
	}
}

var (
	markerStrRe = regexp.MustCompile(leakMarker + `-\d{3}`)
	markerIntRe = regexp.MustCompile(`"77007\d{4}"`)
)

func normalizeMarkers(s string) string {
	s = markerStrRe.ReplaceAllString(s, leakMarker)
	return markerIntRe.ReplaceAllString(s, `"770077"`)
}

func canonicalJSON(b bson.Raw) string {
	j, err := bson.MarshalExtJSON(b, true, false)
	if err != nil {
		return "<invalid>"
	}
	return string(j)
}

// TestLeakSeeds: the seed of each shape builds that shape, and the generator
// knows its marker is sensitive.
func TestLeakSeeds(t *testing.T) {
	for _, s := range leakShapes {
		t.Run(s.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatal(r)
				}
			}()
			c := genLeakCase(nil, s.script, true)
			got := normalizeMarkers(canonicalJSON(c.cmd))
			want := canonicalJSON(leakShapeCmd(t, s))
			if got != want {
				t.Fatalf("the seed builds\n  %s\nwant\n  %s\nchoices:\n  %s", got, want, strings.Join(c.trace, "\n  "))
			}
			if c.db != s.dbName() {
				t.Fatalf("db %s", c.db)
			}
			if !c.sensitive() {
				t.Fatalf("the generator does not see a sensitive marker in %s", got)
			}
			// Replaying the recorded bytes builds the same command.
			r := genLeakCase(c.rec, nil, false)
			if !bytes.Equal(r.cmd, c.cmd) {
				t.Fatalf("replay differs: %s", extJSON2(r.cmd))
			}
		})
	}
}

func leakSeedBytes() [][]byte {
	var out [][]byte
	for _, s := range leakShapes {
		func() {
			defer func() { _ = recover() }() // a broken script is reported by TestLeakSeeds
			out = append(out, genLeakCase(nil, s.script, false).rec)
		}()
	}
	return out
}

// FuzzLeak: no generated command lets a sensitive marker out in the clear.
//
//	go test -run XXX -fuzz FuzzLeak -fuzztime 60s ./internal/analysis
func FuzzLeak(f *testing.F) {
	for _, b := range leakSeedBytes() {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		runLeakInput(t, data)
	})
}

// TestLeakGrammarRandom runs the generator on pseudo-random inputs and
// reports the shortest leaking command of every kind of leak.
//
// LEAKFUZZ_N=1000000 LEAKFUZZ_SEED=7 go test -run TestLeakGrammarRandom ./internal/analysis
// runs more inputs, or others.
func TestLeakGrammarRandom(t *testing.T) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("LEAKFUZZ_N")); err == nil && v > 0 {
		n = v
	}
	seed := int64(20240601)
	if v, err := strconv.ParseInt(os.Getenv("LEAKFUZZ_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewSource(seed))
	var total, sensitive, refused, sensitiveRefused, sensitiveEncrypted int
	shortest := map[string]string{}
	problems := 0
	for i := 0; i < n; i++ {
		data := make([]byte, 1+rng.Intn(96))
		rng.Read(data)
		c := genLeakCase(data, nil, false)
		v := leakCheck(c.db, c.cmd, c.plants)
		total++
		if v.refused {
			refused++
		}
		if c.sensitive() {
			sensitive++
			switch {
			case v.refused:
				sensitiveRefused++
			case v.problem == "" && v.res.HasPlaceholders:
				sensitiveEncrypted++
			}
		}
		if v.problem == "" {
			continue
		}
		problems++
		kind := leakKind(c, v)
		js := extJSON2(c.cmd)
		if old, ok := shortest[kind]; !ok || len(js) < len(old) {
			shortest[kind] = fmt.Sprintf("%s (input %x)", js, data)
		}
	}
	t.Logf("%d commands: %d refused; %d with a sensitive marker: %d refused, %d accepted with the marker encrypted", total, refused, sensitive, sensitiveRefused, sensitiveEncrypted)
	if sensitiveEncrypted == 0 {
		t.Errorf("no sensitive command was accepted and encrypted: the generator (or the analyzer) refuses everything")
	}
	if problems > 0 {
		for _, k := range sortedKeys(shortest) {
			t.Errorf("%s:\n    %s", k, shortest[k])
		}
		t.Errorf("%d of %d generated commands leak or are refused wrongly", problems, total)
	}
}

// leakKind names a failure for grouping: the leaking plant's reason without
// the paths and collection names, or the refusal problem.
var kindTrim = regexp.MustCompile(` '[^']*'|into (enc|qenc|pp|plain)|\$z[qrs]`)

func leakKind(c *leakCase, v leakVerdict) string {
	if !strings.HasPrefix(v.problem, "LEAK") {
		return "bad refusal"
	}
	cmdName := ""
	if els, _ := bsoncore.Document(c.cmd).Elements(); len(els) > 0 {
		cmdName = els[0].Key()
	}
	for _, p := range c.plants {
		if p.sensitive && strings.Contains(v.problem, p.String()+" (") {
			return cmdName + ": " + kindTrim.ReplaceAllString(p.why, "")
		}
	}
	return cmdName + ": leak"
}

// TestLeakGrammarAccepts: shapes that must be accepted, with the marker only
// inside placeholders (the fuzzer cannot pass by refusing everything).
func TestLeakGrammarAccepts(t *testing.T) {
	cases := []struct {
		name, cmd string
		marker    bool // the marker must be inside a placeholder
	}{
		{"find ssn equality", `{"find": "enc", "filter": {"ssn": "M"}}`, true},
		{"find ssn $in", `{"find": "enc", "filter": {"ssn": {"$in": ["M", "other"]}}}`, true},
		{"find n.x equality", `{"find": "enc", "filter": {"n.x": 770077}}`, true},
		{"find p_ pattern field", `{"find": "enc", "filter": {"p_a": "M"}}`, true},
		{"find ssn $ne", `{"find": "enc", "filter": {"ssn": {"$ne": "M"}}}`, true},
		{"insert enc", `{"insert": "enc", "documents": [{"ssn": "M", "secret": "M", "n": {"x": 770077}, "x": 1}]}`, true},
		{"update $set enc", `{"update": "enc", "updates": [{"q": {"ssn": "M"}, "u": {"$set": {"ssn": "M"}}}]}`, true},
		{"aggregate $match enc", `{"aggregate": "enc", "pipeline": [{"$match": {"ssn": "M"}}], "cursor": {}}`, true},
		{"QE find eq", `{"find": "qenc", "filter": {"eq": "M"}}`, true},
		{"QE insert", `{"insert": "qenc", "documents": [{"eq": "M", "u": "M", "age": 7}]}`, true},
		{"QE range $gt", `{"find": "qenc", "filter": {"age": {"$gt": 5}}}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := leakShapeCmd(t, leakShape{name: tc.name, cmd: tc.cmd})
			v := leakCheck("db", cmd, fixedPlants())
			if v.refused {
				t.Fatalf("refused: %v", v.err)
			}
			if v.problem != "" {
				t.Fatal(v.problem)
			}
			if !v.res.HasPlaceholders {
				t.Fatalf("no placeholders: %s", extJSON2(v.res.Command))
			}
			if !tc.marker {
				return
			}
			found := false
			for _, ph := range placeholderPayloads(v.res.Command) {
				for _, p := range fixedPlants() {
					for _, nd := range p.needles() {
						found = found || bytes.Contains(ph, nd)
					}
				}
			}
			if !found {
				t.Fatalf("no placeholder holds the marker: %s", extJSON2(v.res.Command))
			}
		})
	}
}

// TestLeakOracle: the oracle sees a marker sent in the clear and does not
// see one that only a placeholder holds.
func TestLeakOracle(t *testing.T) {
	sens := func(s string) *plant { return &plant{str: s, sensitive: true, why: "test"} }
	parse := func(s string) bson.Raw { return leakShapeCmd(t, leakShape{name: s, cmd: s}) }
	// Accepted without placeholders: the original command is sent.
	if v := leakCheck("db", parse(`{"find": "plain", "filter": {"x": "M"}}`), []*plant{sens(leakMarker)}); !strings.HasPrefix(v.problem, "LEAK") {
		t.Fatalf("a marker sent as it is was not seen: %+v", v)
	}
	// Accepted with placeholders: the marker in one is fine, another one next to it is not.
	cmd := parse(`{"find": "enc", "filter": {"ssn": "M", "x": "OTHER-MARKER"}}`)
	if v := leakCheck("db", cmd, []*plant{sens(leakMarker)}); v.problem != "" || !v.res.HasPlaceholders {
		t.Fatalf("a marker inside a placeholder was reported: %+v", v)
	}
	if v := leakCheck("db", cmd, []*plant{sens("OTHER-MARKER")}); !strings.HasPrefix(v.problem, "LEAK") {
		t.Fatalf("a marker next to a placeholder was not seen: %+v", v)
	}
	// The int marker, as int32 and as int64.
	for _, f := range []string{`770077`, `{"$numberLong": "770077"}`} {
		c := parse(`{"find": "plain", "filter": {"x": ` + f + `}}`)
		if v := leakCheck("db", c, []*plant{{num: leakIntMarker, isInt: true, sensitive: true}}); !strings.HasPrefix(v.problem, "LEAK") {
			t.Fatalf("the int marker %s was not seen: %+v", f, v)
		}
	}
	// create: the original is always sent.
	if v := leakCheck("db", parse(`{"create": "plain", "validator": {"x": "M"}}`), []*plant{sens(leakMarker)}); !strings.HasPrefix(v.problem, "LEAK") {
		t.Fatalf("create: %+v", v)
	}
}
