package qerewrite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func loadLibmongocrypt(t *testing.T, name string) bson.Raw {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "libmongocrypt", name))
	if err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(data, false, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func rangeSchema(t *testing.T, path string) *Schema {
	t.Helper()
	s, err := ParseEncryptedFields(mustRaw(bson.D{{Key: "fields", Value: bson.A{bson.D{
		{Key: "path", Value: path}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key3}}, {Key: "bsonType", Value: "int"},
		{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"}}}}}}}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRangePairLibmongocrypt: the two-sided range libmongocrypt sends, a
// payload and a stub with the same payloadId in $and, becomes one tag match.
func TestRangePairLibmongocrypt(t *testing.T) {
	for _, tc := range []struct{ file, path, filterKey string }{
		{"range-sends-cryptoParams_auto-find-int32_encrypted-payload.json", "encrypted", "filter"},
		{"fle2-find-range-explicit_int32_encrypted-payload-v2.json", "age", "v"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cmd := loadLibmongocrypt(t, tc.file)
			filter := cmd.Lookup(tc.filterKey).Document()
			c := &fakeCrypto{}
			got, err := rangeSchema(t, tc.path).Filter(context.Background(), filter, c)
			if err != nil {
				t.Fatal(err)
			}
			if c.finds != 1 {
				t.Errorf("FindTags called %d times, want 1 (the stub has no tags)", c.finds)
			}
			full := filter.Lookup("$and", "0", tc.path, "$gte")
			_, data := full.Binary()
			want := mustRaw(bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{bson.Binary{Data: fakeTag(data)}}}}}}}}})
			if !bytes.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestRangeFilters covers the range rewrites and range_validator.cpp's errors.
func TestRangeFilters(t *testing.T) {
	s := testSchema(t)
	full := payload13(7, rangeGte, rangeLte, false)
	stub := payload13(7, rangeGte, rangeLte, true)
	one := payload13(1, rangeGt, 0, false)
	tagOf := func(p bson.Binary) bson.D {
		return bson.D{{Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{bson.Binary{Data: fakeTag(p.Data)}}}}}}
	}
	ok := []struct {
		name   string
		filter bson.D
		want   bson.D
	}{
		{"one-sided", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gt", Value: one}}}}, tagOf(one)},
		{"pair in one field", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}, {Key: "$lte", Value: stub}}}}, tagOf(full)},
		{"pair in $and", bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}}}}, bson.D{{Key: "a.rng", Value: bson.D{{Key: "$lte", Value: stub}}}}}}},
			bson.D{{Key: "$and", Value: bson.A{tagOf(full)}}}},
		{"aggregate $expr pair", bson.D{{Key: "$expr", Value: bson.D{{Key: "$and", Value: bson.A{
			bson.D{{Key: "$gte", Value: bson.A{"$a.rng", full}}}, bson.D{{Key: "$lte", Value: bson.A{"$a.rng", stub}}}}}}}},
			bson.D{{Key: "$and", Value: bson.A{tagOf(full)}}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Filter(context.Background(), mustRaw(tc.filter), &fakeCrypto{})
			if err != nil {
				t.Fatal(err)
			}
			if want := mustRaw(tc.want); !bytes.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, bson.Raw(want))
			}
		})
	}
	bad := []struct {
		name   string
		filter bson.D
		code   int32
	}{
		{"stub alone", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gt", Value: payload13(1, rangeGt, 0, true)}}}}, 7030709},
		{"wrong operator", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$lt", Value: one}}}}, 7030711},
		{"half pair alone", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}}}}, 7030710},
		{"pair without stub", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}}}, {Key: "x", Value: 1}}, 7030715},
		{"pair split over $or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}}}, {Key: "y", Value: 1}}, bson.D{{Key: "a.rng", Value: bson.D{{Key: "$lte", Value: stub}}}}}}}, 7030715},
		{"two payloads", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gte", Value: full}, {Key: "$lte", Value: full}}}}, 7030707},
		{"pair under other operator", bson.D{{Key: "a.rng", Value: bson.D{{Key: "$gt", Value: full}, {Key: "$lte", Value: stub}}}}, 7030716},
		{"aggregate pair without stub", bson.D{{Key: "$expr", Value: bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "$gte", Value: bson.A{"$a.rng", full}}}}}}}}, 7030718},
		{"aggregate constant first", bson.D{{Key: "$expr", Value: bson.D{{Key: "$gt", Value: bson.A{one, "$a.rng"}}}}}, 6720903},
		{"equality payload under $gt", bson.D{{Key: "eq", Value: bson.D{{Key: "$gt", Value: payload12("x")}}}}, CodeBadValue},
		{"range payload on equality field", bson.D{{Key: "eq", Value: bson.D{{Key: "$gt", Value: one}}}}, CodeBadValue},
		{"payload on unencrypted field", bson.D{{Key: "plain", Value: payload12("x")}}, CodeBadValue},
		{"mixed $in", bson.D{{Key: "eq", Value: bson.D{{Key: "$in", Value: bson.A{payload12("x"), "plain"}}}}}, 6329400},
		{"payload under $elemMatch", bson.D{{Key: "eq", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "$eq", Value: payload12("x")}}}}}}, CodeBadValue},
		{"two constants", bson.D{{Key: "$expr", Value: bson.D{{Key: "$eq", Value: bson.A{payload12("x"), payload12("y")}}}}}, 6334100},
		{"no field path", bson.D{{Key: "$expr", Value: bson.D{{Key: "$eq", Value: bson.A{"plain", payload12("y")}}}}}, 6672413},
		{"mixed aggregate $in", bson.D{{Key: "$expr", Value: bson.D{{Key: "$in", Value: bson.A{"$eq", bson.A{payload12("x"), 1}}}}}}, 6334102},
		{"deprecated payload", bson.D{{Key: "eq", Value: bson.Binary{Subtype: 6, Data: []byte{5, 5, 0, 0, 0, 0}}}}, 7292602},
		{"text without payload", bson.D{{Key: "$expr", Value: bson.D{{Key: "$encStrStartsWith", Value: bson.D{{Key: "input", Value: "$txt"}, {Key: "prefix", Value: "ab"}}}}}, {Key: "x", Value: payload12("x")}}, CodeBadValue},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Filter(context.Background(), mustRaw(tc.filter), &fakeCrypto{})
			wantCode(t, err, tc.code)
		})
	}
}

