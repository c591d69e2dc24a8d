package rebound_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/rebound-go/rebound"

// corePackages import only the standard library and the module (docs/architecture.md, "Layout").
var corePackages = []string{".", "retry", "breaker", "fallback", "timeout", "checkpoint", "escalate", "ratelimit", "pipeline", "agent"}

// TestCoreImports fails when a core package depends, directly or not, on anything outside the
// standard library and the module. A core package that is missing is a failure too: the list
// above is the design's.
func TestCoreImports(t *testing.T) {
	goBin := goCommand(t)
	var pkgs []string
	for _, dir := range corePackages {
		if matches, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(matches) == 0 {
			t.Errorf("core package %s has no Go files", dir)
			continue
		}
		pkgs = append(pkgs, "./"+dir)
	}
	cmd := exec.Command(goBin, append([]string{"list", "-e", "-deps", "-f", "{{.ImportPath}} {{.Standard}}"}, pkgs...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, stderr.String())
	}
	if bad := outsideImports(string(out)); len(bad) > 0 {
		t.Fatalf("core packages %v depend on packages outside the standard library and %s:\n  %s\n(core packages import only the standard library; put heavy dependencies in leaf packages)",
			pkgs, module, strings.Join(bad, "\n  "))
	}
}

// outsideImports returns the packages of `go list -deps -f '{{.ImportPath}} {{.Standard}}'`
// output that are neither standard nor in the module.
func outsideImports(list string) []string {
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		path, standard, _ := strings.Cut(line, " ")
		if path == "" || standard == "true" || path == module || strings.HasPrefix(path, module+"/") {
			continue
		}
		bad = append(bad, path)
	}
	return bad
}

func TestOutsideImports(t *testing.T) {
	list := "errors true\nnet/http true\ngithub.com/rebound-go/rebound false\ngithub.com/rebound-go/rebound/retry false\n" +
		"github.com/redis/go-redis/v9 false\ngithub.com/rebound-go/reboundx false\ngolang.org/x/sync/errgroup false\n"
	got := strings.Join(outsideImports(list), ",")
	if want := "github.com/redis/go-redis/v9,github.com/rebound-go/reboundx,golang.org/x/sync/errgroup"; got != want {
		t.Fatalf("outsideImports = %s, want %s", got, want)
	}
}

// TestCheckpointEscalateApart fails when checkpoint and escalate depend on each other: the
// vocabulary they share (Escalation, EscalationReason, Action, Decision) lives in this package.
func TestCheckpointEscalateApart(t *testing.T) {
	goBin := goCommand(t)
	for _, pair := range [][2]string{{"checkpoint", "escalate"}, {"escalate", "checkpoint"}} {
		out, err := exec.Command(goBin, "list", "-deps", "./"+pair[0]).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pair[0], err)
		}
		for _, line := range strings.Fields(string(out)) {
			if line == module+"/"+pair[1] {
				t.Errorf("package %s imports %s; the shared escalation vocabulary belongs in the root package", pair[0], pair[1])
			}
		}
	}
}

// goCommand finds the go command; `go test` puts its own first on PATH.
func goCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	return p
}
