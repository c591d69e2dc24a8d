package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

var runStatuses = []string{"", "running", "escalated", "completed", "failed", "canceled"}

// errNoRuns answers the run pages and API of a dashboard configured without a run source.
var errNoRuns = errors.New("this dashboard has no run source (Config.Runs is nil)")

func parseRunFilter(q map[string][]string) (checkpoint.RunFilter, error) {
	var f checkpoint.RunFilter
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for _, s := range strings.Split(get("status"), ",") {
		switch s = strings.TrimSpace(strings.ToLower(s)); s {
		case "", "all":
		case "running", "escalated", "completed", "failed", "canceled":
			f.Status = append(f.Status, checkpoint.Status(s))
		default:
			return f, fmt.Errorf("unknown run status %q: want running, escalated, completed, failed or canceled", s)
		}
	}
	for _, k := range []string{"limit", "offset"} {
		v := get(k)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return f, fmt.Errorf("bad %s %q: want a number from 0 to 10000", k, v)
		}
		if k == "limit" {
			f.Limit = n
		} else {
			f.Offset = n
		}
	}
	if f.Limit == 0 {
		f.Limit = checkpoint.DefaultListLimit
	}
	return f, nil
}

type runsPage struct {
	Now      time.Time
	Runs     []checkpoint.RunInfo
	Status   string
	Statuses []string
	Offset   int
	Limit    int
	Next     int // offset of the next page, 0 when none
	Prev     int // offset of the previous page, -1 when none
	Moving   bool
}

func (p runsPage) refreshSeconds() int {
	if p.Moving {
		return 3
	}
	return 0
}

func (s *Server) pageRuns(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Runs == nil {
		s.renderError(w, r, http.StatusNotFound, errNoRuns.Error())
		return
	}
	f, err := parseRunFilter(r.URL.Query())
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	limit := f.Limit
	f.Limit++
	runs, err := s.cfg.Runs.ListRuns(r.Context(), f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := runsPage{Now: s.now(), Runs: runs, Status: r.URL.Query().Get("status"), Statuses: runStatuses,
		Offset: f.Offset, Limit: limit, Prev: -1}
	if len(runs) > limit {
		p.Runs, p.Next = runs[:limit], f.Offset+limit
	}
	if f.Offset > 0 {
		p.Prev = max(0, f.Offset-limit)
	}
	for _, run := range p.Runs {
		if run.Status == checkpoint.StatusRunning {
			p.Moving = true
		}
	}
	s.render(w, r, http.StatusOK, "runs", p)
}

// stepView is one step on a run's timeline: the verified step (checkpoint.Get), with what the
// page shows of it.
type stepView struct {
	checkpoint.StepView
	Failures int
	Result   string // the beginning of the recorded result; empty for a damaged step
	// Tool is an agent's tool call (a "tool:CALL_ID" step), with its arguments as text.
	Tool          *agent.Outcome
	ToolInput     string
	OriginalInput string
}

type runPage struct {
	Now         time.Time
	Run         checkpoint.RunInfo
	Input       string
	Steps       []stepView
	Breakers    []checkpoint.AttemptRecord
	Escalations []escalate.Item
	Messages    []rebound.Message
	// Damaged lists the records that failed verification; their data is not shown.
	Damaged []string
	view    *checkpoint.RunView
}

func (p runPage) refreshSeconds() int {
	if p.Run.Status == checkpoint.StatusRunning {
		return 2
	}
	return 0
}

// loadRun reads the run with checkpoint.Get, which verifies every record: a damaged run is
// shown with its damaged records marked, never their data.
func (s *Server) loadRun(r *http.Request, id string) (runPage, error) {
	if s.cfg.Runs == nil {
		return runPage{}, errNoRuns
	}
	v, err := s.getRun(r.Context(), id)
	if v == nil {
		return runPage{}, err
	}
	// err, beside a view, is the *CorruptError of a damaged run: v.Damaged lists its records.
	p := runPage{Now: s.now(), Run: v.RunInfo, Input: indentJSON(v.Input), Messages: v.Messages,
		Damaged: v.Damaged, view: v}
	for _, st := range v.Steps {
		sv := stepView{StepView: st, Result: preview(st.Result, 600)}
		if o, ok := agent.StepOutcome(st.Name, st.Result); ok && st.Damaged == "" {
			sv.Tool, sv.ToolInput, sv.OriginalInput = &o, string(o.Input), string(o.OriginalInput)
		}
		for _, a := range st.Attempts {
			switch a.Kind {
			case string(rebound.AttemptFailed):
				sv.Failures++
			case string(rebound.BreakerChanged):
				p.Breakers = append(p.Breakers, a)
			}
		}
		p.Steps = append(p.Steps, sv)
	}
	items, err := s.cfg.Escalations.List(r.Context(), escalate.Filter{RunID: id})
	if err != nil {
		return runPage{}, err
	}
	p.Escalations = items
	return p, nil
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Runs == nil {
		s.renderError(w, r, http.StatusNotFound, errNoRuns.Error())
		return
	}
	p, err := s.loadRun(r, r.PathValue("id"))
	if err != nil {
		s.pageFailed(w, r, err)
		return
	}
	s.renderTitled(w, r, http.StatusOK, "run", "Run "+p.Run.ID, p)
}

func indentJSON(b []byte) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

// preview returns the beginning of a recorded result as text: a JSON string unquoted, other
// JSON indented.
func preview(b []byte, n int) string {
	if len(b) == 0 {
		return ""
	}
	var str string
	text := string(b)
	if json.Unmarshal(b, &str) == nil {
		text = str
	} else if ind := indentJSON(b); ind != "" {
		text = ind
	}
	if len(text) <= n {
		return text
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}
