package mongocrypt_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/testenv"
)

// TestConsumerModuleGraph proves that an application importing only this package inherits no
// module but the driver's own and golang.org/x: it lists `go list -m all` of two consumer
// modules, one importing the driver alone and one importing this package (replaced by this
// tree), and compares them.
func TestConsumerModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command (go mod tidy) in temporary modules")
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool := testenv.GoTool()
	list := func(name, imp, extra string) map[string]bool {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		mod := "module example.com/" + name + "\n\ngo 1.26\n" + extra
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
			t.Fatal(err)
		}
		src := "package main\n\nimport _ \"" + imp + "\"\n\nfunc main() {}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		run := func(args ...string) string {
			cmd := exec.Command(goTool, args...)
			cmd.Dir = dir
			// The checksum database may be unreachable (it is on CI); the module graph, not
			// the downloads' integrity, is what this test checks.
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: go %s: %v\n%s", name, strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
		}
		run("mod", "tidy")
		mods := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(run("list", "-m", "-f", "{{.Path}}", "all")), "\n") {
			mods[line] = true
		}
		return mods
	}
	driverOnly := list("driveronly", "go.mongodb.org/mongo-driver/v2/mongo", "\nrequire go.mongodb.org/mongo-driver/v2 v2.10.0\n")
	withUs := list("consumer", "github.com/mongocrypt-go/mongocrypt",
		"\nrequire github.com/mongocrypt-go/mongocrypt v0.0.0\n\nreplace github.com/mongocrypt-go/mongocrypt => "+filepath.ToSlash(root)+"\n")
	for m := range withUs {
		switch {
		case driverOnly[m], m == "example.com/consumer", m == "github.com/mongocrypt-go/mongocrypt",
			strings.HasPrefix(m, "golang.org/x/"):
		default:
			t.Errorf("a consumer of the library inherits the module %s, which neither the driver nor golang.org/x brings", m)
		}
	}
	t.Logf("consumer modules: %d (driver alone: %d)", len(withUs), len(driverOnly))
}