// TestTextFilters: the four text operators in $expr become tag matches, alone
// and under $and/$or; a text predicate under $cond keeps the aggregation form.
func TestTextFilters(t *testing.T) {
	s := testSchema(t)
	p := payload18("abc")
	tag := bson.D{{Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{bson.Binary{Data: fakeTag(p.Data)}}}}}}
	for op, arg := range textOps {
		pred := bson.D{{Key: op, Value: bson.D{{Key: "input", Value: "$txt"}, {Key: arg, Value: p}}}}
		for _, tc := range []struct {
			name   string
			filter bson.D
			want   bson.D
		}{
			{"alone", bson.D{{Key: "$expr", Value: pred}}, tag},
			{"$and", bson.D{{Key: "$expr", Value: bson.D{{Key: "$and", Value: bson.A{pred, bson.D{{Key: "$eq", Value: bson.A{"$x", 1}}}}}}}},
				bson.D{{Key: "$and", Value: bson.A{tag, bson.D{{Key: "$expr", Value: bson.D{{Key: "$eq", Value: bson.A{"$x", 1}}}}}}}}},
			{"$not", bson.D{{Key: "$expr", Value: bson.D{{Key: "$not", Value: bson.A{pred}}}}}, bson.D{{Key: "$nor", Value: bson.A{tag}}}},
			{"$cond", bson.D{{Key: "$expr", Value: bson.D{{Key: "$cond", Value: bson.A{pred, true, false}}}}},
				bson.D{{Key: "$expr", Value: bson.D{{Key: "$cond", Value: bson.A{
					bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "$in", Value: bson.A{bson.Binary{Data: fakeTag(p.Data)}, "$__safeContent__"}}}}}}, true, false}}}}}},
		} {
			t.Run(op+" "+tc.name, func(t *testing.T) {
				got, err := s.Filter(context.Background(), mustRaw(tc.filter), &fakeCrypto{})
				if err != nil {
					t.Fatal(err)
				}
				if want := mustRaw(tc.want); !bytes.Equal(got, want) {
					t.Errorf("got  %v\nwant %v", got, bson.Raw(want))
				}
			})
		}
	}
	_, err := s.Filter(context.Background(), mustRaw(bson.D{{Key: "$expr", Value: bson.D{{Key: "$encStrContains", Value: bson.D{{Key: "input", Value: "$eq"}, {Key: "substring", Value: p}}}}}}), &fakeCrypto{})
	wantCode(t, err, CodeBadValue) // a text payload on an equality field
}

