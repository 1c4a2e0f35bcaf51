package mongocrypt

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// plaintextMarkers are the values and bounds of the tests below, in the notations they could
// be printed in.
var plaintextMarkers = []string{"987654", "9.87654e", "424242", "S3CRET"}

func checkNoPlaintext(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", name)
	}
	for _, m := range plaintextMarkers {
		if strings.Contains(err.Error(), m) {
			t.Fatalf("%s: error %q shows %q", name, err, m)
		}
	}
}

// TestErrorsShowNoPlaintext makes explicit and automatic encryption fail on values and query
// bounds outside the range of the index: the errors name the problem, never the value nor the
// bounds.
func TestErrorsShowNoPlaintext(t *testing.T) {
	env := newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
		ae.SetEncryptedFieldsMap(map[string]any{e.db + ".qe": bson.D{{Key: "fields", Value: bson.A{
			bson.D{{Key: "path", Value: "age"}, {Key: "bsonType", Value: "int"}, {Key: "keyId", Value: e.keyID},
				{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"}, {Key: "contention", Value: int64(0)},
					{Key: "sparsity", Value: int64(1)}, {Key: "trimFactor", Value: int32(1)},
					{Key: "min", Value: int32(-424242)}, {Key: "max", Value: int32(424242)}}}},
		}}}})
	})
	ctx := t.Context()
	rangeOpts := options.Range().SetMin(rawValue(t, int32(-424242))).SetMax(rawValue(t, int32(424242))).SetSparsity(1).SetTrimFactor(1)
	insert := options.Encrypt().SetKeyID(env.keyID).SetAlgorithm("Range").SetContentionFactor(0).SetRangeOptions(rangeOpts)
	_, err := env.ce.Encrypt(ctx, rawValue(t, int32(987654)), insert)
	checkNoPlaintext(t, "explicit range insert", err)
	if !strings.Contains(err.Error(), "value must be greater than or equal to the minimum value") {
		t.Fatalf("explicit range insert: %v", err)
	}

	find := options.Encrypt().SetKeyID(env.keyID).SetAlgorithm("Range").SetQueryType("range").SetContentionFactor(0).SetRangeOptions(rangeOpts)
	var out bson.Raw
	for name, expr := range map[string]bson.D{
		"lower above the index max": {{Key: "$and", Value: bson.A{bson.D{{Key: "age", Value: bson.D{{Key: "$gte", Value: int32(987654)}}}}}}},
		"upper below the index min": {{Key: "$and", Value: bson.A{bson.D{{Key: "age", Value: bson.D{{Key: "$lt", Value: int32(-987654)}}}}}}},
	} {
		checkNoPlaintext(t, "EncryptExpression "+name, env.ce.EncryptExpression(ctx, expr, &out, find))
	}

	before := env.sent.count("insert")
	_, err = env.client.Database(env.db).Collection("qe").InsertOne(ctx, bson.D{{Key: "age", Value: int32(987654)}})
	checkNoPlaintext(t, "automatic range insert", err)
	if env.sent.count("insert") != before {
		t.Fatal("the insert was sent")
	}
	if !strings.Contains(err.Error(), "value must be greater than or equal to the minimum value") {
		t.Fatalf("automatic range insert: %v", err)
	}

	// The specification's "Find with $lt below min" and "Find with $gt above max"
	// (fle2v2-Rangev2-*-Correctness, which need MongoDB 8.0) expect these texts.
	before = env.sent.count("find")
	for op, want := range map[string]string{"$lt": "must be greater than the range minimum", "$gt": "must be less than the range maximum"} {
		bound := int32(-424242)
		if op == "$gt" {
			bound = 424242
		}
		err = env.client.Database(env.db).Collection("qe").FindOne(ctx, bson.D{{Key: "age", Value: bson.D{{Key: op, Value: bound}}}}).Err()
		checkNoPlaintext(t, "automatic range find "+op, err)
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("automatic range find %s: %v, want %q", op, err, want)
		}
	}
	if env.sent.count("find") != before {
		t.Fatal("the find was sent")
	}
}
