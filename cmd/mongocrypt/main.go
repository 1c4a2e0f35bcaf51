// Command mongocrypt manages MongoDB client-side encryption keys and shows the library at work.
//
// Usage:
//
//	mongocrypt demo [--uri mongodb://...]
//
// Run "mongocrypt help" for every command.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand of the tool.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "encrypt, store and read back documents on an embedded server", runDemo},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mongocrypt: MongoDB client-side field level encryption in pure Go")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: mongocrypt <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "mongocrypt <command> --help" for the flags of a command.`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mongocrypt: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
