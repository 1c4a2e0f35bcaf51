package mongocrypt_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
)

// newExampleClientEncryption returns a ClientEncryption over the key vault example.__keyVault
// with a local master key, and a function that drops the example's databases.
func newExampleClientEncryption(ctx context.Context) (*mongocrypt.ClientEncryption, map[string]map[string]any, func()) {
	kms := map[string]map[string]any{"local": {"key": masterKey()}}
	keyVaultClient, err := mongo.Connect(options.Client().ApplyURI(serverURI()))
	if err != nil {
		log.Fatal(err)
	}
	ce, err := mongocrypt.NewClientEncryption(keyVaultClient, options.ClientEncryption().
		SetKeyVaultNamespace("example.__keyVault").SetKmsProviders(kms))
	if err != nil {
		log.Fatal(err)
	}
	return ce, kms, func() {
		_ = keyVaultClient.Database("example").Drop(ctx)
		_ = ce.Close(ctx)
		_ = keyVaultClient.Disconnect(ctx)
	}
}

// Create a Queryable Encryption collection with an equality field and a range field, then
// insert and query it through automatic encryption. The server side of Queryable Encryption
// needs MongoDB 7.0 or later (range: 8.0), so this example is compiled but not run here.
func ExampleClientEncryption_CreateEncryptedCollection() {
	ctx := context.Background()
	ce, kms, cleanup := newExampleClientEncryption(ctx)
	defer cleanup()
	plain, err := mongo.Connect(options.Client().ApplyURI(serverURI()))
	if err != nil {
		log.Fatal(err)
	}
	defer plain.Disconnect(ctx)

	// keyId null: CreateEncryptedCollection makes a data key for each field.
	encryptedFields := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}}}},
		bson.D{{Key: "path", Value: "age"}, {Key: "bsonType", Value: "int"}, {Key: "keyId", Value: nil},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"},
				{Key: "min", Value: int32(0)}, {Key: "max", Value: int32(150)}, {Key: "sparsity", Value: int64(1)}, {Key: "trimFactor", Value: int32(4)}}}},
	}}}
	_, used, err := ce.CreateEncryptedCollection(ctx, plain.Database("example"), "patients",
		options.CreateCollection().SetEncryptedFields(encryptedFields), "local", nil)
	if err != nil {
		log.Fatal(err)
	}

	// The client reads encryptedFields from the server; giving them in EncryptedFieldsMap
	// (the returned document, with the data keys) protects against a server that lies.
	client, err := mongocrypt.Connect(options.Client().ApplyURI(serverURI()).SetAutoEncryptionOptions(
		options.AutoEncryption().
			SetKeyVaultNamespace("example.__keyVault").
			SetKmsProviders(kms).
			SetEncryptedFieldsMap(map[string]any{"example.patients": used})))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(ctx)
	patients := client.Database("example").Collection("patients")
	if _, err := patients.InsertOne(ctx, bson.D{{Key: "name", Value: "Jon"}, {Key: "ssn", Value: "457-55-5462"}, {Key: "age", Value: int32(42)}}); err != nil {
		log.Fatal(err)
	}

	var byEquality, byRange bson.M
	if err := patients.FindOne(ctx, bson.D{{Key: "ssn", Value: "457-55-5462"}}).Decode(&byEquality); err != nil {
		log.Fatal(err)
	}
	if err := patients.FindOne(ctx, bson.D{{Key: "age", Value: bson.D{{Key: "$gte", Value: int32(40)}, {Key: "$lt", Value: int32(50)}}}}).Decode(&byRange); err != nil {
		log.Fatal(err)
	}
	fmt.Println(byEquality["name"], byRange["name"])
}

// Encrypt the value of an equality query on a Queryable Encryption field explicitly: the
// result is a find payload, which a filter carries in place of the plaintext.
func ExampleClientEncryption_Encrypt_queryableEncryptionEquality() {
	ctx := context.Background()
	ce, _, cleanup := newExampleClientEncryption(ctx)
	defer cleanup()
	keyID, err := ce.CreateDataKey(ctx, "local")
	if err != nil {
		log.Fatal(err)
	}
	t, v, _ := bson.MarshalValue("457-55-5462")
	payload, err := ce.Encrypt(ctx, bson.RawValue{Type: t, Value: v}, options.Encrypt().
		SetKeyID(keyID).SetAlgorithm("Indexed").SetQueryType("equality").SetContentionFactor(0))
	if err != nil {
		log.Fatal(err)
	}
	// The filter to send: {ssn: payload}. The first byte names the payload's kind.
	filter := bson.D{{Key: "ssn", Value: payload}}
	fmt.Println("binary subtype:", payload.Subtype, "blob subtype:", payload.Data[0], "(FLE2FindEqualityPayloadV2)")
	_ = filter

	// The value stored in an insert: encrypted with the same key, no query type.
	insert, err := ce.Encrypt(ctx, bson.RawValue{Type: t, Value: v}, options.Encrypt().
		SetKeyID(keyID).SetAlgorithm("Indexed").SetContentionFactor(0))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("insert payload blob subtype:", insert.Data[0], "(FLE2InsertUpdatePayloadV2)")
	// Output:
	// binary subtype: 6 blob subtype: 12 (FLE2FindEqualityPayloadV2)
	// insert payload blob subtype: 11 (FLE2InsertUpdatePayloadV2)
}

