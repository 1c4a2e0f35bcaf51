package mongocrypt

// MongoDB's Go Queryable Encryption quick start (mongodb/docs,
// source/includes/qe-tutorials/go: queryable_encryption_tutorial.go and its helpers), written
// the way the tutorial writes it, with mongo.Connect and mongo.NewClientEncryption swapped for
// this package's, the local KMS provider, and the range field and query of the tutorial's range
// page added to its encryptedFieldsMap. It runs twice in a row, as a user reruns a tutorial;
// a plain client then checks what the server holds.

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type qsPatientDocument struct {
	PatientName   string          `bson:"patientName"`
	PatientID     int32           `bson:"patientId"`
	PatientRecord qsPatientRecord `bson:"patientRecord"`
}

type qsPatientRecord struct {
	SSN        string        `bson:"ssn"`
	Billing    qsPaymentInfo `bson:"billing"`
	BillAmount int           `bson:"billAmount"`
}

type qsPaymentInfo struct {
	Type   string `bson:"type"`
	Number string `bson:"number"`
}

// qsRun is the tutorial's main with the local provider; it returns the documents its equality
// and range finds return.
func qsRun(t *testing.T, uri string, key []byte) (byEquality, byRange []qsPatientDocument) {
	t.Helper()
	ctx := context.TODO()
	kmsProviderName := "local"
	keyVaultDatabaseName := "encryption"
	keyVaultCollectionName := "__keyVault"
	keyVaultNamespace := keyVaultDatabaseName + "." + keyVaultCollectionName
	encryptedDatabaseName := "medicalRecords"
	encryptedCollectionName := "patients"

	kmsProviderCredentials := map[string]map[string]any{"local": {"key": key}}
	customerMasterKey := map[string]string{}
	autoEncryptionOptions := options.AutoEncryption().
		SetKeyVaultNamespace(keyVaultNamespace).
		SetKmsProviders(kmsProviderCredentials).
		SetExtraOptions(map[string]any{"cryptSharedLibPath": ""}) // the tutorial's SHARED_LIB_PATH, unset

	opts := options.Client().ApplyURI(uri).SetAutoEncryptionOptions(autoEncryptionOptions)
	encryptedClient, err := Connect(opts)
	if err != nil {
		t.Fatalf("Unable to connect to MongoDB: %v", err)
	}
	defer func() { _ = encryptedClient.Disconnect(context.TODO()) }()

	keyVaultCollection := encryptedClient.Database(keyVaultDatabaseName).Collection(keyVaultCollectionName)
	if err := keyVaultCollection.Drop(ctx); err != nil {
		t.Fatalf("Unable to drop collection: %v", err)
	}
	encryptedCollection := encryptedClient.Database(encryptedDatabaseName).Collection(encryptedCollectionName)
	if err := encryptedCollection.Drop(ctx); err != nil {
		t.Fatalf("Unable to drop collection: %v", err)
	}

	encryptedFieldsMap := bson.M{
		"fields": []bson.M{
			{
				"keyId":    nil,
				"path":     "patientRecord.ssn",
				"bsonType": "string",
				"queries":  []bson.M{{"queryType": "equality"}},
			},
			{
				"keyId":    nil,
				"path":     "patientRecord.billing",
				"bsonType": "object",
			},
			{
				"keyId":    nil,
				"path":     "patientRecord.billAmount",
				"bsonType": "int",
				"queries":  []bson.M{{"queryType": "range", "min": 0, "max": 10000}},
			},
		},
	}

	clientEncryption, err := NewClientEncryption(encryptedClient, options.ClientEncryption().
		SetKeyVaultNamespace(keyVaultNamespace).
		SetKmsProviders(kmsProviderCredentials))
	if err != nil {
		t.Fatalf("Unable to create a ClientEncryption instance: %s", err)
	}
	defer clientEncryption.Close(ctx)

	createCollectionOptions := options.CreateCollection().SetEncryptedFields(encryptedFieldsMap)
	_, _, err = clientEncryption.CreateEncryptedCollection(ctx, encryptedClient.Database(encryptedDatabaseName),
		encryptedCollectionName, createCollectionOptions, kmsProviderName, customerMasterKey)
	if err != nil {
		t.Fatalf("Unable to create encrypted collection: %s", err)
	}

	patientDocument := &qsPatientDocument{
		PatientName: "Jon Doe",
		PatientID:   12345678,
		PatientRecord: qsPatientRecord{
			SSN:        "987-65-4320",
			Billing:    qsPaymentInfo{Type: "Visa", Number: "4111111111111111"},
			BillAmount: 1500,
		},
	}
	coll := encryptedClient.Database(encryptedDatabaseName).Collection(encryptedCollectionName)
	if _, err = coll.InsertOne(ctx, patientDocument); err != nil {
		t.Fatalf("Unable to insert the patientDocument: %s", err)
	}
	// A second patient, so that the finds have something to leave out.
	other := &qsPatientDocument{PatientName: "Ana Roe", PatientID: 87654321, PatientRecord: qsPatientRecord{
		SSN: "123-45-6789", Billing: qsPaymentInfo{Type: "Amex", Number: "378282246310005"}, BillAmount: 250}}
	if _, err = coll.InsertOne(ctx, other); err != nil {
		t.Fatalf("Unable to insert the second document: %s", err)
	}

	var findResult qsPatientDocument
	if err := coll.FindOne(ctx, bson.M{"patientRecord.ssn": "987-65-4320"}).Decode(&findResult); err != nil {
		t.Fatalf("Unable to find the document: %v", err)
	}
	byEquality = append(byEquality, findResult)

	cur, err := coll.Find(ctx, bson.M{"patientRecord.billAmount": bson.M{"$gt": 1000, "$lt": 2000}})
	if err != nil {
		t.Fatalf("Unable to find documents by range: %v", err)
	}
	if err := cur.All(ctx, &byRange); err != nil {
		t.Fatal(err)
	}
	return byEquality, byRange
}

