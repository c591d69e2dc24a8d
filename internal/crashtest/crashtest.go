// Package crashtest is the machinery the process-kill crash tests share
// (checkpoint/checkpointtest for workflows, agent/agenttest for agent loops): a child process,
// re-executed from the test binary, runs a durable run against a store that kills it with
// SIGKILL at a chosen write; the test then resumes the run in a fresh child and reads what the
// child reports. What each test runs and checks is its own; how a trial is started, killed,
// resumed and fanned out is here, once.
package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/internal/sigkill"
)

// Result is what a child prints as its last line: how its run ended.
type Result struct {
	Status string `json:"status"` // completed, escalated, failed, open_failed
	Reason string `json:"reason,omitempty"`
	Step   string `json:"step,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Report prints the Result of a run that returned err on standard output and returns the
// child's exit code: 0 for a completed or escalated run, 1 for a failed one.
func Report(err error) int {
	out := json.NewEncoder(os.Stdout)
	var ee *checkpoint.EscalatedError
	switch {
	case err == nil:
		out.Encode(Result{Status: "completed"})
		return 0
	case errors.As(err, &ee):
		out.Encode(Result{Status: "escalated", Reason: string(ee.Reason), Step: ee.Step})
		return 0
	default:
		out.Encode(Result{Status: "failed", Error: err.Error()})
		return 1
	}
}

// OpenFailed prints that the child could not open its store and returns its exit code, 3.
func OpenFailed(err error) int {
	json.NewEncoder(os.Stdout).Encode(Result{Status: "open_failed", Error: err.Error()})
	return 3
}

// ParseKill reads a kill spec "BOUNDARY:N" (kill at that boundary of step or call N). An empty
// spec kills nowhere: boundary "" and at -1.
func ParseKill(spec string) (boundary string, at int) {
	if spec == "" {
		return "", -1
	}
	b, k, _ := strings.Cut(spec, ":")
	at, err := strconv.Atoi(k)
	if err != nil {
		return "", -1
	}
	return b, at
}

// KillStore calls Before and After around every write of the store it wraps; either may kill
// the process with sigkill.Self.
type KillStore struct {
	checkpoint.Store
	Before, After func(w checkpoint.Write)
}

// WriteRun implements checkpoint.Store.
func (k *KillStore) WriteRun(ctx context.Context, l checkpoint.Lease, w checkpoint.Write) error {
	k.Before(w)
	if err := k.Store.WriteRun(ctx, l, w); err != nil {
		return err
	}
	k.After(w)
	return nil
}

// FileEscalator keeps escalations in a file, so that they outlive the process; none is decided.
type FileEscalator struct{ Path string }

// Escalate implements checkpoint.Escalator.
func (e *FileEscalator) Escalate(ctx context.Context, esc rebound.Escalation) (string, error) {
	f, err := os.OpenFile(e.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	id := fmt.Sprintf("esc-%d-%d", os.Getpid(), rand.Uint32())
	_, err = fmt.Fprintf(f, "%s %s %s\n", id, esc.Step, esc.Reason)
	return id, err
}

// Decision implements checkpoint.Escalator: nothing is ever decided.
func (e *FileEscalator) Decision(ctx context.Context, id string) (rebound.Decision, bool, error) {
	return rebound.Decision{}, false, nil
}

// Child runs this test binary again, with no test selected and env added to its environment
// (its TestMain recognises the child by it), and returns its standard output.
func Child(ctx context.Context, env ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd.Output()
}

// KillThenResume is one trial's processes: a child started with env plus killEnv must die of
// SIGKILL; a second child with env alone (the same run, resumed) must end and report a Result.
// ok is false, with the failure reported on t, when either did not.
func KillThenResume(t *testing.T, ctx context.Context, id, what string, env []string, killEnv string) (res Result, ok bool) {
	out, err := Child(ctx, append(env[:len(env):len(env)], killEnv)...)
	if !sigkill.Killed(err) {
		t.Errorf("%s: the child was not killed at %s: %v %s", id, what, err, out)
		return res, false
	}
	out, err = Child(ctx, env...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil || err != nil {
		t.Errorf("%s: resume: %v %s", id, err, out)
		return res, false
	}
	return res, true
}

// Fan runs perBoundary trials for each boundary, at most parallel at once, each at a random
// point k in [0, n): trial(b, k, i) runs trial number i (from 1) and returns its counts, which
// add merges under a lock.
func Fan[B comparable, C any](boundaries []B, perBoundary, parallel, n int, trial func(b B, k, i int) C, add func(b B, c C)) {
	var mu sync.Mutex
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	i := 0
	for _, b := range boundaries {
		for range perBoundary {
			i++
			k, i := rand.IntN(n), i
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				c := trial(b, k, i)
				mu.Lock()
				defer mu.Unlock()
				add(b, c)
			})
		}
	}
	wg.Wait()
}

// The persistence boundaries at which a trial kills its child (checkpointtest.Boundary holds
// them, with their meaning).
const (
	BeforeIntent    = "before_intent"
	AfterIntent     = "after_intent"
	AfterSideEffect = "after_side_effect"
	AfterResult     = "after_result"
)

// KillAtStep wraps s in a KillStore that kills the process at boundary of the step whose
// record is accepts: before the write that starts it (BeforeIntent), after
// that write (AfterIntent) or after the write that completes it (AfterResult). AfterSideEffect
// is inside the step: its function kills there itself. Another boundary kills nowhere.
func KillAtStep(s checkpoint.Store, boundary string, is func(checkpoint.StepRecord) bool) *KillStore {
	at := func(w checkpoint.Write, st checkpoint.StepStatus) bool {
		for _, r := range w.Steps {
			if r.Status == st && is(r) {
				return true
			}
		}
		return false
	}
	return &KillStore{Store: s, Before: func(w checkpoint.Write) {
		if boundary == BeforeIntent && at(w, checkpoint.StepStarted) {
			sigkill.Self()
		}
	}, After: func(w checkpoint.Write) {
		if (boundary == AfterIntent && at(w, checkpoint.StepStarted)) ||
			(boundary == AfterResult && at(w, checkpoint.StepCompleted)) {
			sigkill.Self()
		}
	}}
}

// Vars names the environment variables a package's children read: Child marks a child (its
// TestMain runs the child's workflow when it is set), and the others carry the store's DSN,
// the run id, the side-effect log's path and the kill spec (ParseKill).
type Vars struct{ Child, DSN, RunID, Log, Kill string }

// A Trial is one trial of Trials once both its children ended: the run, the side-effect log
// its children wrote, where the first child was killed, what the resumed child reported, and
// the run as the store has it afterwards.
type Trial[B ~string] struct {
	ID, Log  string
	Boundary B
	At       int
	Result   Result
	Run      *checkpoint.RunView
}

// Trials is a crash test's frame. It opens the store at dsn with open and runs perBoundary
// trials for each boundary (Fan: at most parallel at once, each at a random point in [0,
// points)). A trial starts a child with vars set that dies of SIGKILL at its boundary of that
// point, then resumes the run in another (KillThenResume), reads the run, and gives all that to
// check, which returns the trial's counts; add merges the counts of every trial, zero for one
// whose processes or run failed (reported on t). Run ids start with prefix; point names a point
// in the messages ("step", "call"). It skips the test where there is no SIGKILL.
func Trials[B ~string, C any](t *testing.T, dsn string, open func(context.Context, string) (checkpoint.Store, func(), error),
	vars Vars, prefix, point string, boundaries []B, perBoundary, parallel, points int,
	check func(Trial[B]) C, add func(B, C)) {
	t.Helper()
	if !sigkill.Supported {
		t.Skip("the crash test needs SIGKILL (unix)")
	}
	ctx := context.Background()
	s, closeStore, err := open(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer closeStore()
	dir := t.TempDir()
	Fan(boundaries, perBoundary, parallel, points, func(b B, k, i int) C {
		var zero C
		tr := Trial[B]{ID: fmt.Sprintf("%s-%d-%d-%s-%d", prefix, os.Getpid(), i, b, k), Boundary: b, At: k}
		tr.Log = filepath.Join(dir, tr.ID+".log")
		env := []string{vars.Child + "=1", vars.DSN + "=" + dsn, vars.RunID + "=" + tr.ID, vars.Log + "=" + tr.Log}
		res, ok := KillThenResume(t, ctx, tr.ID, fmt.Sprintf("%s of %s %d", b, point, k), env, fmt.Sprintf("%s=%s:%d", vars.Kill, b, k))
		if !ok {
			return zero
		}
		tr.Result = res
		v, err := checkpoint.Get(ctx, s, tr.ID)
		if err != nil {
			t.Errorf("%s: read the run after the crash: %v", tr.ID, err)
			return zero
		}
		tr.Run = v
		return check(tr)
	}, add)
}