func TestPipeline(t *testing.T) {
	s := testSchema(t)
	p := payload12("x")
	tag := bson.D{{Key: SafeContent, Value: bson.D{{Key: "$in", Value: bson.A{bson.Binary{Data: fakeTag(p.Data)}}}}}}
	in := mustArr(bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "eq", Value: p}}}}, bson.D{{Key: "$project", Value: bson.D{{Key: "x", Value: 1}}}}})
	got, err := s.Pipeline(context.Background(), in, &fakeCrypto{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustArr(bson.A{bson.D{{Key: "$match", Value: tag}}, bson.D{{Key: "$project", Value: bson.D{{Key: "x", Value: 1}}}}})
	if !bytes.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, bson.Raw(want))
	}
	gl := mustArr(bson.A{bson.D{{Key: "$graphLookup", Value: bson.D{{Key: "from", Value: "c"}, {Key: "startWith", Value: "$x"},
		{Key: "restrictSearchWithMatch", Value: bson.D{{Key: "eq", Value: p}}}}}}})
	got, err = s.Pipeline(context.Background(), gl, &fakeCrypto{})
	if err != nil || HasPayload(bson.RawValue{Type: bson.TypeArray, Value: got}) {
		t.Errorf("$graphLookup: %v %v", got, err)
	}
	for _, stage := range []bson.D{
		{{Key: "$project", Value: bson.D{{Key: "x", Value: p}}}},
		{{Key: "$lookup", Value: bson.D{{Key: "from", Value: "c"}, {Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "eq", Value: p}}}}}}}}},
	} {
		_, err := s.Pipeline(context.Background(), mustArr(bson.A{stage}), &fakeCrypto{})
		wantCode(t, err, CodeBadValue)
	}
	plain := mustArr(bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "x", Value: 1}}}}})
	if got, err := s.Pipeline(context.Background(), plain, &fakeCrypto{}); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("pipeline without payload: %v %v", got, err)
	}
}

