package main

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFile reads the server, the key vault and the KMS providers from YAML and JSON
// configuration files, named by --config and by MONGOCRYPT_CONFIG, and checks the precedence
// of flags over the environment over the file.
func TestConfigFile(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	keyA := randBytes(t, 96)
	keyB := randBytes(t, 96)
	b64A := base64.StdEncoding.EncodeToString(keyA)
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "mongocrypt.yaml")
	os.WriteFile(yamlFile, []byte(fmt.Sprintf(`# the test's configuration
uri: %s
keyVaultNamespace: %s
kmsProviders:
  local:
    key: %s
  local:old:
    key: %s
`, serverURI, v.ns, b64A, base64.StdEncoding.EncodeToString(keyB))), 0o600)
	jsonFile := filepath.Join(dir, "mongocrypt.json")
	os.WriteFile(jsonFile, []byte(fmt.Sprintf(`{"uri": %q, "keyVaultNamespace": %q, "kmsProviders": {"local": {"key": %q}}}`,
		serverURI, v.ns, b64A)), 0o600)

	// A key made with the YAML file alone, read back with the JSON file named by the
	// environment.
	r := cli(t, nil, "", "keys", "create", "--config", yamlFile, "--provider", "local", "--alt-name", "cfg")
	if r.code != exitOK {
		t.Fatalf("keys create --config: %s", r)
	}
	id := strings.TrimSpace(r.stdout)
	if _, ok := v.keyDocs(t)[id]; !ok {
		t.Fatalf("the key was not written to the key vault of the file, %s", v.ns)
	}
	ct := cli(t, []string{"MONGOCRYPT_CONFIG=" + jsonFile}, "", "encrypt", "--key-alt-name", "cfg", "--algorithm", "random", `"v"`)
	if ct.code != exitOK {
		t.Fatalf("encrypt with MONGOCRYPT_CONFIG: %s", ct)
	}
	ciphertext := strings.TrimSpace(ct.stdout)
	if r := cli(t, nil, "", "decrypt", "--config", jsonFile, ciphertext); r.code != exitOK || r.stdout != "\"v\"\n" {
		t.Fatalf("decrypt --config json: %s", r)
	}
	// The named provider of the file makes and reads keys too.
	if r := cli(t, nil, "", "keys", "create", "--config", yamlFile, "--provider", "local:old", "--alt-name", "old"); r.code != exitOK {
		t.Fatalf("keys create --provider local:old: %s", r)
	}
	if r := cli(t, nil, "", "encrypt", "--config", yamlFile, "--key-alt-name", "old", "--algorithm", "random", "1"); r.code != exitOK {
		t.Fatalf("encrypt with a local:old key: %s", r)
	}

	// The environment wins over the file: MONGOCRYPT_LOCAL_KEY=B cannot unwrap the key made
	// under A...
	envB := []string{"MONGOCRYPT_LOCAL_KEY=" + base64.StdEncoding.EncodeToString(keyB)}
	checkFailure(t, cli(t, envB, "", "decrypt", "--config", yamlFile, ciphertext), exitFail, "decrypting")
	// ...and a flag wins over the environment: the key file, raw or base64.
	rawA := filepath.Join(dir, "a.bin")
	os.WriteFile(rawA, keyA, 0o600)
	textA := filepath.Join(dir, "a.b64")
	os.WriteFile(textA, []byte(b64A+"\n"), 0o600)
	for _, f := range []string{rawA, textA} {
		if r := cli(t, envB, "", "decrypt", "--config", yamlFile, "--kms", "local.key=@"+f, ciphertext); r.code != exitOK || r.stdout != "\"v\"\n" {
			t.Fatalf("decrypt --kms local.key=@%s: %s", filepath.Base(f), r)
		}
	}
	checkFailure(t, cli(t, nil, "", "decrypt", "--config", yamlFile, "--kms", "local.key=@"+filepath.Join(dir, "absent"), ciphertext),
		exitFail, "reading kmsProviders.local.key")
	// The same for the server and the key vault: MONGODB_URI over the file, --uri over both.
	bad := "mongodb://127.0.0.1:1/"
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("uri: "+bad+"\nkeyVaultNamespace: nowhere.keys\n"), 0o600)
	env := []string{"MONGODB_URI=" + serverURI, "MONGOCRYPT_KEY_VAULT=" + v.ns}
	if r := cli(t, env, "", "keys", "get", "cfg", "--config", badYAML); r.code != exitOK {
		t.Fatalf("the environment did not win over the file: %s", r)
	}
	checkFailure(t, cli(t, env, "", "keys", "get", "cfg", "--config", badYAML, "--uri", bad, "--connect-timeout", "300ms"), exitFail, "127.0.0.1:1")
	checkFailure(t, cli(t, env, "", "keys", "get", "cfg", "--key-vault", "nowhere.keys"), exitFail, "no such data key")
}

