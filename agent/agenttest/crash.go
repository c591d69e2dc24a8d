// Package agenttest is the crash test of package agent's loop: a child process running an agent
// whose tools have side effects is killed with SIGKILL at the persistence boundaries inside its
// tool steps, then the run is resumed in a new process and the side effects are counted.
package agenttest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/llm"

	"github.com/rebound-go/rebound/internal/crashtest"
	"github.com/rebound-go/rebound/internal/sigkill"
)

// The boundaries are checkpointtest's, applied to the step of one tool call.
var Boundaries = checkpointtest.Boundaries

const crashCalls = 6 // tool calls of the crash conversation; odd ones call the irreversible tool

// vars are the crash children's environment variables.
var vars = crashtest.Vars{Child: "AGENTTEST_CRASH_CHILD", DSN: "AGENTTEST_DSN", RunID: "AGENTTEST_RUN_ID",
	Log: "AGENTTEST_LOG", Kill: "AGENTTEST_KILL"}

// CrashMain must be called in the TestMain of a package that runs Crash: in a child process
// started by Crash it runs the agent and exits; otherwise it returns.
func CrashMain(open checkpointtest.OpenDSN) {
	if os.Getenv(vars.Child) == "" {
		return
	}
	os.Exit(crashChild(open))
}

// callStep is the step name of the crash conversation's call i.
func callStep(i int) string { return "tool:call_" + strconv.Itoa(i) }

// model answers turn n (counted from the tool results in the request) with call n, and the
// last turn with text. It logs every request, so that the test can tell that no answered turn
// was asked again.
type model struct{ log *logFile }

func (m model) Name() string       { return "agenttest/model" }
func (m model) ContextWindow() int { return 0 }
func (m model) Stream(ctx context.Context, req llm.Request, _ func(llm.Delta)) (*llm.Response, error) {
	return m.Generate(ctx, req)
}
func (m model) Generate(_ context.Context, req llm.Request) (*llm.Response, error) {
	n := 0
	for _, msg := range req.Messages {
		n += len(msg.ToolResultBlocks())
	}
	if err := m.log.add("turn", strconv.Itoa(n), strconv.Itoa(os.Getpid())); err != nil {
		return nil, err
	}
	if n >= crashCalls {
		return &llm.Response{Text: "done", StopReason: llm.StopEndTurn}, nil
	}
	tool := "put"
	if n%2 == 1 {
		tool = "pay"
	}
	call := rebound.ToolUse("call_"+strconv.Itoa(n), tool, json.RawMessage(`{"n":`+strconv.Itoa(n)+`}`))
	return &llm.Response{Blocks: []rebound.Block{call}, StopReason: llm.StopToolUse}, nil
}

type callIn struct {
	N int `json:"n"`
}

func crashChild(open checkpointtest.OpenDSN) int {
	ctx := context.Background()
	s, closeStore, err := open(ctx, os.Getenv(vars.DSN))
	if err != nil {
		return crashtest.OpenFailed(err)
	}
	defer closeStore()
	b, killAt := crashtest.ParseKill(os.Getenv(vars.Kill))
	boundary := checkpointtest.Boundary(b)
	ks := crashtest.KillAtStep(s, b, func(r checkpoint.StepRecord) bool { return r.Name == callStep(killAt) })
	log := &logFile{path: os.Getenv(vars.Log)}
	effect := func(ctx context.Context, call agent.Call, in callIn) (string, error) {
		if err := log.add("effect", strconv.Itoa(in.N), call.Key); err != nil {
			return "", err
		}
		if boundary == checkpointtest.AfterSideEffect && in.N == killAt {
			sigkill.Self()
		}
		return "done " + strconv.Itoa(in.N), nil
	}
	a, err := agent.New(agent.Config{Model: model{log: log}, Tools: []agent.Tool{
		{Name: "put", Effect: agent.Idempotent, Handler: agent.Handle(effect)},
		{Name: "pay", Effect: agent.Irreversible, Handler: agent.Handle(effect)},
	}})
	if err != nil {
		return crashtest.Report(err)
	}
	r := checkpoint.NewRunner(ks, checkpoint.Config{Escalations: &crashtest.FileEscalator{Path: log.path + ".escalations"}})
	err = r.Run(ctx, os.Getenv(vars.RunID), func(ctx context.Context, run *checkpoint.Run) error {
		_, err := a.Run(ctx, run, rebound.User("go"))
		return err
	})
	return crashtest.Report(err)
}

// logFile is the side-effect log: one line per model request and per tool effect, synced.
type logFile struct {
	path string
	mu   sync.Mutex
}

func (l *logFile) add(fields ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, strings.Join(fields, " ")); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Counts are the outcomes of the crash test, per boundary.
type Counts struct {
	Trials, Killed, Completed int
	// IrreversibleTwice counts irreversible calls that took effect more than once (must be 0).
	IrreversibleTwice int
	// InDoubtEscalated counts irreversible calls in doubt escalated ambiguous_state, not re-run.
	InDoubtEscalated int
	// IdempotentReruns counts idempotent calls re-run after the crash, with the same key.
	IdempotentReruns int
	// ExactlyOnce counts calls that took effect exactly once.
	ExactlyOnce int
	// TurnsAskedAgain counts model turns asked again after they were answered (must be 0).
	TurnsAskedAgain int
}

