package supervisor

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/llm"
)

// Config configures a Supervisor. Queue, Model and Policy are required.
type Config struct {
	// Queue is the escalation queue the supervisor reviews.
	Queue *escalate.Queue
	// Model gives the verdicts: wrap it with llm.Resilient (retries, a breaker, a per-attempt
	// timeout), as every model call of Rebound is.
	Model llm.Model
	// Policy says what the supervisor may decide.
	Policy *Policy
	// Instance names this supervisor's claims, so that two supervisors with the same model
	// and policy never hold one item together. Default: host name, process id and a random
	// suffix.
	Instance string
	// ClaimFor is how long a claim lasts: a supervisor that dies holding one leaves the item
	// to the others after it. Default twice Policy.Timeout plus 30 s.
	ClaimFor time.Duration
	// Interval is how often Run looks for open items. Default 5 s.
	Interval time.Duration
	// OnOutcome, if set, is called with every outcome (dry runs included), on the reviewing
	// goroutine.
	OnOutcome func(Outcome)
	// Logger receives a line per outcome and per problem. Default slog.Default().
	Logger *slog.Logger
}

// Kind is what the supervisor did with an item.
type Kind string

// The outcomes, recorded distinctly in the item's audit trail.
const (
	// Resolved: the supervisor decided, within its policy (audit event resolved, the
	// decision's Actor ActorSupervisor).
	Resolved Kind = "resolved"
	// Routed: the supervisor handed the item to a person, with its rationale and the risk it
	// saw (audit event routed). The item stays open.
	Routed Kind = "routed"
	// Unavailable: the supervisor could give no usable verdict (timeout, provider error,
	// invalid verdict, budget spent; audit event supervisor_unavailable). The item stays open
	// for a person; this is never a denial.
	Unavailable Kind = "unavailable"
	// Lost: the item changed under the supervisor (a person claimed or decided it meanwhile);
	// nothing was written.
	Lost Kind = "lost"
)

// Outcome is what the supervisor did, or in a dry run would do, with one item.
type Outcome struct {
	ItemID string
	RunID  string
	Step   string
	Reason rebound.EscalationReason
	// Tool is the tool the step calls, as the policy saw it ("" when none).
	Tool string
	Kind Kind
	// Decision is the decision taken (Resolved), or in a dry run the one that would be.
	Decision *rebound.Decision
	// Verdict is the model's verdict, when it gave a usable one.
	Verdict *Verdict
	// Why says why the item was routed or why the supervisor was unavailable (for Resolved,
	// the rule that allowed the decision).
	Why string
	// Risk is the risk the supervisor saw, for a routed item.
	Risk string
	// DryRun: nothing was written.
	DryRun bool
}

// Verdict is the model's structured answer.
type Verdict struct {
	// Decision is approve, respond, retry, reject (the step should not go on: a person sees
	// the reasons) or person (hand it to a person).
	Decision   string  `json:"decision"`
	Rationale  string  `json:"rationale"`
	Confidence float64 `json:"confidence"`
	// Risk is the risk the model sees, in a few words.
	Risk string `json:"risk,omitempty"`
	// Answer is the step's result, for respond.
	Answer string `json:"answer,omitempty"`
}

// verdictSchema is the JSON Schema of the verdict tool's input.
const verdictSchema = `{"type":"object","properties":{` +
	`"decision":{"type":"string","enum":["approve","respond","retry","reject","person"]},` +
	`"rationale":{"type":"string"},` +
	`"confidence":{"type":"number","minimum":0,"maximum":1},` +
	`"risk":{"type":"string"},` +
	`"answer":{"type":"string"}},` +
	`"required":["decision","rationale","confidence"]}`

