package mongocrypt

// Matching of expected values against actual ones, with the rules of the unified test format
// ("Evaluating Matches": extra keys only in root-level documents, flexible numerics, the $$
// operators) and of the legacy format (a null expected command field means the field is
// absent).

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// specMatchMode says which rule set applies.
type specMatchMode struct {
	// legacyNull: an expected null means the key must be absent (legacy command expectations).
	legacyNull bool
	// exact: no operators, no extra keys anywhere, same types.
	exact bool
	// saved are the results saved as entities ($$matchesEntity).
	saved map[string]bson.RawValue
}

// specOperator returns the name and argument of a one-key document whose key starts with "$$".
func specOperator(v bson.RawValue) (string, bson.RawValue, bool) {
	d, ok := v.DocumentOK()
	if !ok {
		return "", bson.RawValue{}, false
	}
	elems, err := d.Elements()
	if err != nil || len(elems) != 1 || !strings.HasPrefix(elems[0].Key(), "$$") {
		return "", bson.RawValue{}, false
	}
	return elems[0].Key(), elems[0].Value(), true
}

// specTypeNames maps the $type aliases of the test files to BSON types.
var specTypeNames = map[string][]bson.Type{
	"double": {bson.TypeDouble}, "string": {bson.TypeString}, "object": {bson.TypeEmbeddedDocument},
	"array": {bson.TypeArray}, "binData": {bson.TypeBinary}, "undefined": {bson.TypeUndefined},
	"objectId": {bson.TypeObjectID}, "bool": {bson.TypeBoolean}, "date": {bson.TypeDateTime},
	"null": {bson.TypeNull}, "regex": {bson.TypeRegex}, "dbPointer": {bson.TypeDBPointer},
	"javascript": {bson.TypeJavaScript}, "symbol": {bson.TypeSymbol},
	"javascriptWithScope": {bson.TypeCodeWithScope}, "int": {bson.TypeInt32},
	"timestamp": {bson.TypeTimestamp}, "long": {bson.TypeInt64}, "decimal": {bson.TypeDecimal128},
	"minKey": {bson.TypeMinKey}, "maxKey": {bson.TypeMaxKey},
	"number": {bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeDecimal128},
}

