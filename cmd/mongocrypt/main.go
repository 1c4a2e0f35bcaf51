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
//	mongocrypt keys delete KEY
//	mongocrypt keys add-alt-name KEY NAME
//	mongocrypt keys remove-alt-name KEY NAME
//	mongocrypt keys rewrap [--filter JSON] [--provider NAME --master-key JSON] [--dry-run]
//	mongocrypt encrypt --key-alt-name billing --algorithm deterministic '"457-55-5462"'
//	mongocrypt decrypt VALUE
//	mongocrypt demo
//
// The server, the key vault namespace and the KMS providers come from flags, environment
// variables and a YAML or JSON configuration file: "mongocrypt help config" describes them.
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
	// secrets are the values that must never be printed: redact replaces them.
	secrets []string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
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