func validVerdict(v Verdict) error {
	switch v.Decision {
	case "approve", "respond", "retry", "reject", "person":
	default:
		return fmt.Errorf("decision %q: want approve, respond, retry, reject or person", v.Decision)
	}
	if math.IsNaN(v.Confidence) || v.Confidence < 0 || v.Confidence > 1 {
		return fmt.Errorf("confidence %v: want a number from 0 to 1", v.Confidence)
	}
	if strings.TrimSpace(v.Rationale) == "" {
		return errors.New("rationale: required")
	}
	if v.Decision == "respond" && strings.TrimSpace(v.Answer) == "" {
		return errors.New("respond needs an answer")
	}
	return nil
}

// Supervisor reviews open escalations: it resolves those its policy lets it resolve and its
// model is confident about, and hands the rest to a person with its reasons. Safe for
// concurrent use; several supervisors (in several processes) may share one queue.
type Supervisor struct {
	q        *escalate.Queue
	model    llm.Model
	pol      *Policy
	by       string // decisions and audit entries: "MODEL policy:VERSION"
	claimant string // claims: by plus the instance
	claimFor time.Duration
	interval time.Duration
	log      *slog.Logger
	onOut    func(Outcome)

	// askAlways (tests only) asks the model even where the policy allows nothing, to show
	// that the check after the verdict holds by itself.
	askAlways bool

	mu     sync.Mutex
	calls  int
	tokens int
	done   map[string]bool // items this supervisor will not look at again
}

// New returns a supervisor, or an error naming what is missing.
func New(c Config) (*Supervisor, error) {
	switch {
	case c.Queue == nil:
		return nil, errors.New("supervisor: Config.Queue is required")
	case c.Model == nil:
		return nil, errors.New("supervisor: Config.Model is required")
	case c.Policy == nil || c.Policy.Version == "":
		return nil, errors.New("supervisor: Config.Policy is required (LoadPolicy or ParsePolicy)")
	case c.ClaimFor < 0 || c.Interval < 0:
		return nil, errors.New("supervisor: Config.ClaimFor and Interval must be >= 0")
	}
	pol := *c.Policy
	pol.MinConfidence = cmp.Or(pol.MinConfidence, DefaultMinConfidence)
	pol.Timeout = cmp.Or(pol.Timeout, DefaultTimeout)
	pol.MaxCalls = cmp.Or(pol.MaxCalls, DefaultMaxCalls)
	pol.MaxTokens = cmp.Or(pol.MaxTokens, DefaultMaxTokens)
	inst := strings.TrimSpace(c.Instance)
	if inst == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		inst = fmt.Sprintf("%s-%d-%s", cmp.Or(host, "host"), os.Getpid(), hex.EncodeToString(b[:]))
	}
	by := c.Model.Name() + " policy:" + pol.Version
	return &Supervisor{q: c.Queue, model: c.Model, pol: &pol, by: by, claimant: by + " @" + inst,
		claimFor: cmp.Or(c.ClaimFor, 2*pol.Timeout+30*time.Second), interval: cmp.Or(c.Interval, 5*time.Second),
		log: cmp.Or(c.Logger, slog.Default()), onOut: c.OnOutcome, done: map[string]bool{}}, nil
}

// By is how the supervisor signs its decisions and audit entries: "MODEL policy:VERSION".
func (s *Supervisor) By() string { return s.by }

// Spent returns the model calls and tokens this supervisor has used.
func (s *Supervisor) Spent() (calls, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.tokens
}

// Run reviews open items every Interval until ctx ends, and returns ctx's error.
func (s *Supervisor) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "supervisor: review pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Once reviews every open item it has not handled yet, one at a time, and returns what it did.
// Each item is claimed first (an item another reviewer holds, or takes meanwhile, is skipped),
// then resolved, routed or marked supervisor_unavailable, which releases the claim. It fails
// only when the queue cannot be read or written; what it did until then is returned.
func (s *Supervisor) Once(ctx context.Context) ([]Outcome, error) {
	return s.pass(ctx, false)
}

// DryRun reviews every open item it would review, as Once, but writes nothing: no claim, no
// decision, no audit entry. The model is asked (and the budget spent) as it would be.
func (s *Supervisor) DryRun(ctx context.Context) ([]Outcome, error) {
	return s.pass(ctx, true)
}

