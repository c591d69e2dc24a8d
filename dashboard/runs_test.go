package dashboard_test

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

// seedDamaged journals a run whose second step's result does not match its checksum, as a
// damaged database would hold it.
func seedDamaged(t *testing.T, s checkpoint.Store, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "seeder", TTL: time.Minute, Workflow: "research"})
	if err != nil {
		t.Fatal(err)
	}
	good, bad := []byte(`"outline text"`), []byte(`"SECRET-DAMAGED-RESULT"`)
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	now := time.Now()
	w := checkpoint.Write{Release: true, Steps: []checkpoint.StepRecord{
		{Index: 0, Name: "outline", Status: checkpoint.StepCompleted, Version: checkpoint.RecordVersion,
			Result: good, Checksum: crc(good), StartedAt: now, FinishedAt: now},
		{Index: 1, Name: "section_1", Status: checkpoint.StepCompleted, Version: checkpoint.RecordVersion,
			Result: bad, Checksum: crc(bad) ^ 1, StartedAt: now, FinishedAt: now},
	}, Run: &checkpoint.RunUpdate{Status: checkpoint.StatusCompleted, LastStep: "section_1", StepCount: 2}}
	if err := s.WriteRun(ctx, c.Lease, w); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStepShowsAsDamaged: the run page and the API verify the journal (checkpoint.Get):
// a step whose checksum does not match is marked damaged and its result is never shown.
func TestDamagedStepShowsAsDamaged(t *testing.T) {
	b := setup(t, setupOpts{})
	seedDamaged(t, b.runs, "run-damaged")

	page := b.get(t, "/runs/run-damaged")
	wantStatus(t, page, 200)
	wantBody(t, page, "damaged record", "result checksum", "outline text")
	wantNoBody(t, page, "SECRET-DAMAGED-RESULT")

	rec := b.api(t, "GET", "/api/v1/runs/run-damaged", "")
	wantStatus(t, rec, 200)
	wantNoBody(t, rec, "SECRET-DAMAGED-RESULT")
	run := decode[struct {
		Damaged []string `json:"damaged"`
		Steps   []struct {
			Name    string          `json:"name"`
			Damaged string          `json:"damaged"`
			Result  json.RawMessage `json:"result"`
		} `json:"steps"`
	}](t, rec)
	if len(run.Damaged) != 1 || len(run.Steps) != 2 || run.Steps[0].Damaged != "" ||
		string(run.Steps[0].Result) != `"outline text"` || run.Steps[1].Damaged == "" || run.Steps[1].Result != nil {
		t.Fatalf("run = %s", rec.Body)
	}
}

// TestRunJSONIsTheViewsJSON: the API's run is checkpoint.RunView's JSON (what `rebound runs
// show --json` prints) with breaker_events and escalations beside it, and its list is
// checkpoint.RunInfo's JSON.
func TestRunJSONIsTheViewsJSON(t *testing.T) {
	b := setup(t, setupOpts{})
	b.escalatedRun(t, "run-tides")
	v, err := checkpoint.Get(t.Context(), b.runs, "run-tides")
	if err != nil {
		t.Fatal(err)
	}
	want := jsonMap(t, v)
	got := decode[map[string]any](t, b.api(t, "GET", "/api/v1/runs/run-tides", ""))
	for _, k := range []string{"breaker_events", "escalations"} {
		if _, ok := got[k]; !ok {
			t.Errorf("API run has no %q", k)
		}
		delete(got, k)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("API run keys %v\nview keys %v\nAPI  %v\nview %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)), got, want)
	}
	// The fields the CLI and the API used to disagree on.
	if got["workflow"] != "research" {
		t.Errorf("workflow = %v", got["workflow"])
	}
	steps := got["steps"].([]any)
	events := steps[0].(map[string]any)["events"].([]any)
	if e := events[1].(map[string]any); e["event"] != "retry_scheduled" || e["delay_ms"] != float64(0) {
		t.Errorf("retry_scheduled event = %v, want delay_ms 0 written", e)
	}

	list := decode[[]map[string]any](t, b.api(t, "GET", "/api/v1/runs", ""))
	infos, err := b.runs.ListRuns(t.Context(), checkpoint.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var wantList []map[string]any
	for _, ri := range infos {
		wantList = append(wantList, jsonMap(t, ri))
	}
	if !reflect.DeepEqual(list, wantList) {
		t.Errorf("API runs = %v, want %v", list, wantList)
	}
}

func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// workflows is the registry the resume worker (checkpoint.Worker) and Runner.Resume take: the
// research workflow, rebuilt from the run's recorded input.
func (b *bundle) workflows() map[string]checkpoint.Workflow {
	return map[string]checkpoint.Workflow{"research": func(ctx context.Context, run *checkpoint.Run) error {
		var in struct{ Topic string }
		if err := run.DecodeInput(&in); err != nil {
			return err
		}
		return b.workflow(in.Topic)(ctx, run)
	}}
}
