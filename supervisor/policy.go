package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// Policy says which decisions the supervisor may take on which escalations. Anything it does
// not allow goes to a person. It is read from a JSON file (LoadPolicy) and never changes while
// a supervisor runs: nothing in an escalation can add to it.
type Policy struct {
	// Version names this policy in every decision and audit entry ("policy:VERSION").
	// Required. Change it when the rules change: a supervisor does not look again at items it
	// already handed to a person under the same version, and looks again under a new one.
	Version string
	// MinConfidence is the confidence below which a verdict goes to a person. Default 0.8; at
	// least 0.5.
	MinConfidence float64
	// Hold is how long a run waits before it acts on a supervisor's decision, so that a person
	// may override it. Default 0 (the run may act at once).
	Hold time.Duration
	// Timeout bounds one review (the model's answer and its one repair). Default 30 s.
	Timeout time.Duration
	// MaxCalls and MaxTokens are the budget of one run of the supervisor (one Supervisor value,
	// say one `rebound supervise` process): model calls, and input plus output tokens. Once
	// either is spent every item goes to a person as supervisor_unavailable ("budget spent").
	// Defaults 100 calls, 200,000 tokens.
	MaxCalls  int
	MaxTokens int
	// Rules say what may be decided. A rule applies to an item when every selector it gives
	// matches; the supervisor may take a decision when some rule that applies allows it.
	Rules []Rule
}

// Rule allows decisions on the items it selects.
type Rule struct {
	// Name names the rule in rationales and in `--dry-run` (default "rule N").
	Name string
	// Reason is the escalation reason the rule is about (required, exact).
	Reason rebound.EscalationReason
	// Step and Tool are globs (path.Match) on the step's name and on the tool the step calls
	// (for a step of package agent, the model's tool call; for another step, the step's name).
	// Empty: any.
	Step, Tool string
	// When are predicates on the tool call's arguments and the item, all of which must hold:
	// `amount <= 100`, `currency == "EUR"`, `@attempts <= 5`. See the package doc.
	When []string
	// Allow are the decisions the rule allows: approve, respond, retry. Never edit or reject
	// (see "What the supervisor can never do").
	Allow []rebound.Action
	// Answers are the only answers a respond may give, compared after trimming spaces.
	// Required when Allow has respond.
	Answers []string

	preds []predicate
}

type policyJSON struct {
	Version       string     `json:"version"`
	MinConfidence *float64   `json:"min_confidence"`
	Hold          string     `json:"hold"`
	Timeout       string     `json:"timeout"`
	Budget        budgetJSON `json:"budget"`
	Rules         []ruleJSON `json:"rules"`
}

type budgetJSON struct {
	MaxCalls  int `json:"max_calls"`
	MaxTokens int `json:"max_tokens"`
}

type ruleJSON struct {
	Name    string   `json:"name"`
	Reason  string   `json:"reason"`
	Step    string   `json:"step"`
	Tool    string   `json:"tool"`
	When    []string `json:"when"`
	Allow   []string `json:"allow"`
	Answers []string `json:"answers"`
}

// The defaults of a policy file.
const (
	DefaultMinConfidence = 0.8
	DefaultTimeout       = 30 * time.Second
	DefaultMaxCalls      = 100
	DefaultMaxTokens     = 200_000
)

// LoadPolicy reads and checks a policy file. Its errors name the file, and the rule and field
// at fault.
func LoadPolicy(file string) (*Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	return p, nil
}

// ParsePolicy reads and checks a policy in JSON. Unknown fields are refused (a misspelt field
// would otherwise silently allow less, or more, than meant), and so is every rule that asks for
// what the supervisor can never do.
func ParsePolicy(b []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j policyJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("not a policy: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a policy: more than one JSON value")
	}
	p := &Policy{Version: strings.TrimSpace(j.Version), MinConfidence: DefaultMinConfidence, Timeout: DefaultTimeout,
		MaxCalls: DefaultMaxCalls, MaxTokens: DefaultMaxTokens}
	if p.Version == "" || strings.ContainsAny(p.Version, " \t\r\n") {
		return nil, errors.New(`version: required, one word (e.g. "2026-12-02.1")`)
	}
	if j.MinConfidence != nil {
		p.MinConfidence = *j.MinConfidence
		if !(p.MinConfidence >= 0.5 && p.MinConfidence <= 1) {
			return nil, fmt.Errorf("min_confidence %v: want a number from 0.5 to 1", *j.MinConfidence)
		}
	}
	var err error
	if p.Hold, err = duration("hold", j.Hold, 0); err != nil {
		return nil, err
	}
	if p.Timeout, err = duration("timeout", j.Timeout, DefaultTimeout); err != nil {
		return nil, err
	}
	if p.Timeout == 0 {
		return nil, errors.New(`timeout: want a positive duration, e.g. "30s"`)
	}
	if j.Budget.MaxCalls < 0 || j.Budget.MaxTokens < 0 {
		return nil, errors.New("budget: max_calls and max_tokens must be positive (or left out for the defaults)")
	}
	if j.Budget.MaxCalls > 0 {
		p.MaxCalls = j.Budget.MaxCalls
	}
	if j.Budget.MaxTokens > 0 {
		p.MaxTokens = j.Budget.MaxTokens
	}
	for i, rj := range j.Rules {
		r, err := parseRule(i, rj)
		if err != nil {
			return nil, err
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

func duration(field, s string, def time.Duration) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return def, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as \"90s\" or \"5m\"", field, s)
	}
	return d, nil
}