func (s *Supervisor) pass(ctx context.Context, dry bool) ([]Outcome, error) {
	items, err := s.q.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusOpen}})
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, it := range items {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		ok, err := s.eligible(ctx, it.ID)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		var o Outcome
		if dry {
			o = s.review(ctx, it)
			o.DryRun = true
		} else {
			var handled bool
			if o, handled, err = s.handle(ctx, it.ID); err != nil {
				return out, err
			}
			if !handled {
				continue
			}
		}
		if ctx.Err() != nil && o.Kind == Unavailable {
			// Stopped while reviewing: nothing is recorded, the claim is released.
			return out, ctx.Err()
		}
		out = append(out, o)
		s.report(ctx, o)
	}
	return out, nil
}

func (s *Supervisor) report(ctx context.Context, o Outcome) {
	if s.onOut != nil {
		s.onOut(o)
	}
	attrs := []any{"item", o.ItemID, "run", o.RunID, "step", o.Step, "reason", o.Reason, "outcome", o.Kind, "dry_run", o.DryRun}
	if o.Decision != nil {
		attrs = append(attrs, "decision", o.Decision.Action, "confidence", o.Decision.Confidence)
	}
	if o.Why != "" {
		attrs = append(attrs, "why", o.Why)
	}
	s.log.InfoContext(ctx, "supervisor: reviewed", attrs...)
}