// TestQuickStartQueryableEncryption runs the tutorial twice, then checks with a plain client
// that the server holds every encrypted field as BinData 6 of the stored-value subtypes.
func TestQuickStartQueryableEncryption(t *testing.T) {
	if realMongoDB {
		t.Log("running against MONGODB_URI: the databases medicalRecords and encryption are dropped, as the tutorial does")
	}
	key := make([]byte, 96)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	want := qsPatientDocument{PatientName: "Jon Doe", PatientID: 12345678, PatientRecord: qsPatientRecord{
		SSN: "987-65-4320", Billing: qsPaymentInfo{Type: "Visa", Number: "4111111111111111"}, BillAmount: 1500}}
	for run := 1; run <= 2; run++ {
		eq, rg := qsRun(t, testURI, key)
		if len(eq) != 1 || eq[0] != want {
			t.Fatalf("run %d: equality find returned %+v, want %+v", run, eq, want)
		}
		if len(rg) != 1 || rg[0] != want {
			t.Fatalf("run %d: range find returned %+v, want [%+v]", run, rg, want)
		}
	}

	plain := connect(t)
	db := plain.Database("medicalRecords")
	defer func() {
		_ = db.Drop(context.Background())
		_ = plain.Database("encryption").Drop(context.Background())
	}()
	cur, err := db.Collection("patients").Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []bson.Raw
	if err := cur.All(t.Context(), &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("%d documents stored, want 2 (the second run starts from a dropped collection)", len(stored))
	}
	for _, doc := range stored {
		for path, subtype := range map[string]byte{
			"patientRecord.ssn":        14, // FLE2IndexedEqualityEncryptedValueV2
			"patientRecord.billing":    16, // FLE2UnindexedEncryptedValueV2
			"patientRecord.billAmount": 15, // FLE2IndexedRangeEncryptedValueV2
		} {
			v, err := doc.LookupErr(strings.Split(path, ".")...)
			if err != nil {
				t.Fatalf("%s missing in %s", path, doc)
			}
			st, data, ok := v.BinaryOK()
			if !ok || st != 6 || len(data) == 0 || data[0] != subtype {
				t.Errorf("%s is stored as %s, want BinData 6 of subtype %d", path, v.Type, subtype)
			}
		}
		sc, ok := doc.Lookup("__safeContent__").ArrayOK()
		if !ok {
			t.Fatalf("no __safeContent__ in %s", doc)
		}
		tags, _ := sc.Values()
		if len(tags) < 2 { // the equality tag and at least one range edge
			t.Errorf("__safeContent__ has %d tags", len(tags))
		}
		for _, plaintext := range []string{"987-65-4320", "4111111111111111", "123-45-6789", "Visa"} {
			if bytes.Contains(doc, []byte(plaintext)) {
				t.Errorf("plaintext %q stored on the server", plaintext)
			}
		}
	}
	names, err := db.ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Errorf("collections of medicalRecords: %v, want patients and its two state collections", names)
	}
}
