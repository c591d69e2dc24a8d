package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// listLimit caps the rows of the queue page and of an API list without its own limit.
const listLimit = 500

// reviewerCookie remembers the name a reviewer typed, to fill in the next form.
const reviewerCookie = "rebound_reviewer"

// statusFilters are the values of the status filter, in the order the page offers them. The
// empty value shows every item; "waiting" shows those that still need a decision.
var statusFilters = []string{"", "waiting", "open", "claimed", "resolved", "dismissed"}

// parseStatusFilter turns "open,claimed" (or "waiting") into the queue's filter.
func parseStatusFilter(v string) ([]escalate.Status, error) {
	var out []escalate.Status
	for _, s := range strings.Split(v, ",") {
		switch s = strings.TrimSpace(strings.ToLower(s)); s {
		case "", "all":
		case "waiting":
			out = append(out, escalate.StatusOpen, escalate.StatusClaimed)
		case string(escalate.StatusOpen), string(escalate.StatusClaimed),
			string(escalate.StatusResolved), string(escalate.StatusDismissed):
			out = append(out, escalate.Status(s))
		default:
			return nil, fmt.Errorf("unknown status %q: want open, claimed, resolved, dismissed or waiting", s)
		}
	}
	return out, nil
}

// actorFilters are the values of the actor filter the page offers; any other value names one
// decider.
var actorFilters = []string{"", string(rebound.ActorPerson), string(rebound.ActorSupervisor)}

// parseActorFilter reads ?actor=: person or supervisor (comma-separated), or a decider's exact
// name.
func parseActorFilter(v string) ([]rebound.Actor, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, ""
	}
	var kinds []rebound.Actor
	for _, a := range strings.Split(v, ",") {
		switch k := rebound.Actor(strings.ToLower(strings.TrimSpace(a))); k {
		case rebound.ActorPerson, rebound.ActorSupervisor:
			kinds = append(kinds, k)
		default:
			return nil, v
		}
	}
	return kinds, ""
}

func parseReasonFilter(v string) []rebound.EscalationReason {
	var out []rebound.EscalationReason
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, rebound.EscalationReason(r))
		}
	}
	return out
}

type reasonCard struct {
	Reason  string
	Open    int
	Claimed int
	Oldest  time.Duration
}

type escalationsPage struct {
	Now       time.Time
	Stats     escalate.Stats
	Cards     []reasonCard
	Items     []escalate.Item
	Status    string
	Reason    string
	Actor     string
	Actors    []string
	Statuses  []string
	Reasons   []string
	Truncated bool
}

