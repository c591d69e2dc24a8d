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
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var first strings.Builder
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		first.WriteString(sc.Text() + "\n")
		if strings.HasSuffix(sc.Text(), "section_1: done") {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("the demo ended before section_1 was done:\n%s\n%s", first.String(), stderr.String())
	}

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
