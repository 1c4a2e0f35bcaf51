// Package testenv starts the servers the tests of this module need: the embedded
// MongoDB-compatible server (FerretDB) and local-kms. They live in the nested module
// internal/testserver, so that this module, the one users import, needs neither of them nor
// their dependencies. Servers builds that module's command testservers once per test process
// and runs it as a child process, which exits when the test process does.
//
// Only tests import this package.
package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrNoServerModule is returned when the tree holds no internal/testserver module, as in the
// module's zip: the integration tests then skip.
var ErrNoServerModule = errors.New("testenv: the nested module internal/testserver is not in this tree (tests that need servers run from a clone of the repository)")

// Addrs are the servers' addresses.
type Addrs struct {
	MongoDB  string `json:"mongodb"`  // a mongodb:// URI: FerretDB behind the layer of internal/testserver/qelayer
	FerretDB string `json:"ferretdb"` // a mongodb:// URI: FerretDB itself, which drops encryptedFields
	LocalKMS string `json:"localkms"` // an http:// base URL; see internal/testserver/localkms
}

var (
	once  sync.Once
	addrs Addrs
	err   error
)

// Servers starts the servers, once per process, and returns their addresses.
func Servers() (Addrs, error) {
	once.Do(func() { addrs, err = start() })
	return addrs, err
}

// ModuleRoot returns the directory of this module's go.mod, found from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/mongocrypt-go/mongocrypt\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod of github.com/mongocrypt-go/mongocrypt above the working directory")
		}
		dir = parent
	}
}

// GoTool returns the go command: go test puts the go command that runs it first in PATH.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func start() (Addrs, error) {
	bin := os.Getenv("MONGOCRYPT_TESTSERVERS")
	if bin == "" {
		root, err := ModuleRoot()
		if err != nil {
			return Addrs{}, err
		}
		modDir := filepath.Join(root, "internal", "testserver")
		if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err != nil {
			return Addrs{}, ErrNoServerModule
		}
		tmp, err := os.MkdirTemp("", "mongocrypt-testenv-")
		if err != nil {
			return Addrs{}, err
		}
		// The binary stays until the process exits; the directory is small.
		bin = filepath.Join(tmp, "testservers")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		build := exec.Command(GoTool(), "build", "-o", bin, "./cmd/testservers")
		build.Dir = modDir
		if out, err := build.CombinedOutput(); err != nil {
			return Addrs{}, fmt.Errorf("testenv: building internal/testserver/cmd/testservers: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe() // held open for the life of the process
	if err != nil {
		return Addrs{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Addrs{}, err
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return Addrs{}, fmt.Errorf("testenv: starting %s: %w", bin, err)
	}
	child.cmd, child.stdin = cmd, stdin
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		return Addrs{}, fmt.Errorf("testenv: testservers printed no addresses within 2 minutes: %s", stderr.String())
	}
	var a Addrs
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &a); err != nil || a.LocalKMS == "" {
		_ = cmd.Process.Kill()
		return Addrs{}, fmt.Errorf("testenv: testservers: %q: %s", line, stderr.String())
	}
	return a, nil
}

// child is the running testservers process. Its standard input is closed, and it exits, when
// Stop is called or this process exits.
var child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// Stop stops the servers Servers started, if any, and waits for them to exit.
func Stop() {
	if child.cmd == nil {
		return
	}
	child.stdin.Close()
	done := make(chan struct{})
	go func() { _ = child.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = child.cmd.Process.Kill()
	}
	child.cmd = nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
