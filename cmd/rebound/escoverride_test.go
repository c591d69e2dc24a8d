package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// supervisedStore files three items in a fresh SQLite store: one a supervisor decided with a
// hold, one a supervisor decided without, one a person decided. It returns the --store flag
// and the IDs.
func supervisedStore(t *testing.T, hold time.Duration) (store, held, atOnce, byPerson string) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := escalate.NewQueue(s, escalate.Config{})
	file := func(run string) string {
		id, err := q.Escalate(ctx, rebound.Escalation{RunID: run, Step: "refund", Reason: rebound.ReasonIrreversibleAction,
			Context: "Approving will refund 40 EUR to order 1234"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	held, atOnce, byPerson = file("run-held"), file("run-now"), file("run-person")
	sup := rebound.Decision{Action: rebound.ActionApprove, By: "model-x policy:v3", Actor: rebound.ActorSupervisor,
		// Text a model wrote: it must not drive the terminal.
		Rationale: "within the refund limit \x1b]0;pwned\x07 of 50 EUR", Confidence: 0.91, Hold: hold}
	if _, err := q.Resolve(ctx, held, sup); err != nil {
		t.Fatal(err)
	}
	sup.Hold = 0
	if _, err := q.Resolve(ctx, atOnce, sup); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(ctx, byPerson, rebound.Decision{Action: rebound.ActionApprove, By: "carol"}); err != nil {
		t.Fatal(err)
	}
	return "--store=sqlite:" + path, held, atOnce, byPerson
}

func listIDs(t *testing.T, store string, args ...string) []string {
	t.Helper()
	r := cli(t, nil, append([]string{"escalations", "list", "--json", store}, args...)...)
	mustCode(t, r, 0, "escalations list "+strings.Join(args, " "))
	var items []escalate.Item
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestEscalationsActorAndOverride(t *testing.T) {
	store, held, atOnce, byPerson := supervisedStore(t, time.Hour)
	if got := listIDs(t, store, "--actor", "supervisor"); len(got) != 2 || !sameItems(got, held, atOnce) {
		t.Errorf("--actor supervisor = %v, want %s %s", got, held, atOnce)
	}
	if got := listIDs(t, store, "--actor", "person"); len(got) != 1 || got[0] != byPerson {
		t.Errorf("--actor person = %v, want %s", got, byPerson)
	}
	if got := listIDs(t, store, "--actor", "carol"); len(got) != 1 || got[0] != byPerson {
		t.Errorf("--actor carol = %v, want %s", got, byPerson)
	}
	list := cli(t, nil, "escalations", "list", store)
	mustCode(t, list, 0, "escalations list")
	if !strings.Contains(list.stdout, "DECIDED BY") || !strings.Contains(list.stdout, "supervisor model-x policy:v3 (held") ||
		!strings.Contains(list.stdout, "person carol") {
		t.Errorf("list does not say who decided:\n%s", list.stdout)
	}

	show := cli(t, nil, "escalations", "show", held, store)
	mustCode(t, show, 0, "escalations show")
	for _, want := range []string{"approve by model-x policy:v3 (supervisor)", "rationale", "within the refund limit",
		"confidence  0.91", "left (until", "escalations override " + held} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "\x1b]") || !strings.Contains(show.stdout, `\x1b]0;pwned\a`) && !strings.Contains(show.stdout, `\x1b]0;pwned\x07`) {
		t.Errorf("the rationale's escape sequence reached the terminal, or vanished:\n%q", show.stdout)
	}

	// Refusals: decided by a person, no hold; an item that does not exist is a usage error.
	r := cli(t, nil, "escalations", "override", byPerson, "--action", "reject", "--by", "alice", store)
	mustCode(t, r, 1, "override of a person's decision")
	if !strings.Contains(r.stderr, "decided by a person") {
		t.Errorf("refusal does not say why: %s", r.stderr)
	}
	r = cli(t, nil, "escalations", "override", atOnce, "--action", "reject", "--by", "alice", store)
	mustCode(t, r, 1, "override of a decision without hold")
	if !strings.Contains(r.stderr, "no hold") {
		t.Errorf("refusal does not say why: %s", r.stderr)
	}
	mustCode(t, cli(t, nil, "escalations", "override", "esc_nope", "--action", "reject", "--by", "alice", store), 2, "override of an unknown item")
	mustCode(t, cli(t, nil, "escalations", "override", held, "--action", "respond", "--by", "alice", store), 2, "override without an answer")
	mustCode(t, cli(t, nil, "escalations", "override", held, "--action", "reject", store), 2, "override without --by")

	r = cli(t, nil, "escalations", "override", held, "--action", "reject", "--note", "not this customer",
		"--rationale", "the account is under review", "--by", "alice", store)
	mustCode(t, r, 0, "override during the hold")
	if !strings.Contains(r.stdout, "Overrode "+held) || !strings.Contains(r.stdout, "runs resume run-held") {
		t.Errorf("override output:\n%s", r.stdout)
	}
	show = cli(t, nil, "escalations", "show", held, store)
	for _, want := range []string{"reject by alice (person)", "overridden", "the account is under review",
		"resolved", "[supervisor, confidence 0.91, hold 1h0m0s]"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("show after the override lacks %q:\n%s", want, show.stdout)
		}
	}
	r = cli(t, nil, "escalations", "override", held, "--action", "approve", "--by", "bob", store)
	mustCode(t, r, 1, "second override")
	if got := listIDs(t, store, "--actor", "alice"); len(got) != 1 || got[0] != held {
		t.Errorf("--actor alice after the override = %v, want %s", got, held)
	}
}

func TestEscalationsOverrideHoldOver(t *testing.T) {
	store, held, _, _ := supervisedStore(t, 50*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	r := cli(t, nil, "escalations", "override", held, "--action", "reject", "--by", "alice", store)
	mustCode(t, r, 1, "override after the hold")
	if !strings.Contains(r.stderr, "hold") || !strings.Contains(r.stderr, "ended") {
		t.Errorf("refusal does not say the hold ended: %s", r.stderr)
	}
	show := cli(t, nil, "escalations", "show", held, store)
	if !strings.Contains(show.stdout, "hold        over at") {
		t.Errorf("show of a decision whose hold is over:\n%s", show.stdout)
	}
}

func sameItems(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}
