package dashboard_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// superviseRun escalates a run and has a supervisor resolve it with hold; it returns the item.
func (b *bundle) superviseRun(t *testing.T, runID string, hold time.Duration) string {
	t.Helper()
	id := b.escalatedRun(t, runID)
	if _, err := b.queue.Resolve(t.Context(), id, rebound.Decision{Action: rebound.ActionApprove,
		By: "model-x policy:v3", Actor: rebound.ActorSupervisor, Confidence: 0.87, Hold: hold,
		Rationale: `the report cites its sources <script>alert(1)</script>`}); err != nil {
		t.Fatal(err)
	}
	return id
}

// formOf returns the HTML of the form whose action ends in suffix, or "".
func formOf(body, suffix string) string {
	re := regexp.MustCompile(`(?s)<form method="post" action="[^"]*` + regexp.QuoteMeta(suffix) + `"[^>]*>.*?</form>`)
	return re.FindString(body)
}

func TestQueueShowsAndFiltersWhoDecided(t *testing.T) {
	b := setup(t, setupOpts{})
	sup := b.superviseRun(t, "run-sup", time.Hour)
	per := b.escalatedRun(t, "run-per")
	if _, err := b.queue.Resolve(t.Context(), per, rebound.Decision{Action: rebound.ActionReject, By: "carol", Note: "no"}); err != nil {
		t.Fatal(err)
	}
	open := b.escalatedRun(t, "run-open")

	rec := b.get(t, "/escalations")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "Decided by", "b-actor-supervisor", "model-x policy:v3", "b-actor-person", "carol", "held 59m", `href="/escalations?actor=supervisor"`)

	rec = b.get(t, "/escalations?actor=supervisor")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, sup)
	wantNoBody(t, rec, per, open)
	rec = b.get(t, "/escalations?actor=person")
	wantBody(t, rec, per)
	wantNoBody(t, rec, sup, open)
	rec = b.get(t, "/escalations?actor=carol")
	wantBody(t, rec, per)
	wantNoBody(t, rec, sup, open)

	api := b.api(t, http.MethodGet, "/api/v1/escalations?actor=supervisor", "")
	wantStatus(t, api, http.StatusOK)
	var items []map[string]any
	if err := json.Unmarshal(api.Body.Bytes(), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0]["id"] != sup {
		t.Fatalf("API ?actor=supervisor = %s", api.Body)
	}
	d, _ := items[0]["decision"].(map[string]any)
	if d["actor"] != "supervisor" || d["confidence"] != 0.87 || d["hold_ns"] != float64(time.Hour) || d["hold_until"] == nil ||
		!strings.Contains(d["rationale"].(string), "cites its sources") {
		t.Errorf("API decision = %v", d)
	}
}

func TestOverrideDuringHold(t *testing.T) {
	b := setup(t, setupOpts{})
	id := b.superviseRun(t, "run-1", time.Hour)
	if _, err := b.queue.Resolve(t.Context(), b.escalatedRun(t, "run-x"), rebound.Decision{Action: rebound.ActionApprove, By: "carol"}); err != nil {
		t.Fatal(err)
	}
	var s formSession
	page := b.open(t, &s, "/escalations/"+id)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Decided by", "b-actor-supervisor", "model-x policy:v3", "Rationale", "87%", "59m", "left",
		"Override the supervisor", "&lt;script&gt;alert(1)&lt;/script&gt;")
	wantNoBody(t, page, "<script>alert(1)")
	form := formOf(page.Body.String(), "/override")
	if form == "" {
		t.Fatalf("no override form on the page of a held decision")
	}
	if strings.Contains(form, "checked") {
		t.Errorf("the override form preselects a decision:\n%s", form)
	}
	if !strings.Contains(form, `name="csrf"`) {
		t.Errorf("the override form has no CSRF token")
	}

	// The run does not act during the hold.
	err := b.runner.Resume(t.Context(), "run-1", map[string]checkpoint.Workflow{"research": b.workflow("tides")})
	if !errors.Is(err, checkpoint.ErrHeld) || b.publishN != 0 {
		t.Fatalf("resume during the hold: %v (published %d)", err, b.publishN)
	}

	// Without the form token: refused, nothing changes.
	rec := b.post(t, &s, "/escalations/"+id+"/override", url.Values{"action": {"reject"}, "by": {"ana"}})
	wantStatus(t, rec, http.StatusForbidden)
	// Without a decision: the page again, with the reason.
	rec = b.post(t, &s, "/escalations/"+id+"/override", url.Values{"csrf": {s.csrf}, "by": {"ana"}})
	wantStatus(t, rec, http.StatusBadRequest)
	if it, _ := b.queue.Get(t.Context(), id); it.Decision.Actor != rebound.ActorSupervisor {
		t.Fatalf("refused overrides changed the decision: %+v", it.Decision)
	}
	rec = b.post(t, &s, "/escalations/"+id+"/override", url.Values{"csrf": {s.csrf}, "action": {"reject"},
		"note": {"not this week"}, "by": {"ana"}})
	wantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/escalations/"+id+"?done=overridden" {
		t.Errorf("redirect to %q", loc)
	}
	page = b.open(t, &s, "/escalations/"+id+"?done=overridden")
	wantBody(t, page, "Overridden.", "b-actor-person", "ana", "not this week", "overridden", "model-x policy:v3", "confidence 87%")
	if formOf(page.Body.String(), "/override") != "" {
		t.Errorf("an override form is still offered after the override")
	}

	// The run acts on the person's decision at once.
	err = b.runner.Resume(t.Context(), "run-1", map[string]checkpoint.Workflow{"research": b.workflow("tides")})
	var rej *checkpoint.RejectedError
	if !errors.As(err, &rej) || rej.By != "ana" || b.publishN != 0 {
		t.Fatalf("resume after the override: %v (published %d), want rejected by ana", err, b.publishN)
	}
}

