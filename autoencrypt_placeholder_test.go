package mongocrypt

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// placeholderMarker is the value inside the test placeholders: it must never reach the wire nor
// an error text.
const placeholderMarker = "S3CRET-PLACEHOLDER-987654"

// testPlaceholders returns well-formed encryption placeholders naming keyID: FLE1 by id, FLE1
// by keyAltName, and Queryable Encryption. Without the refusal, each would be encrypted.
func testPlaceholders(t *testing.T, keyID bson.Binary) map[string]bson.Binary {
	t.Helper()
	byID, err := bson.Marshal(bson.D{{Key: "a", Value: int32(1)}, {Key: "ki", Value: keyID}, {Key: "v", Value: placeholderMarker}})
	if err != nil {
		t.Fatal(err)
	}
	byName, err := bson.Marshal(bson.D{{Key: "a", Value: int32(2)}, {Key: "ka", Value: "altname"}, {Key: "v", Value: placeholderMarker}})
	if err != nil {
		t.Fatal(err)
	}
	var id qe.KeyID
	copy(id[:], keyID.Data)
	p := qe.Placeholder{Type: qe.PlaceholderInsert, Algorithm: qe.AlgorithmUnindexed, IndexKeyID: id, UserKeyID: id,
		Value: rawValue(t, placeholderMarker)}
	return map[string]bson.Binary{
		"fle1 by id":   {Subtype: 6, Data: append([]byte{0}, byID...)},
		"fle1 by name": {Subtype: 6, Data: append([]byte{0}, byName...)},
		"qe":           {Subtype: 6, Data: p.Bytes()},
	}
}

// checkPlaceholderRefusal checks err is the refusal of a command holding a placeholder.
func checkPlaceholderRefusal(t *testing.T, err error) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeAnalysis || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("err = %v, want a CodeAnalysis error naming a placeholder", err)
	}
	if strings.Contains(err.Error(), placeholderMarker) || strings.Contains(err.Error(), "987654") {
		t.Fatalf("the error shows the placeholder's value: %v", err)
	}
}

func (l *commandLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.cmds {
		if e, err := c.IndexErr(0); err == nil && e.Key() == name {
			n++
		}
	}
	return n
}

// TestAutoEncryptRefusesPlaceholders sends commands that carry an encryption placeholder of
// their own (binary subtype 6 of subtype 0 or 3) through an auto-encrypting client, with and
// without bypassQueryAnalysis: each is refused with a CodeAnalysis error that does not show the
// value, and nothing is sent.
func TestAutoEncryptRefusesPlaceholders(t *testing.T) {
	for _, bypassQA := range []bool{false, true} {
		name := "analysis"
		if bypassQA {
			name = "bypassQueryAnalysis"
		}
		t.Run(name, func(t *testing.T) {
			env := newAutoEnv(t, func(e *autoEnv, ae *options.AutoEncryptionOptions) {
				ae.SetSchemaMap(map[string]any{e.db + ".people": csfleSchema(e.keyID)})
				ae.SetEncryptedFieldsMap(map[string]any{e.db + ".qe": bson.D{{Key: "fields", Value: bson.A{
					bson.D{{Key: "path", Value: "notes"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: e.keyID}},
				}}}})
				ae.SetBypassQueryAnalysis(bypassQA)
			})
			ctx := t.Context()
			db := env.client.Database(env.db)
			for pname, ph := range testPlaceholders(t, env.keyID) {
				ops := []struct {
					name, cmd string
					run       func() error
				}{
					{"find filter on an unencrypted field", "find", func() error {
						return db.Collection("people").FindOne(ctx, bson.D{{Key: "name", Value: ph}}).Err()
					}},
					{"find filter on an encrypted field", "find", func() error {
						return db.Collection("people").FindOne(ctx, bson.D{{Key: "ssn", Value: bson.D{{Key: "$in", Value: bson.A{ph}}}}}).Err()
					}},
					{"find on a collection without schema", "find", func() error {
						return db.Collection("plain").FindOne(ctx, bson.D{{Key: "x", Value: ph}}).Err()
					}},
					{"insert document", "insert", func() error {
						_, err := db.Collection("people").InsertOne(ctx, bson.D{{Key: "name", Value: "n"}, {Key: "extra", Value: bson.D{{Key: "deep", Value: bson.A{1, ph}}}}})
						return err
					}},
					{"insert into a QE collection", "insert", func() error {
						_, err := db.Collection("qe").InsertOne(ctx, bson.D{{Key: "other", Value: ph}})
						return err
					}},
					{"aggregate", "aggregate", func() error {
						_, err := db.Collection("people").Aggregate(ctx, bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "name", Value: ph}}}}})
						return err
					}},
				}
				for _, op := range ops {
					t.Run(pname+"/"+op.name, func(t *testing.T) {
						before := env.sent.count(op.cmd)
						checkPlaceholderRefusal(t, op.run())
						if n := env.sent.count(op.cmd) - before; n != 0 {
							t.Fatalf("%d %s commands sent", n, op.cmd)
						}
					})
				}
			}
			if env.wire.contains(placeholderMarker) {
				t.Fatal("a placeholder's value was written to the connection")
			}
			// Ciphertexts are not placeholders: an explicitly encrypted value goes through.
			ct, err := env.ce.Encrypt(ctx, rawValue(t, "explicit"), options.Encrypt().SetKeyID(env.keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Collection("plain").InsertOne(ctx, bson.D{{Key: "c", Value: ct}}); err != nil {
				t.Fatalf("insert of a ciphertext: %v", err)
			}
		})
	}
}

