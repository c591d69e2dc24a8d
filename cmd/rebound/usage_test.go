package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// Every refused command exits 2, says what was wrong naming the flag or value, and leaves the
// store as it was.
func TestRefusedCommandsExit2AndChangeNothing(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	faults := noFaults(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "r1", "--faults", faults, store), exitEscalated, "demo")
	esc := escalationID(t, store)
	badScript := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(badScript, []byte("error 429\nexplode now\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, store)
	// A mistyped store path: refused without leaving a new database behind.
	stray := filepath.Join(t.TempDir(), "mistyped.db")

	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"frobnicate"}, want: `unknown command "frobnicate"`},
		{args: []string{"runs", "list", "--frob"}, want: "unknown flag: --frob"},
		{args: []string{"runs", "list", "--store", "mysql://h/db"}, want: `--store "mysql://h/db": unknown scheme "mysql"`},
		{args: []string{"runs", "list"}, env: map[string]string{"REBOUND_STORE": "rebound.db"}, want: "REBOUND_STORE"},
		{args: []string{"runs", "list", "--store", "sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")}, want: "no database at"},
		{args: []string{"runs", "list", "--store", "sqlite:" + stray}, want: "no database at " + stray},
		{args: []string{"runs", "show", "r1", "--store", "sqlite:" + stray}, want: "no database at"},
		{args: []string{"escalations", "list", "--store", "sqlite:" + stray}, want: "no database at"},
		{args: []string{"escalations", "resolve", esc, "--action", "approve", "--by", "a", "--store", "sqlite:" + stray}, want: "no database at"},
		{args: []string{"serve", "--addr", "0.0.0.0:0", "--store", "sqlite:" + stray}, want: "refusing to serve without a token"},
		{args: []string{"runs", "list", "--status", "sleeping"}, want: `--status "sleeping"`},
		{args: []string{"runs", "show"}, want: "missing ID"},
		{args: []string{"runs", "show", "nope"}, want: `run "nope" not found`},
		{args: []string{"runs", "resume", "nope"}, want: `run "nope" not found`},
		{args: []string{"runs", "resume", "r1", "--provider", "bogus"}, want: `--provider "bogus"`},
		{args: []string{"runs", "resume", "r1", "--faults", badScript}, want: "line 2"},
		{args: []string{"escalations", "list", "--status", "pending"}, want: `--status "pending"`},
		{args: []string{"escalations", "show", "esc_nope"}, want: `escalation "esc_nope" not found`},
		{args: []string{"escalations", "claim", esc}, want: "--by is required"},
		{args: []string{"escalations", "resolve", esc, "--by", "alice"}, want: "--action is required"},
		{args: []string{"escalations", "resolve", esc, "--action", "maybe", "--by", "alice"}, want: `--action "maybe"`},
		{args: []string{"escalations", "resolve", esc, "--action", "respond", "--by", "alice"}, want: "needs --answer"},
		{args: []string{"escalations", "resolve", esc, "--action", "approve", "--answer", "x", "--by", "alice"}, want: "--answer applies only to --action respond"},
		{args: []string{"escalations", "resolve", esc, "--action", "approve"}, want: "--by is required"},
		{args: []string{"escalations", "resolve", "esc_nope", "--action", "approve", "--by", "alice"}, want: `escalation "esc_nope" not found`},
		{args: []string{"demo", "--run-id", "bad id!"}, want: `--run-id "bad id!"`},
		{args: []string{"demo", "--provider", "bogus"}, want: `--provider "bogus"`},
		{args: []string{"demo", "--provider", "anthropic"}, want: "ANTHROPIC_API_KEY"},
		{args: []string{"demo", "--provider", "openai"}, want: openAIRefusal},
		{args: []string{"demo", "--provider", "openai", "--faults", faults}, want: "--faults applies only to --provider fake"},
		{args: []string{"demo", "--faults", filepath.Join(t.TempDir(), "missing.txt")}, want: "--faults"},
		{args: []string{"demo", "--faults", badScript}, want: `line 2: unknown rule "explode"`},
		{args: []string{"demo", "--base-url", "http://127.0.0.1:1"}, want: "--base-url applies to --provider anthropic or openai"},
		{args: []string{"demo", "--provider", "anthropic", "--base-url", "ftp://x"}, want: `--base-url "ftp://x"`},
		{args: []string{"demo", "--fallback-model", "demo-large"}, want: "is the primary model too"},
		{args: []string{"demo", "--run-id", "r1", "--topic", "Another topic"}, want: "was started with --topic"},
		{args: []string{"demo", "extra"}, want: `unexpected argument "extra"`},
		{args: []string{"serve", "--addr", "0.0.0.0:0"}, want: "refusing to serve without a token"},
		{args: []string{"serve", "--addr", "nonsense"}, want: `--addr "nonsense"`},
		{args: []string{"fakellm", "--script", badScript}, want: "line 2"},
		{args: []string{"fakellm", "--addr", "0.0.0.0:0"}, want: "not a loopback address"},
		{args: []string{"fakellm", "--log-size", "-1"}, want: "--log-size -1"},
	} {
		args := append(append([]string{}, c.args...), store)
		if slices.Contains(c.args, "--store") || (len(c.args) > 1 && c.args[0] == "runs" && c.env != nil) || c.args[0] == "fakellm" {
			args = c.args // these name their own store, or have none (fakellm refuses --store)
		}
		r := cli(t, c.env, args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit code %d, want 2\nstdout: %s\nstderr: %s", c.args, r.code, r.stdout, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("a refused command created %s (%v)", stray, err)
	}
	if after := snapshot(t, store); after != before {
		t.Errorf("refused commands changed the store:\nbefore: %s\nafter:  %s", before, after)
	}
}

