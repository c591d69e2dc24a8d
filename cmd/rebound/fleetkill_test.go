package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
)

// proc is a rebound process this test started: this test binary re-executed as the command
// (REBOUND_TEST_AS_MAIN), with its standard output read line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, closed at its end
	stderr bytes.Buffer
	done   chan struct{} // closed when the process has been waited for
	err    error
}

// startRebound starts `rebound args...` in dir with env added to this process's environment;
// the test's end stops it (SIGKILL) if it still runs.
func startRebound(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(append(os.Environ(), "REBOUND_TEST_AS_MAIN=1"), env...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		for range p.lines {
		}
		<-p.done
	})
	return p
}

// waitLine reads p's output until a line ends with suffix, and reports whether one did before
// the output ended or the deadline passed; what was read is kept in seen.
func (p *proc) waitLine(suffix string, deadline time.Time, seen *strings.Builder) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return false
			}
			seen.WriteString(l + "\n")
			if strings.HasSuffix(l, suffix) {
				return true
			}
		case <-timer.C:
			return false
		}
	}
}

// drain keeps reading p's output so that it never blocks on a full pipe.
func (p *proc) drain() {
	go func() {
		for range p.lines {
		}
	}()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.drain()
	<-p.done
}

// TestKilledWorkerRunsFinishElsewhere: three `serve --worker` processes share one PostgreSQL
// store with six demo runs in flight (each started by a demo killed after its outline, so the
// workers recover them); the worker holding the most runs is stopped in the middle of a step.
// Its runs complete on the other two, within the lease's TTL plus the worker's interval (and a
// stated slack) of the stop, and no completed step runs again: not in the journal, not at the
// model (the fake LLM's request log), and publish, the irreversible step, runs once per run. It
// logs the time from the stop to each orphaned run's take-over and completion (docs/cli.md,
// "Workers that die").
//
// "kill -9" kills the worker: on the same host its process is known dead, and its runs are
// taken at the next poll. "stopped" freezes it with SIGSTOP, which is how a dead worker on
// another host looks (its process cannot be checked), so its runs wait for its lease to run
// out; once they are taken over it is continued (SIGCONT), and its late writes must be fenced
// off.
func TestKilledWorkerRunsFinishElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nine processes")
	}
	t.Run("kill -9", func(t *testing.T) { fleetLosesWorker(t, false) })
	t.Run("stopped", func(t *testing.T) { fleetLosesWorker(t, true) })
}

