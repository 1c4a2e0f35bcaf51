package mongocrypt

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A keyAltName held by another key is refused naming that key by its UUID, the form the CLI
// and the key documents' readers show, and without the other key's other names.
func TestKeyAltNameTakenNamesKeyByUUID(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	first, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{"shared", "private-of-first"}))
	if err != nil {
		t.Fatal(err)
	}
	second, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	err = env.ce.AddKeyAltName(ctx, second, "shared").Err()
	if err == nil {
		t.Fatal("a keyAltName of another key was added")
	}
	msg := err.Error()
	if want := uuidString([16]byte(first.Data)); !strings.Contains(msg, want) {
		t.Errorf("error %q does not name the key %s", msg, want)
	}
	if strings.Contains(msg, base64.StdEncoding.EncodeToString(first.Data)) || strings.Contains(msg, "private-of-first") {
		t.Errorf("error %q shows the key in base64 or the other key's names", msg)
	}
}
