package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// supervisePolicy lets the supervisor approve the demo's publish step.
const supervisePolicy = `{"version": "v1", "rules": [
  {"name": "demo-publish", "reason": "irreversible_action", "step": "publish", "allow": ["approve"]}
]}`

const approveVerdicts = `tool-use name=verdict input='{"decision":"approve","rationale":"the demo report is harmless","confidence":0.95}'`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSuperviseDryRunThenOnce: --dry-run says what it would decide and changes nothing; --once
// decides, signed by the model and policy; a second pass leaves the item alone.
func TestSuperviseDryRunThenOnce(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "r1", "--faults", noFaults(t), store), exitEscalated, "demo")
	id := escalationID(t, store)
	pol := writeFile(t, "policy.json", supervisePolicy)
	verdicts := writeFile(t, "verdicts.txt", approveVerdicts)
	args := []string{"supervise", store, "--policy", pol, "--provider", "fake", "--fake-verdicts", verdicts}

	before := snapshot(t, store)
	r := cli(t, nil, append(args, "--dry-run")...)
	mustCode(t, r, 0, "supervise --dry-run")
	if !strings.Contains(r.stdout, id+" run r1 step publish (irreversible_action): would be resolved: approve (confidence 0.95, allowed by demo-publish") {
		t.Fatalf("dry run printed:\n%s", r.stdout)
	}
	if after := snapshot(t, store); after != before {
		t.Fatal("--dry-run changed the store")
	}

	r = cli(t, nil, append(args, "--once", "--json")...)
	mustCode(t, r, 0, "supervise --once")
	var o struct {
		Item     string `json:"item"`
		Outcome  string `json:"outcome"`
		Decision struct {
			Action, By string
		} `json:"decision"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &o); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if o.Item != id || o.Outcome != "resolved" || o.Decision.Action != "approve" || o.Decision.By != "anthropic/supervisor-fake policy:v1" {
		t.Fatalf("outcome %+v", o)
	}
	show := cli(t, nil, "escalations", "show", id, "--json", store)
	if !strings.Contains(show.stdout, `"resolved"`) || !strings.Contains(show.stdout, "anthropic/supervisor-fake policy:v1") {
		t.Fatalf("escalations show:\n%s", show.stdout)
	}
	r = cli(t, nil, append(args, "--once")...)
	mustCode(t, r, 0, "second pass")
	if !strings.HasPrefix(r.stdout, "0 resolved, 0 routed to a person, 0 supervisor unavailable; 0 model calls") {
		t.Fatalf("second pass:\n%s%s", r.stdout, r.stderr)
	}
}

// TestSuperviseRefusesBadInput names the flag or file at fault, with exit code 2, before
// anything is opened.
func TestSuperviseRefusesBadInput(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	good := writeFile(t, "policy.json", supervisePolicy)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "--policy is required"},
		{[]string{"--policy", "nope.json"}, "nope.json"},
		{[]string{"--policy", writeFile(t, "bad.json", `{"version":"v1","rules":[{"reason":"irreversible_action","allow":["approve"]}]}`)}, "bad.json: rules[0]"},
		{[]string{"--policy", writeFile(t, "typo.json", `{"version":"v1","rulez":[]}`)}, "unknown field"},
		{[]string{"--policy", good, "--provider", "nope"}, `--provider "nope"`},
		{[]string{"--policy", good, "--provider", "fake", "--base-url", "http://x"}, "--base-url applies"},
		{[]string{"--policy", good, "--base-url", "ftp://x"}, "--base-url \"ftp://x\""},
		{[]string{"--policy", good, "--fake-verdicts", "v.txt"}, "--fake-verdicts applies only"},
		{[]string{"--policy", good, "--provider", "fake", "--fake-verdicts", writeFile(t, "v.txt", "explode now")}, "--fake-verdicts"},
		{[]string{"--policy", good, "--interval", "0s"}, "--interval 0s"},
		{[]string{"--policy", good, "--once", "--interval", "5s"}, "--interval applies"},
		{[]string{"--policy", good, "--claim-for", "0s"}, "--claim-for"},
		{[]string{"--policy", good}, "ANTHROPIC_API_KEY"},
	}
	for _, c := range cases {
		r := cli(t, nil, append([]string{"supervise", store}, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("supervise %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	for _, args := range [][]string{{"--policy", good}, {"--supervise"}} {
		r := cli(t, nil, append([]string{"serve", store}, args...)...)
		if r.code != exitUsage {
			t.Errorf("serve %v: exit %d, %s", args, r.code, r.stderr)
		}
	}
}

// TestServeSupervises: `serve --worker --supervise` resolves the demo's publish within the
// policy and the worker in the same process finishes the run.
func TestServeSupervises(t *testing.T) {
	dir := chdirTemp(t)
	dsn := "sqlite:" + filepath.Join(dir, "rebound.db")
	runDemo(t, dsn, "r1", "--faults", noFaults(t))
	pol := writeFile(t, "policy.json", supervisePolicy)
	verdicts := writeFile(t, "verdicts.txt", approveVerdicts)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--store", dsn, "--worker", "--worker-interval", "100ms",
		"--supervise", "--policy", pol, "--provider", "fake", "--fake-verdicts", verdicts}
	out := &lineWriter{prefix: "Supervising ", found: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- execute(ctx, args, env{stdout: out, stderr: out}) }()
	defer func() {
		cancel()
		if c := <-code; c != exitCompleted {
			t.Errorf("serve exited with %d:\n%s", c, out.String())
		}
	}()
	g := &globals{env: env{getenv: func(string) string { return "" }}, store: dsn, storeSet: true}
	s, err := g.openStores(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := s.runs.GetRun(t.Context(), "r1")
		if err == nil && info.Status == checkpoint.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not completed (%v):\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	items, _ := s.queue.List(t.Context(), escalate.Filter{})
	if len(items) != 1 || items[0].Decision == nil || items[0].Decision.By != "anthropic/supervisor-fake policy:v1" {
		t.Fatalf("items %+v", items)
	}
}
