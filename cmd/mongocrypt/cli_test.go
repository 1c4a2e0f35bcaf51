package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
)

// The tests run the built binary, as an operator would, against the embedded server (or the
// server of MONGODB_URI when it is set).
var (
	binPath   string
	serverURI string
	vaultSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	// The tests wait on the binary and the server far more than they compute: let them all
	// start at once unless -parallel says otherwise. With its default, GOMAXPROCS, they would
	// run two at a time in the order of the files, and TestRewrap1000, the longest by far (the
	// embedded server's work), would start near the end.
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "32")
	}
	dir, err := os.MkdirTemp("", "mongocrypt-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "mongocrypt")
	start := time.Now()
	if err := buildBinary(binPath); err != nil {
		fmt.Fprintln(os.Stderr, "building mongocrypt:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cmd/mongocrypt tests: built the binary in %v\n", time.Since(start).Round(time.Millisecond))
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		serverURI = uri
		fmt.Fprintln(os.Stderr, "cmd/mongocrypt tests: using MONGODB_URI")
		return m.Run()
	}
	// The embedded server runs in a process of its own: "mongocrypt server".
	srv := exec.Command(binPath, "server")
	srv.Stderr = os.Stderr
	srv.Env = append(os.Environ(), "GOGC=800")
	out, err := srv.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting mongocrypt server:", err)
		return 1
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "mongodb://") {
		fmt.Fprintf(os.Stderr, "mongocrypt server printed %q: %v\n", line, err)
		return 1
	}
	serverURI = strings.TrimSpace(line)
	return m.Run()
}

// buildBinary builds the command as bin. Without -race even when the tests have it: the
// binary is the one operators run, and the embedded server it runs is several times slower
// with the race detector. It is linked into a cache directory, where "go build" leaves it alone
// while no input changed (linking it takes seconds), and copied to bin under a lock, so that a
// run keeps its binary when another one rebuilds meanwhile.
func buildBinary(bin string) error {
	// go test puts the go command that runs it first in PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	build := func(out string) error {
		cmd := exec.Command(goTool, "build", "-o", out, ".")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	cached, unlock, err := lockBinaryCache()
	if err != nil {
		return build(bin)
	}
	defer unlock()
	if err := build(cached); err != nil {
		return err
	}
	return copyFile(bin, cached)
}

// binaryCacheDir is the cache directory of the binary, the same for every checkout: a run of
// another checkout rebuilds it, and binaries do not pile up.
func binaryCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "mongocrypt-cli-test"), nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// result is what one run of the binary printed.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the binary with exactly the environment env (plus PATH and HOME) and stdin.
func cli(t testing.TB, env []string, stdin string, args ...string) result {
	t.Helper()
	return cliFrom(t, env, strings.NewReader(stdin), args...)
}

// cliFrom is cli with stdin read from r (a terminal, say).
func cliFrom(t testing.TB, env []string, r io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = r
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running mongocrypt %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// runApp runs the tool in this process as main does, with exactly the environment env and
// stdin: for the command lines that print help or fail before any connection, where a process
// of the binary would only add its start.
func runApp(env []string, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb)
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	a.getenv = func(k string) string { return vars[k] }
	a.environ = func() []string { return env }
	code := a.run(args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// vault is a key vault of its own for a test, with a local master key in the environment.
type vault struct {
	ns        string
	masterKey []byte
	env       []string
}

func newVault(t testing.TB) *vault {
	n := vaultSeq.Add(1)
	v := &vault{ns: fmt.Sprintf("cli%d_%s.__keyVault", n, strings.ReplaceAll(t.Name(), "/", "_")), masterKey: randBytes(t, 96)}
	if len(v.ns) > 60 {
		v.ns = fmt.Sprintf("cli%d.__keyVault", n)
	}
	v.env = []string{"MONGODB_URI=" + serverURI, "MONGOCRYPT_KEY_VAULT=" + v.ns,
		"MONGOCRYPT_LOCAL_KEY=" + base64.StdEncoding.EncodeToString(v.masterKey)}
	return v
}

func (v *vault) run(t testing.TB, args ...string) result {
	t.Helper()
	return cli(t, v.env, "", args...)
}

// ok runs the binary and fails the test unless it exits 0.
func (v *vault) ok(t testing.TB, args ...string) string {
	t.Helper()
	r := v.run(t, args...)
	if r.code != exitOK {
		t.Fatalf("mongocrypt %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs the binary and checks that it exits with code and prints one line on stderr
// holding want.
func checkFailure(t testing.TB, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr lacks %q: %s", want, r)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "mongocrypt") {
		t.Fatalf("stderr is not one line starting with the command: %q", r.stderr)
	}
	checkPlainErrors(t, r)
}

// checkPlainErrors checks that the output shows no error code of the library ("mongocrypt error
// 3: ") and no key id in base64: the tool prints key ids as UUIDs everywhere.
func checkPlainErrors(t testing.TB, r result) {
	t.Helper()
	for _, out := range []string{r.stdout, r.stderr} {
		if libErrorPrefix.MatchString(out) {
			t.Fatalf("the output holds the library's error code: %s", r)
		}
		if binaryUUID.MatchString(out) {
			t.Fatalf("the output shows a key id in base64: %s", r)
		}
	}
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// library opens the key vault of v in-process, with the given KMS providers.
func (v *vault) library(t testing.TB, kmsProviders map[string]map[string]any) *mongocrypt.ClientEncryption {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := mongocrypt.NewClientEncryption(client, options.ClientEncryption().
		SetKeyVaultNamespace(v.ns).SetKmsProviders(kmsProviders))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ce.Close(context.Background()) })
	return ce
}

// collection returns the key vault collection of v, read without the library.
func (v *vault) collection(t testing.TB) *mongo.Collection {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db, coll, _ := strings.Cut(v.ns, ".")
	return client.Database(db).Collection(coll)
}

func (v *vault) keyDocs(t testing.TB) map[string]bson.Raw {
	t.Helper()
	ctx := context.Background()
	cur, err := v.collection(t).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := allDocs(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]bson.Raw, len(docs))
	for _, d := range docs {
		_, id, _ := d.Lookup("_id").BinaryOK()
		m[uuidString(id)] = d
	}
	return m
}

func ejsonString(t testing.TB, v any) string {
	t.Helper()
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	s, err := formatValue(bson.RawValue{Type: typ, Value: data}, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fle1Deterministic encrypts v deterministically with a data key of known material, without
// the library's key vault path.
func fle1Deterministic(t testing.TB, material []byte, id string, v any) []byte {
	t.Helper()
	k, err := aead.NewFLE1(material)
	if err != nil {
		t.Fatal(err)
	}
	bin, ok := parseUUID(id)
	if !ok {
		t.Fatalf("%q is not a UUID", id)
	}
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := fle1.Encrypt(k, [16]byte(bin.Data), fle1.Deterministic, bson.RawValue{Type: typ, Value: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}
