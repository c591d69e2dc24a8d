package checkpointtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"

	"github.com/rebound-go/rebound/internal/crashtest"
	"github.com/rebound-go/rebound/internal/sigkill"
)

// Boundary is a point of the write-ahead protocol at which the crash test kills the process.
type Boundary string

// The persistence boundaries.
const (
	// BeforeIntent ("before_intent"): the previous step is recorded; this one's intent is not.
	BeforeIntent Boundary = crashtest.BeforeIntent
	// AfterIntent ("after_intent"): the intent is recorded; the step has not run.
	AfterIntent Boundary = crashtest.AfterIntent
	// AfterSideEffect ("after_side_effect"): the step's effect happened; its result is not
	// recorded.
	AfterSideEffect Boundary = crashtest.AfterSideEffect
	// AfterResult ("after_result"): the result is recorded; the workflow has not advanced.
	AfterResult Boundary = crashtest.AfterResult
)

const (
	crashSteps = 10 // steps of the crash workflow; odd ones are irreversible
	envNoop    = "CHECKPOINTTEST_NOOP"
)

// crashVars are the crash children's environment variables.
var crashVars = crashtest.Vars{Child: "CHECKPOINTTEST_CRASH_CHILD", DSN: "CHECKPOINTTEST_DSN",
	RunID: "CHECKPOINTTEST_RUN_ID", Log: "CHECKPOINTTEST_EFFECTS", Kill: "CHECKPOINTTEST_KILL"}

// Boundaries lists the four boundaries in protocol order.
var Boundaries = []Boundary{BeforeIntent, AfterIntent, AfterSideEffect, AfterResult}

// OpenDSN opens the store named by dsn, in the test process and in every child process.
type OpenDSN func(ctx context.Context, dsn string) (checkpoint.Store, func(), error)

// CrashMain must be called first in the TestMain of a package that runs Crash: in a child
// process started by Crash it runs the crash workflow and exits; otherwise it returns.
func CrashMain(open OpenDSN) {
	if os.Getenv(envNoop) != "" {
		os.Exit(0)
	}
	if os.Getenv(crashVars.Child) == "" {
		return
	}
	os.Exit(crashChild(open))
}

func crashChild(open OpenDSN) int {
	ctx := context.Background()
	s, closeStore, err := open(ctx, os.Getenv(crashVars.DSN))
	if err != nil {
		return crashtest.OpenFailed(err)
	}
	defer closeStore()
	b, killAt := crashtest.ParseKill(os.Getenv(crashVars.Kill))
	boundary := Boundary(b)
	ks := crashtest.KillAtStep(s, b, func(r checkpoint.StepRecord) bool { return r.Index == killAt })
	effects := os.Getenv(crashVars.Log)
	esc := &crashtest.FileEscalator{Path: effects + ".escalations"}
	r := checkpoint.NewRunner(ks, checkpoint.Config{Escalations: esc})
	err = r.Run(ctx, os.Getenv(crashVars.RunID), func(ctx context.Context, run *checkpoint.Run) error {
		for i := range crashSteps {
			var opts []checkpoint.StepOption
			if i%2 == 1 {
				opts = append(opts, checkpoint.Irreversible())
			}
			if _, err := checkpoint.Step(ctx, run, "step"+strconv.Itoa(i), func(ctx context.Context) (int, error) {
				f, err := os.OpenFile(effects, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					return 0, err
				}
				_, err = fmt.Fprintf(f, "%d %s %d\n", i, checkpoint.IdempotencyKey(ctx), os.Getpid())
				f.Close()
				if err != nil {
					return 0, err
				}
				if boundary == AfterSideEffect && i == killAt {
					sigkill.Self()
				}
				return i, nil
			}, opts...); err != nil {
				return err
			}
		}
		return nil
	})
	return crashtest.Report(err)
}

// CrashCounts are the outcomes of a crash test, per boundary.
type CrashCounts struct {
	Trials, Killed, Completed, Escalated int
	// ExactlyOnce counts completed steps verified to have taken effect exactly once.
	ExactlyOnce int
	// IdempotentReruns counts idempotent in-doubt steps re-run with the same key.
	IdempotentReruns int
	// IrreversibleEscalated counts irreversible in-doubt steps escalated and not re-run.
	IrreversibleEscalated int
}