func parseRule(i int, j ruleJSON) (Rule, error) {
	r := Rule{Name: strings.TrimSpace(j.Name), Reason: rebound.EscalationReason(strings.TrimSpace(j.Reason)),
		Step: strings.TrimSpace(j.Step), Tool: strings.TrimSpace(j.Tool), When: j.When}
	if r.Name == "" {
		r.Name = fmt.Sprintf("rule %d", i+1)
	}
	where := fmt.Sprintf("rules[%d] (%s)", i, r.Name)
	switch r.Reason {
	case "":
		return r, fmt.Errorf("%s: reason: required (e.g. max_retries_exceeded)", where)
	case "*":
		return r, fmt.Errorf("%s: reason: name one reason; a rule for every reason is not allowed", where)
	case rebound.ReasonAmbiguousState:
		return r, fmt.Errorf("%s: reason ambiguous_state: the supervisor can never decide it (it cannot see whether the action took place); these items always go to a person", where)
	}
	for _, g := range []struct{ name, v string }{{"step", r.Step}, {"tool", r.Tool}} {
		if _, err := path.Match(g.v, ""); err != nil {
			return r, fmt.Errorf("%s: %s %q: not a glob: %v", where, g.name, g.v, err)
		}
	}
	for _, w := range j.When {
		pr, err := parsePredicate(w)
		if err != nil {
			return r, fmt.Errorf("%s: when: %w", where, err)
		}
		r.preds = append(r.preds, pr)
	}
	if len(j.Allow) == 0 {
		return r, fmt.Errorf("%s: allow: required: the decisions the rule allows (approve, respond, retry)", where)
	}
	for _, a := range j.Allow {
		act := rebound.Action(strings.ToLower(strings.TrimSpace(a)))
		switch act {
		case rebound.ActionApprove, rebound.ActionRespond, rebound.ActionRetry:
		case rebound.ActionEdit:
			return r, fmt.Errorf("%s: allow edit: the supervisor can never edit a call (edited arguments would escape the rules written for the original call)", where)
		case rebound.ActionReject:
			return r, fmt.Errorf("%s: allow reject: the supervisor can never reject; a denial goes to a person with its rationale", where)
		default:
			return r, fmt.Errorf("%s: allow %q: want approve, respond or retry", where, a)
		}
		if !slices.Contains(r.Allow, act) {
			r.Allow = append(r.Allow, act)
		}
	}
	for _, a := range j.Answers {
		if a = strings.TrimSpace(a); a != "" {
			r.Answers = append(r.Answers, a)
		}
	}
	if slices.Contains(r.Allow, rebound.ActionRespond) && len(r.Answers) == 0 {
		return r, fmt.Errorf("%s: allow respond needs answers: the known answers the supervisor may give", where)
	}
	if slices.Contains(r.Allow, rebound.ActionApprove) && r.Reason == rebound.ReasonIrreversibleAction &&
		(r.Tool == "" || r.Tool == "*") && (r.Step == "" || r.Step == "*") {
		return r, fmt.Errorf("%s: approve of irreversible_action needs a tool or step: a rule that approves every irreversible action is not allowed", where)
	}
	return r, nil
}

// applies reports whether the rule selects the subject.
func (r *Rule) applies(s subject) bool {
	if r.Reason != s.reason {
		return false
	}
	if r.Step != "" {
		if ok, _ := path.Match(r.Step, s.step); !ok {
			return false
		}
	}
	if r.Tool != "" {
		if s.tool == "" {
			return false
		}
		if ok, _ := path.Match(r.Tool, s.tool); !ok {
			return false
		}
	}
	for _, p := range r.preds {
		if !p.eval(s) {
			return false
		}
	}
	return true
}

// allowed returns, per decision the policy allows on the subject, the first rule allowing it.
// It is empty for what the supervisor can never decide, whatever the rules say.
func (p *Policy) allowed(s subject) map[rebound.Action]*Rule {
	out := map[rebound.Action]*Rule{}
	if s.reason == rebound.ReasonAmbiguousState {
		return out
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.applies(s) {
			continue
		}
		for _, a := range r.Allow {
			if a == rebound.ActionApprove && s.irreversibleAction() && (r.Tool == "" || r.Tool == "*") && (r.Step == "" || r.Step == "*") {
				continue // never approve an irreversible step under a rule that names no tool or step
			}
			if _, ok := out[a]; !ok {
				out[a] = r
			}
		}
	}
	return out
}

// answerAllowed reports whether a respond's answer is one of the known answers of some rule
// that allows respond on the subject.
func (p *Policy) answerAllowed(s subject, answer string) bool {
	answer = strings.TrimSpace(answer)
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.applies(s) && slices.Contains(r.Allow, rebound.ActionRespond) && slices.Contains(r.Answers, answer) {
			return true
		}
	}
	return false
}

// answersFor lists the known answers of the rules that allow respond on the subject.
func (p *Policy) answersFor(s subject) []string {
	var out []string
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.applies(s) && slices.Contains(r.Allow, rebound.ActionRespond) {
			for _, a := range r.Answers {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}