func specShow(v bson.RawValue) string {
	if v.Type == 0 {
		return "<absent>"
	}
	s := v.String()
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// specMatch checks that act (present tells whether the key exists at all) matches exp. root
// permits extra keys in act when both are documents.
func specMatch(path string, exp, act bson.RawValue, present, root bool, m specMatchMode) error {
	if !m.exact {
		if op, arg, ok := specOperator(exp); ok {
			return specMatchOperator(path, op, arg, act, present, root, m)
		}
	}
	if !present {
		return fmt.Errorf("%s: missing, want %s", path, specShow(exp))
	}
	switch exp.Type {
	case bson.TypeEmbeddedDocument:
		return specMatchDoc(path, exp.Document(), act, root, m)
	case bson.TypeArray:
		return specMatchArray(path, exp.Array(), act, false, m)
	}
	if specNumeric(exp.Type) && specNumeric(act.Type) && !m.exact {
		if specNumber(exp) != specNumber(act) {
			return fmt.Errorf("%s: got %s, want %s", path, specShow(act), specShow(exp))
		}
		return nil
	}
	if exp.Type != act.Type || !bytes.Equal(exp.Value, act.Value) {
		return fmt.Errorf("%s: got %s (%s), want %s (%s)", path, specShow(act), act.Type, specShow(exp), exp.Type)
	}
	return nil
}

func specNumeric(t bson.Type) bool {
	return t == bson.TypeInt32 || t == bson.TypeInt64 || t == bson.TypeDouble
}

func specNumber(v bson.RawValue) float64 {
	switch v.Type {
	case bson.TypeInt32:
		return float64(v.Int32())
	case bson.TypeInt64:
		return float64(v.Int64())
	case bson.TypeDouble:
		return v.Double()
	}
	return math.NaN()
}

func specMatchOperator(path, op string, arg, act bson.RawValue, present, root bool, m specMatchMode) error {
	switch op {
	case "$$type":
		if !present {
			return fmt.Errorf("%s: missing, want a value of type %s", path, specShow(arg))
		}
		var names []string
		if s, ok := arg.StringValueOK(); ok {
			names = []string{s}
		} else if arr, ok := arg.ArrayOK(); ok {
			vals, _ := arr.Values()
			for _, v := range vals {
				names = append(names, v.StringValue())
			}
		}
		for _, n := range names {
			ts, ok := specTypeNames[n]
			if !ok {
				return fmt.Errorf("%s: unknown $$type %q", path, n)
			}
			for _, t := range ts {
				if act.Type == t {
					return nil
				}
			}
		}
		return fmt.Errorf("%s: got %s of type %s, want type %v", path, specShow(act), act.Type, names)
	case "$$exists":
		return fmt.Errorf("%s: $$exists is only allowed as the value of a document key", path)
	case "$$unsetOrMatches":
		if !present {
			return nil
		}
		return specMatch(path, arg, act, present, root, m)
	case "$$matchesEntity":
		v, ok := m.saved[arg.StringValue()]
		if !ok {
			return fmt.Errorf("%s: no entity %q saved", path, arg.StringValue())
		}
		return specMatch(path, v, act, present, root, m)
	case "$$matchAsRoot":
		return specMatch(path, arg, act, present, true, m)
	case "$$lte":
		if !present || !specNumeric(act.Type) || specNumber(act) > specNumber(arg) {
			return fmt.Errorf("%s: got %s, want <= %s", path, specShow(act), specShow(arg))
		}
		return nil
	}
	return fmt.Errorf("%s: the operator %s is not supported by this runner", path, op)
}

func specMatchDoc(path string, exp bson.Raw, act bson.RawValue, root bool, m specMatchMode) error {
	ad, ok := act.DocumentOK()
	if !ok {
		return fmt.Errorf("%s: got %s, want a document %s", path, specShow(act), specShow(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: exp}))
	}
	elems, err := exp.Elements()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, e := range elems {
		k, ev := e.Key(), e.Value()
		want[k] = true
		p := path + "." + k
		av, lerr := ad.LookupErr(k)
		has := lerr == nil
		if !m.exact {
			if op, arg, ok := specOperator(ev); ok {
				switch op {
				case "$$exists":
					if has != arg.Boolean() {
						if has {
							return fmt.Errorf("%s: present (%s), want absent", p, specShow(av))
						}
						return fmt.Errorf("%s: absent, want present", p)
					}
					continue
				case "$$unsetOrMatches":
					if !has {
						continue
					}
				}
			}
			if m.legacyNull && ev.Type == bson.TypeNull {
				if has {
					return fmt.Errorf("%s: present (%s), want absent (null in the legacy expectation)", p, specShow(av))
				}
				continue
			}
		}
		if err := specMatch(p, ev, av, has, false, m); err != nil {
			return err
		}
	}
	// The legacy format lets actual documents hold keys the expectation does not name, at any
	// depth (the expectation is a subset); the unified format only at the root.
	if (root || m.legacyNull) && !m.exact {
		return nil
	}
	aelems, err := ad.Elements()
	if err != nil {
		return err
	}
	for _, e := range aelems {
		if !want[e.Key()] {
			return fmt.Errorf("%s: unexpected key %q (%s)", path, e.Key(), specShow(e.Value()))
		}
	}
	return nil
}

// specMatchArray matches arrays element by element; rootElems treats document elements as
// root-level documents (results of find, aggregate and other iterables).
func specMatchArray(path string, exp bson.RawArray, act bson.RawValue, rootElems bool, m specMatchMode) error {
	aa, ok := act.ArrayOK()
	if !ok {
		return fmt.Errorf("%s: got %s, want an array", path, specShow(act))
	}
	ev, err := exp.Values()
	if err != nil {
		return err
	}
	av, err := aa.Values()
	if err != nil {
		return err
	}
	if len(ev) != len(av) {
		return fmt.Errorf("%s: got %d elements %s, want %d %s", path, len(av), specShow(act), len(ev), specShow(bson.RawValue{Type: bson.TypeArray, Value: exp}))
	}
	for i := range ev {
		if err := specMatch(fmt.Sprintf("%s[%d]", path, i), ev[i], av[i], true, rootElems, m); err != nil {
			return err
		}
	}
	return nil
}

// specMatchResult matches an operation's result: documents are root-level; so are the
// documents of arrays that come from iterating a cursor.
func specMatchResult(exp, act bson.RawValue, iterable bool, m specMatchMode) error {
	if exp.Type == bson.TypeArray && iterable {
		if _, _, ok := specOperator(exp); !ok {
			return specMatchArray("result", exp.Array(), act, true, m)
		}
	}
	return specMatch("result", exp, act, act.Type != 0, true, m)
}

// specRaw wraps a document as a value.
func specDocValue(d bson.Raw) bson.RawValue {
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: d}
}