func (s *Server) pageEscalations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	statuses, err := parseStatusFilter(q.Get("status"))
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	actors, decidedBy := parseActorFilter(q.Get("actor"))
	items, err := s.cfg.Escalations.List(r.Context(), escalate.Filter{
		Status: statuses, Reason: parseReasonFilter(q.Get("reason")), Actor: actors, DecidedBy: decidedBy,
		Limit: listLimit + 1,
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	stats, err := s.cfg.Escalations.Stats(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := escalationsPage{
		Now: s.now(), Stats: stats, Items: items, Status: q.Get("status"), Reason: q.Get("reason"),
		Actor: q.Get("actor"), Actors: actorFilters, Statuses: statusFilters,
	}
	if len(p.Items) > listLimit {
		p.Items, p.Truncated = p.Items[:listLimit], true
	}
	reasons := map[string]bool{}
	for _, rs := range stats.ByReason {
		p.Cards = append(p.Cards, reasonCard{Reason: string(rs.Reason), Open: rs.Open,
			Claimed: rs.Claimed, Oldest: rs.OldestAge(p.Now)})
		reasons[string(rs.Reason)] = true
	}
	for _, it := range items {
		reasons[string(it.Reason)] = true
	}
	for _, rr := range []rebound.EscalationReason{rebound.ReasonMaxRetriesExceeded, rebound.ReasonAmbiguousState,
		rebound.ReasonLowConfidence, rebound.ReasonRequiresHuman, rebound.ReasonIrreversibleAction} {
		reasons[string(rr)] = true
	}
	if p.Reason != "" {
		reasons[p.Reason] = true
	}
	for rr := range reasons {
		p.Reasons = append(p.Reasons, rr)
	}
	sort.Strings(p.Reasons)
	s.render(w, r, http.StatusOK, "escalations", p)
}

// escalationPage is one item with everything needed to decide.
type escalationPage struct {
	Now      time.Time
	Item     escalate.Item
	Audit    []escalate.AuditEntry
	State    string // the state snapshot, indented
	Run      *checkpoint.RunInfo
	Step     *checkpoint.StepView
	Attempts []checkpoint.AttemptRecord
	// Done are the run's completed steps with their results: what an approval builds on.
	Done     []doneStep
	Reviewer string
	// ApproveDoes says what approving will do.
	ApproveDoes string
	// Error is the message of a refused action; Form holds what was typed, to fill in again.
	Error   string
	Form    decisionForm
	Refresh bool
	// Held: the decision is a supervisor's within its hold, which a person may override.
	Held bool
	// Reviews are the supervisor's routed and supervisor_unavailable entries, oldest first.
	Reviews []escalate.AuditEntry
}

func (p escalationPage) refreshSeconds() int {
	if p.Refresh {
		return 2
	}
	return 0
}

type doneStep struct {
	Name     string
	Result   string
	Fields   []field // a result that is a JSON object, field by field
	Fallback string
}

// field is one top-level field of a JSON object result, its value as text.
type field struct{ Name, Value string }

// fieldsOf returns the fields of a result that is a JSON object, in key order, each value as
// preview shows it (a string unquoted); nil for any other result.
func fieldsOf(b []byte) []field {
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil || len(obj) == 0 {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, field{Name: k, Value: preview(obj[k], 4000)})
	}
	return out
}

type decisionForm struct {
	Action, Answer, Note, By string
}

// approveDoes says what approving the item will do, for the decision form: for a step waiting
// for approval, what the step's own context says it does.
func approveDoes(it escalate.Item) string {
	switch it.Reason {
	case rebound.ReasonIrreversibleAction:
		if rest, ok := strings.CutPrefix(it.Context, "Approving will "); ok {
			return "Approving will " + rest
		}
		return "Approving runs step " + it.Step + " now, once. It is irreversible: what it does cannot be undone."
	case rebound.ReasonAmbiguousState:
		return "Approving runs step " + it.Step + " again. Its earlier attempt may have taken effect: check the system it acts on first, or respond with its result."
	}
	return "Approving runs step " + it.Step + " again as it is."
}

func (s *Server) loadEscalation(r *http.Request, id string) (escalationPage, error) {
	ctx := r.Context()
	it, err := s.cfg.Escalations.Get(ctx, id)
	if err != nil {
		return escalationPage{}, err
	}
	audit, err := s.cfg.Escalations.Audit(ctx, id)
	if err != nil {
		return escalationPage{}, err
	}
	p := escalationPage{Now: s.now(), Item: it, Audit: audit, Reviewer: reviewerName(r)}
	p.Held = it.Held(p.Now)
	for _, a := range audit {
		if a.Event == escalate.AuditRouted || a.Event == escalate.AuditSupervisorUnavailable {
			p.Reviews = append(p.Reviews, a)
		}
	}
	if len(it.State) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, it.State, "", "  ") == nil {
			p.State = buf.String()
		} else {
			p.State = string(it.State)
		}
	}
	if s.cfg.Runs != nil && it.RunID != "" {
		// checkpoint.Get verifies the journal; a damaged step's result is never shown.
		v, err := s.getRun(ctx, it.RunID)
		switch {
		case v != nil:
			info := v.RunInfo
			p.Run = &info
			for i := range v.Steps {
				if v.Steps[i].Name == it.Step {
					p.Step = &v.Steps[i]
				}
			}
			if p.Step != nil {
				p.Attempts = p.Step.Attempts
			}
			for _, st := range v.Steps {
				if st.Status == checkpoint.StepCompleted && st.Name != it.Step && st.Damaged == "" {
					p.Done = append(p.Done, doneStep{Name: st.Name, Result: preview(st.Result, 4000), Fields: fieldsOf(st.Result), Fallback: st.Fallback})
				}
			}
		case !errors.Is(err, checkpoint.ErrRunNotFound):
			return escalationPage{}, err
		}
	}
	decided := it.Status == escalate.StatusResolved || it.Status == escalate.StatusDismissed
	p.Refresh = decided && !p.Held && p.Run != nil && (p.Run.Status == checkpoint.StatusEscalated ||
		p.Run.Status == checkpoint.StatusRunning) && p.Run.EscalationID == it.ID
	// No decision is preselected: the reviewer picks one.
	p.Form = decisionForm{By: p.Reviewer}
	p.ApproveDoes = approveDoes(it)
	return p, nil
}

func (s *Server) pageEscalation(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadEscalation(r, r.PathValue("id"))
	if err != nil {
		s.pageFailed(w, r, err)
		return
	}
	s.renderTitled(w, r, http.StatusOK, "escalation", "Escalation "+p.Item.ID, p)
}

