package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Secrets used by the tests that check they are never printed.
var (
	secretLocalKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 96)))
	secretPassword = "pa55w0rd-never-printed"
	secretAWS      = "aws-secret-never-printed"
	secretAzure    = "azure-secret-never-printed"
)

func secretEnv(uri string) []string {
	return []string{
		"MONGODB_URI=" + uri,
		"MONGOCRYPT_LOCAL_KEY=" + secretLocalKey,
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEYID", "AWS_SECRET_ACCESS_KEY=" + secretAWS,
		"AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=" + secretAzure,
	}
}

func checkNoSecret(t *testing.T, r result, what string) {
	t.Helper()
	for _, s := range []string{secretLocalKey, secretPassword, secretAWS, secretAzure, "AKIAEXAMPLEKEYID"} {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("%s printed the secret %q:\n%s", what, s, r)
		}
	}
}

// TestHelp checks that every command has --help with its usage line and an example, on stdout
// with exit 0, and that no secret of the environment shows in any help.
func TestHelp(t *testing.T) {
	t.Parallel()
	env := secretEnv("mongodb://admin:" + secretPassword + "@127.0.0.1:1/")
	for i, s := range specs() {
		args := append(strings.Fields(s.path), "--help")
		for j, a := range [][]string{args, append([]string{"help"}, strings.Fields(s.path)...), append(strings.Fields(s.path), "-h")} {
			// In this process, and through the binary for one way of asking for each command.
			r := runApp(env, "", a...)
			if i%3 == j {
				r = cli(t, env, "", a...)
			}
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("mongocrypt %v: %s", a, r)
			}
			for _, want := range []string{"Usage: mongocrypt " + s.path, "Examples:\n  mongocrypt ", "Exit status: 0 success, 1 the operation failed, 2 usage error."} {
				if !strings.Contains(r.stdout, want) {
					t.Fatalf("mongocrypt %v lacks %q:\n%s", a, want, r.stdout)
				}
			}
			if s.connects {
				for _, want := range []string{"--uri URI", "--config FILE", "--kms NAME.FIELD=VALUE", "MONGODB_URI", "MONGOCRYPT_LOCAL_KEY", "AWS_SECRET_ACCESS_KEY"} {
					if !strings.Contains(r.stdout, want) {
						t.Fatalf("mongocrypt %v does not document %q", a, want)
					}
				}
			}
			checkNoSecret(t, r, strings.Join(a, " "))
		}
	}
	for _, a := range [][]string{{"help"}, {"--help"}, {"-h"}, {"keys", "--help"}, {"help", "keys"}, {"help", "config"}} {
		r := runApp(env, "", a...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Example") {
			t.Fatalf("mongocrypt %v: %s", a, r)
		}
		checkNoSecret(t, r, strings.Join(a, " "))
	}
	r := cli(t, nil, "", "help", "config")
	for _, want := range []string{"kmsProviders:", "tlsOptions:", "tlsCAFile", "local:old:", "MONGOCRYPT_LOCAL_KEY_<name>"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("help config lacks %q", want)
		}
	}
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != "mongocrypt configuration" {
		t.Fatalf("help config begins with %q", first)
	}
}

// TestHelpFirstLines checks the first line of every help topic: the general help, the keys
// help, the configuration help, and the help of each command by each way of asking for it.
func TestHelpFirstLines(t *testing.T) {
	t.Parallel()
	const general = "mongocrypt: MongoDB client-side encryption keys and values, in pure Go"
	const keys = "Usage: mongocrypt keys COMMAND [flags] [arguments]"
	const config = "mongocrypt configuration"
	type topic struct {
		args  []string
		first string
		code  int // exitUsage: printed on stderr
	}
	topics := []topic{
		{nil, general, exitUsage}, {[]string{"help"}, general, exitOK}, {[]string{"--help"}, general, exitOK},
		{[]string{"-h"}, general, exitOK}, {[]string{"-help"}, general, exitOK},
		{[]string{"keys"}, keys, exitUsage}, {[]string{"help", "keys"}, keys, exitOK}, {[]string{"keys", "--help"}, keys, exitOK},
		{[]string{"keys", "-h"}, keys, exitOK}, {[]string{"keys", "help"}, keys, exitOK},
		{[]string{"help", "config"}, config, exitOK}, {[]string{"help", "environment"}, config, exitOK}, {[]string{"help", "env"}, config, exitOK},
	}
	for _, s := range specs() {
		first := "Usage: mongocrypt " + s.path + " [flags]"
		if s.args != "" {
			first += " " + s.args
		}
		words := strings.Fields(s.path)
		topics = append(topics, topic{append([]string{"help"}, words...), first, exitOK},
			topic{append(words[:len(words):len(words)], "--help"), first, exitOK},
			topic{append(words[:len(words):len(words)], "-h"), first, exitOK})
	}
	for _, tc := range topics {
		var out, errb strings.Builder
		code := run(tc.args, &out, &errb)
		text := out.String()
		if tc.code == exitUsage {
			text = errb.String()
		}
		if code != tc.code {
			t.Errorf("mongocrypt %v: exit %d, want %d", tc.args, code, tc.code)
		}
		if first, _, _ := strings.Cut(text, "\n"); first != tc.first {
			t.Errorf("mongocrypt %v: the help begins with %q, want %q", tc.args, first, tc.first)
		}
	}
}