func TestUpdate(t *testing.T) {
	s := testSchema(t)
	ctx := context.Background()
	p := payload11(s.Field("eq"), "secret-new")
	tag := bson.Binary{Data: fakeTag(p.Data)}
	c := &fakeCrypto{}
	got, err := s.Update(ctx, mustRaw(bson.D{{Key: "$set", Value: bson.D{{Key: "eq", Value: p}, {Key: "x", Value: 1}}}, {Key: "$push", Value: bson.D{{Key: "list", Value: 2}}}}), c)
	if err != nil {
		t.Fatal(err)
	}
	if st, data := got.Lookup("$set", "eq").Binary(); st != 6 || data[0] != 14 {
		t.Errorf("$set value not stored: %v", got)
	}
	each := got.Lookup("$push", SafeContent, "$each").Array()
	if v, _ := each.Values(); len(v) != 1 || !bytes.Equal(v[0].Value, bson.RawValue(mustRaw(bson.D{{Key: "t", Value: tag}}).Lookup("t")).Value) {
		t.Errorf("$push of tags: %v", got)
	}
	if got.Lookup("$push", "list").Int32() != 2 {
		t.Errorf("update's own $push lost: %v", got)
	}

	// A replacement is an insert.
	got, err = s.Update(ctx, mustRaw(bson.D{{Key: "eq", Value: p}}), c)
	if err != nil || got.Lookup(SafeContent).Type != bson.TypeArray {
		t.Errorf("replacement: %v %v", got, err)
	}
	// A plain update passes unchanged.
	plain := mustRaw(bson.D{{Key: "$set", Value: bson.D{{Key: "foo", Value: "bar"}}}})
	if got, err := s.Update(ctx, plain, c); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("plain update: %v %v", got, err)
	}

	for _, tc := range []struct {
		name string
		u    bson.D
		code int32
	}{
		{"$set plaintext", bson.D{{Key: "$set", Value: bson.D{{Key: "eq", Value: "secret-plain"}}}}, 121},
		{"$set plaintext nested", bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: bson.D{{Key: "rng", Value: 5}}}}}}, 121},
		{"$set under encrypted", bson.D{{Key: "$set", Value: bson.D{{Key: "eq.x", Value: 5}}}}, 121},
		{"$inc encrypted", bson.D{{Key: "$inc", Value: bson.D{{Key: "a.rng", Value: 1}}}}, 121},
		{"$set safeContent", bson.D{{Key: "$set", Value: bson.D{{Key: SafeContent, Value: bson.A{}}}}}, 6666200},
		{"$push safeContent", bson.D{{Key: "$push", Value: bson.D{{Key: SafeContent, Value: 1}}}}, 6371512},
		{"$unset safeContent", bson.D{{Key: "$unset", Value: bson.D{{Key: SafeContent, Value: ""}}}}, 6666200},
		{"$rename to safeContent", bson.D{{Key: "$rename", Value: bson.D{{Key: "x", Value: SafeContent}}}}, 6666200},
		{"payload in $push", bson.D{{Key: "$push", Value: bson.D{{Key: "list", Value: p}}}}, CodeBadValue},
		{"payload in plain field", bson.D{{Key: "$set", Value: bson.D{{Key: "plain", Value: p}}}}, 6726300},
		{"replacement with safeContent", bson.D{{Key: SafeContent, Value: bson.A{}}}, 6666200},
		{"pipeline", bson.D{{Key: "0", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}}}, 6371517},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeCrypto{}
			_, err := s.Update(ctx, mustRaw(tc.u), c)
			wantCode(t, err, tc.code)
			if c.inserts != 0 {
				t.Errorf("Crypto.Insert called for a refused update")
			}
			if bytes.Contains([]byte(err.Error()), []byte("secret")) {
				t.Errorf("error text holds a value: %v", err)
			}
		})
	}
	_, err = s.UpdateValue(ctx, bson.RawValue{Type: bson.TypeArray, Value: mustRaw(bson.D{})}, c)
	wantCode(t, err, 6371517)
}