// Crash runs perBoundary trials per boundary, each killing a child process (this test binary,
// re-executed: its TestMain must call CrashMain) with SIGKILL at that boundary of the step of a
// random call of a six-call conversation (even calls idempotent, odd irreversible), then resuming
// the run in a new process and checking the log: no irreversible call took effect twice, an
// irreversible call in doubt escalated ambiguous_state and was not re-run, an idempotent call in
// doubt re-ran with the same key, every other call took effect exactly once, and no answered
// model turn was asked again.
func Crash(t *testing.T, dsn string, open checkpointtest.OpenDSN, perBoundary, parallel int) map[checkpointtest.Boundary]*Counts {
	t.Helper()
	counts := map[checkpointtest.Boundary]*Counts{}
	for _, b := range Boundaries {
		counts[b] = &Counts{}
	}
	crashtest.Trials(t, dsn, open, vars, "agentcrash", "call", Boundaries, perBoundary, parallel, crashCalls,
		func(tr crashtest.Trial[checkpointtest.Boundary]) Counts { return trialRun(t, tr) },
		func(b checkpointtest.Boundary, c Counts) {
			cc := counts[b]
			cc.Trials++
			cc.Killed += c.Killed
			cc.Completed += c.Completed
			cc.IrreversibleTwice += c.IrreversibleTwice
			cc.InDoubtEscalated += c.InDoubtEscalated
			cc.IdempotentReruns += c.IdempotentReruns
			cc.ExactlyOnce += c.ExactlyOnce
			cc.TurnsAskedAgain += c.TurnsAskedAgain
		})
	return counts
}

// trialRun checks a trial: what the resumed run reported and recorded against the log of its
// model turns and tool effects.
func trialRun(t *testing.T, tr crashtest.Trial[checkpointtest.Boundary]) Counts {
	c := Counts{Killed: 1}
	id, b, k, res, v := tr.ID, tr.Boundary, tr.At, tr.Result, tr.Run
	effects, turns := readLog(t, tr.Log)
	irreversible := k%2 == 1
	inDoubt := b == checkpointtest.AfterIntent || b == checkpointtest.AfterSideEffect
	if inDoubt && irreversible {
		if res.Status != "escalated" || res.Reason != string(rebound.ReasonAmbiguousState) || res.Step != callStep(k) || v.Status != checkpoint.StatusEscalated {
			t.Errorf("%s: irreversible call %d in doubt: resume gave %+v, run %s; want an ambiguous_state escalation", id, k, res, v.Status)
			return c
		}
		c.InDoubtEscalated = 1
	} else if res.Status != "completed" || v.Status != checkpoint.StatusCompleted {
		t.Errorf("%s: resume gave %+v, run %s; want completed", id, res, v.Status)
		return c
	} else {
		c.Completed = 1
	}
	keyOf := map[string]string{}
	for _, st := range v.Steps {
		keyOf[st.Name] = st.Key
	}
	last := crashCalls - 1
	if inDoubt && irreversible {
		last = k
	}
	for i := 0; i <= last; i++ {
		keys := effects[i]
		want := 1
		switch {
		case i == k && inDoubt && irreversible && b == checkpointtest.AfterIntent:
			want = 0
		case i == k && !irreversible && b == checkpointtest.AfterSideEffect:
			want = 2
		}
		if i%2 == 1 && len(keys) > 1 {
			c.IrreversibleTwice++
		}
		if len(keys) != want {
			t.Errorf("%s: call %d took effect %d times, want %d", id, i, len(keys), want)
			continue
		}
		for _, key := range keys {
			if key != keyOf[callStep(i)] {
				t.Errorf("%s: call %d ran with key %s, recorded %s", id, i, key, keyOf[callStep(i)])
			}
		}
		switch {
		case want == 2 || (i == k && !irreversible && b == checkpointtest.AfterIntent):
			c.IdempotentReruns++
		case want == 1:
			c.ExactlyOnce++
		}
	}
	for i := last + 1; i < crashCalls; i++ {
		if len(effects[i]) > 0 {
			t.Errorf("%s: call %d after the escalated one took effect", id, i)
		}
	}
	for n, asked := range turns {
		if asked > 1 {
			c.TurnsAskedAgain += asked - 1
			t.Errorf("%s: model turn %d was asked %d times", id, n, asked)
		}
	}
	return c
}

// readLog returns the idempotency keys of each call's effects and how many times each turn
// was asked.
func readLog(t *testing.T, path string) (map[int][]string, map[int]int) {
	effects, turns := map[int][]string{}, map[int]int{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return effects, turns
	}
	if err != nil {
		t.Errorf("read log: %v", err)
		return effects, turns
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Errorf("log line %q", sc.Text())
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "effect":
			effects[n] = append(effects[n], fields[2])
		case "turn":
			turns[n]++
		}
	}
	return effects, turns
}

// LogCounts prints the counts with t.Log.
func LogCounts(t *testing.T, store string, counts map[checkpointtest.Boundary]*Counts) {
	t.Helper()
	for _, b := range Boundaries {
		c := counts[b]
		t.Logf("agent crash %-8s %-17s trials=%d killed=%d completed=%d irreversible_executed_twice=%d in_doubt_escalated=%d idempotent_reruns_same_key=%d calls_exactly_once=%d turns_asked_again=%d",
			store, b, c.Trials, c.Killed, c.Completed, c.IrreversibleTwice, c.InDoubtEscalated, c.IdempotentReruns, c.ExactlyOnce, c.TurnsAskedAgain)
	}
}