// formAction runs one reviewer action from a form: on success it remembers the reviewer's name
// and returns to the item's page with a message; a refused action (409, 400, or 503 from a
// read-only store) shows the page again with the reason and what was typed, the item unchanged.
func (s *Server) formAction(w http.ResponseWriter, r *http.Request, done string,
	act func(id string, f decisionForm) error) {
	id := r.PathValue("id")
	f := decisionForm{
		Action: r.PostFormValue("action"), Answer: r.PostFormValue("answer"),
		Note: r.PostFormValue("note"), By: strings.TrimSpace(r.PostFormValue("by")),
	}
	if f.By != "" {
		http.SetCookie(w, &http.Cookie{
			Name: reviewerCookie, Value: url.QueryEscape(f.By), Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
	}
	if err := act(id, f); err != nil {
		status := statusOf(err)
		if status == http.StatusNotFound || (status >= 500 && !errors.Is(err, fs.ErrPermission)) {
			s.pageFailed(w, r, err)
			return
		}
		p, lerr := s.loadEscalation(r, id)
		if lerr != nil {
			s.pageFailed(w, r, lerr)
			return
		}
		p.Error, p.Form = err.Error(), f
		s.renderTitled(w, r, status, "escalation", "Escalation "+p.Item.ID, p)
		return
	}
	http.Redirect(w, r, "/escalations/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

func (s *Server) formClaim(w http.ResponseWriter, r *http.Request) {
	s.formAction(w, r, "claimed", func(id string, f decisionForm) error {
		_, err := s.cfg.Escalations.Claim(r.Context(), id, f.By, s.cfg.ClaimFor)
		return err
	})
}

func (s *Server) formResolve(w http.ResponseWriter, r *http.Request) {
	s.formAction(w, r, "resolved", func(id string, f decisionForm) error {
		action, err := escalate.ParseAction(f.Action)
		if err != nil {
			return err
		}
		_, err = s.cfg.Escalations.Resolve(r.Context(), id, rebound.Decision{
			Action: action, Answer: f.Answer, Note: f.Note, By: f.By,
		})
		return err
	})
}

func (s *Server) formOverride(w http.ResponseWriter, r *http.Request) {
	s.formAction(w, r, "overridden", func(id string, f decisionForm) error {
		action, err := escalate.ParseAction(f.Action)
		if err != nil {
			return err
		}
		_, err = s.cfg.Escalations.Override(r.Context(), id, rebound.Decision{
			Action: action, Answer: f.Answer, Note: f.Note, By: f.By, Actor: rebound.ActorPerson,
		})
		return err
	})
}

func (s *Server) formDismiss(w http.ResponseWriter, r *http.Request) {
	s.formAction(w, r, "dismissed", func(id string, f decisionForm) error {
		_, err := s.cfg.Escalations.Dismiss(r.Context(), id, f.By, f.Note)
		return err
	})
}

func (s *Server) formReopen(w http.ResponseWriter, r *http.Request) {
	s.formAction(w, r, "reopened", func(id string, f decisionForm) error {
		_, err := s.reopen(r.Context(), id, f.By, f.Note)
		return err
	})
}

// reopen takes a decided item back to open, unless its run has finished: the run acted on the
// decision, and a reopened item would wait in the queue (and in the queue alerts) for a
// decision that nothing will ever read.
func (s *Server) reopen(ctx context.Context, id, by, note string) (escalate.Item, error) {
	if s.cfg.Runs != nil {
		it, err := s.cfg.Escalations.Get(ctx, id)
		if err != nil {
			return escalate.Item{}, err
		}
		if it.RunID != "" {
			run, err := s.cfg.Runs.GetRun(ctx, it.RunID)
			switch {
			case err == nil && run.Status.Finished():
				return escalate.Item{}, &runFinishedError{id: id, run: it.RunID, status: run.Status}
			case err != nil && !errors.Is(err, checkpoint.ErrRunNotFound):
				return escalate.Item{}, err
			}
		}
	}
	return s.cfg.Escalations.Reopen(ctx, id, by, note)
}

// runFinishedError refuses to reopen the item of a finished run. It matches
// escalate.ErrConflict (409).
type runFinishedError struct {
	id, run string
	status  checkpoint.Status
}

func (e *runFinishedError) Error() string {
	return fmt.Sprintf("cannot reopen escalation %q: run %q is %s, it already acted on the decision", e.id, e.run, e.status)
}

func (e *runFinishedError) Is(target error) bool { return target == escalate.ErrConflict }

func reviewerName(r *http.Request) string {
	c, err := r.Cookie(reviewerCookie)
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	return v
}

// pageFailed renders the error page for a failed read: 404 for an unknown ID, 500 (logged)
// for a store failing.
func (s *Server) pageFailed(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		s.serverError(w, r, err)
		return
	}
	s.renderError(w, r, status, err.Error())
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "The store failed to answer: "+err.Error())
}
