package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// cliAt is cli with the command's clock fixed at now.
func cliAt(t *testing.T, now time.Time, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := env2(&out, &errb, nil)
	e.now = func() time.Time { return now }
	code := execute(t.Context(), args, e)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// seedRunning journals a demo run that a worker claimed as owner and left running, as a
// worker killed mid-run leaves it, and returns the run's lease expiry.
func seedRunning(t *testing.T, path, id, owner string) time.Time {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.ClaimRun(t.Context(), checkpoint.ClaimRequest{RunID: id, Owner: owner, TTL: time.Minute, Workflow: researchWorkflow})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != checkpoint.StatusRunning || rec.LeaseExpires.IsZero() || c.Lease.Owner != owner {
		t.Fatalf("seeded run = %+v", rec.RunInfo)
	}
	return rec.LeaseExpires
}

// A running run whose lease has expired says so in `runs list` and `runs show`, text and
// --json, with the commands that bring it back; one whose lease is live names its holder and
// until when. The owner, written by whoever ran the worker, is printed escaped.
func TestRunsShowLease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	store := "--store=sqlite:" + path
	owner := "host-a\x1b]0;owned\x07/4242"
	shown := `host-a\x1b]0;owned\x07/4242`
	expires := seedRunning(t, path, "lost-1", owner)

	type runJSON struct {
		ID           string    `json:"id"`
		Status       string    `json:"status"`
		Owner        string    `json:"owner"`
		LeaseExpires time.Time `json:"lease_expires"`
		Lease        string    `json:"lease"`
	}
	for _, tc := range []struct {
		name  string
		now   time.Time
		lease string
		text  string // the status as list and show print it
		hints []string
	}{
		{"expired", expires.Add(3*time.Minute + 5*time.Second), "expired",
			"running — no worker: lease of " + shown + " expired 3m ago",
			[]string{"Nothing runs it now", "rebound runs resume lost-1 --store", "rebound serve --worker --store"}},
		{"held", expires.Add(-25 * time.Second), "held",
			"running — held by " + shown + " until " + expires.Local().Format(time.TimeOnly), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := cliAt(t, tc.now, "runs", "list", store)
			mustCode(t, list, 0, "runs list")
			show := cliAt(t, tc.now, "runs", "show", "lost-1", store)
			mustCode(t, show, 0, "runs show")
			for _, out := range []string{list.stdout, show.stdout} {
				if strings.Contains(out, "\x1b") || strings.Contains(out, "\x07") {
					t.Errorf("raw control characters printed:\n%q", out)
				}
			}
			if !strings.Contains(list.stdout, "lost-1  research  "+tc.text+"  ") {
				t.Errorf("runs list: want status %q:\n%s", tc.text, list.stdout)
			}
			if got := strings.Contains(list.stdout, "1 running run has no worker"); got != (tc.lease == "expired") {
				t.Errorf("runs list: hint for abandoned runs shown %v, want %v:\n%s", got, !got, list.stdout)
			}
			if !strings.HasPrefix(show.stdout, "Run lost-1 (research): "+tc.text+"\n") {
				t.Errorf("runs show: want first line with %q:\n%s", tc.text, show.stdout)
			}
			for _, h := range tc.hints {
				if !strings.Contains(show.stdout, h) {
					t.Errorf("runs show: no %q:\n%s", h, show.stdout)
				}
			}
			if tc.hints == nil && strings.Contains(show.stdout, "resume") {
				t.Errorf("runs show of a held run suggests resuming it:\n%s", show.stdout)
			}

			js := cliAt(t, tc.now, "runs", "show", "lost-1", "--json", store)
			mustCode(t, js, 0, "runs show --json")
			var v runJSON
			if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
				t.Fatalf("runs show --json: %v\n%s", err, js.stdout)
			}
			lj := cliAt(t, tc.now, "runs", "list", "--json", store)
			mustCode(t, lj, 0, "runs list --json")
			var l []runJSON
			if err := json.Unmarshal([]byte(lj.stdout), &l); err != nil {
				t.Fatalf("runs list --json: %v\n%s", err, lj.stdout)
			}
			for _, got := range append(l, v) {
				if got.ID != "lost-1" || got.Status != "running" || got.Lease != tc.lease || got.Owner != owner ||
					!got.LeaseExpires.Equal(expires) {
					t.Errorf("--json run = %+v, want lease %q, owner %q, lease_expires %v", got, tc.lease, owner, expires)
				}
			}
		})
	}
}
