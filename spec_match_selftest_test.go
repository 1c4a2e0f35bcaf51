package mongocrypt

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSpecMatcher checks the runner's matching rules on both sides: what must match does, and
// every kind of difference is caught (a matcher that accepts everything would pass every
// conformance test).
func TestSpecMatcher(t *testing.T) {
	doc := func(js string) bson.RawValue {
		var d bson.Raw
		if err := bson.UnmarshalExtJSON([]byte(js), true, &d); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return specDocValue(d)
	}
	cases := []struct {
		name, exp, act string
		root, legacy   bool
		ok             bool
	}{
		{"equal", `{"a": 1}`, `{"a": 1}`, true, false, true},
		{"flexible numbers", `{"a": 1}`, `{"a": {"$numberLong": "1"}}`, true, false, true},
		{"different numbers", `{"a": 1}`, `{"a": 2}`, true, false, false},
		{"different types", `{"a": "1"}`, `{"a": 1}`, true, false, false},
		{"extra root key", `{"a": 1}`, `{"a": 1, "b": 2}`, true, false, true},
		{"extra root key outside root", `{"a": 1}`, `{"a": 1, "b": 2}`, false, false, false},
		{"extra nested key", `{"a": {"x": 1}}`, `{"a": {"x": 1, "y": 2}}`, true, false, false},
		{"missing key", `{"a": 1, "b": 2}`, `{"a": 1}`, true, false, false},
		{"key order", `{"a": 1, "b": 2}`, `{"b": 2, "a": 1}`, true, false, true},
		{"binary byte for byte", `{"a": {"$binary": {"base64": "AQID", "subType": "06"}}}`, `{"a": {"$binary": {"base64": "AQIE", "subType": "06"}}}`, true, false, false},
		{"binary subtype", `{"a": {"$binary": {"base64": "AQID", "subType": "06"}}}`, `{"a": {"$binary": {"base64": "AQID", "subType": "00"}}}`, true, false, false},
		{"$$type", `{"a": {"$$type": "binData"}}`, `{"a": {"$binary": {"base64": "AQID", "subType": "06"}}}`, true, false, true},
		{"$$type wrong", `{"a": {"$$type": "binData"}}`, `{"a": "x"}`, true, false, false},
		{"$$type list", `{"a": {"$$type": ["int", "long"]}}`, `{"a": {"$numberLong": "5"}}`, true, false, true},
		{"$$type absent", `{"a": {"$$type": "int"}}`, `{}`, true, false, false},
		{"$$exists false", `{"a": {"$$exists": false}}`, `{"a": 1}`, true, false, false},
		{"$$exists true", `{"a": {"$$exists": true}}`, `{"a": null}`, true, false, true},
		{"$$unsetOrMatches unset", `{"a": {"$$unsetOrMatches": 1}}`, `{}`, true, false, true},
		{"$$unsetOrMatches differs", `{"a": {"$$unsetOrMatches": 1}}`, `{"a": 2}`, true, false, false},
		{"array length", `{"a": [1, 2]}`, `{"a": [1, 2, 3]}`, true, false, false},
		{"array order", `{"a": [1, 2]}`, `{"a": [2, 1]}`, true, false, false},
		{"legacy null means absent", `{"a": null}`, `{}`, true, true, true},
		{"legacy null, present", `{"a": null}`, `{"a": 1}`, true, true, false},
		{"unified null is null", `{"a": null}`, `{}`, true, false, false},
	}
	for _, c := range cases {
		err := specMatch("doc", doc(c.exp), doc(c.act), true, c.root, specMatchMode{legacyNull: c.legacy})
		if (err == nil) != c.ok {
			t.Errorf("%s: match(%s, %s) = %v, want ok=%v", c.name, c.exp, c.act, err, c.ok)
		}
	}
	// Results of iterating a cursor are root-level documents; distinct values are not.
	arr := func(js string) bson.RawValue { return doc(`{"v": ` + js + `}`).Document().Lookup("v") }
	if err := specMatchResult(arr(`[{"a": 1}]`), arr(`[{"a": 1, "b": 2}]`), true, specMatchMode{}); err != nil {
		t.Errorf("find results must allow extra keys: %v", err)
	}
	if err := specMatchResult(arr(`[{"a": 1}]`), arr(`[{"a": 1, "b": 2}]`), false, specMatchMode{}); err == nil {
		t.Error("distinct results must not allow extra keys")
	}
}
