package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// The JSON API under /api/v1/ (docs/api.md). Items are escalate.Item's JSON; runs are
// checkpoint.RunInfo's and checkpoint.RunView's (the CLI prints the same); every error is
// {"error": "..."} with the status of statusOf.

func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "dashboard API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, err.Error())
}

func (s *Server) apiEscalations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	statuses, err := parseStatusFilter(q.Get("status"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := escalate.Filter{Status: statuses, Reason: parseReasonFilter(q.Get("reason")),
		RunID: q.Get("run_id"), Limit: listLimit}
	f.Actor, f.DecidedBy = parseActorFilter(q.Get("actor"))
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad limit %q: want a number from 1 to 10000", v))
			return
		}
		f.Limit = n
	}
	items, err := s.cfg.Escalations.List(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if items == nil {
		items = []escalate.Item{}
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Escalations.Stats(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if st.ByReason == nil {
		st.ByReason = []escalate.ReasonStats{}
	}
	writeJSON(w, http.StatusOK, st)
}

// escalationJSON is one item with its audit trail.
type escalationJSON struct {
	escalate.Item
	Audit []escalate.AuditEntry
}

// MarshalJSON writes the item's fields and an "audit" array beside them.
func (e escalationJSON) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(e.Item)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	audit := e.Audit
	if audit == nil {
		audit = []escalate.AuditEntry{}
	}
	if m["audit"], err = json.Marshal(audit); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func (s *Server) apiEscalation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, err := s.cfg.Escalations.Get(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	audit, err := s.cfg.Escalations.Audit(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, escalationJSON{Item: it, Audit: audit})
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	audit, err := s.cfg.Escalations.Audit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if audit == nil {
		audit = []escalate.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, audit)
}

// maxClaim bounds the claim_for of an API claim: a claim is for working on an item now.
const maxClaim = 24 * time.Hour

// actionRequest is the body of the API's claim, resolve, dismiss and reopen calls.
type actionRequest struct {
	Action string `json:"action"`
	Answer string `json:"answer"`
	Note   string `json:"note"`
	By     string `json:"by"`
	// Rationale is why, for override (kept in the audit trail).
	Rationale string `json:"rationale"`
	// ClaimFor is the claim's length for claim, in Go duration syntax ("30m"), at most 24 h;
	// default the dashboard's ClaimFor.
	ClaimFor string `json:"claim_for"`
}

func readAction(w http.ResponseWriter, r *http.Request) (actionRequest, bool) {
	var req actionRequest
	body := http.MaxBytesReader(w, r.Body, maxFormBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return req, false
	}
	return req, true
}

// apiAct runs one reviewer action and answers with the item as it now is.
func (s *Server) apiAct(w http.ResponseWriter, r *http.Request, act func(id string, req actionRequest) (escalate.Item, error)) {
	req, ok := readAction(w, r)
	if !ok {
		return
	}
	it, err := act(r.PathValue("id"), req)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (s *Server) apiClaim(w http.ResponseWriter, r *http.Request) {
	s.apiAct(w, r, func(id string, req actionRequest) (escalate.Item, error) {
		d := s.cfg.ClaimFor
		if req.ClaimFor != "" {
			v, err := time.ParseDuration(req.ClaimFor)
			if err != nil || v <= 0 || v > maxClaim {
				return escalate.Item{}, &escalate.InvalidError{Field: "claim_for",
					Reason: fmt.Sprintf("%q is not a duration from 1s to %s, such as 30m", req.ClaimFor, maxClaim)}
			}
			d = v
		}
		return s.cfg.Escalations.Claim(r.Context(), id, req.By, d)
	})
}

func (s *Server) apiResolve(w http.ResponseWriter, r *http.Request) {
	s.apiAct(w, r, func(id string, req actionRequest) (escalate.Item, error) {
		action, err := escalate.ParseAction(req.Action)
		if err != nil {
			return escalate.Item{}, err
		}
		return s.cfg.Escalations.Resolve(r.Context(), id, rebound.Decision{
			Action: action, Answer: req.Answer, Note: req.Note, By: req.By,
		})
	})
}

func (s *Server) apiOverride(w http.ResponseWriter, r *http.Request) {
	s.apiAct(w, r, func(id string, req actionRequest) (escalate.Item, error) {
		action, err := escalate.ParseAction(req.Action)
		if err != nil {
			return escalate.Item{}, err
		}
		return s.cfg.Escalations.Override(r.Context(), id, rebound.Decision{
			Action: action, Answer: req.Answer, Note: req.Note, By: req.By, Rationale: req.Rationale,
			Actor: rebound.ActorPerson,
		})
	})
}

func (s *Server) apiDismiss(w http.ResponseWriter, r *http.Request) {
	s.apiAct(w, r, func(id string, req actionRequest) (escalate.Item, error) {
		return s.cfg.Escalations.Dismiss(r.Context(), id, req.By, req.Note)
	})
}

func (s *Server) apiReopen(w http.ResponseWriter, r *http.Request) {
	s.apiAct(w, r, func(id string, req actionRequest) (escalate.Item, error) {
		return s.reopen(r.Context(), id, req.By, req.Note)
	})
}

// runDetailJSON is the API's run: the run's own JSON (checkpoint.RunView's, the one the CLI's
// `runs show --json` prints, its lease judged at the page's Now) with two fields beside it, breaker_events (the breaker_changed
// events of its steps) and escalations (its items in the queue).
func runDetailJSON(p runPage) ([]byte, error) {
	b, err := p.view.MarshalJSONAt(p.Now)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	breakers, escalations := p.Breakers, p.Escalations
	if breakers == nil {
		breakers = []checkpoint.AttemptRecord{}
	}
	if escalations == nil {
		escalations = []escalate.Item{}
	}
	if m["breaker_events"], err = json.Marshal(breakers); err != nil {
		return nil, err
	}
	if m["escalations"], err = json.Marshal(escalations); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Runs == nil {
		writeError(w, http.StatusNotFound, errNoRuns.Error())
		return
	}
	f, err := parseRunFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	runs, err := s.cfg.Runs.ListRuns(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	b, err := checkpoint.MarshalRunsAt(runs, s.now()) // docs/api.md, "Runs as JSON"
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(b))
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Runs == nil {
		writeError(w, http.StatusNotFound, errNoRuns.Error())
		return
	}
	p, err := s.loadRun(r, r.PathValue("id"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	b, err := runDetailJSON(p)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(b))
}
