package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("REBOUND_TEST_AS_MAIN") == "1" {
		// This test binary is the rebound command, for tests that signal a real process.
		os.Args = append([]string{"rebound"}, os.Args[1:]...)
		main()
	}
	goleak.VerifyTestMain(m)
}

// result is what one command printed and its exit code.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the rebound command line args in this process, with env as the environment (nothing
// else of the real environment is visible) and stdout not a terminal.
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(t.Context(), args, env2(&out, &errb, env))
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func env2(out, errb *bytes.Buffer, vars map[string]string) env {
	return env{stdout: out, stderr: errb, getenv: func(k string) string { return vars[k] }}
}

// tempStore returns a --store flag for a fresh SQLite file.
func tempStore(t *testing.T) string {
	t.Helper()
	return "--store=sqlite:" + filepath.Join(t.TempDir(), "rebound.db")
}

// noFaults writes an empty fault script, for a quick demo run that stops at publish.
func noFaults(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "none.txt")
	if err := os.WriteFile(p, []byte("# no faults\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// chdirTemp makes a temporary directory the working directory (the demo writes ./reports).
func chdirTemp(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	t.Chdir(d)
	return d
}

// snapshot is the store's whole visible state, to check that a refused command changed nothing.
func snapshot(t *testing.T, store string) string {
	t.Helper()
	var b strings.Builder
	runs := cli(t, nil, "runs", "list", "--json", store)
	if runs.code != 0 {
		t.Fatalf("runs list: %d %s", runs.code, runs.stderr)
	}
	b.WriteString(runs.stdout)
	var rl []struct{ ID string }
	if err := json.Unmarshal([]byte(runs.stdout), &rl); err != nil {
		t.Fatal(err)
	}
	for _, r := range rl {
		b.WriteString(cli(t, nil, "runs", "show", r.ID, "--json", store).stdout)
	}
	items := cli(t, nil, "escalations", "list", "--json", store)
	b.WriteString(items.stdout)
	var il []struct{ ID string }
	if err := json.Unmarshal([]byte(items.stdout), &il); err != nil {
		t.Fatal(err)
	}
	for _, it := range il {
		b.WriteString(cli(t, nil, "escalations", "show", it.ID, "--json", store).stdout)
	}
	return b.String()
}

func mustCode(t *testing.T, r result, want int, what string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, want, r.stdout, r.stderr)
	}
}

// escalationID returns the ID of the only escalation in the store.
func escalationID(t *testing.T, store string, filters ...string) string {
	t.Helper()
	r := cli(t, nil, append([]string{"escalations", "list", "--json", store}, filters...)...)
	mustCode(t, r, 0, "escalations list")
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("escalations list --json: %v\n%s", err, r.stdout)
	}
	if len(items) != 1 {
		t.Fatalf("want one escalation, got %d: %s", len(items), r.stdout)
	}
	return items[0]["id"].(string)
}

var _ = context.Background
