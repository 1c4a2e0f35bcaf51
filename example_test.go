package mongocrypt_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
)

// serverURI is the connection string of the server the examples run against.
var serverURI = mongocrypt.ServerURIForTests

func masterKey() []byte {
	// A real application keeps its master key in a KMS or a secret store.
	key := make([]byte, 96)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	return key
}

// Create a data key and encrypt and decrypt a value explicitly.
func ExampleNewClientEncryption() {
	ctx := context.Background()
	keyVaultClient, err := mongo.Connect(options.Client().ApplyURI(serverURI()))
	if err != nil {
		log.Fatal(err)
	}
	ce, err := mongocrypt.NewClientEncryption(keyVaultClient, options.ClientEncryption().
		SetKeyVaultNamespace("example.__keyVault").
		SetKmsProviders(map[string]map[string]any{"local": {"key": masterKey()}}))
	if err != nil {
		log.Fatal(err)
	}
	defer ce.Close(ctx)

	keyID, err := ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"example-key"}))
	if err != nil {
		log.Fatal(err)
	}
	t, v, _ := bson.MarshalValue("457-55-5462")
	ciphertext, err := ce.Encrypt(ctx, bson.RawValue{Type: t, Value: v}, options.Encrypt().
		SetKeyID(keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"))
	if err != nil {
		log.Fatal(err)
	}
	plaintext, err := ce.Decrypt(ctx, ciphertext)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subtype:", ciphertext.Subtype, "decrypted:", plaintext.StringValue())
	_, _ = ce.DeleteKey(ctx, keyID)
	// Output: subtype: 6 decrypted: 457-55-5462
}

// Connect a client that encrypts the fields a JSON schema marks, with no mongocryptd.
func ExampleConnect() {
	ctx := context.Background()
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
	defer ce.Close(ctx)
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
	client, err := mongocrypt.Connect(options.Client().ApplyURI(serverURI()).SetAutoEncryptionOptions(
		options.AutoEncryption().
			SetKeyVaultNamespace("example.__keyVault").
			SetKmsProviders(kms).
			SetSchemaMap(map[string]any{"example.people": schema})))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(ctx)

	people := client.Database("example").Collection("people")
	if _, err := people.InsertOne(ctx, bson.D{{Key: "name", Value: "Jon"}, {Key: "ssn", Value: "457-55-5462"}}); err != nil {
		log.Fatal(err)
	}
	var found struct{ Name, SSN string }
	if err := people.FindOne(ctx, bson.D{{Key: "ssn", Value: "457-55-5462"}}).Decode(&found); err != nil {
		log.Fatal(err)
	}
	stored, _ := keyVaultClient.Database("example").Collection("people").FindOne(ctx, bson.D{}).Raw()
	fmt.Println("read:", found.Name, found.SSN)
	fmt.Println("stored ssn type:", stored.Lookup("ssn").Type)
	_ = keyVaultClient.Database("example").Drop(ctx)
	// Output:
	// read: Jon 457-55-5462
	// stored ssn type: binary
}
