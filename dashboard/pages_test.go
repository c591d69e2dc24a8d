package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

func TestNewNeedsAQueue(t *testing.T) {
	t.Parallel()
	if _, err := dashboard.New(dashboard.Config{}); err == nil {
		t.Fatal("New without Escalations succeeded")
	}
}

func TestEscalationsPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-tides")
	ctx := t.Context()
	other, err := b.queue.Escalate(ctx, rebound.Escalation{RunID: "run-other", Step: "section_2",
		Reason: rebound.ReasonMaxRetriesExceeded, Class: rebound.ClassOverloaded,
		Err: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: "overloaded"}, Attempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.queue.Escalate(ctx, rebound.Escalation{RunID: "run-done", Step: "summary", Reason: "low_confidence"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Resolve(ctx, done, rebound.Decision{Action: rebound.ActionRespond, Answer: "ok", By: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Claim(ctx, other, "alice", time.Hour); err != nil {
		t.Fatal(err)
	}

	t.Run("All", func(t *testing.T) {
		rec := b.get(t, "/escalations")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "irreversible_action", "run-tides", "publish", "max_retries_exceeded", "overloaded",
			"alice", "run-done", "Waiting for a decision")
		body := rec.Body.String()
		// Open first, then claimed, then resolved.
		if i, j, k := strings.Index(body, "/escalations/"+id+`"`), strings.Index(body, "/escalations/"+other+`"`),
			strings.Index(body, "/escalations/"+done+`"`); !(i < j && j < k) {
			t.Errorf("rows in order %d, %d, %d; want open, claimed, resolved", i, j, k)
		}
	})
	t.Run("FilterStatus", func(t *testing.T) {
		rec := b.get(t, "/escalations?status=resolved")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "run-done")
		wantNoBody(t, rec, `href="/escalations/`+id+`"`, `href="/escalations/`+other+`"`)
	})
	t.Run("FilterReason", func(t *testing.T) {
		rec := b.get(t, "/escalations?reason=max_retries_exceeded")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, `href="/escalations/`+other+`"`)
		wantNoBody(t, rec, `href="/escalations/`+id+`"`)
	})
	t.Run("BadStatus", func(t *testing.T) {
		wantStatus(t, b.get(t, "/escalations?status=pending"), http.StatusBadRequest)
	})
	t.Run("RootRedirects", func(t *testing.T) {
		rec := b.get(t, "/")
		wantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/escalations" {
			t.Errorf("Location = %q", loc)
		}
	})
	t.Run("UnknownPage", func(t *testing.T) {
		wantStatus(t, b.get(t, "/nowhere"), http.StatusNotFound)
	})
	t.Run("Static", func(t *testing.T) {
		rec := b.get(t, "/static/style.css")
		wantStatus(t, rec, http.StatusOK)
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("Content-Type = %q", ct)
		}
	})
}

func TestEscalationPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-tides")

	rec := b.get(t, "/escalations/"+id)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec,
		"irreversible_action", "run-tides", "publish", // what and where
		"Research topic: tides", "1. Tides", // recent messages
		"&#34;topic&#34;: &#34;tides&#34;", // the redacted state, escaped
		"escalated",                        // audit trail
		"What the run has so far", `<span class="mono">section_1</span> <span class="badge b-fallback">fallback: fake/fallback</span>`,
		`action="/escalations/`+id+`/resolve"`, `value="approve" required>`,
		`action="/escalations/`+id+`/claim"`, `action="/escalations/`+id+`/dismiss"`,
		// What approving does, and no decision made for the reviewer (issue 12).
		"If you approve:", "Approving runs step publish now, once. It is irreversible",
	)
	wantNoBody(t, rec, " checked")
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("no content security policy")
	}

	t.Run("UnknownID", func(t *testing.T) {
		rec := b.get(t, "/escalations/esc-nope")
		wantStatus(t, rec, http.StatusNotFound)
		wantBody(t, rec, "esc-nope")
	})
}

func TestEscalationPageShowsAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := t.Context()
	// An escalation of the step that failed: the run's outline step recorded one overloaded
	// attempt and a retry; file an item against that step.
	b.escalatedRun(t, "run-a")
	id, err := b.queue.Escalate(ctx, rebound.Escalation{RunID: "run-a", Step: "outline",
		Reason: "low_confidence", Context: "check the outline"})
	if err != nil {
		t.Fatal(err)
	}
	rec := b.get(t, "/escalations/"+id)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "overloaded", "attempt 1 failed", "retry", "check the outline")
	wantNoBody(t, rec, " checked")
}

