package main

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ledgerLines reads the demo's ledger: one object per executed irreversible call.
func ledgerLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("ledger line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// jsonEventsOf parses --json output.
func jsonEventsOf(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("--json line %q: %v", ln, err)
		}
		evs = append(evs, m)
	}
	return evs
}

// The contract of `rebound demo agent` on the built-in fake: lookup_order down (its breaker
// opens, the model is told, it tries again and succeeds), one invalid input corrected, the
// refund over 50.00 waiting (exit 3); approved and resumed, the refund and the email happen once
// each (exit 0).
func TestDemoAgentContract(t *testing.T) {
	dir := chdirTemp(t)
	store := "--store=sqlite:" + filepath.Join(dir, "rebound.db")
	ledger := filepath.Join(dir, "ledger.jsonl")

	r := cli(t, nil, "demo", "agent", "--run-id", "ticket", "--json", store)
	mustCode(t, r, exitEscalated, "demo agent")
	evs := jsonEventsOf(t, r.stdout)
	has := func(evs []map[string]any, kv map[string]string) bool {
		for _, e := range evs {
			ok := true
			for k, v := range kv {
				if e[k] != v {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, want := range []map[string]string{
		{"event": "tool_started", "tool": "lookup_order", "effect": "read_only"},
		{"event": "breaker_changed", "model": "tool/lookup_order", "to": "open"},
		{"event": "tool_failed", "tool": "lookup_order", "effect": "read_only", "class": "unavailable"},
		{"event": "tool_completed", "tool": "lookup_order", "effect": "read_only"},
		{"event": "tool_failed", "tool": "issue_refund", "effect": "irreversible", "class": "invalid_input"},
		{"event": "escalated", "reason": "irreversible_action"},
	} {
		if !has(evs, want) {
			t.Errorf("--json lacks an event %v", want)
		}
	}
	for _, e := range evs {
		if strings.HasPrefix(e["event"].(string), "tool_") {
			for _, k := range []string{"step", "tool", "call_id", "effect"} {
				if e[k] == nil || e[k] == "" {
					t.Errorf("event %v lacks %q", e, k)
				}
			}
		}
	}
	if t.Failed() {
		t.Fatalf("output:\n%s", r.stdout)
	}
	if n := len(ledgerLines(t, ledger)); n != 0 {
		t.Fatalf("%d ledger lines before approval", n)
	}
	esc := escalationID(t, store, "--status", "open", "--reason", "irreversible_action")
	escShow := cli(t, nil, "escalations", "show", esc, store)
	for _, want := range []string{"issue_refund", `{"amount_cents":7999,"order_id":"1042"}`, "Approving runs issue_refund once"} {
		if !strings.Contains(escShow.stdout, want) {
			t.Errorf("escalations show lacks %q:\n%s", want, escShow.stdout)
		}
	}
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "ana", store), 0, "resolve")
	res := cli(t, nil, "runs", "resume", "ticket", store)
	mustCode(t, res, exitCompleted, "runs resume")
	lines := ledgerLines(t, ledger)
	if len(lines) != 2 || lines[0]["tool"] != "issue_refund" || lines[1]["tool"] != "send_email" {
		t.Fatalf("ledger %v", lines)
	}
	for _, l := range lines {
		for _, k := range []string{"run_id", "tool", "call_id", "arguments"} {
			if l[k] == nil {
				t.Errorf("ledger line %v lacks %q", l, k)
			}
		}
		if l["run_id"] != "ticket" {
			t.Errorf("ledger line %v: run_id", l)
		}
	}
	if a := lines[0]["arguments"].(map[string]any); a["amount_cents"] != float64(7999) || a["order_id"] != "1042" {
		t.Errorf("refund arguments %v", a)
	}
	show := cli(t, nil, "runs", "show", "ticket", store)
	for _, want := range []string{"Tool calls:", "lookup_order [read_only]", "error (unavailable)", "issue_refund [irreversible] {\"amount\":\"79.99\",\"order_id\":\"1042\"} → error (invalid_input)",
		"issue_refund [irreversible] {\"amount_cents\":7999,\"order_id\":\"1042\"} → ok", "decision: approve by ana", "send_email [irreversible]"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show lacks %q:\n%s", want, show.stdout)
		}
	}
	// Run again: completed, nothing runs twice.
	mustCode(t, cli(t, nil, "demo", "agent", "--run-id", "ticket", store), exitCompleted, "rerun")
	if n := len(ledgerLines(t, ledger)); n != 2 {
		t.Fatalf("%d ledger lines after a rerun, want 2", n)
	}
}

func TestDemoAgentEditRunsTheEditedCall(t *testing.T) {
	dir := chdirTemp(t)
	store := "--store=sqlite:" + filepath.Join(dir, "rebound.db")
	mustCode(t, cli(t, nil, "demo", "agent", "--run-id", "rej", store), exitEscalated, "demo agent")
	esc := escalationID(t, store, "--status", "open")
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "edit", "--answer", `{"order_id":"1042","amount_cents":4000}`, "--by", "ana", store), 0, "resolve edit")
	r := cli(t, nil, "runs", "resume", "rej", store)
	mustCode(t, r, exitCompleted, "runs resume")
	lines := ledgerLines(t, filepath.Join(dir, "ledger.jsonl"))
	if len(lines) != 2 || lines[0]["arguments"].(map[string]any)["amount_cents"] != float64(4000) {
		t.Fatalf("ledger %v", lines)
	}
}

// Killed with SIGKILL at random moments and run again with the same --run-id (a person
// approving whatever waits), the demo never writes a second ledger line for one call id.
func TestDemoAgentKilledNeverRepeatsAnIrreversibleCall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rebound")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	store := "--store=sqlite:" + filepath.Join(dir, "rebound.db")
	run := func(kill time.Duration, args ...string) int {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			return 0
		case <-time.After(kill):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return -1
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	const trials = 3
	for trial := range trials {
		id := "k" + strconv.Itoa(trial)
		code := -1
		for i := 0; i < 20 && code != 0; i++ {
			// Kill at a random moment of the run (the whole of it takes about 1.2 s), at most
			// three times a trial.
			d := time.Duration(100+rng.IntN(1300)) * time.Millisecond
			if i >= 3 {
				d = time.Minute
			}
			code = run(d, "demo", "agent", "--run-id", id, store)
			switch code {
			case -1:
				kills++
			case exitEscalated:
				r := cli(t, nil, "escalations", "list", "--json", "--status", "open", store)
				var items []map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) == 0 {
					t.Fatalf("exit 3 with no open escalation: %v %s", err, r.stdout)
				}
				mustCode(t, cli(t, nil, "escalations", "resolve", items[0]["id"].(string), "--action", "approve", "--by", "ana", store), 0, "resolve")
			case 0:
			default:
				t.Fatalf("run %s: exit code %d", id, code)
			}
		}
		if code != 0 {
			t.Fatalf("run %s did not complete (last exit %d)", id, code)
		}
	}
	lines := ledgerLines(t, filepath.Join(dir, "ledger.jsonl"))
	seen := map[string]bool{}
	for _, l := range lines {
		k := l["run_id"].(string) + " " + l["call_id"].(string)
		if seen[k] {
			t.Fatalf("call %s written twice: %v", k, lines)
		}
		seen[k] = true
	}
	if len(lines) != 2*trials {
		t.Fatalf("%d ledger lines, want the refund and the email of each of %d runs", len(lines), trials)
	}
	t.Logf("%d trials, %d kills; ledger %d lines, none twice", trials, kills, len(lines))
}
