package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
)

// TestProxyCommand runs "mongocrypt proxy" as an operator would: a configuration file with a
// local KMS key and a schemaMap, "listening on ADDRESS" on stdout, a Go driver client without
// encryption writing and reading plaintext through it while the server holds ciphertext, and
// SIGTERM ending it with status 0.
func TestProxyCommand(t *testing.T) {
	ctx := t.Context()
	db := fmt.Sprintf("cliproxy%d", vaultSeq.Add(1))
	direct, err := mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Disconnect(context.Background())
	defer direct.Database(db).Drop(context.Background())
	master := make([]byte, 96)
	_, _ = rand.Read(master)
	kms := map[string]map[string]any{"local": {"key": master}}
	ce, err := mongocrypt.NewClientEncryption(direct, options.ClientEncryption().SetKeyVaultNamespace(db+".keys").SetKmsProviders(kms))
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(context.Background())
	keyID, err := ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`uri: %s
keyVaultNamespace: %s.keys
kmsProviders:
  local:
    key: %s
schemaMap:
  %s.people:
    bsonType: object
    properties:
      ssn:
        encrypt:
          keyId: [{"$binary": {"base64": "%s", "subType": "04"}}]
          bsonType: string
          algorithm: AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic
`, serverURI, db, base64.StdEncoding.EncodeToString(master), db, base64.StdEncoding.EncodeToString(keyID.Data))
	path := filepath.Join(t.TempDir(), "mongocrypt.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "proxy", "--listen", "127.0.0.1:0", "--config", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		_ = cmd.Process.Kill()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on 127.0.0.1:") {
		_ = cmd.Process.Kill()
		t.Fatalf("the proxy printed %q (%v); stderr: %s", line, err, stderr.String())
	}
	go func() { exited <- cmd.Wait() }()
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	people := c.Database(db).Collection("people")
	if _, err := people.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "ssn", Value: "CLI-PROXY-SSN"}}); err != nil {
		t.Fatalf("insert through the proxy: %v; stderr: %s", err, stderr.String())
	}
	var got bson.M
	if err := people.FindOne(ctx, bson.D{{Key: "ssn", Value: "CLI-PROXY-SSN"}}).Decode(&got); err != nil || got["ssn"] != "CLI-PROXY-SSN" {
		t.Fatalf("find through the proxy: %v, %v", got, err)
	}
	raw, err := direct.Database(db).Collection("people").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := raw.Lookup("ssn").BinaryOK(); st != 6 || bytes.Contains(raw, []byte("CLI-PROXY-SSN")) {
		t.Fatalf("the server stores ssn as %s", raw.Lookup("ssn").Type)
	}
	_ = c.Disconnect(ctx)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the proxy exited with %v after SIGTERM; stderr: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not exit after SIGTERM")
	}
	for _, s := range []string{"CLI-PROXY-SSN", base64.StdEncoding.EncodeToString(master)} {
		if strings.Contains(stderr.String(), s) {
			t.Fatalf("the proxy's log holds a plaintext or the master key: %s", stderr.String())
		}
	}
}