func TestEscapingAndRedaction(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id, err := b.queue.Escalate(t.Context(), rebound.Escalation{
		RunID: "run-<x>", Step: "<b>step</b>", Reason: "requires_human",
		Err:      rebound.Permanent(errNamed("upstream said Authorization: Bearer sk-ant-api03-SECRETSECRETSECRET")),
		Context:  `<script>alert("x")</script> api_key=sk-proj-TOPSECRETVALUE123456`,
		Messages: []rebound.Message{rebound.User(`<img src=x onerror=alert(1)>`)},
		State:    []byte(`{"api_key":"sk-live-abcdefabcdefabcdef","topic":"<i>t</i>"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/escalations/" + id, "/escalations"} {
		rec := b.get(t, path)
		wantStatus(t, rec, http.StatusOK)
		wantNoBody(t, rec, "<script>alert", "<img src=x", "<b>step</b>", "<i>t</i>",
			"SECRETSECRETSECRET", "TOPSECRETVALUE", "abcdefabcdefabcdef")
	}
	rec := b.get(t, "/escalations/"+id)
	wantBody(t, rec, "&lt;script&gt;", "&lt;img src=x")
}

type errNamed string

func (e errNamed) Error() string { return string(e) }

func TestForms(t *testing.T) {
	t.Parallel()

	t.Run("ClaimResolve", func(t *testing.T) {
		t.Parallel()
		b, id, s := escalationPage(t)
		rec := b.post(t, s, "/escalations/"+id+"/claim", url.Values{"csrf": {s.csrf}, "by": {"alice"}})
		wantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/escalations/"+id+"?done=claimed" {
			t.Errorf("Location = %q", loc)
		}
		rec = b.open(t, s, "/escalations/"+id+"?done=claimed")
		wantBody(t, rec, "Claimed by <strong>alice</strong>", "Claimed. Other reviewers", `value="alice"`)

		rec = b.post(t, s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "by": {"alice"},
			"action": {"approve"}, "note": {"looks right"}})
		wantStatus(t, rec, http.StatusSeeOther)
		it, err := b.queue.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if it.Status != escalate.StatusResolved || it.Decision == nil || it.Decision.Action != rebound.ActionApprove ||
			it.Decision.By != "alice" || it.Decision.Note != "looks right" {
			t.Fatalf("item after resolve: %+v decision %+v", it, it.Decision)
		}
		rec = b.open(t, s, "/escalations/"+id)
		wantBody(t, rec, "looks right", `action="/escalations/`+id+`/reopen"`, "resolved")
	})

	t.Run("ClaimedBySomeoneElse", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		id := b.escalatedRun(t, "run-1")
		if _, err := b.queue.Claim(t.Context(), id, "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		var s formSession
		b.open(t, &s, "/escalations/"+id)
		rec := b.post(t, &s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "by": {"bob"},
			"action": {"reject"}, "note": {"mine now"}})
		wantStatus(t, rec, http.StatusConflict)
		wantBody(t, rec, "claimed by", "alice", "mine now", `value="reject" checked`)
		rec = b.post(t, &s, "/escalations/"+id+"/claim", url.Values{"csrf": {s.csrf}, "by": {"bob"}})
		wantStatus(t, rec, http.StatusConflict)
	})

	t.Run("BadDecision", func(t *testing.T) {
		t.Parallel()
		b, id, s := escalationPage(t)
		for _, f := range []url.Values{
			{"action": {"respond"}, "by": {"bob"}}, // respond without an answer
			{"action": {"launch"}, "by": {"bob"}},  // no such action
			{"action": {"approve"}, "by": {"  "}},  // nobody
			{"by": {"bob"}},                        // no action
		} {
			f.Set("csrf", s.csrf)
			rec := b.post(t, s, "/escalations/"+id+"/resolve", f)
			wantStatus(t, rec, http.StatusBadRequest)
		}
		it, _ := b.queue.Get(t.Context(), id)
		if it.Status != escalate.StatusOpen {
			t.Fatalf("status = %s after refused decisions", it.Status)
		}
	})

	t.Run("DismissReopen", func(t *testing.T) {
		t.Parallel()
		b, id, s := escalationPage(t)
		rec := b.post(t, s, "/escalations/"+id+"/dismiss", url.Values{"csrf": {s.csrf}, "by": {"dora"}, "note": {"duplicate"}})
		wantStatus(t, rec, http.StatusSeeOther)
		if it, _ := b.queue.Get(t.Context(), id); it.Status != escalate.StatusDismissed {
			t.Fatalf("status = %s, want dismissed", it.Status)
		}
		rec = b.post(t, s, "/escalations/"+id+"/dismiss", url.Values{"csrf": {s.csrf}, "by": {"dora"}})
		wantStatus(t, rec, http.StatusConflict)
		rec = b.post(t, s, "/escalations/"+id+"/reopen", url.Values{"csrf": {s.csrf}, "by": {"dora"}, "note": {"not a duplicate"}})
		wantStatus(t, rec, http.StatusSeeOther)
		if it, _ := b.queue.Get(t.Context(), id); it.Status != escalate.StatusOpen {
			t.Fatalf("status = %s, want open", it.Status)
		}
		rec = b.open(t, s, "/escalations/"+id)
		wantBody(t, rec, "dismissed", "reopened", "not a duplicate", "duplicate")
		rec = b.post(t, s, "/escalations/"+id+"/reopen", url.Values{"csrf": {s.csrf}, "by": {"dora"}})
		wantStatus(t, rec, http.StatusConflict)
	})

	t.Run("UnknownID", func(t *testing.T) {
		t.Parallel()
		b, _, s := escalationPage(t)
		for _, op := range []string{"claim", "resolve", "dismiss", "reopen"} {
			rec := b.post(t, s, "/escalations/esc-nope/"+op, url.Values{"csrf": {s.csrf}, "by": {"x"}, "action": {"approve"}})
			wantStatus(t, rec, http.StatusNotFound)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		t.Parallel()
		b, id, s := escalationPage(t)
		good := s.csrf
		for name, f := range map[string]url.Values{
			"Missing": {"by": {"eve"}, "action": {"approve"}},
			"Wrong":   {"by": {"eve"}, "action": {"approve"}, "csrf": {good[:len(good)-2] + "xx"}},
		} {
			rec := b.post(t, s, "/escalations/"+id+"/resolve", f)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s token: status %d, want 403", name, rec.Code)
			}
		}
		// The right token without its cookie (another browser) is refused too.
		var other formSession
		other.cookies = map[string]*http.Cookie{}
		rec := b.post(t, &other, "/escalations/"+id+"/claim", url.Values{"by": {"eve"}, "csrf": {good}})
		wantStatus(t, rec, http.StatusForbidden)
		// A cross-site form post is refused by its Fetch metadata whatever it carries.
		req := newFormRequest("/escalations/"+id+"/claim", url.Values{"by": {"eve"}, "csrf": {good}}, s.list())
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		wantStatus(t, b.do(t, req), http.StatusForbidden)
		if it, _ := b.queue.Get(t.Context(), id); it.Status != escalate.StatusOpen {
			t.Fatalf("status = %s after forged requests", it.Status)
		}
	})
}

// escalationPage is a fresh bundle with one escalated run, whose escalation page s has open.
func escalationPage(t *testing.T) (*bundle, string, *formSession) {
	t.Helper()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-1")
	s := &formSession{}
	b.open(t, s, "/escalations/"+id)
	return b, id, s
}

func newFormRequest(path string, form url.Values, cookies []*http.Cookie) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, "http://example.com"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

func TestRunPages(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-tides")

	t.Run("List", func(t *testing.T) {
		rec := b.get(t, "/runs")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "run-tides", "escalated", "publish", "research", "waiting on escalation")
		wantStatus(t, b.get(t, "/runs?status=completed"), http.StatusOK)
		wantNoBody(t, b.get(t, "/runs?status=completed"), `href="/runs/run-tides"`)
		wantStatus(t, b.get(t, "/runs?status=lost"), http.StatusBadRequest)
		wantStatus(t, b.get(t, "/runs?limit=x"), http.StatusBadRequest)
	})
	t.Run("One", func(t *testing.T) {
		rec := b.get(t, "/runs/run-tides")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "outline", "section_1", "publish", // the steps
			"overloaded", "attempt 1 failed", // the failed attempt and its class
			"fallback: fake/fallback", // the fallback, marked
			"irreversible",            // publish
			"fake/primary</span> closed → <strong>open</strong>", // the breaker event
			`href="/escalations/`+id+`"`,                         // its escalation
			"&#34;topic&#34;: &#34;tides&#34;",                   // the input
		)
	})
	t.Run("UnknownID", func(t *testing.T) {
		wantStatus(t, b.get(t, "/runs/run-nope"), http.StatusNotFound)
	})
	t.Run("NoRunSource", func(t *testing.T) {
		srv, err := dashboard.New(dashboard.Config{Escalations: b.queue})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/runs", "/runs/run-tides", "/api/v1/runs", "/api/v1/runs/run-tides"} {
			rec := (&bundle{srv: srv}).get(t, p)
			wantStatus(t, rec, http.StatusNotFound)
			wantBody(t, rec, "no run source")
		}
	})
}

func TestBreakersPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.escalatedRun(t, "run-with-breaker")
	b.set.Get("anthropic/claude-sonnet-4-6").ForceOpen()
	b.set.Get("openai/gpt-5-mini")
	rec := b.get(t, "/breakers")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "anthropic/claude-sonnet-4-6", "openai/gpt-5-mini", "closed → <strong>open</strong>", "none recorded",
		// the change journaled by the run, from whichever process ran it
		"Breaker changes in recent runs", `href="/runs/run-with-breaker"`, "section_1", "fake/primary",
		// how many runs were read, not the bound on them
		"the newest 1 change among the run updated last")

	srv, err := dashboard.New(dashboard.Config{Escalations: b.queue})
	if err != nil {
		t.Fatal(err)
	}
	rec = (&bundle{srv: srv}).get(t, "/breakers")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "without a breaker source")
}
