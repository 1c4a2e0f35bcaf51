// Command mongocrypt manages the data keys of MongoDB client-side encryption, rotates their
// master keys, encrypts and decrypts single values, and shows the library at work. It is built
// on the pure-Go library github.com/mongocrypt-go/mongocrypt: no cgo, no libmongocrypt.
//
// Install it with
//
//	go install github.com/mongocrypt-go/mongocrypt/cmd/mongocrypt@latest
//
// Usage:
//
//	mongocrypt keys create --provider local --alt-name billing
//	mongocrypt keys list [--json]
//	mongocrypt keys get KEY
//	mongocrypt keys delete KEY [--yes]
//	mongocrypt keys add-alt-name KEY NAME
//	mongocrypt keys remove-alt-name KEY NAME
//	mongocrypt keys rewrap [--filter JSON] [--provider NAME --master-key JSON] [--dry-run]
//	mongocrypt encrypt --key-alt-name billing --algorithm deterministic '"457-55-5462"'
//	mongocrypt decrypt VALUE
//	mongocrypt demo
//	mongocrypt server
//
// The server, the key vault namespace and the KMS providers come from flags, environment
// variables (MONGODB_URI, MONGOCRYPT_CONFIG, MONGOCRYPT_KEY_VAULT, MONGOCRYPT_LOCAL_KEY and
// MONGOCRYPT_LOCAL_KEY_<name>, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and a YAML or JSON configuration file
// whose kmsProviders and tlsOptions have the shape of the driver's: "mongocrypt help config"
// describes them. Secrets are never printed: errors go through a filter that replaces every
// configured secret and the password of the connection string.
//
// "keys rewrap" rewraps in batches of the library's RewrapManyDataKey, each written only when
// all its keys were rewrapped, with a progress bar when stderr is a terminal and a summary of
// the keys matched and rewrapped (also after a failure). "demo" is the quickstart on an embedded
// MongoDB-compatible server (FerretDB); "server" runs that server alone, to try the commands.
// Run "mongocrypt help" for every command and "mongocrypt COMMAND --help" for its flags.
//
// Exit status: 0 on success, 1 when the operation failed, 2 on a usage error.
package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the operation failed
	exitUsage = 2 // the command line is wrong
)

// app is what a command sees of the process: its streams and environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
	// stderrTTY tells whether stderr is an interactive terminal (for the progress bar).
	stderrTTY bool
	// stdinTTY tells whether stdin is an interactive terminal (for the confirmation of
	// "keys delete").
	stdinTTY bool
	// secrets are the values that must never be printed: redact replaces them.
	secrets []string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdin.(*os.File); ok {
		a.stdinTTY = term.IsTerminal(int(f.Fd()))
	}
	return a
}

// run runs the command line args (without the program name) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return newApp(os.Stdin, stdout, stderr).run(args)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