// TestUsageErrors checks the command lines that are wrong: exit 2, one line on stderr naming
// the problem, nothing on stdout. They fail before connecting to anything: run in this process
// (TestExitStatus runs such command lines through the binary).
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"keys", "nope"}, `unknown command "nope"`},
		{[]string{"help", "nope"}, `unknown command "nope"`},
		{[]string{"keys", "list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"keys", "list", "--json=maybe"}, "invalid boolean value"},
		{[]string{"keys", "list", "--connect-timeout", "soon"}, "invalid value"},
		{[]string{"keys", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"keys", "list", "--filter", "{nope"}, "--filter is not an Extended JSON document"},
		{[]string{"keys", "get"}, "missing arguments: want KEY"},
		{[]string{"keys", "get", "a", "b"}, `unexpected argument "b"`},
		{[]string{"keys", "add-alt-name", "a"}, "missing arguments: want KEY NAME"},
		{[]string{"keys", "create"}, "--provider is required"},
		{[]string{"keys", "create", "--provider", "local", "--master-key", "[1]"}, "--master-key is not an Extended JSON document"},
		{[]string{"keys", "rewrap", "--master-key", "{}"}, "--master-key needs --provider"},
		{[]string{"keys", "rewrap", "--batch-size", "0"}, "--batch-size must be at least 1"},
		{[]string{"keys", "rewrap", "--progress", "sometimes"}, "--progress must be auto, always or never"},
		{[]string{"encrypt", "--algorithm", "random", "1"}, "--key-id or --key-alt-name is required"},
		{[]string{"encrypt", "--key-id", "x", "--key-alt-name", "y", "--algorithm", "random", "1"}, "not both"},
		{[]string{"encrypt", "--key-id", "not-a-uuid", "--algorithm", "random", "1"}, `--key-id "not-a-uuid" is not a UUID`},
		{[]string{"encrypt", "--key-alt-name", "k", "1"}, "--algorithm is required"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "bogus", "1"}, `--algorithm "bogus" is not an algorithm: want one of deterministic, random, indexed`},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "AEAD_AES_256_CBC_HMAC_SHA_512", "1"}, "is not an algorithm"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "{bad"}, "VALUE is not a valid Extended JSON value"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", `1, "w": 2`}, "VALUE is not a valid Extended JSON value"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "1", "2"}, "unexpected argument after VALUE"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--range", `{"bogus":1}`, "1"}, `--range: unknown field "bogus"`},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--range", `{"sparsity":"x"}`, "1"}, "--range: sparsity must be an integer"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "String", "--string", `{"bogus":1}`, "1"}, "--string is not a valid string options document"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "--output", "hex", "1"}, "--output must be ejson or base64"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "--contention-factor", "x", "1"}, "invalid value"},
		{[]string{"decrypt", "%%%"}, "VALUE is neither Extended JSON nor base64"},
		{[]string{"decrypt", `{"$binary":{"base64":"AAAA","subType":"06"}`}, "VALUE is neither Extended JSON nor base64"},
		{[]string{"decrypt", `{"$numberInt":"x"}`}, "VALUE is not a valid Extended JSON value"},
		{[]string{"decrypt"}, "no VALUE"},
		{[]string{"keys", "delete", "k"}, "deleting a data key needs --yes when stdin is not a terminal"},
		{[]string{"keys", "list", "--key-vault", "nodot"}, `the key vault namespace "nodot" must be DB.COLLECTION`},
		{[]string{"keys", "list", "--kms", "local.key"}, `--kms "local.key"...: want NAME.FIELD=VALUE`},
		{[]string{"keys", "list", "--kms", "localkey=" + secretLocalKey}, `--kms "localkey"...: want NAME.FIELD=VALUE`},
		{[]string{"keys", "list", "--kms-tls", "kmip=x"}, "--kms-tls \"kmip\"...: want NAME.FIELD=VALUE"},
		{[]string{"demo", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"server", "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		r := runApp(v.env, "", c.args...)
		checkFailure(t, r, exitUsage, c.want)
		if r.stdout != "" {
			t.Fatalf("mongocrypt %v printed on stdout: %s", c.args, r)
		}
		if !strings.Contains(r.stderr, "--help") && !strings.Contains(r.stderr, `"mongocrypt help"`) && !strings.Contains(r.stderr, `"mongocrypt keys --help"`) {
			t.Fatalf("mongocrypt %v does not point to the help: %s", c.args, r.stderr)
		}
		checkNoSecret(t, r, strings.Join(c.args, " "))
	}
	// No server anywhere.
	checkFailure(t, runApp(nil, "", "keys", "list"), exitUsage, "no server: give --uri, set MONGODB_URI, or put uri in the configuration file")
	// No command at all, and "keys" alone: the command list, on stderr.
	for _, a := range [][]string{nil, {"keys"}} {
		r := runApp(nil, "", a...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "Usage: mongocrypt") {
			t.Fatalf("mongocrypt %v: %s", a, r)
		}
	}
	// Flags may follow the arguments, and "--" ends them.
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "-dash", "--alt-name", "plain")
	if out := v.ok(t, "keys", "get", "--json", "--", "-dash"); !strings.Contains(out, `"-dash"`) {
		t.Fatalf("keys get --json -- -dash: %s", out)
	}
	if out := v.ok(t, "keys", "get", "plain", "--json"); !strings.Contains(out, `"-dash"`) {
		t.Fatal("a flag after the argument was not parsed")
	}
	checkFailure(t, v.run(t, "keys", "get", "-dash"), exitUsage, "flag provided but not defined: -dash")
}

