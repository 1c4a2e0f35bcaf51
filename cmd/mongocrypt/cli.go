package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// runFunc runs a command with its positional arguments; conn is nil for commands that do not
// connect.
type runFunc func(ctx context.Context, a *app, args []string, conn *connFlags) error

// cmdSpec describes one command: its help and its flags.
type cmdSpec struct {
	path     string // "keys create"
	args     string // the positional arguments in the usage line: "KEY NAME"
	summary  string // one line for the command list
	desc     string // paragraphs of the help
	examples []string
	minArgs  int
	maxArgs  int  // -1: no limit
	connects bool // takes the connection and KMS flags
	// valueArgs: the positional arguments are values to encrypt or decrypt, never printed (an
	// unexpected argument may be the rest of an unquoted plaintext).
	valueArgs bool
	// setup declares the command's flags on fs and returns the function that runs it.
	setup func(fs *flag.FlagSet) runFunc
}

// usageError is an error in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func specs() []*cmdSpec {
	return []*cmdSpec{
		keysCreateSpec(), keysListSpec(), keysGetSpec(), keysDeleteSpec(),
		keysAddAltNameSpec(), keysRemoveAltNameSpec(), keysRewrapSpec(),
		encryptSpec(), decryptSpec(), demoSpec(), serverSpec(), proxySpec(),
	}
}

func findSpec(path string) *cmdSpec {
	for _, s := range specs() {
		if s.path == path {
			return s
		}
	}
	return nil
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `mongocrypt: MongoDB client-side encryption keys and values, in pure Go

Usage: mongocrypt COMMAND [flags] [arguments]

Commands:
`)
	for _, s := range specs() {
		fmt.Fprintf(w, "  %-24s %s\n", s.path, s.summary)
	}
	fmt.Fprint(w, `  help [COMMAND | config]  the help of a command, or of the configuration

Examples:
  mongocrypt keys list --uri mongodb://localhost:27017
  mongocrypt keys rewrap --config mongocrypt.yaml --provider aws --master-key '{"region":"us-east-1","key":"arn:aws:kms:..."}'
  mongocrypt demo

Run "mongocrypt COMMAND --help" for the flags of a command and "mongocrypt help config" for the
configuration file and the environment variables.

Exit status: 0 success, 1 the operation failed, 2 usage error.
`)
}

// run dispatches the command line.
func (a *app) run(args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return a.helpCommand(args[1:])
	}
	if args[0] == "keys" {
		if len(args) == 1 {
			a.keysUsage(a.stderr)
			return exitUsage
		}
		switch args[1] {
		case "-h", "-help", "--help", "help":
			a.keysUsage(a.stdout)
			return exitOK
		}
		s := findSpec("keys " + args[1])
		if s == nil {
			fmt.Fprintf(a.stderr, "mongocrypt keys: unknown command %q (run \"mongocrypt keys --help\")\n", args[1])
			return exitUsage
		}
		return a.exec(s, args[2:])
	}
	s := findSpec(args[0])
	if s == nil {
		fmt.Fprintf(a.stderr, "mongocrypt: unknown command %q (run \"mongocrypt help\")\n", args[0])
		return exitUsage
	}
	return a.exec(s, args[1:])
}

func (a *app) keysUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: mongocrypt keys COMMAND [flags] [arguments]\n\nManages the data keys of a key vault.\n\nCommands:\n")
	for _, s := range specs() {
		if strings.HasPrefix(s.path, "keys ") {
			fmt.Fprintf(w, "  %-16s %s\n", strings.TrimPrefix(s.path, "keys "), s.summary)
		}
	}
	fmt.Fprint(w, "\nExample:\n  mongocrypt keys list --uri mongodb://localhost:27017\n\nRun \"mongocrypt keys COMMAND --help\" for the flags of a command.\n")
}

// helpCommand is "mongocrypt help [COMMAND...]".
func (a *app) helpCommand(args []string) int {
	topic := strings.Join(args, " ")
	switch topic {
	case "":
		a.usage(a.stdout)
		return exitOK
	case "config", "environment", "env":
		fmt.Fprint(a.stdout, configHelp)
		return exitOK
	case "keys":
		a.keysUsage(a.stdout)
		return exitOK
	}
	s := findSpec(topic)
	if s == nil {
		fmt.Fprintf(a.stderr, "mongocrypt help: unknown command %q (run \"mongocrypt help\")\n", topic)
		return exitUsage
	}
	fs, _, _ := newFlagSet(s)
	a.help(a.stdout, s, fs)
	return exitOK
}

func newFlagSet(s *cmdSpec) (*flag.FlagSet, *connFlags, runFunc) {
	fs := flag.NewFlagSet(s.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var cf *connFlags
	if s.connects {
		cf = addConnFlags(fs)
	}
	return fs, cf, s.setup(fs)
}

// exec parses the flags of a command and runs it.
func (a *app) exec(s *cmdSpec, args []string) int {
	fs, cf, runner := newFlagSet(s)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		a.help(a.stdout, s, fs)
		return exitOK
	}
	if err == nil {
		switch {
		case len(pos) < s.minArgs:
			err = usagef("missing arguments: want %s", s.args)
		case s.maxArgs >= 0 && len(pos) > s.maxArgs && s.valueArgs:
			err = usagef("unexpected argument after VALUE (not printed: it may be part of the value; quote a value that holds spaces)")
		case s.maxArgs >= 0 && len(pos) > s.maxArgs:
			err = usagef("unexpected argument %q", pos[s.maxArgs])
		}
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "mongocrypt %s: %s (run \"mongocrypt %s --help\")\n", s.path, a.oneLine(err), s.path)
		return exitUsage
	}
	a.secrets = append(a.secrets, envSecrets(a)...)
	if cf != nil {
		a.secrets = append(a.secrets, cf.secrets()...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cf != nil && cf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cf.timeout)
		defer cancel()
	}
	if err := runner(ctx, a, pos, cf); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(a.stderr, "mongocrypt %s: %s (run \"mongocrypt %s --help\")\n", s.path, a.oneLine(err), s.path)
			return exitUsage
		}
		fmt.Fprintf(a.stderr, "mongocrypt %s: %s\n", s.path, a.oneLine(err))
		return exitFail
	}
	return exitOK
}

// oneLine renders an error on one line with every secret replaced, without the library's
// "mongocrypt error N: " prefixes and with every key id in the UUID form.
func (a *app) oneLine(err error) string {
	s := a.redact(plainErrorText(err.Error()))
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// redact replaces every known secret in s.
func (a *app) redact(s string) string {
	secrets := append([]string(nil), a.secrets...)
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// parseInterleaved parses flags that may come before, between or after the positional
// arguments, as most command-line tools allow; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// help prints the help of a command.
func (a *app) help(w io.Writer, s *cmdSpec, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: mongocrypt %s [flags]", s.path)
	if s.args != "" {
		fmt.Fprintf(w, " %s", s.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(s.desc))
	fmt.Fprintln(w, "\nExamples:")
	for _, e := range s.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	var own, conn []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if connFlagNames[f.Name] {
			conn = append(conn, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, own)
	}
	if len(conn) > 0 {
		fmt.Fprintln(w, "\nConnection and KMS flags:")
		printFlags(w, conn)
		fmt.Fprint(w, connEnvHelp)
	}
	fmt.Fprintln(w, "\nExit status: 0 success, 1 the operation failed, 2 usage error.")
}

func printFlags(w io.Writer, flags []*flag.Flag) {
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		for _, l := range strings.Split(usage, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
