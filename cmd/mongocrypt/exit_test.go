package main

import (
	"strings"
	"testing"
)

// TestExitStatus checks the two failing exit statuses: 2 for a command line that is wrong
// (unknown command, unknown flag, missing or extra argument, bad flag value or VALUE), found
// before any connection (the server named here does not answer); 1 for an operation that
// failed on a well-formed command line.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	nowhere := []string{"MONGODB_URI=mongodb://127.0.0.1:1/", "MONGOCRYPT_LOCAL_KEY=" + strings.Repeat("A", 128)}
	for _, c := range []struct {
		kind string
		args []string
		want string
	}{
		{"unknown command", []string{"encript"}, `unknown command "encript"`},
		{"unknown command", []string{"keys", "remove"}, `unknown command "remove"`},
		{"unknown command", []string{"help", "keys", "remove"}, `unknown command "keys remove"`},
		{"unknown flag", []string{"keys", "list", "--jsn"}, "flag provided but not defined: -jsn"},
		{"unknown flag", []string{"decrypt", "--canonical", "AAAA"}, "flag provided but not defined: -canonical"},
		{"missing argument", []string{"keys", "get"}, "missing arguments: want KEY"},
		{"missing argument", []string{"keys", "remove-alt-name", "k"}, "missing arguments: want KEY NAME"},
		{"missing argument", []string{"keys", "list", "--filter"}, "flag needs an argument: -filter"},
		{"extra argument", []string{"keys", "get", "a", "b"}, `unexpected argument "b"`},
		{"bad flag value", []string{"encrypt", "--key-alt-name", "k", "--algorithm", "aes", `"x"`}, `--algorithm "aes" is not an algorithm`},
		{"bad flag value", []string{"encrypt", "--key-id", "12", "--algorithm", "random", `"x"`}, `--key-id "12" is not a UUID`},
		{"bad flag value", []string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "--output", "hex", `"x"`}, "--output must be ejson or base64"},
		{"bad flag value", []string{"keys", "rewrap", "--batch-size", "-1"}, "--batch-size must be at least 1"},
		{"bad flag value", []string{"keys", "rewrap", "--progress", "yes"}, "--progress must be auto, always or never"},
		{"bad flag value", []string{"keys", "list", "--filter", "{"}, "--filter is not an Extended JSON document"},
		{"bad flag value", []string{"keys", "list", "--connect-timeout", "10"}, "invalid value"},
		{"bad flag value", []string{"keys", "list", "--kms", "local.key"}, "want NAME.FIELD=VALUE"},
		{"bad VALUE", []string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", "x"}, "VALUE is not a valid Extended JSON value"},
		{"bad VALUE", []string{"decrypt", "not base64!"}, "VALUE is neither Extended JSON nor base64"},
		{"missing --yes", []string{"keys", "delete", "k"}, "needs --yes"},
	} {
		r := cli(t, nowhere, "", c.args...)
		checkFailure(t, r, exitUsage, c.want)
		if strings.Contains(r.stderr, "127.0.0.1") {
			t.Fatalf("%s: %v connected before finding the usage error: %s", c.kind, c.args, r)
		}
	}

	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k")
	for _, c := range []struct {
		kind string
		env  []string
		args []string
		want string
	}{
		{"no server", nowhere, []string{"keys", "list", "--connect-timeout", "200ms"}, "127.0.0.1:1"},
		{"no such key", v.env, []string{"keys", "get", "nope"}, "no such data key"},
		{"no such key", v.env, []string{"encrypt", "--key-alt-name", "nope", "--algorithm", "random", "1"}, `keyAltName "nope"`},
		{"name taken", v.env, []string{"keys", "create", "--provider", "local", "--alt-name", "k"}, `keyAltName "k" already used by key`},
		{"provider not configured", v.env, []string{"keys", "create", "--provider", "aws", "--master-key", `{"region":"r","key":"k"}`}, `"aws"`},
		{"nothing to decrypt", v.env, []string{"decrypt", `"text"`}, "VALUE is a string, not an encrypted value"},
		{"nothing to decrypt", v.env, []string{"decrypt", "AAAA"}, "nothing to decrypt"},
		{"cannot decrypt", v.env, []string{"decrypt", "AQ=="}, "decrypting: "},
		{"configuration file", v.env, []string{"keys", "list", "--config", "/nonexistent/mongocrypt.yaml"}, "no such file or directory"},
	} {
		checkFailure(t, cli(t, c.env, "", c.args...), exitFail, c.want)
	}
}