func TestRemovedTags(t *testing.T) {
	s := testSchema(t)
	ctx := context.Background()
	c := &fakeCrypto{}
	ins := func(v string) bson.Raw {
		d, err := s.InsertDocument(ctx, mustRaw(bson.D{{Key: "eq", Value: payload11(s.Field("eq"), v)},
			{Key: "a", Value: bson.D{{Key: "rng", Value: payload11(s.Field("a.rng"), v)}}}}), c)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	before, after := ins("old"), ins("new")
	// after keeps before's range value, replaces its equality value.
	mixed := mustRaw(bson.D{{Key: "eq", Value: after.Lookup("eq")}, {Key: "a", Value: before.Lookup("a")}})
	tags, err := s.RemovedTags(before, mixed, c)
	if err != nil {
		t.Fatal(err)
	}
	_, eqOld := before.Lookup("eq").Binary()
	if len(tags) != 1 || !bytes.Equal(tags[0], eqOld[18:]) {
		t.Errorf("removed tags %x, want the old equality value's", tags)
	}
	if tags, _ := s.RemovedTags(before, before, c); len(tags) != 0 {
		t.Errorf("unchanged document removed %d tags", len(tags))
	}
	if tags, _ := s.RemovedTags(before, mustRaw(bson.D{}), c); len(tags) != 2 {
		t.Errorf("emptied document removed %d tags, want 2", len(tags))
	}
}

func TestParseEncryptedFieldsErrors(t *testing.T) {
	field := func(kv ...bson.E) bson.D {
		return append(bson.D{{Key: "path", Value: "f"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}}, kv...)
	}
	q := func(kv ...bson.E) bson.E { return bson.E{Key: "queries", Value: bson.D(kv)} }
	text := func(kind string) bson.E {
		return q(bson.E{Key: "queryType", Value: kind}, bson.E{Key: "strMinQueryLength", Value: int64(2)}, bson.E{Key: "strMaxQueryLength", Value: int64(5)},
			bson.E{Key: "strMaxLength", Value: int64(10)}, bson.E{Key: "caseSensitive", Value: true}, bson.E{Key: "diacriticSensitive", Value: false})
	}
	for _, tc := range []struct {
		name string
		ef   bson.D
		code int32
	}{
		{"no fields", bson.D{}, CodeIDLFailedToParse},
		{"fields not array", bson.D{{Key: "fields", Value: 1}}, CodeTypeMismatch},
		{"no path", bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}}}}}, CodeIDLFailedToParse},
		{"no keyId", bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "f"}}}}}, CodeIDLFailedToParse},
		{"bad esc name", bson.D{{Key: "escCollection", Value: "foo"}, {Key: "fields", Value: bson.A{}}}, 7406900},
		{"bad ecoc name", bson.D{{Key: "ecocCollection", Value: "foo"}, {Key: "fields", Value: bson.A{}}}, 7406902},
		{"duplicate key", bson.D{{Key: "fields", Value: bson.A{field(), bson.D{{Key: "path", Value: "g"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}}}}}, 6338401},
		{"_id", bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "_id.x"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}}}}}, 6316403},
		{"empty path", bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: ""}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key1}}}}}}, 6316402},
		{"duplicate path", bson.D{{Key: "fields", Value: bson.A{field(), bson.D{{Key: "path", Value: "f"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key2}}}}}}, 6338402},
		{"prefix paths", bson.D{{Key: "fields", Value: bson.A{field(), bson.D{{Key: "path", Value: "f.g"}, {Key: "keyId", Value: bson.Binary{Subtype: 4, Data: key2}}}}}}, 6338403},
		{"indexed without type", bson.D{{Key: "fields", Value: bson.A{field(q(bson.E{Key: "queryType", Value: "equality"}))}}}, 6412601},
		{"equality double", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "double"}, q(bson.E{Key: "queryType", Value: "equality"}))}}}, 6338405},
		{"equality sparsity", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, q(bson.E{Key: "queryType", Value: "equality"}, bson.E{Key: "sparsity", Value: int64(1)}))}}}, 6775205},
		{"unknown query type", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, q(bson.E{Key: "queryType", Value: "invalid"}))}}}, CodeBadValue},
		{"range string", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, q(bson.E{Key: "queryType", Value: "range"}))}}}, 6775201},
		{"range sparsity", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, q(bson.E{Key: "queryType", Value: "range"}, bson.E{Key: "sparsity", Value: int64(9)}))}}}, 6775214},
		{"range min type", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, q(bson.E{Key: "queryType", Value: "range"}, bson.E{Key: "min", Value: int64(0)}, bson.E{Key: "max", Value: int32(9)}))}}}, 7018200},
		{"range min>=max", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, q(bson.E{Key: "queryType", Value: "range"}, bson.E{Key: "min", Value: int32(9)}, bson.E{Key: "max", Value: int32(9)}))}}}, 6720005},
		{"range precision alone", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "double"}, q(bson.E{Key: "queryType", Value: "range"}, bson.E{Key: "precision", Value: int32(2)}))}}}, 6967100},
		{"unindexed null", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "null"})}}}, 6338406},
		{"text int", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, text("suffix"))}}}, CodeBadValue},
		{"text min 0", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, q(bson.E{Key: "queryType", Value: "prefix"}, bson.E{Key: "strMinQueryLength", Value: int64(0)}, bson.E{Key: "strMaxQueryLength", Value: int64(5)}, bson.E{Key: "caseSensitive", Value: true}, bson.E{Key: "diacriticSensitive", Value: true}))}}}, CodeBadValue},
		{"text caseSensitive not bool", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, q(bson.E{Key: "queryType", Value: "prefix"}, bson.E{Key: "strMinQueryLength", Value: int64(2)}, bson.E{Key: "strMaxQueryLength", Value: int64(5)}, bson.E{Key: "caseSensitive", Value: "yes"}, bson.E{Key: "diacriticSensitive", Value: true}))}}}, CodeTypeMismatch},
		{"equality and range", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, bson.E{Key: "queries", Value: bson.A{bson.D{{Key: "queryType", Value: "equality"}}, bson.D{{Key: "queryType", Value: "range"}}}})}}}, CodeBadValue},
		{"empty queries", bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "int"}, bson.E{Key: "queries", Value: bson.A{}})}}}, 6338404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEncryptedFields(mustRaw(tc.ef))
			wantCode(t, err, tc.code)
		})
	}
	// prefix and suffix together, substring with its lengths: valid.
	for _, qs := range []bson.E{
		{Key: "queries", Value: bson.A{text("prefix").Value, text("suffix").Value}},
		text("substring"),
		text("substringPreview"),
	} {
		if _, err := ParseEncryptedFields(mustRaw(bson.D{{Key: "fields", Value: bson.A{field(bson.E{Key: "bsonType", Value: "string"}, qs)}}})); err != nil {
			t.Errorf("%v: %v", qs, err)
		}
	}
}