// A run held by another live worker is refused with exit code 2 and a message naming the owner
// and when its lease ends; the store is not changed.
func TestRunHeldByLiveWorkerExits2(t *testing.T) {
	chdirTemp(t)
	path := filepath.Join(t.TempDir(), "rebound.db")
	store := "--store=sqlite:" + path
	mustCode(t, cli(t, nil, "demo", "--run-id", "held", "--faults", noFaults(t), store), exitEscalated, "demo")

	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	input, _ := json.Marshal(demoInput{Topic: defaultTopic, Provider: providerFake, Model: demoPrimary})
	if _, err := st.ClaimRun(context.Background(), checkpoint.ClaimRequest{RunID: "held", Owner: "elsewhere/4242",
		TTL: time.Minute, Workflow: researchWorkflow, Input: input}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, store)
	for _, args := range [][]string{{"runs", "resume", "held"}, {"demo", "--run-id", "held"}} {
		r := cli(t, nil, append(args, store)...)
		mustCode(t, r, exitUsage, strings.Join(args, " "))
		if !strings.Contains(r.stderr, "held by another live worker, elsewhere/4242, until") {
			t.Errorf("%v: stderr %q does not name the owner and the lease's end", args, r.stderr)
		}
	}
	if after := snapshot(t, store); after != before {
		t.Errorf("the refused resume changed the store")
	}
}

// A run of another workflow cannot be resumed by the demo's code.
func TestResumeRefusesOtherWorkflows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	r := checkpoint.NewRunner(st, checkpoint.Config{})
	err = r.Run(t.Context(), "docs-1", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "load", func(context.Context) (int, error) { return 1, nil })
		return err
	}, checkpoint.WithWorkflow("documents", nil))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := cli(t, nil, "runs", "resume", "docs-1", "--store=sqlite:"+path)
	mustCode(t, res, exitUsage, "runs resume")
	if !strings.Contains(res.stderr, `belongs to workflow documents`) {
		t.Errorf("stderr %q does not name the workflow", res.stderr)
	}
}

func TestHelpHasExamplesEverywhere(t *testing.T) {
	g := &globals{env: env{getenv: func(string) string { return "" }}}
	root := newRootCmd(g)
	var check func(c *cobra.Command)
	check = func(c *cobra.Command) {
		if c.Runnable() && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s --help has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			check(sub)
		}
	}
	check(root)
	r := cli(t, nil, "escalations", "resolve", "--help")
	mustCode(t, r, 0, "--help")
	if !strings.Contains(r.stdout, "--action approve --by alice") {
		t.Errorf("resolve --help lacks its examples:\n%s", r.stdout)
	}
}

func TestExitCodeMapping(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usagef("x"), 2},
		{&checkpoint.LeaseHeldError{RunID: "r"}, 2},
		{&checkpoint.EscalatedError{RunID: "r"}, 3},
		{&silentError{&checkpoint.EscalatedError{RunID: "r"}}, 3},
		{&silentError{&checkpoint.RejectedError{RunID: "r"}}, 1},
		{os.ErrNotExist, 1},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestEscalationShowJSONHasAuditTrail(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "a1", "--faults", noFaults(t), store), exitEscalated, "demo")
	esc := escalationID(t, store)
	mustCode(t, cli(t, nil, "escalations", "claim", esc, "--by", "alice", store), 0, "claim")
	// Someone else cannot decide while alice holds it.
	r := cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "bob", store)
	mustCode(t, r, exitUsage, "resolve by bob")
	if !strings.Contains(r.stderr, "claimed by alice") {
		t.Errorf("resolve by bob: %s", r.stderr)
	}
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "reject", "--note", "wrong audience", "--by", "alice", store), 0, "resolve")
	show := cli(t, nil, "escalations", "show", esc, "--json", store)
	mustCode(t, show, 0, "show")
	var it struct {
		ID       string
		Status   string
		Decision struct{ Action, Note, By string }
		Audit    []struct{ Event, By string }
	}
	if err := json.Unmarshal([]byte(show.stdout), &it); err != nil {
		t.Fatal(err)
	}
	if it.ID != esc || it.Status != "resolved" || it.Decision.Action != "reject" || it.Decision.By != "alice" {
		t.Errorf("show --json: %+v", it)
	}
	var events []string
	for _, a := range it.Audit {
		events = append(events, a.Event+"/"+a.By)
	}
	if got := strings.Join(events, " "); !strings.Contains(got, "claimed/alice") || !strings.Contains(got, "resolved/alice") {
		t.Errorf("audit trail: %s", got)
	}
	// A rejected step fails the run on resume: exit code 1.
	res := cli(t, nil, "runs", "resume", "a1", store)
	mustCode(t, res, exitFailed, "resume after reject")
	if !strings.Contains(res.stdout, "rejected by alice: wrong audience") {
		t.Errorf("resume after reject:\n%s", res.stdout)
	}
}
