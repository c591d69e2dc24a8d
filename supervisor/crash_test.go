package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/internal/sigkill"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/store/sqlite"
)

// The crash test's child processes: the test binary re-executed with crashRole set runs a
// supervisor or a resume worker over the SQLite file crashDB until it is killed.
const (
	crashRole    = "REBOUND_SUPERVISOR_CRASH_ROLE"
	crashDB      = "REBOUND_SUPERVISOR_CRASH_DB"
	crashEffects = "REBOUND_SUPERVISOR_CRASH_EFFECTS"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(crashRole); role != "" {
		os.Exit(crashChild(role, os.Getenv(crashDB), os.Getenv(crashEffects)))
	}
	os.Exit(m.Run())
}

const crashPolicy = `{"version": "crash-1", "timeout": "5s", "rules": [
  {"name": "currency", "reason": "requires_human", "step": "ask_currency", "allow": ["respond"], "answers": ["EUR"]}
]}`

// crashWorkflow asks a person (or the supervisor) for a currency, then books once: the booking
// is irreversible, so a worker killed inside it leaves it in doubt (escalated ambiguous_state,
// which the supervisor never decides) rather than booking twice. Each booking appends a line
// to the effects file.
func crashWorkflow(effects string) checkpoint.Workflow {
	return func(ctx context.Context, run *checkpoint.Run) error {
		cur, err := checkpoint.Step(ctx, run, "ask_currency", func(ctx context.Context) (string, error) {
			return "", checkpoint.Escalate(rebound.ReasonRequiresHuman, "Which currency should the quote use?", nil)
		})
		if err != nil {
			return err
		}
		_, err = checkpoint.Step(ctx, run, "book", func(ctx context.Context) (string, error) {
			f, err := os.OpenFile(effects, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			defer f.Close()
			if _, err := fmt.Fprintf(f, "%s %s\n", run.ID(), cur); err != nil {
				return "", err
			}
			return "booked in " + cur, f.Sync()
		}, checkpoint.Irreversible())
		return err
	}
}

func crashRunner(st *sqlite.Store) (*checkpoint.Runner, *escalate.Queue) {
	q := escalate.NewQueue(st, escalate.Config{})
	return checkpoint.NewRunner(st, checkpoint.Config{Escalations: q, LeaseTTL: 2 * time.Second, Heartbeat: 500 * time.Millisecond}), q
}

func crashChild(role, db, effects string) int {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	runner, q := crashRunner(st)
	switch role {
	case "worker":
		w, err := checkpoint.NewWorker(runner, checkpoint.WorkerConfig{
			Workflows: map[string]checkpoint.Workflow{"crash": crashWorkflow(effects)},
			Interval:  20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: quiet, Recover: true,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		_ = w.Run(ctx)
	case "supervisor":
		// A reviewer that takes 5 to 40 ms, so that kills land inside reviews too.
		h, err := fakellm.New("latency 5ms..40ms\n"+
			`tool-use name=verdict input='{"decision":"respond","answer":"EUR","rationale":"the customer pays in euros","confidence":0.95}'`, fakellm.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		srv := fakellm.Serve(h)
		defer srv.Close()
		model := anthropicllm.New(anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("k"), option.WithMaxRetries(0)), "claude-sonnet-4-5")
		pol, err := ParsePolicy([]byte(crashPolicy))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		s, err := New(Config{Queue: q, Model: model, Policy: pol, ClaimFor: time.Second, Interval: 20 * time.Millisecond, Logger: quiet})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		_ = s.Run(ctx)
	}
	return 0
}

// crashProc is one child process.
type crashProc struct {
	role string
	cmd  *exec.Cmd
}

func startChild(t *testing.T, role, db, effects string) *crashProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashRole+"="+role, crashDB+"="+db, crashEffects+"="+effects)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &crashProc{role: role, cmd: cmd}
}

// kill ends the child with SIGKILL and reaps it (a zombie would still look alive to the next
// worker's check of the dead owner).
func (p *crashProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	err := p.cmd.Wait()
	if err != nil && !sigkill.Killed(err) {
		t.Fatalf("%s child: %v", p.role, err)
	}
	if err == nil {
		t.Fatalf("%s child exited by itself", p.role)
	}
}

// TestCrashSupervisorAndWorker kills the supervisor and the resume worker, real processes
// sharing one SQLite file, 100 times at random moments while they decide and resume 60 runs
// that each wait on a question the supervisor may answer. Then it lets them finish and checks
// that every decision was written once and acted on once: no item decided twice, no run
// booked twice, no decision lost (every run booked, or in doubt at its irreversible step
// and handed to a person).
func TestCrashSupervisorAndWorker(t *testing.T) {
	if !sigkill.Supported {
		t.Skip("no SIGKILL on this system")
	}
	if testing.Short() {
		t.Skip("crash test: -short")
	}
	const runs, kills = 60, 100
	ctx := context.Background()
	dir := t.TempDir()
	db, effects := filepath.Join(dir, "crash.db"), filepath.Join(dir, "effects.txt")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runner, q := crashRunner(st)
	for i := range runs {
		err := runner.Run(ctx, fmt.Sprintf("crash-%03d", i), crashWorkflow(effects), checkpoint.WithWorkflow("crash", nil))
		if !errors.Is(err, checkpoint.ErrEscalated) {
			t.Fatalf("run %d: %v, want escalated", i, err)
		}
	}
	start := time.Now()
	procs := map[string]*crashProc{
		"supervisor": startChild(t, "supervisor", db, effects),
		"worker":     startChild(t, "worker", db, effects),
	}
	defer func() {
		for _, p := range procs {
			p.kill(t)
		}
	}()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 18))
	t.Logf("kill moments drawn with seed %d", seed)
	killed := map[string]int{}
	for range kills {
		time.Sleep(time.Duration(5+rng.IntN(120)) * time.Millisecond)
		role := "supervisor"
		if rng.IntN(2) == 1 {
			role = "worker"
		}
		procs[role].kill(t)
		killed[role]++
		procs[role] = startChild(t, role, db, effects)
	}
	killPhase := time.Since(start)

	// Let the survivors finish: every run booked, or waiting on an in-doubt booking that the
	// supervisor has handed to a person. The deadline only bounds a stuck test: settling 60 runs
	// took a few seconds on a quiet machine, but once more than 30 s under -race with the
	// machine's two cores saturated by other builds.
	deadline := time.Now().Add(90 * time.Second)
	var done, inDoubt int
	for {
		done, inDoubt = 0, 0
		settled := true
		infos, err := st.ListRuns(ctx, checkpoint.RunFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			switch info.Status {
			case checkpoint.StatusCompleted:
				done++
			case checkpoint.StatusEscalated:
				it, err := q.Get(ctx, info.EscalationID)
				if err == nil && it.Reason == rebound.ReasonAmbiguousState && routedBy(t, q, it.ID) {
					inDoubt++
					continue
				}
				settled = false
			default:
				settled = false
			}
		}
		if settled && len(infos) == runs {
			break
		}
		if time.Now().After(deadline) {
			for _, info := range infos {
				if info.Status == checkpoint.StatusCompleted {
					continue
				}
				it, err := q.Get(ctx, info.EscalationID)
				audit, _ := q.Audit(ctx, info.EscalationID)
				var trail []string
				for _, a := range audit {
					trail = append(trail, fmt.Sprintf("%s by %s (%s)", a.Event, a.By, a.Note))
				}
				t.Logf("run %s: %s, escalation %s: %s %s %v; audit: %s", info.ID, info.Status, info.EscalationID, it.Status, it.Reason, err, strings.Join(trail, "; "))
			}
			t.Fatalf("not settled after the kills: %d of %d runs booked, %d in doubt", done, runs, inDoubt)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exactly once: one supervisor decision per question, one booking per run at most, and a
	// booking for every run that completed.
	items, err := q.List(ctx, escalate.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var decisions, reclaimed, twice int
	for _, it := range items {
		audit, err := q.Audit(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		resolved, claims := 0, 0
		for _, a := range audit {
			switch a.Event {
			case escalate.AuditResolved:
				resolved++
			case escalate.AuditClaimed:
				claims++
			}
		}
		if it.Reason == rebound.ReasonRequiresHuman {
			if resolved != 1 || it.Decision == nil || it.Decision.Actor != rebound.ActorSupervisor || it.Decision.Answer != "EUR" {
				t.Errorf("%s (run %s): %d decisions, decision %+v: want one supervisor decision", it.ID, it.RunID, resolved, it.Decision)
			}
			decisions += resolved
			if claims > 1 {
				reclaimed++
			}
		}
		if resolved > 1 {
			twice++
		}
	}
	booked := map[string]int{}
	f, err := os.Open(effects)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		run, cur, _ := strings.Cut(sc.Text(), " ")
		if cur != "EUR" {
			t.Errorf("run %s booked in %q", run, cur)
		}
		booked[run]++
	}
	f.Close()
	doubles := 0
	for run, n := range booked {
		if n > 1 {
			doubles++
			t.Errorf("run %s booked %d times", run, n)
		}
	}
	lost := runs - done - inDoubt
	for i := range runs {
		id := fmt.Sprintf("crash-%03d", i)
		info, err := st.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status == checkpoint.StatusCompleted && booked[id] != 1 {
			t.Errorf("run %s completed with %d bookings", id, booked[id])
		}
	}
	t.Logf("%d SIGKILLs (%d supervisor, %d worker) in %s over %d runs; settled %s later",
		kills, killed["supervisor"], killed["worker"], killPhase.Round(time.Millisecond), runs, (time.Since(start) - killPhase).Round(time.Millisecond))
	t.Logf("decisions: %d of %d questions decided once by the supervisor, %d decided twice; %d re-claimed after a killed supervisor",
		decisions, runs, twice, reclaimed)
	t.Logf("resumes: %d runs booked once, %d booked twice, %d in doubt at the booking (handed to a person), %d lost",
		done, doubles, inDoubt, lost)
	if lost != 0 || twice != 0 || doubles != 0 {
		t.Errorf("lost %d, decided twice %d, booked twice %d: want 0", lost, twice, doubles)
	}
}

// routedBy reports whether a supervisor handed the item to a person.
func routedBy(t *testing.T, q *escalate.Queue, id string) bool {
	t.Helper()
	audit, err := q.Audit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audit {
		if a.Event == escalate.AuditRouted {
			return true
		}
	}
	return false
}
