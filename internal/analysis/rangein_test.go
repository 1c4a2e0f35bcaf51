package analysis

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// TestRangeIn: $in and $nin on a range-indexed field (the specification's
// fle2v2-Rangev2-*-Correctness "Find with $in") become the $or ($nor) of one closed range
// [v, v] per value, each an $and of a $gte and a $lte range find placeholder.
func TestRangeIn(t *testing.T) {
	for _, tc := range []struct {
		filter, top string
		ranges      int
	}{
		{`{"age": {"$in": [1, 2, 2]}}`, "$or", 3},
		{`{"age": {"$nin": [5, 6]}}`, "$nor", 2},
		{`{"age": {"$in": [7]}}`, "$and", 1},
	} {
		res, err := Analyze("db", jsonDoc(t, `{"find": "coll", "filter": `+tc.filter+`}`), schemasFor(t, "qe"))
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if !res.HasPlaceholders || !res.UsesQE {
			t.Fatalf("%s: no placeholders (%v) or not QE (%v)", tc.filter, res.HasPlaceholders, res.UsesQE)
		}
		f := bsoncore.Document(res.Command).Lookup("filter").Document()
		els, _ := f.Elements()
		if len(els) != 1 || els[0].Key() != tc.top {
			t.Fatalf("%s: filter %s, want one %s", tc.filter, f, tc.top)
		}
		var ands []bsoncore.Document
		if tc.top == "$and" {
			ands = []bsoncore.Document{f}
		} else {
			vals, _ := els[0].Value().Array().Values()
			for _, v := range vals {
				ands = append(ands, v.Document())
			}
		}
		if len(ands) != tc.ranges {
			t.Fatalf("%s: %d ranges, want %d", tc.filter, len(ands), tc.ranges)
		}
		for _, a := range ands {
			pair, _ := a.Lookup("$and").Array().Values()
			if len(pair) != 2 {
				t.Fatalf("%s: range %s is not a pair", tc.filter, a)
			}
			for i, op := range []string{"$gte", "$lte"} {
				ph := pair[i].Document().Lookup("age", op)
				if st, _, ok := ph.BinaryOK(); !ok || st != 6 {
					t.Fatalf("%s: %s bound %s is not a placeholder", tc.filter, op, ph)
				}
			}
		}
	}
}

// TestRangeInDecisions: for $in and $nin on a range-indexed field each case is analysed
// (TestRangeIn), refused, or carries no value; nothing passes unrecognised.
func TestRangeInDecisions(t *testing.T) {
	for _, tc := range []struct {
		filter, refusal string // refusal "" when analysed
	}{
		{`{"age": {"$in": 5}}`, "$in needs an array"},
		{`{"age": {"$nin": "x"}}`, "$in needs an array"},
		{`{"age": {"$in": [1, null]}}`, "Illegal equality to null inside $in"},
		{`{"age": {"$nin": [{"$regularExpression": {"pattern": "^1", "options": ""}}]}}`, "regex inside $nin"},
		{`{"age": {"$in": [{"$binary": {"base64": "AQ==", "subType": "06"}}]}}`, "an encrypted value inside $in"},
		{`{"age": {"$in": [{"a": 1}]}}`, "isn't supported for the range encrypted index"},
		{`{"age": {"$in": ["text"]}}`, "isn't supported for the range encrypted index"},
		// Known to carry no value: an empty list stays as it is, with no placeholder.
		{`{"age": {"$in": []}}`, ""},
		{`{"age": {"$nin": []}}`, ""},
	} {
		res, err := Analyze("db", jsonDoc(t, `{"find": "coll", "filter": `+tc.filter+`}`), schemasFor(t, "qe"))
		if tc.refusal == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.filter, err)
			}
			if res.HasPlaceholders {
				t.Fatalf("%s: an empty list got placeholders", tc.filter)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.refusal) {
			t.Fatalf("%s: %v, want a refusal containing %q", tc.filter, err, tc.refusal)
		}
	}
}