func TestParseEncryptionInformation(t *testing.T) {
	ef := bson.D{{Key: "escCollection", Value: "enxcol_.c.esc"}, {Key: "ecocCollection", Value: "enxcol_.c.ecoc"}, {Key: "fields", Value: bson.A{}}}
	ei := mustRaw(bson.D{{Key: "type", Value: int32(1)}, {Key: "schema", Value: bson.D{{Key: "db.c", Value: ef}}}})
	if _, err := ParseEncryptionInformation(ei, "db.c"); err != nil {
		t.Fatal(err)
	}
	_, err := ParseEncryptionInformation(ei, "db.other")
	wantCode(t, err, 6371205)
	noEsc := mustRaw(bson.D{{Key: "type", Value: int32(1)}, {Key: "schema", Value: bson.D{{Key: "db.c", Value: bson.D{{Key: "fields", Value: bson.A{}}}}}}})
	_, err = ParseEncryptionInformation(noEsc, "db.c")
	wantCode(t, err, 6371207)
}

// mustArr is the BSON of an array (a document with keys "0", "1", ...).
func mustArr(a bson.A) bson.Raw {
	return mustRaw(bson.D{{Key: "a", Value: a}}).Lookup("a").Value
}

// TestInsertLibmongocrypt runs the inserts libmongocrypt sends (real payloads
// 11 for equality, range and text, and an unindexed value 16) through
// InsertDocument.
func TestInsertLibmongocrypt(t *testing.T) {
	for _, tc := range []struct {
		file string
		tags int
	}{
		{"fle2-insert-v2_encrypted-payload.json", 1},
		{"fle2-insert-range_int32-v2_encrypted-payload.json", 1},
		{"fle2-insert-text-search_encrypted-payload.json", 1},
		{"fle2-insert-unindexed-v2_encrypted-payload.json", 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cmd := loadLibmongocrypt(t, tc.file)
			doc := cmd.Lookup("documents", "0").Document()
			var s *Schema
			if ei, ok := cmd.Lookup("encryptionInformation").DocumentOK(); ok {
				var err error
				if s, err = ParseEncryptionInformation(ei, "db.test"); err != nil {
					s = nil
					ef := ei.Lookup("schema", "db.test").Document()
					if s, err = ParseEncryptedFields(ef); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				// The unindexed sample has no encryptionInformation: the
				// field's key and type are in the value.
				_, data := doc.Lookup("encrypted").Binary()
				s = &Schema{Fields: []Field{{Path: "encrypted", KeyID: data[1:17], BSONType: typeName(bsoncore.Type(data[17]))}}}
				s.byPath = map[string]*Field{"encrypted": &s.Fields[0]}
			}
			out, err := s.InsertDocument(context.Background(), doc, &fakeCrypto{})
			if err != nil {
				t.Fatal(err)
			}
			sc, hasSC := out.Lookup(SafeContent).ArrayOK()
			vals, _ := sc.Values()
			if len(vals) != tc.tags || hasSC != (tc.tags > 0) || count11(out) != 0 {
				t.Errorf("stored %v", out)
			}
		})
	}
}
