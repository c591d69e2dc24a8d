package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A demo killed with SIGKILL mid-run and rerun with its --run-id skips the steps it finished.
// The dead process's lease (10 s) has not expired when the rerun starts: the rerun takes it over
// at once because its owner is a process of this host that no longer exists (a live owner would
// make it exit with code 2).
func TestDemoKilledMidRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rebound")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	store := "--store=sqlite:" + filepath.Join(dir, "rebound.db")

	cmd := exec.Command(bin, "demo", "--run-id", "killed", store)
	cmd.Dir = dir
	signalAtLine(t, cmd, "section_1: done", syscall.SIGKILL)

	again := exec.Command(bin, "demo", "--run-id", "killed", store)
	again.Dir = dir
	out, err := again.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != exitEscalated {
		t.Fatalf("rerun: exit code %d, want 3\n%s", code, out)
	}
	text := string(out)
	for _, s := range []string{"outline", "section_1"} {
		if !strings.Contains(text, s+": done earlier, skipped") || strings.Contains(text, s+": started") {
			t.Errorf("rerun did not skip %s:\n%s", s, text)
		}
	}
	if !strings.Contains(text, "run killed resumed") || !strings.Contains(text, "section_2: started") {
		t.Errorf("rerun output:\n%s", text)
	}

	show, err := exec.Command(bin, "runs", "show", "killed", "--json", store).Output()
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Steps []struct {
			Name       string
			Executions int
		} `json:"steps"`
	}
	if err := json.Unmarshal(show, &run); err != nil {
		t.Fatal(err)
	}
	for _, s := range run.Steps {
		if (s.Name == "outline" || s.Name == "section_1") && s.Executions != 1 {
			t.Errorf("%s ran %d times", s.Name, s.Executions)
		}
	}
	_ = os.Remove(bin)
}

// signalAtLine starts cmd, sends it sig the first time a line of its standard output ends with
// suffix, reads the rest of its output and waits for it. The test fails if cmd ends before such a
// line. It returns what cmd wrote and Wait's error.
func signalAtLine(t *testing.T, cmd *exec.Cmd, suffix string, sig os.Signal) (stdout, stderr string, err error) {
	t.Helper()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs bytes.Buffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sent := false
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !sent && strings.HasSuffix(sc.Text(), suffix) {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	err = cmd.Wait()
	if !sent {
		t.Fatalf("%s ended before a line ending %q:\n%s\n%s", cmd.Args[1:], suffix, out.String(), errs.String())
	}
	return out.String(), errs.String(), err
}
