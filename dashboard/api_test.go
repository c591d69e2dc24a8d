package dashboard_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, rec.Body)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v; body %s", v, err, rec.Body)
	}
	return v
}

// wantAPIError checks an error answer: the status and a JSON body {"error": "..."} that says
// something containing sub.
func wantAPIError(t *testing.T, rec *httptest.ResponseRecorder, status int, sub string) {
	t.Helper()
	wantStatus(t, rec, status)
	e := decode[map[string]string](t, rec)
	if len(e) != 1 || !strings.Contains(e["error"], sub) {
		t.Fatalf("error body = %v, want {\"error\": \"...%s...\"}", e, sub)
	}
}

func TestAPIReads(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-tides")
	b.set.Get("fake/primary").ForceOpen()

	t.Run("List", func(t *testing.T) {
		items := decode[[]escalate.Item](t, b.api(t, "GET", "/api/v1/escalations", ""))
		if len(items) != 1 || items[0].ID != id || items[0].RunID != "run-tides" || items[0].Step != "publish" ||
			items[0].Reason != rebound.ReasonIrreversibleAction || items[0].Status != escalate.StatusOpen {
			t.Fatalf("items = %+v", items)
		}
		items = decode[[]escalate.Item](t, b.api(t, "GET", "/api/v1/escalations?status=resolved,dismissed", ""))
		if len(items) != 0 {
			t.Fatalf("resolved items = %+v", items)
		}
		if body := b.api(t, "GET", "/api/v1/escalations?reason=low_confidence", "").Body.String(); strings.TrimSpace(body) != "[]" {
			t.Fatalf("empty list = %s, want []", body)
		}
		wantAPIError(t, b.api(t, "GET", "/api/v1/escalations?status=nope", ""), 400, "unknown status")
		wantAPIError(t, b.api(t, "GET", "/api/v1/escalations?limit=0", ""), 400, "bad limit")
	})
	t.Run("Stats", func(t *testing.T) {
		st := decode[escalate.Stats](t, b.api(t, "GET", "/api/v1/escalations/stats", ""))
		if st.Open != 1 || len(st.ByReason) != 1 || st.ByReason[0].Reason != rebound.ReasonIrreversibleAction {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("One", func(t *testing.T) {
		rec := b.api(t, "GET", "/api/v1/escalations/"+id, "")
		wantStatus(t, rec, 200)
		var got struct {
			ID       string                `json:"id"`
			Messages []json.RawMessage     `json:"messages"`
			State    json.RawMessage       `json:"state"`
			Audit    []escalate.AuditEntry `json:"audit"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != id || len(got.Messages) == 0 || len(got.State) == 0 || len(got.Audit) != 1 ||
			got.Audit[0].Event != escalate.AuditEscalated {
			t.Fatalf("item = %s", rec.Body)
		}
		audit := decode[[]escalate.AuditEntry](t, b.api(t, "GET", "/api/v1/escalations/"+id+"/audit", ""))
		if len(audit) != 1 {
			t.Fatalf("audit = %+v", audit)
		}
		wantAPIError(t, b.api(t, "GET", "/api/v1/escalations/esc-nope", ""), 404, "esc-nope")
		wantAPIError(t, b.api(t, "GET", "/api/v1/escalations/esc-nope/audit", ""), 404, "esc-nope")
	})
	t.Run("Runs", func(t *testing.T) {
		runs := decode[[]map[string]any](t, b.api(t, "GET", "/api/v1/runs", ""))
		if len(runs) != 1 || runs[0]["id"] != "run-tides" || runs[0]["status"] != "escalated" ||
			runs[0]["workflow"] != "research" || runs[0]["last_step"] != "publish" || runs[0]["escalation_id"] != id {
			t.Fatalf("runs = %+v", runs)
		}
		if runs := decode[[]map[string]any](t, b.api(t, "GET", "/api/v1/runs?status=completed", "")); len(runs) != 0 {
			t.Fatalf("completed runs = %+v", runs)
		}
		wantAPIError(t, b.api(t, "GET", "/api/v1/runs?status=lost", ""), 400, "unknown run status")
		wantAPIError(t, b.api(t, "GET", "/api/v1/runs?offset=-1", ""), 400, "bad offset")
	})
	t.Run("Run", func(t *testing.T) {
		var run struct {
			ID    string `json:"id"`
			Steps []struct {
				Name     string `json:"name"`
				Status   string `json:"status"`
				Fallback string `json:"fallback"`
				Events   []struct {
					Event   string `json:"event"`
					Class   string `json:"class"`
					DelayMS *int64 `json:"delay_ms"`
				} `json:"events"`
			} `json:"steps"`
			Escalations []escalate.Item `json:"escalations"`
		}
		rec := b.api(t, "GET", "/api/v1/runs/run-tides", "")
		wantStatus(t, rec, 200)
		if err := json.Unmarshal(rec.Body.Bytes(), &run); err != nil {
			t.Fatal(err)
		}
		if run.ID != "run-tides" || len(run.Steps) != 3 || len(run.Escalations) != 1 {
			t.Fatalf("run = %s", rec.Body)
		}
		outline := run.Steps[0]
		if outline.Name != "outline" || outline.Status != "completed" || len(outline.Events) < 2 ||
			outline.Events[0].Event != "attempt_failed" || outline.Events[0].Class != "overloaded" ||
			outline.Events[1].Event != "retry_scheduled" || outline.Events[1].DelayMS == nil {
			t.Fatalf("outline = %+v", outline)
		}
		if run.Steps[1].Fallback != "fake/fallback" {
			t.Fatalf("section_1 fallback = %q", run.Steps[1].Fallback)
		}
		if run.Steps[2].Status != "escalated" {
			t.Fatalf("publish = %+v", run.Steps[2])
		}
		wantAPIError(t, b.api(t, "GET", "/api/v1/runs/run-nope", ""), 404, "run-nope")
	})
	t.Run("Breakers", func(t *testing.T) {
		got := decode[struct {
			Breakers []struct {
				Name        string `json:"name"`
				State       string `json:"state"`
				Transitions []struct {
					From, To string
				} `json:"transitions"`
			} `json:"breakers"`
			RunEvents []json.RawMessage `json:"run_events"`
		}](t, b.api(t, "GET", "/api/v1/breakers", ""))
		bs := got.Breakers
		if len(got.RunEvents) != 1 || !strings.Contains(string(got.RunEvents[0]), `"run_id": "run-tides"`) {
			t.Fatalf("run events = %s", got.RunEvents)
		}
		if len(bs) != 1 || bs[0].Name != "fake/primary" || bs[0].State != "open" || len(bs[0].Transitions) != 1 ||
			bs[0].Transitions[0].From != "closed" || bs[0].Transitions[0].To != "open" {
			t.Fatalf("breakers = %+v", bs)
		}
	})
	t.Run("UnknownEndpoint", func(t *testing.T) {
		wantAPIError(t, b.api(t, "GET", "/api/v1/nothing", ""), 404, "no API endpoint")
		wantAPIError(t, b.api(t, "DELETE", "/api/v1/escalations/"+id, ""), 404, "no API endpoint")
	})
}

func TestAPIActions(t *testing.T) {
	t.Parallel()

	t.Run("ClaimResolve", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-1")
		it := decode[escalate.Item](t, b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"alice","claim_for":"20m"}`))
		if it.Status != escalate.StatusClaimed || it.ClaimedBy != "alice" {
			t.Fatalf("claimed item = %+v", it)
		}
		if d := time.Until(it.ClaimedUntil); d < 19*time.Minute || d > 21*time.Minute {
			t.Errorf("claimed for %v, want 20m", d)
		}
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"bob"}`), 409, "alice")
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/resolve", `{"by":"bob","action":"approve"}`), 409, "claimed by")
		it = decode[escalate.Item](t, b.api(t, "POST", "/api/v1/escalations/"+id+"/resolve",
			`{"by":"alice","action":"respond","answer":"Published elsewhere","note":"done by hand"}`))
		if it.Status != escalate.StatusResolved || it.Decision == nil || it.Decision.Action != rebound.ActionRespond ||
			it.Decision.Answer != "Published elsewhere" {
			t.Fatalf("resolved item = %+v", it)
		}
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/resolve", `{"by":"alice","action":"approve"}`), 409, "resolved")
	})

	t.Run("BadRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-1")
		path := "/api/v1/escalations/" + id + "/resolve"
		wantAPIError(t, b.api(t, "POST", path, `{"by":"bob","action":"launch"}`), 400, "unknown action")
		wantAPIError(t, b.api(t, "POST", path, `{"by":"bob","action":"respond"}`), 400, "answer")
		wantAPIError(t, b.api(t, "POST", path, `{"action":"approve"}`), 400, "by")
		wantAPIError(t, b.api(t, "POST", path, `{"by":"bob"}`), 400, "action")
		wantAPIError(t, b.api(t, "POST", path, `{"by":`), 400, "bad JSON")
		wantAPIError(t, b.api(t, "POST", path, `{"by":"bob","action":"approve","extra":1}`), 400, "extra")
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"bob","claim_for":"soon"}`), 400, "claim_for")
		rec := b.api(t, "POST", path, "", func(r *http.Request) {
			r.Body = http.NoBody
		})
		wantAPIError(t, rec, 400, "action")
		req := httptest.NewRequest("POST", path, strings.NewReader("action=approve&by=bob"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantAPIError(t, b.do(t, req), 415, "application/json")
		if it, _ := b.queue.Get(t.Context(), id); it.Status != escalate.StatusOpen {
			t.Fatalf("status = %s after bad requests", it.Status)
		}
	})

	t.Run("DismissReopen", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-1")
		it := decode[escalate.Item](t, b.api(t, "POST", "/api/v1/escalations/"+id+"/dismiss", `{"by":"dora","note":"duplicate"}`))
		if it.Status != escalate.StatusDismissed {
			t.Fatalf("dismissed item = %+v", it)
		}
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/dismiss", `{"by":"dora"}`), 409, "dismissed")
		it = decode[escalate.Item](t, b.api(t, "POST", "/api/v1/escalations/"+id+"/reopen", `{"by":"dora","note":"oops"}`))
		if it.Status != escalate.StatusOpen || it.Decision != nil {
			t.Fatalf("reopened item = %+v", it)
		}
		wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/"+id+"/reopen", `{"by":"dora"}`), 409, "open")
		audit := decode[[]escalate.AuditEntry](t, b.api(t, "GET", "/api/v1/escalations/"+id+"/audit", ""))
		if len(audit) != 3 || audit[1].Event != escalate.AuditDismissed || audit[2].Event != escalate.AuditReopened ||
			audit[2].Note != "oops" {
			t.Fatalf("audit = %+v", audit)
		}
	})

	t.Run("ReopenAfterTheRunActed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-acted")
		path := "/api/v1/escalations/" + id
		decode[escalate.Item](t, b.api(t, "POST", path+"/resolve", `{"action":"approve","by":"alice"}`))
		// Decided, not yet acted on: the page offers to reopen.
		wantBody(t, b.get(t, "/escalations/"+id), `action="/escalations/`+id+`/reopen"`)
		w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := w.Poll(t.Context()); err != nil || n != 1 {
			t.Fatalf("Poll = %d, %v; want the run resumed", n, err)
		}
		if run, err := b.runs.GetRun(t.Context(), "run-acted"); err != nil || run.Status != checkpoint.StatusCompleted {
			t.Fatalf("run after the worker: %v, %v", run, err)
		}
		// The run acted on the decision: reopening would leave an item nothing will read.
		wantAPIError(t, b.api(t, "POST", path+"/reopen", `{"by":"dora"}`), 409, `run "run-acted" is completed`)
		if it, _ := b.queue.Get(t.Context(), id); it.Status != escalate.StatusResolved {
			t.Fatalf("status = %s after a refused reopen", it.Status)
		}
		rec := b.get(t, "/escalations/"+id)
		wantBody(t, rec, "The run is completed: it acted on this decision")
		if strings.Contains(rec.Body.String(), `/reopen"`) {
			t.Errorf("the page of a finished run's item still offers to reopen it")
		}
	})

	t.Run("UnknownID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		for _, op := range []string{"claim", "resolve", "dismiss", "reopen"} {
			wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/esc-nope/"+op, `{"by":"x","action":"approve"}`), 404, "esc-nope")
		}
	})

	t.Run("CrossOrigin", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-1")
		rec := b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"eve"}`, func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		})
		wantAPIError(t, rec, 403, "cross-origin")
	})
}