// Crash runs the crash test: for each boundary, perBoundary trials, each killing a child process
// (this test binary, re-executed; its TestMain must call CrashMain) with SIGKILL at that boundary
// of a random step of a five-step workflow, then resuming the run in a new process and checking
// the side-effect log: every completed step took effect exactly once; an irreversible in-doubt
// step was escalated (ambiguous_state) and not re-run; an idempotent in-doubt step re-ran with the
// same idempotency key; the store opened cleanly every time. It returns the counts per boundary.
func Crash(t *testing.T, dsn string, open OpenDSN, perBoundary, parallel int) map[Boundary]*CrashCounts {
	t.Helper()
	counts := map[Boundary]*CrashCounts{}
	for _, b := range Boundaries {
		counts[b] = &CrashCounts{}
	}
	crashtest.Trials(t, dsn, open, crashVars, "crash", "step", Boundaries, perBoundary, parallel, crashSteps,
		func(tr crashtest.Trial[Boundary]) CrashCounts { return crashTrial(t, tr) },
		func(b Boundary, c CrashCounts) {
			cc := counts[b]
			cc.Trials++
			cc.Killed += c.Killed
			cc.Completed += c.Completed
			cc.Escalated += c.Escalated
			cc.ExactlyOnce += c.ExactlyOnce
			cc.IdempotentReruns += c.IdempotentReruns
			cc.IrreversibleEscalated += c.IrreversibleEscalated
		})
	return counts
}

// crashTrial checks a trial: what the resumed run reported and recorded against the side
// effects its steps logged.
func crashTrial(t *testing.T, tr crashtest.Trial[Boundary]) CrashCounts {
	c := CrashCounts{Killed: 1}
	id, b, k, res, v := tr.ID, tr.Boundary, tr.At, tr.Result, tr.Run
	ran := readEffects(t, tr.Log)
	inDoubt := b == AfterIntent || b == AfterSideEffect
	irreversible := k%2 == 1
	wantEscalated := inDoubt && irreversible
	switch {
	case wantEscalated:
		if res.Status != "escalated" || res.Reason != string(rebound.ReasonAmbiguousState) || res.Step != "step"+strconv.Itoa(k) ||
			v.Status != checkpoint.StatusEscalated {
			t.Errorf("%s: irreversible step %d in doubt: resume gave %+v, run %s; want an ambiguous_state escalation", id, k, res, v.Status)
			return c
		}
		want := 0
		if b == AfterSideEffect {
			want = 1
		}
		if len(ran[k]) != want {
			t.Errorf("%s: irreversible in-doubt step %d took effect %d times, want %d (never re-run)", id, k, len(ran[k]), want)
			return c
		}
		c.Escalated, c.IrreversibleEscalated = 1, 1
	default:
		if res.Status != "completed" || v.Status != checkpoint.StatusCompleted {
			t.Errorf("%s: resume gave %+v, run %s; want completed", id, res, v.Status)
			return c
		}
		c.Completed = 1
	}
	for _, st := range v.Steps {
		if st.Status != checkpoint.StepCompleted {
			continue
		}
		keys := ran[st.Index]
		want := 1
		if b == AfterSideEffect && st.Index == k {
			want = 2 // idempotent, in doubt after its effect: re-run with the same key
		}
		if len(keys) != want {
			t.Errorf("%s: completed step %d took effect %d times, want %d", id, st.Index, len(keys), want)
			continue
		}
		for _, key := range keys {
			if key != st.Key {
				t.Errorf("%s: step %d ran with key %s, recorded %s", id, st.Index, key, st.Key)
			}
		}
		if want == 2 {
			c.IdempotentReruns++
		} else {
			c.ExactlyOnce++
		}
	}
	if b == AfterIntent && !irreversible {
		c.IdempotentReruns++ // re-run with the same key, its first effect
		c.ExactlyOnce--
	}
	for i := range crashSteps {
		if i < len(v.Steps) && v.Steps[i].Status == checkpoint.StepCompleted {
			continue
		}
		if len(ran[i]) > 0 && !(wantEscalated && i == k) {
			t.Errorf("%s: step %d is not completed but took effect %d times", id, i, len(ran[i]))
		}
	}
	return c
}

// readEffects returns, per step, the idempotency keys its effects were made with.
func readEffects(t *testing.T, path string) map[int][]string {
	ran := map[int][]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ran
	}
	if err != nil {
		t.Errorf("read effects: %v", err)
		return ran
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Errorf("effects line %q", sc.Text())
			continue
		}
		i, _ := strconv.Atoi(fields[0])
		ran[i] = append(ran[i], fields[1])
	}
	return ran
}

// LogCrashCounts prints the counts with t.Log.
func LogCrashCounts(t *testing.T, store string, counts map[Boundary]*CrashCounts) {
	t.Helper()
	for _, b := range Boundaries {
		c := counts[b]
		t.Logf("crash %-8s %-17s trials=%d killed=%d completed=%d escalated=%d steps_exactly_once=%d idempotent_reruns_same_key=%d irreversible_escalated_not_rerun=%d",
			store, b, c.Trials, c.Killed, c.Completed, c.Escalated, c.ExactlyOnce, c.IdempotentReruns, c.IrreversibleEscalated)
	}
}