// TestEncryptRefusesPlaceholders calls AutoEncrypter.Encrypt directly with commands holding a
// placeholder anywhere, including commands that bypass analysis: each is refused.
func TestEncryptRefusesPlaceholders(t *testing.T) {
	for _, bypassQA := range []bool{false, true} {
		env := newEnv(t)
		ctx := t.Context()
		keyID, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"altname"}))
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAutoEncrypter(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
			SetKeyVaultNamespace(env.kvNS).
			SetKmsProviders(localProviders()).
			SetSchemaMap(map[string]any{env.db + ".people": csfleSchema(keyID)}).
			SetBypassQueryAnalysis(bypassQA)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close(ctx) })
		for pname, ph := range testPlaceholders(t, keyID) {
			for _, cmd := range []bson.D{
				{{Key: "find", Value: "people"}, {Key: "filter", Value: bson.D{{Key: "ssn", Value: ph}}}},
				{{Key: "find", Value: "people"}, {Key: "filter", Value: bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "a", Value: 1}}, bson.D{{Key: "b", Value: bson.A{bson.A{ph}}}}}}}}},
				{{Key: "insert", Value: "people"}, {Key: "documents", Value: bson.A{bson.D{{Key: "name", Value: ph}}}}},
				{{Key: "update", Value: "people"}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{}}, {Key: "u", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: ph}}}}}}}}},
				{{Key: "insert", Value: "unlisted"}, {Key: "documents", Value: bson.A{bson.D{{Key: "x", Value: ph}}}}},
				{{Key: "ping", Value: 1}, {Key: "comment", Value: ph}},
			} {
				raw, err := bson.Marshal(cmd)
				if err != nil {
					t.Fatal(err)
				}
				out, err := a.Encrypt(ctx, env.db, raw)
				if out != nil {
					t.Fatalf("bypassQueryAnalysis=%v %s: a command was returned: %s", bypassQA, pname, out)
				}
				checkPlaceholderRefusal(t, err)
			}
		}
		// Binary subtype 6 of other subtypes is not refused by this check.
		raw, _ := bson.Marshal(bson.D{{Key: "ping", Value: 1}, {Key: "comment", Value: bson.Binary{Subtype: 6, Data: []byte{2, 1, 2}}}})
		if _, err := a.Encrypt(ctx, env.db, raw); err != nil {
			t.Fatalf("bypassQueryAnalysis=%v: a ping with a ciphertext-like binary: %v", bypassQA, err)
		}
	}
}