// TestConfigFileErrors checks configuration files that cannot be used: exit 1, one line naming
// the file and what is wrong, never a value.
func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name, content, want string
	}{
		{"bad.yaml", "uri: [unclosed", "not valid YAML"},
		{"tabs.yaml", "kmsProviders:\n\tlocal: {}\n", "not valid YAML"},
		{"bad.json", `{"uri": "mongodb://x", }`, "not valid JSON: syntax error at byte"},
		{"trailing.json", `{} {}`, "data after the document"},
		{"list.yaml", "- a\n- b\n", "the top level must be a mapping"},
		{"unknown.yaml", "kmsProvider:\n  local: {}\n", `unknown field "kmsProvider"`},
		{"type.yaml", "uri: 5\n", "uri must be a string"},
		{"shape.yaml", "kmsProviders:\n  local: " + secretLocalKey + "\n", "kmsProviders.local must be a mapping of settings"},
		{"number.yaml", "kmsProviders:\n  local:\n    key: 12345678\n", "kmsProviders.local.key must be a string"},
		{"nested.json", `{"kmsProviders": {"aws": {"secretAccessKey": {"v": "` + secretAWS + `"}}}}`, "kmsProviders.aws.secretAccessKey must be a string"},
		{"tlsshape.yaml", "tlsOptions: " + secretPassword + "\n", "tlsOptions must be a mapping"},
		{"schemamap.yaml", "schemaMap: [a]\n", "schemaMap must be a mapping of namespaces"},
		{"schemans.yaml", "schemaMap:\n  people: {bsonType: object}\n", `the namespace "people" must be db.collection`},
		{"schemadoc.yaml", "encryptedFieldsMap:\n  db.c: 5\n", "encryptedFieldsMap.db.c must be a document"},
		{"extjson.yaml", "schemaMap:\n  db.c: {k: {\"$binary\": 5}}\n", "schemaMap.db.c is not a valid Extended JSON document"},
		{"bypass.yaml", "bypassQueryAnalysis: yes please\n", "bypassQueryAnalysis must be true or false"},
		{"expiry.yaml", "keyExpirationMS: -1\n", "keyExpirationMS must not be negative"},
		{"expiry2.yaml", "keyExpirationMS: 1.5\n", "keyExpirationMS must be a whole number"},
	}
	for _, c := range cases {
		p := writeFile(t, c.name, c.content, 0o600)
		r := cli(t, []string{"MONGODB_URI=" + serverURI}, "", "keys", "list", "--config", p)
		checkFailure(t, r, exitFail, c.want)
		if !strings.Contains(r.stderr, p) {
			t.Fatalf("%s: the error does not name the file: %s", c.name, r.stderr)
		}
		checkNoSecret(t, r, c.name)
	}
	// Files that cannot be read at all.
	checkFailure(t, cli(t, nil, "", "keys", "list", "--config", filepath.Join(dir, "absent.yaml")), exitFail, "no such file or directory")
	checkFailure(t, cli(t, []string{"MONGOCRYPT_CONFIG=" + dir}, "", "keys", "list"), exitFail, "is a directory")
	big := writeFile(t, "big.yaml", "# "+strings.Repeat("x", maxConfigBytes)+"\n", 0o600)
	checkFailure(t, cli(t, nil, "", "keys", "list", "--config", big), exitFail, "larger than")
	if os.Geteuid() != 0 {
		locked := writeFile(t, "locked.yaml", "uri: x\n", 0o000)
		checkFailure(t, cli(t, nil, "", "keys", "list", "--config", locked), exitFail, "permission denied")
	}
	// An empty file is an empty configuration.
	empty := writeFile(t, "empty.yaml", "", 0o600)
	if r := cli(t, []string{"MONGODB_URI=" + serverURI, "MONGOCRYPT_KEY_VAULT=empty.keys"}, "", "keys", "list", "--config", empty, "--json"); r.code != exitOK || r.stdout != "[]\n" {
		t.Fatalf("empty configuration file: %s", r)
	}
}