func TestOverrideAPI(t *testing.T) {
	b := setup(t, setupOpts{})
	id := b.superviseRun(t, "run-1", time.Hour)
	rec := b.api(t, http.MethodPost, "/api/v1/escalations/"+id+"/override", `{"action": "maybe", "by": "ana"}`)
	wantStatus(t, rec, http.StatusBadRequest)
	rec = b.api(t, http.MethodPost, "/api/v1/escalations/"+id+"/override",
		`{"action": "respond", "answer": "published elsewhere", "note": "done by hand", "rationale": "the site is down", "by": "ana"}`)
	wantStatus(t, rec, http.StatusOK)
	var it escalate.Item
	if err := json.Unmarshal(rec.Body.Bytes(), &it); err != nil {
		t.Fatal(err)
	}
	if it.Decision == nil || it.Decision.Actor != rebound.ActorPerson || it.Decision.By != "ana" ||
		it.Decision.Rationale != "the site is down" || !it.HoldUntil().IsZero() {
		t.Errorf("overridden item: %+v", it.Decision)
	}
	rec = b.api(t, http.MethodPost, "/api/v1/escalations/"+id+"/override", `{"action": "approve", "by": "bo"}`)
	wantStatus(t, rec, http.StatusConflict)
	wantBody(t, rec, "decided by a person")
	rec = b.api(t, http.MethodGet, "/api/v1/escalations/"+id, "")
	wantStatus(t, rec, http.StatusOK)
	var full struct {
		Audit []escalate.AuditEntry
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &full); err != nil {
		t.Fatal(err)
	}
	var sup, ov bool
	for _, a := range full.Audit {
		sup = sup || a.Event == escalate.AuditResolved && a.Actor == rebound.ActorSupervisor && a.Confidence == 0.87 && a.Hold == time.Hour
		ov = ov || a.Event == escalate.AuditOverridden && a.By == "ana" && a.Answer == "published elsewhere"
	}
	if !sup || !ov {
		t.Errorf("audit lacks the supervisor's decision (%v) or the override (%v): %s", sup, ov, rec.Body)
	}
	// Held no more: the hold of a short decision ends, then the override is refused.
	short := b.superviseRun(t, "run-2", 20*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	rec = b.api(t, http.MethodPost, "/api/v1/escalations/"+short+"/override", `{"action": "reject", "by": "ana"}`)
	wantStatus(t, rec, http.StatusConflict)
	wantBody(t, rec, "hold")
}

func TestSupervisorReviewNotesShown(t *testing.T) {
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-1")
	if _, err := b.queue.Route(t.Context(), id, "", "model-x policy:v3", "amount over the policy's limit; risk high"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.SupervisorUnavailable(t.Context(), id, "", "model-x policy:v3", "timeout after 30s"); err != nil {
		t.Fatal(err)
	}
	page := b.get(t, "/escalations/"+id)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Supervisor's review", "handed to a person", "amount over the policy&#39;s limit; risk high",
		"supervisor unavailable", "timeout after 30s", "never a denial")
	// Still open for a person: the decision form, nothing preselected.
	if f := formOf(page.Body.String(), "/resolve"); f == "" || strings.Contains(f, "checked") {
		t.Errorf("the resolve form is missing or preselects a decision")
	}
}