// Encrypt the bounds of a range query explicitly, for a field with queryType "range".
func ExampleClientEncryption_EncryptExpression() {
	ctx := context.Background()
	ce, _, cleanup := newExampleClientEncryption(ctx)
	defer cleanup()
	keyID, err := ce.CreateDataKey(ctx, "local")
	if err != nil {
		log.Fatal(err)
	}
	// The field's range options, as in its encryptedFields.
	minT, minV, _ := bson.MarshalValue(int32(0))
	maxT, maxV, _ := bson.MarshalValue(int32(150))
	rangeOpts := options.Range().SetMin(bson.RawValue{Type: minT, Value: minV}).
		SetMax(bson.RawValue{Type: maxT, Value: maxV}).SetSparsity(1).SetTrimFactor(4)
	expr := bson.D{{Key: "$and", Value: bson.A{
		bson.D{{Key: "age", Value: bson.D{{Key: "$gte", Value: int32(40)}}}},
		bson.D{{Key: "age", Value: bson.D{{Key: "$lt", Value: int32(50)}}}},
	}}}
	var query bson.D
	if err := ce.EncryptExpression(ctx, expr, &query, options.Encrypt().
		SetKeyID(keyID).SetAlgorithm("Range").SetQueryType("range").SetContentionFactor(0).
		SetRangeOptions(rangeOpts)); err != nil {
		log.Fatal(err)
	}
	// query is the filter to send: {$and: [{age: {$gte: <payload>}}, {age: {$lt: <payload>}}]};
	// both bounds are now find payloads (FLE2FindRangePayloadV2, blob subtype 13).
	for _, clause := range query[0].Value.(bson.A) {
		c := clause.(bson.D)
		op := c[0].Value.(bson.D)[0]
		b := op.Value.(bson.Binary)
		fmt.Println(c[0].Key, op.Key, "binary subtype", b.Subtype, "blob subtype", b.Data[0])
	}
	// Output:
	// age $gte binary subtype 6 blob subtype 13
	// age $lt binary subtype 6 blob subtype 13
}

// Use an AutoEncrypter alone, without a driver client: encrypt a command as automatic
// encryption does, and decrypt a reply. A proxy or a test of a schema does this.
func ExampleAutoEncrypter() {
	ctx := context.Background()
	ce, kms, cleanup := newExampleClientEncryption(ctx)
	defer cleanup()
	keyID, err := ce.CreateDataKey(ctx, "local")
	if err != nil {
		log.Fatal(err)
	}
	schema := bson.D{
		{Key: "bsonType", Value: "object"},
		{Key: "properties", Value: bson.D{{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{
			{Key: "keyId", Value: bson.A{keyID}},
			{Key: "bsonType", Value: "string"},
			{Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"},
		}}}}}},
	}
	ae, err := mongocrypt.NewAutoEncrypter(options.Client().ApplyURI(serverURI()).SetAutoEncryptionOptions(
		options.AutoEncryption().
			SetKeyVaultNamespace("example.__keyVault").
			SetKmsProviders(kms).
			SetSchemaMap(map[string]any{"example.people": schema})))
	if err != nil {
		log.Fatal(err)
	}
	defer ae.Close(ctx)

	cmd, _ := bson.Marshal(bson.D{
		{Key: "find", Value: "people"},
		{Key: "filter", Value: bson.D{{Key: "ssn", Value: "457-55-5462"}}},
		{Key: "$db", Value: "example"},
	})
	encrypted, err := ae.Encrypt(ctx, "example", cmd)
	if err != nil {
		log.Fatal(err)
	}
	// Query analysis writes {ssn: v} as {ssn: {$eq: v}}, as mongocryptd does.
	ssn := encrypted.Lookup("filter", "ssn", "$eq")
	_, data := ssn.Binary()
	fmt.Println("filter ssn $eq:", ssn.Type, "blob subtype", data[0], "(deterministic)")

	// A reply whose document holds that ciphertext decrypts to the plaintext.
	reply, _ := bson.Marshal(bson.D{
		{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: bson.A{bson.D{{Key: "ssn", Value: ssn}}}}, {Key: "id", Value: int64(0)}, {Key: "ns", Value: "example.people"}}},
		{Key: "ok", Value: 1.0},
	})
	decrypted, err := ae.Decrypt(ctx, reply)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reply ssn:", decrypted.Lookup("cursor", "firstBatch", "0", "ssn").StringValue())

	// A command the schema's fields cannot be analysed in is refused, never sent in plaintext.
	bad, _ := bson.Marshal(bson.D{
		{Key: "find", Value: "people"},
		{Key: "filter", Value: bson.D{{Key: "$where", Value: "this.ssn == '457-55-5462'"}}},
		{Key: "$db", Value: "example"},
	})
	_, err = ae.Encrypt(ctx, "example", bad)
	var me *mongocrypt.Error
	fmt.Println("$where refused:", errors.As(err, &me) && me.Code == mongocrypt.CodeAnalysis)
	// Output:
	// filter ssn $eq: binary blob subtype 1 (deterministic)
	// reply ssn: 457-55-5462
	// $where refused: true
}