// TestUnreachableServer checks that a server that does not answer fails the command with exit
// 1 and one line naming the address and the cause, within the connect timeout, without the
// password of the connection string.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	uri := "mongodb://admin:" + secretPassword + "@127.0.0.1:1/?authSource=admin"
	for _, args := range [][]string{
		{"keys", "list"},
		{"keys", "get", "x"},
		{"keys", "create", "--provider", "local"},
		{"keys", "delete", "x", "--yes"},
		{"keys", "add-alt-name", "x", "y"},
		{"keys", "remove-alt-name", "x", "y"},
		{"keys", "rewrap"},
		{"encrypt", "--key-alt-name", "x", "--algorithm", "random", "1"},
		{"decrypt", base64.StdEncoding.EncodeToString(fle1Deterministic(t, randBytes(t, 96), "0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b", "x"))},
	} {
		r := cli(t, secretEnv(uri), "", append(args, "--connect-timeout", "300ms")...)
		checkFailure(t, r, exitFail, "127.0.0.1:1")
		if !strings.Contains(r.stderr, "connection refused") && !strings.Contains(r.stderr, "server selection") {
			t.Fatalf("%v: the cause is missing: %s", args, r.stderr)
		}
		checkNoSecret(t, r, strings.Join(args, " "))
	}
	// --timeout bounds a command on a server that answers.
	checkFailure(t, cli(t, []string{"MONGODB_URI=" + serverURI}, "", "keys", "list", "--timeout", "1ns"), exitFail, "context deadline exceeded")
	// The demo too, with its own --uri.
	r := cli(t, nil, "", "demo", "--uri", "mongodb://admin:"+secretPassword+"@127.0.0.1:1/?serverSelectionTimeoutMS=300")
	checkFailure(t, r, exitFail, "127.0.0.1:1")
	checkNoSecret(t, r, "demo")
	// A malformed connection string.
	r = cli(t, nil, "", "keys", "list", "--uri", "http://admin:"+secretPassword+"@host/")
	checkFailure(t, r, exitFail, `scheme must be "mongodb" or "mongodb+srv"`)
	checkNoSecret(t, r, "keys list --uri http://...")
}

// TestDemoBinary runs the demo through the binary against the test server.
func TestDemoBinary(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "demo", "--uri", serverURI)
	if r.code != exitOK {
		t.Fatalf("demo: %s", r)
	}
	if !regexp.MustCompile(`Created data key [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} \(keyAltName "demo-key"\)\n`).MatchString(r.stdout) {
		t.Fatalf("the demo does not show the data key id as a UUID:\n%s", r.stdout)
	}
	for _, want := range []string{`"ssn": BinData(6, 01`, `"ssn": "457-55-5462"`, "The server never saw"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// writeFile writes a file of the test's temporary directory.
func writeFile(t *testing.T, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	return p
}