// eligible reports whether the supervisor should look at the item: not if it already routed
// it, found itself unavailable on it or resolved it under this policy version, nor if a person
// overrode a supervisor's decision on it.
func (s *Supervisor) eligible(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	done := s.done[id]
	s.mu.Unlock()
	if done {
		return false, nil
	}
	audit, err := s.q.Audit(ctx, id)
	if err != nil {
		if errors.Is(err, escalate.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if s.handledIn(audit) {
		s.markDone(id)
		return false, nil
	}
	return true, nil
}

func (s *Supervisor) handledIn(audit []escalate.AuditEntry) bool {
	for _, a := range audit {
		switch a.Event {
		case escalate.AuditRouted, escalate.AuditSupervisorUnavailable, escalate.AuditResolved:
			if a.By == s.by {
				return true
			}
		case escalate.AuditOverridden:
			return true
		}
	}
	return false
}

func (s *Supervisor) markDone(id string) {
	s.mu.Lock()
	s.done[id] = true
	s.mu.Unlock()
}

// handle claims the item, reviews it and records the outcome. handled is false when the item
// was not the supervisor's to review (someone else holds it, it was decided meanwhile).
func (s *Supervisor) handle(ctx context.Context, id string) (Outcome, bool, error) {
	it, err := s.q.Claim(ctx, id, s.claimant, s.claimFor)
	if err != nil {
		if errors.Is(err, escalate.ErrConflict) || errors.Is(err, escalate.ErrNotFound) {
			return Outcome{}, false, nil
		}
		return Outcome{}, false, err
	}
	// Another supervisor of this policy may have handled it between the listing and the claim.
	if audit, err := s.q.Audit(ctx, id); err == nil && s.handledIn(audit) {
		s.markDone(id)
		s.release(ctx, id)
		return Outcome{}, false, nil
	}
	o := s.review(ctx, it)
	if ctx.Err() != nil {
		s.release(ctx, id)
		return o, true, nil
	}
	s.markDone(id)
	switch o.Kind {
	case Resolved:
		_, err = s.q.ResolveClaimed(ctx, id, s.claimant, *o.Decision)
		if errors.Is(err, escalate.ErrInvalid) {
			// The queue refused the answer (not of the step's type): a person decides.
			o.Kind, o.Why, o.Risk, o.Decision = Routed, "the queue refused the supervisor's answer: "+err.Error(), "invalid answer", nil
			_, err = s.q.Route(ctx, id, s.claimant, s.by, routeNote(o))
		}
	case Routed:
		_, err = s.q.Route(ctx, id, s.claimant, s.by, routeNote(o))
	case Unavailable:
		_, err = s.q.SupervisorUnavailable(ctx, id, s.claimant, s.by, o.Why)
	}
	if errors.Is(err, escalate.ErrConflict) || errors.Is(err, escalate.ErrNotFound) {
		// The claim ran out and someone else took the item: what they do stands.
		return Outcome{ItemID: o.ItemID, RunID: o.RunID, Step: o.Step, Reason: o.Reason, Tool: o.Tool, Kind: Lost,
			Why: err.Error()}, true, nil
	}
	if err != nil {
		s.mu.Lock()
		delete(s.done, id) // not recorded: the item is looked at again once the claim expires
		s.mu.Unlock()
		return o, true, err
	}
	return o, true, nil
}

func (s *Supervisor) release(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.q.Release(rctx, id, s.claimant); err != nil && !errors.Is(err, escalate.ErrConflict) {
		s.log.WarnContext(ctx, "supervisor: release failed (the claim runs out by itself)", "item", id, "err", err)
	}
}

func routeNote(o Outcome) string {
	var b strings.Builder
	b.WriteString(o.Why)
	if o.Verdict != nil {
		fmt.Fprintf(&b, ". Supervisor's verdict: %s (confidence %.2f): %s", o.Verdict.Decision, o.Verdict.Confidence, o.Verdict.Rationale)
	}
	if o.Risk != "" {
		b.WriteString(". Risk: " + o.Risk)
	}
	return b.String()
}

// Review decides what the supervisor would do with the item, asking the model when the policy
// allows any decision on it, and writes nothing. The policy is applied to the verdict after the
// model answers: a verdict the policy does not allow, or below its confidence, routes the item.
func (s *Supervisor) Review(ctx context.Context, it escalate.Item) Outcome {
	return s.review(ctx, it)
}

func (s *Supervisor) review(ctx context.Context, it escalate.Item) Outcome {
	sub := subjectOf(it, time.Now())
	o := Outcome{ItemID: it.ID, RunID: it.RunID, Step: it.Step, Reason: it.Reason, Tool: sub.tool}
	route := func(why, risk string) Outcome {
		o.Kind, o.Why, o.Risk = Routed, why, risk
		return o
	}
	// The hard limits and the policy, before any model call.
	switch {
	case it.Damaged != "":
		return route("the item could not be read whole ("+it.Damaged+"); the supervisor never decides it", "damaged record")
	case it.Reason == rebound.ReasonAmbiguousState && !s.askAlways:
		return route("ambiguous_state: the supervisor can never decide whether an interrupted irreversible action took place", "in doubt: may have happened")
	}
	allowed := s.pol.allowed(sub)
	if len(allowed) == 0 && !s.askAlways {
		return route(fmt.Sprintf("outside policy %s: no rule allows a decision on reason %s, step %s%s", s.pol.Version, it.Reason, it.Step, toolText(sub)),
			"outside policy")
	}
	v, err := s.ask(ctx, it, sub, allowed)
	if err != nil {
		o.Kind, o.Why = Unavailable, unavailableCause(err)
		return o
	}
	o.Verdict = &v
	// The policy, again, on the verdict: whatever the model was told or talked into.
	act := rebound.Action(v.Decision)
	switch {
	case v.Decision == "person":
		return route("the supervisor hands it to a person", cmp.Or(v.Risk, "not stated"))
	case v.Decision == "reject":
		return route("the supervisor would not let the step go on; it never rejects: a person decides", cmp.Or(v.Risk, "not stated"))
	case v.Confidence < s.pol.MinConfidence:
		return route(fmt.Sprintf("confidence %.2f is below the policy's %.2f", v.Confidence, s.pol.MinConfidence), cmp.Or(v.Risk, "low confidence"))
	}
	rule, ok := allowed[act]
	if !ok {
		return route(fmt.Sprintf("verdict %s is outside policy %s here (it allows %s)", v.Decision, s.pol.Version, actions(allowed)), cmp.Or(v.Risk, "outside policy"))
	}
	if act == rebound.ActionRespond && !s.pol.answerAllowed(sub, v.Answer) {
		return route(fmt.Sprintf("answer %q is not one of the policy's known answers here (%s)", clip(v.Answer, 80), strings.Join(s.pol.answersFor(sub), ", ")), cmp.Or(v.Risk, "outside policy"))
	}
	d := rebound.Decision{Action: act, By: s.by, Actor: rebound.ActorSupervisor, Rationale: v.Rationale,
		Confidence: v.Confidence, Hold: s.pol.Hold}
	if act == rebound.ActionRespond {
		d.Answer = strings.TrimSpace(v.Answer)
	}
	o.Kind, o.Decision, o.Why = Resolved, &d, "allowed by "+rule.Name
	return o
}

func toolText(sub subject) string {
	if sub.tool == "" || sub.tool == sub.step {
		return ""
	}
	return ", tool " + sub.tool
}

func actions(m map[rebound.Action]*Rule) string {
	var a []string
	for k := range m {
		a = append(a, string(k))
	}
	slices.Sort(a)
	return strings.Join(a, ", ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errBudget is the refusal of a call past the supervisor's budget.
var errBudget = errors.New("budget spent")

// unavailableCause says, in a few words, why the supervisor could give no verdict.
func unavailableCause(err error) string {
	var me *llm.MalformedError
	switch {
	case errors.Is(err, errBudget):
		return "budget spent: " + err.Error()
	case errors.As(err, &me):
		return "invalid verdict: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout: " + err.Error()
	}
	if c, _ := rebound.Classify(err); c == rebound.ClassTimeout {
		return "timeout: " + err.Error()
	}
	return "error: " + err.Error()
}

// ask asks the model for a verdict, within the review's timeout and the supervisor's budget.
func (s *Supervisor) ask(ctx context.Context, it escalate.Item, sub subject, allowed map[rebound.Action]*Rule) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, s.pol.Timeout)
	defer cancel()
	req := prompt(it, sub, allowed, s.pol.answersFor(sub))
	m := &budgeted{s: s, inner: s.model}
	v, _, err := llm.Structured(ctx, m, req, llm.StructuredConfig[Verdict]{
		Tool: "verdict", Schema: []byte(verdictSchema), Validate: validVerdict, MaxRepairs: 1,
	})
	return v, err
}

// budgeted counts a supervisor's model calls and tokens, and refuses calls past its budget.
type budgeted struct {
	s     *Supervisor
	inner llm.Model
}

func (b *budgeted) Name() string       { return b.inner.Name() }
func (b *budgeted) ContextWindow() int { return b.inner.ContextWindow() }

func (b *budgeted) admit(req llm.Request) error {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.calls >= s.pol.MaxCalls:
		return fmt.Errorf("%w: %d of %d model calls used", errBudget, s.calls, s.pol.MaxCalls)
	case s.tokens+req.EstimatedTokens() > s.pol.MaxTokens:
		return fmt.Errorf("%w: %d of %d tokens used, the next call may take %d", errBudget, s.tokens, s.pol.MaxTokens, req.EstimatedTokens())
	}
	s.calls++
	return nil
}

func (b *budgeted) spend(resp *llm.Response, req llm.Request) {
	n := req.EstimatedTokens() // a failed call is counted at its estimate
	if resp != nil {
		n = resp.Usage.InputTokens + resp.Usage.OutputTokens
	}
	b.s.mu.Lock()
	b.s.tokens += n
	b.s.mu.Unlock()
}

func (b *budgeted) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	if err := b.admit(req); err != nil {
		return nil, err
	}
	resp, err := b.inner.Generate(ctx, req)
	b.spend(resp, req)
	return resp, err
}

func (b *budgeted) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	if err := b.admit(req); err != nil {
		return nil, err
	}
	resp, err := b.inner.Stream(ctx, req, onDelta)
	b.spend(resp, req)
	return resp, err
}