// fleetLosesWorker runs TestKilledWorkerRunsFinishElsewhere, the worker killed (SIGKILL) or,
// with stop, frozen (SIGSTOP) until its runs are taken over.
func fleetLosesWorker(t *testing.T, stop bool) {
	store := postgresStore(t)
	const (
		runs     = 6
		workers  = 3
		latency  = 2 * time.Second // each model call
		interval = 500 * time.Millisecond
		// slack covers a loaded machine: process start, store round trips, a late heartbeat.
		slack = 10 * time.Second
	)
	ctx := t.Context()
	d, err := parseDSN(strings.TrimPrefix(store, "--store="), "--store")
	if err != nil {
		t.Fatal(err)
	}
	s, err := openPostgres(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fake := fakellm.NewServer(t, fmt.Sprintf("latency %s\n", latency))
	dir := t.TempDir()
	env := []string{"ANTHROPIC_API_KEY=sk-ant-fake-for-the-test"}
	provider := []string{"--provider", "anthropic", "--base-url", fake.URL, store}
	deadline := time.Now().Add(2 * time.Minute)

	// The workers.
	byOwner := map[string]int{} // lease owner → worker index
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	ws := make([]*proc, workers)
	for i := range ws {
		ws[i] = startRebound(t, dir, env, "serve", "--worker", "--worker-interval", interval.String(),
			"--addr", "127.0.0.1:0", "--trust-base-url", fake.URL, store)
		byOwner[host+"/"+strconv.Itoa(ws[i].cmd.Process.Pid)] = i
	}
	for i, w := range ws {
		var seen strings.Builder
		if !w.waitLine(fmt.Sprintf("(checking every %s)", interval), deadline, &seen) {
			t.Fatalf("worker %d did not start:\n%s\n%s", i, seen.String(), w.stderr.String())
		}
		w.drain()
	}

	// The runs, each left by a demo killed once its outline is done.
	ids := make([]string, runs)
	var wg sync.WaitGroup
	errs := make(chan string, runs)
	for i := range ids {
		ids[i] = fmt.Sprintf("fleet-%d", i)
		demo := startRebound(t, dir, env, append([]string{"demo", "--run-id", ids[i], "--topic", "kill test " + ids[i]}, provider...)...)
		wg.Go(func() {
			var seen strings.Builder
			if !demo.waitLine("outline: done", deadline, &seen) {
				errs <- fmt.Sprintf("demo %s ended before its outline was done:\n%s\n%s", ids[i], seen.String(), demo.stderr.String())
			}
			demo.kill(t)
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}

	// Wait until the workers hold every run, each in a step after the first they ran; kill the
	// one holding the most.
	holding := func() (map[int][]string, map[string]*checkpoint.RunRecord) {
		held := map[int][]string{}
		recs := map[string]*checkpoint.RunRecord{}
		for _, id := range ids {
			rec, err := s.runs.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			recs[id] = rec
			w, ok := byOwner[rec.Owner]
			// In a step after one the worker completed (section_2 or later), so that the kill
			// cuts a step and leaves completed ones behind it.
			if ok && rec.Status == checkpoint.StatusRunning && rec.LeaseExpires.After(time.Now()) && inStep(rec) >= 2 {
				held[w] = append(held[w], id)
			}
		}
		return held, recs
	}
	var held map[int][]string
	for {
		var n int
		held, _ = holding()
		for _, h := range held {
			n += len(h)
		}
		if n == runs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers hold %v of the %d runs", held, runs)
		}
		time.Sleep(50 * time.Millisecond) // polling the store, not waiting for a guess
	}
	victim := 0
	for w, h := range held {
		if len(h) > len(held[victim]) {
			victim = w
		}
	}
	orphans := held[victim]
	how := "killing (SIGKILL)"
	if stop {
		how = "stopping (SIGSTOP)"
	}
	t.Logf("runs held by worker: %v; %s worker %d (pid %d), holding %v", held, how, victim, ws[victim].cmd.Process.Pid, orphans)
	killed := time.Now()
	if stop {
		if err := ws[victim].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	} else {
		ws[victim].kill(t)
	}
	_, atKill := holding() // the journal as the stopped worker left it
	continued := !stop

	// Approve every publish that asks, until every run has completed.
	approved := map[string]bool{}
	for {
		if !continued && takenOver(t, s, orphans, atKill) {
			// Every run it held is someone else's now: wake it; what it writes is fenced off.
			if err := ws[victim].cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			continued = true
		}
		done := 0
		for _, id := range ids {
			rec, err := s.runs.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case rec.Status == checkpoint.StatusCompleted:
				done++
			case rec.Status == checkpoint.StatusEscalated && rec.EscalationID != "" && !approved[rec.EscalationID]:
				approved[rec.EscalationID] = true
				if _, err := s.queue.Resolve(ctx, rec.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "the test"}); err != nil {
					t.Fatalf("approve %s: %v", id, err)
				}
			case rec.Status != checkpoint.StatusRunning && rec.Status != checkpoint.StatusEscalated:
				t.Fatalf("run %s is %s: %s", id, rec.Status, rec.Error)
			}
		}
		if done == runs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs completed before the deadline", done, runs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// No completed step ran again; publish ran once per run; the model saw no step twice
	// beyond the ones in flight when a process was killed.
	executions := map[string]int{}
	for _, id := range ids {
		rec, err := s.runs.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		before := map[string]checkpoint.StepRecord{}
		for _, st := range atKill[id].Steps {
			before[st.Name] = st
		}
		for _, st := range rec.Steps {
			executions[st.Name] += st.Executions
			if b, ok := before[st.Name]; ok && b.Status == checkpoint.StepCompleted && st.Executions != b.Executions {
				t.Errorf("run %s: step %s, completed before the kill, ran again (%d executions, %d at the kill)", id, st.Name, st.Executions, b.Executions)
			}
			if st.Name == "outline" && st.Executions != 1 {
				t.Errorf("run %s: outline, done before its demo was killed, ran %d times", id, st.Executions)
			}
			if st.Name == "publish" && st.Executions != 1 {
				t.Errorf("run %s: publish (irreversible) ran %d times", id, st.Executions)
			}
			if st.Executions > 2 {
				t.Errorf("run %s: step %s ran %d times; at most two kills could cut it", id, st.Name, st.Executions)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, reportDirName, id+".md")); err != nil {
			t.Errorf("run %s published no report: %v", id, err)
		}
	}
	requests := map[string]int{}
	for _, r := range fake.Requests() {
		// The prompt's first words name the step: "[section_1] Write…", or for the outline
		// "Research topic: … [outline] Outline…" (the first two user messages as one).
		var name string
		if m := stepTag.FindStringSubmatch(r.Prompt); m != nil {
			name = m[1]
		}
		requests[name]++
	}
	for _, step := range demoSteps[:5] {
		// Each execution of a model step sends one request (no faults), or none when a kill
		// cut it before it was sent.
		if requests[step] < runs || requests[step] > executions[step] {
			t.Errorf("step %s: %d requests to the model for %d executions in %d runs", step, requests[step], executions[step], runs)
		}
	}

	// The orphans were taken over, and completed, in time.
	for _, id := range orphans {
		rec, err := s.runs.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// The take-over: the first step started after the kill (the one the kill cut, again).
		var taken time.Time
		left := 0
		for _, st := range rec.Steps {
			if st.StartedAt.After(killed) && (taken.IsZero() || st.StartedAt.Before(taken)) {
				taken = st.StartedAt
			}
		}
		for _, st := range atKill[id].Steps {
			if st.Status != checkpoint.StepCompleted {
				left++
			}
		}
		left += len(demoSteps) - 1 - len(atKill[id].Steps) // model steps not started at the kill
		took, finished := taken.Sub(killed), rec.UpdatedAt.Sub(killed)
		t.Logf("%s: run %s: taken over %.2fs after the worker was lost (epoch %d → %d), completed %.2fs after it (%d model calls of %s left); lease TTL %s, worker interval %s",
			t.Name(), id, took.Seconds(), atKill[id].Epoch, rec.Epoch, finished.Seconds(), left, latency, cliLeaseTTL, interval)
		if taken.IsZero() || took > cliLeaseTTL+interval+slack {
			t.Errorf("run %s taken over %v after the kill, want within the lease TTL %v + the interval %v + %v", id, took, cliLeaseTTL, interval, slack)
		}
		// Completion adds the work left (those model calls) and the publish approval (the
		// test's poll, then one worker interval).
		if limit := cliLeaseTTL + interval + time.Duration(left)*latency + 2*interval + slack; finished > limit {
			t.Errorf("run %s completed %v after the kill, want within %v", id, finished, limit)
		}
		if rec.Epoch <= atKill[id].Epoch {
			t.Errorf("run %s: epoch %d, %d at the kill: not taken over", id, rec.Epoch, atKill[id].Epoch)
		}
	}
}

// takenOver reports whether every one of runs has a later epoch than in before.
func takenOver(t *testing.T, s *stores, runs []string, before map[string]*checkpoint.RunRecord) bool {
	t.Helper()
	for _, id := range runs {
		rec, err := s.runs.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Epoch <= before[id].Epoch {
			return false
		}
	}
	return true
}

// stepTag finds a demo step's name in a prompt: "[section_1]".
var stepTag = regexp.MustCompile(`\[([a-z_0-9]+)\]`)

// inStep is the index of the step rec is executing, -1 between steps.
func inStep(rec *checkpoint.RunRecord) int {
	if n := len(rec.Steps); n > 0 && rec.Steps[n-1].Status == checkpoint.StepStarted {
		return rec.Steps[n-1].Index
	}
	return -1
}
