package main

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// `runs show` of a run with a damaged step shows the run with the step marked damaged and its
// result left out, and fails (exit 1) with the damaged record named; --json likewise.
func TestRunsShowDamagedStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	store := "--store=sqlite:" + path
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := st.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "dmg", Owner: "seeder", TTL: time.Minute, Workflow: "research"})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`"SECRET-DAMAGED-RESULT"`)
	sum := crc32.Checksum(bad, crc32.MakeTable(crc32.Castagnoli)) ^ 1
	if err := st.WriteRun(ctx, c.Lease, checkpoint.Write{Release: true,
		Steps: []checkpoint.StepRecord{{Index: 0, Name: "outline", Status: checkpoint.StepCompleted,
			Version: checkpoint.RecordVersion, Result: bad, Checksum: sum}},
		Run: &checkpoint.RunUpdate{Status: checkpoint.StatusCompleted, LastStep: "outline", StepCount: 1}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	human := cli(t, nil, "runs", "show", "dmg", store)
	mustCode(t, human, 1, "runs show")
	if !strings.Contains(human.stdout, "damaged record: step 0") || !strings.Contains(human.stdout, "outline  damaged") ||
		strings.Contains(human.stdout, "SECRET") || !strings.Contains(human.stderr, "damaged record") {
		t.Errorf("runs show of a damaged run:\nstdout %s\nstderr %s", human.stdout, human.stderr)
	}
	js := cli(t, nil, "runs", "show", "dmg", "--json", store)
	mustCode(t, js, 1, "runs show --json")
	var v struct {
		Workflow string   `json:"workflow"`
		Damaged  []string `json:"damaged"`
		Steps    []struct {
			Damaged string          `json:"damaged"`
			Result  json.RawMessage `json:"result"`
			Events  []any           `json:"events"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, js.stdout)
	}
	if v.Workflow != "research" || len(v.Damaged) != 1 || len(v.Steps) != 1 || v.Steps[0].Damaged == "" ||
		v.Steps[0].Result != nil || v.Steps[0].Events == nil {
		t.Errorf("runs show --json of a damaged run: %s", js.stdout)
	}
}
