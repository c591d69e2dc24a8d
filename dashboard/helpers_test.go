package dashboard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/retry"
)

type bundle struct {
	runs     *checkpoint.MemoryStore
	queue    *escalate.Queue
	runner   *checkpoint.Runner
	set      *breaker.Set
	log      *dashboard.BreakerLog
	srv      *dashboard.Server
	token    string
	publishN int // how many times the publish step executed
}

type setupOpts struct {
	token string
	now   func() time.Time
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	b := &bundle{runs: checkpoint.NewMemoryStore(), token: o.token}
	b.queue = escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	b.log = dashboard.NewBreakerLog(0)
	set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{OnStateChange: b.log.OnStateChange}})
	if err != nil {
		t.Fatal(err)
	}
	b.set = set
	b.log.Watch(set)
	b.runner = checkpoint.NewRunner(b.runs, checkpoint.Config{Escalations: b.queue})
	srv, err := dashboard.New(dashboard.Config{
		Escalations: b.queue, Runs: b.runs, Breakers: b.log, Token: rebound.Secret(o.token), Now: o.now,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "rebound_up 1\n") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = srv
	return b
}

// workflow is a small research pipeline: an outline that fails once (transient) and is
// retried, a section answered by a fallback, and a publish step that needs approval.
func (b *bundle) workflow(topic string) checkpoint.Workflow {
	return func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: "+topic)); err != nil {
			return err
		}
		calls := 0
		p := retry.Policy{Base: time.Millisecond, Rand: func() float64 { return 0 }, Name: "fake/primary"}
		outline, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, p, func(ctx context.Context) (string, error) {
				if calls++; calls == 1 {
					return "", &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Provider: "fake", Message: "overloaded"}
				}
				text := "1. Tides\n2. Moon"
				return text, run.Append(ctx, rebound.Assistant(text))
			})
		})
		if err != nil {
			return err
		}
		_, err = checkpoint.Step(ctx, run, "section_1", func(ctx context.Context) (string, error) {
			rebound.Hook(nil).Emit(ctx, rebound.Event{Kind: rebound.BreakerChanged, Model: "fake/primary", From: "closed", To: "open"})
			rebound.Hook(nil).Emit(ctx, rebound.Event{Kind: rebound.FallbackUsed, From: "fake/primary", To: "fake/fallback"})
			m := rebound.Assistant("Section on " + outline[:8])
			m.Degraded, m.Source = true, "fake/fallback"
			return m.Content, run.Append(ctx, m)
		})
		if err != nil {
			return err
		}
		_, err = checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			b.publishN++
			return "published to /reports/" + run.ID(), nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
}

// escalatedRun starts a run that stops at publish, waiting for approval, and returns the ID of
// its escalation.
func (b *bundle) escalatedRun(t *testing.T, runID string) string {
	t.Helper()
	err := b.runner.Run(t.Context(), runID, b.workflow("tides"), checkpoint.WithWorkflow("research", map[string]string{"topic": "tides"}))
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		t.Fatalf("run %s: error = %v, want an escalation", runID, err)
	}
	items, err := b.queue.List(t.Context(), escalate.Filter{RunID: runID})
	if err != nil || len(items) != 1 {
		t.Fatalf("escalations of %s = %v, %v; want one", runID, items, err)
	}
	return items[0].ID
}

// do sends a request straight to the handler. httptest's default Host, example.com, becomes
// localhost: a dashboard without a token answers loopback names only.
func (b *bundle) do(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if req.Host == "example.com" {
		req.Host = "localhost"
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, req)
	return rec
}

func (b *bundle) get(t *testing.T, path string, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, m := range mods {
		m(req)
	}
	return b.do(t, req)
}

func withBearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func withCookies(cs ...*http.Cookie) func(*http.Request) {
	return func(r *http.Request) {
		for _, c := range cs {
			r.AddCookie(c)
		}
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formSession is a browser's state: the cookies it holds and the CSRF token of the last page.
type formSession struct {
	cookies map[string]*http.Cookie
	csrf    string
}

func (s *formSession) list() []*http.Cookie {
	var out []*http.Cookie
	for _, c := range s.cookies {
		out = append(out, c)
	}
	return out
}

func (s *formSession) keep(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(s.cookies, c.Name)
			continue
		}
		s.cookies[c.Name] = c
	}
}

// open loads a page as a browser would, keeping its cookies and its form token.
func (b *bundle) open(t *testing.T, s *formSession, path string) *httptest.ResponseRecorder {
	t.Helper()
	if s.cookies == nil {
		s.cookies = map[string]*http.Cookie{}
	}
	rec := b.get(t, path, withCookies(s.list()...))
	s.keep(rec)
	if m := csrfRE.FindStringSubmatch(rec.Body.String()); m != nil {
		s.csrf = m[1]
	}
	return rec
}

// post submits a form as a browser would (same-origin Fetch metadata), with the token unless
// the caller removed it.
func (b *bundle) post(t *testing.T, s *formSession, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range s.list() {
		req.AddCookie(c)
	}
	rec := b.do(t, req)
	s.keep(rec)
	return rec
}

func (b *bundle) api(t *testing.T, method, path, body string, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	for _, m := range mods {
		m(req)
	}
	return b.do(t, req)
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, want, clip(rec.Body.String()))
	}
}

func wantBody(t *testing.T, rec *httptest.ResponseRecorder, subs ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q; body:\n%s", s, clip(body))
		}
	}
}

func wantNoBody(t *testing.T, rec *httptest.ResponseRecorder, subs ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("body contains %q, and must not", s)
		}
	}
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}
