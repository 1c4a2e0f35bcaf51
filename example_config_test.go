package mongocrypt_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
)

// Log what a ClientEncryption does to a slog.Logger. The records name key ids, KMS providers
// and durations, never keys or values; here the handler leaves out the ones that change from
// run to run. With Level: slog.LevelDebug, each key cache hit and miss, key vault query and
// KMS request is recorded too.
func ExampleConfig() {
	ctx := context.Background()
	handler := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration", "key_id":
				return slog.Attr{}
			}
			return a
		},
	})
	cfg := mongocrypt.Config{Logger: slog.New(handler)}

	keyVaultClient, err := mongo.Connect(options.Client().ApplyURI(serverURI()))
	if err != nil {
		log.Fatal(err)
	}
	ce, err := cfg.NewClientEncryption(keyVaultClient, options.ClientEncryption().
		SetKeyVaultNamespace("example.__keyVault").
		SetKmsProviders(map[string]map[string]any{"local": {"key": masterKey()}}))
	if err != nil {
		log.Fatal(err)
	}
	defer ce.Close(ctx)

	keyID, err := ce.CreateDataKey(ctx, "local")
	if err != nil {
		log.Fatal(err)
	}
	t, v, _ := bson.MarshalValue("457-55-5462")
	if _, err := ce.Encrypt(ctx, bson.RawValue{Type: t, Value: v}, options.Encrypt().
		SetKeyID(keyID).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random")); err != nil {
		log.Fatal(err)
	}
	_, _ = ce.DeleteKey(ctx, keyID)
	fmt.Println("done")
	// Output:
	// level=INFO msg="client encryption ready" component=mongocrypt key_vault=example.__keyVault kms_providers=[local] key_expiration=1m0s
	// level=INFO msg="data key created" component=mongocrypt kms_provider=local key_alt_names=0
	// done
}