// TestKMSSettings checks KMS settings that the library refuses, and that the per-provider TLS
// options reach the provider: a KMIP endpoint with a certificate of an unknown authority is
// refused until its CA file is given.
func TestKMSSettings(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})), 0o600)
	endpoint := strings.TrimPrefix(srv.URL, "https://")
	kmip := []string{"keys", "create", "--provider", "kmip", "--kms", "kmip.endpoint=" + endpoint}

	r := v.run(t, kmip...)
	checkFailure(t, r, exitFail, "x509: certificate signed by unknown authority")
	if !strings.Contains(r.stderr, `"kmip"`) || !strings.Contains(r.stderr, endpoint) {
		t.Fatalf("the error does not name the provider and its endpoint: %s", r.stderr)
	}
	// With the CA, by the driver's option name and by the short one, from a flag and from a
	// file: the TLS handshake passes and the failure is the test server's, which speaks no
	// KMIP.
	yamlFile := writeFile(t, "kmip.yaml", "kmsProviders:\n  kmip:\n    endpoint: "+endpoint+"\ntlsOptions:\n  kmip:\n    caFile: "+ca+"\n", 0o600)
	for _, args := range [][]string{
		append(append([]string(nil), kmip...), "--kms-tls", "kmip.tlsCAFile="+ca),
		append(append([]string(nil), kmip...), "--kms-tls", "kmip.caFile="+ca),
		{"keys", "create", "--provider", "kmip", "--config", yamlFile},
	} {
		r := v.run(t, args...)
		if r.code != exitFail || strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "not a ResponseMessage") {
			t.Fatalf("%v: want a KMIP failure past the TLS handshake: %s", args, r)
		}
	}
	checkFailure(t, v.run(t, append(kmip, "--kms-tls", "kmip.tlsCAFile="+filepath.Join(t.TempDir(), "absent.pem"))...), exitFail, `TLS options of KMS provider "kmip"`)
	checkFailure(t, v.run(t, append(kmip, "--kms-tls", "kmip.tlsInsecure=true")...), exitFail, "unrecognized TLS option tlsInsecure")
	checkFailure(t, v.run(t, "keys", "list", "--kms-tls", "gcp.tlsCAFile="+ca), exitFail, `TLS options given for KMS provider "gcp", which is not configured`)
	if n := len(v.keyDocs(t)); n != 0 {
		t.Fatalf("%d keys written by failed creations", n)
	}

	// Refused KMS settings name the provider and never show the secret.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "list", "--kms", "local.key=" + secretLocalKey[:40]}, "master key must be 96 bytes"},
		{[]string{"keys", "list", "--kms", "local.key=" + secretPassword}, "not valid base64"},
		{[]string{"keys", "list", "--kms", "nope.key=" + secretPassword}, `unrecognized KMS provider "nope"`},
		{[]string{"keys", "list", "--kms", "aws.secretAccessKey=" + secretAWS}, "aws"},
		{[]string{"keys", "list", "--kms", "local.bogus=" + secretPassword}, `unexpected field "bogus"`},
	} {
		r := cli(t, []string{"MONGODB_URI=" + serverURI, "MONGOCRYPT_KEY_VAULT=" + v.ns}, "", c.args...)
		checkFailure(t, r, exitFail, c.want)
		checkNoSecret(t, r, strings.Join(c.args, " "))
	}
}

// TestSecretsNeverPrinted runs commands that succeed and fail with every kind of secret set
// (connection string password, local key, AWS and Azure secrets, from the environment, flags
// and a file) and checks that none is ever printed.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	cfg := writeFile(t, "s.yaml", fmt.Sprintf("kmsProviders:\n  aws:\n    accessKeyId: AKIAEXAMPLEKEYID\n    secretAccessKey: %s\n  azure:\n    tenantId: t\n    clientId: c\n    clientSecret: %s\n    identityPlatformEndpoint: 127.0.0.1:1\n", secretAWS, secretAzure), 0o600)
	env := append(secretEnv(serverURI), "MONGOCRYPT_KEY_VAULT="+v.ns)
	id := ""
	for _, args := range [][]string{
		{"keys", "create", "--provider", "local", "--alt-name", "s"},
		{"keys", "list"},
		{"keys", "list", "--json"},
		{"keys", "get", "s", "--json"},
		{"keys", "create", "--provider", "aws", "--master-key", `{"region":"us-east-1","key":"arn:aws:kms:us-east-1:1:key/x","endpoint":"127.0.0.1:1"}`, "--config", cfg},
		{"keys", "create", "--provider", "azure", "--master-key", `{"keyVaultEndpoint":"127.0.0.1:1","keyName":"k"}`, "--config", cfg},
		{"encrypt", "--key-alt-name", "s", "--algorithm", "random", `"x"`},
		{"keys", "rewrap", "--dry-run"},
		{"keys", "rewrap"},
		{"keys", "rewrap", "--provider", "aws", "--master-key", `{"region":"us-east-1","key":"arn:aws:kms:us-east-1:1:key/x","endpoint":"127.0.0.1:1"}`, "--config", cfg},
		{"keys", "get", "nope"},
		{"keys", "list", "--uri", "mongodb://u:" + secretPassword + "@127.0.0.1:1/", "--connect-timeout", "200ms"},
		{"keys", "list", "--kms", "local.key=" + secretLocalKey, "--kms", "aws.secretAccessKey=" + secretAWS, "--kms", "aws.accessKeyId=AKIAEXAMPLEKEYID"},
	} {
		r := cli(t, env, "", args...)
		if args[1] == "create" && args[3] == "local" {
			if r.code != exitOK {
				t.Fatalf("%v: %s", args, r)
			}
			id = strings.TrimSpace(r.stdout)
		}
		checkNoSecret(t, r, strings.Join(args, " "))
	}
	if id == "" {
		t.Fatal("no key was created")
	}
	// A password the server refuses: the demo shows the connection string without it.
	withPassword := strings.Replace(serverURI, "://", "://admin:"+secretPassword+"@", 1)
	r := cli(t, nil, "", "demo", "--uri", withPassword)
	checkFailure(t, r, exitFail, "auth")
	if !strings.Contains(r.stdout, "://admin:[redacted]@") {
		t.Fatalf("the demo does not show the redacted connection string: %s", r)
	}
	checkNoSecret(t, r, "demo --uri with a password")
	checkNoSecret(t, cli(t, []string{"MONGODB_URI=" + withPassword}, "", "keys", "list"), "keys list with a password")
}
