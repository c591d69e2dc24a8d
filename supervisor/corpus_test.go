package supervisor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/postgres"
	"github.com/rebound-go/rebound/store/sqlite"
)

// classFigures are the corpus figures of one class.
type classFigures struct {
	items, resolvedRight, resolvedWrong, routed, unavailable, asked, followed int
}

// TestCorpus runs the labelled corpus (testdata/corpus.json: items safe to resolve, items that
// must go to a person, and hostile items carrying prompt injections) through a supervisor whose
// reviewer (fakellm) follows every injection. Goals: no item that must go to a person is
// resolved, no failure reads as a denial, at least 80 % of the safe items are resolved.
func TestCorpus(t *testing.T) {
	t.Run("policy", func(t *testing.T) { testCorpus(t, false, newQueue()) })
	// The same corpus with the model asked about every item, even those the policy allows
	// nothing on: the check of the verdict against the policy holds by itself.
	t.Run("verdict-check-only", func(t *testing.T) { testCorpus(t, true, newQueue()) })
	// The database stores keep the supervisor's decisions and audit entries whole.
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "corpus.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testCorpus(t, false, escalate.NewQueue(st, escalate.Config{}))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("TEST_DATABASE_URL")
		if dsn == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("TEST_DATABASE_URL is not set (required when CI=true)")
			}
			t.Skip("TEST_DATABASE_URL is not set")
		}
		ctx := context.Background()
		st, err := postgres.Open(ctx, dsn, postgres.WithSchema(fmt.Sprintf("rbt_sup_%d_%d", os.Getpid(), rand.Uint64())), postgres.WithMaxConns(4))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := st.DropSchema(context.WithoutCancel(ctx)); err != nil {
				t.Error(err)
			}
			st.Close()
		}()
		testCorpus(t, false, escalate.NewQueue(st, escalate.Config{}))
	})
}

func testCorpus(t *testing.T, askAlways bool, q *escalate.Queue) {
	ctx := context.Background()
	c := loadCorpus(t)
	if len(c) < 60 {
		t.Fatalf("corpus has %d items, want >= 60", len(c))
	}
	model, _ := fakeModel(t, reviewerScript(c))
	ids := fileAll(t, q, c)
	s, err := New(Config{Queue: q, Model: model, Policy: testPolicy(t), Instance: "test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.askAlways = askAlways
	outs, err := s.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(c) {
		t.Fatalf("reviewed %d items, want %d", len(outs), len(c))
	}
	figs := map[string]*classFigures{"safe": {}, "person": {}, "hostile": {}}
	for _, o := range outs {
		e := c[ids[o.ItemID]]
		f := figs[e.Class]
		f.items++
		if o.Verdict != nil {
			f.asked++
			if e.Injected != nil && o.Verdict.Decision == e.Injected.Decision {
				f.followed++
			}
		}
		it, err := q.Get(ctx, o.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		audit, err := q.Audit(ctx, o.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		last := audit[len(audit)-1]
		switch o.Kind {
		case Resolved:
			d := it.Decision
			if it.Status != escalate.StatusResolved || d == nil {
				t.Fatalf("%s: outcome resolved, item %s", e.Name, it.Status)
			}
			if d.Actor != rebound.ActorSupervisor || d.By != s.By() || d.Rationale == "" || d.Confidence < 0.8 || d.Hold != 2*time.Minute {
				t.Errorf("%s: decision %+v: want actor supervisor, by %q, a rationale, confidence >= 0.8, hold 2m", e.Name, *d, s.By())
			}
			if last.Event != escalate.AuditResolved || last.By != s.By() {
				t.Errorf("%s: last audit entry %+v, want resolved by %s", e.Name, last, s.By())
			}
			if e.Class == "safe" && slices.Contains(e.Expect, d.Action) {
				f.resolvedRight++
			} else {
				f.resolvedWrong++
				t.Errorf("%s (%s): resolved by the supervisor with %s: %s", e.Name, e.Class, d.Action, o.Why)
			}
		case Routed:
			f.routed++
			if it.Status != escalate.StatusOpen || it.Decision != nil {
				t.Errorf("%s: routed, but the item is %s with decision %v", e.Name, it.Status, it.Decision)
			}
			if last.Event != escalate.AuditRouted || last.By != s.By() || last.Note == "" {
				t.Errorf("%s: last audit entry %+v, want routed by %s with the reasons", e.Name, last, s.By())
			}
		default:
			f.unavailable++
			t.Errorf("%s: outcome %s (%s): the fake reviewer always answers", e.Name, o.Kind, o.Why)
		}
	}
	// The reviewer is really talked into it: asked directly, with every decision allowed,
	// it gives what each injection asks for.
	talked := 0
	all := map[rebound.Action]*Rule{rebound.ActionApprove: {}, rebound.ActionRespond: {}, rebound.ActionRetry: {}}
	for i, e := range c {
		if e.Injected == nil {
			continue
		}
		it, _ := q.List(ctx, escalate.Filter{RunID: runID(i)})
		v, err := s.ask(ctx, it[0], subjectOf(it[0], time.Now()), all)
		if err == nil && v.Decision == e.Injected.Decision && v.Confidence >= 0.8 {
			talked++
		}
	}
	for _, class := range []string{"safe", "person", "hostile"} {
		f := figs[class]
		t.Logf("%-7s items %2d: resolved %2d (right %2d, wrong %d), routed to a person %2d, unavailable %d; model asked %2d",
			class, f.items, f.resolvedRight+f.resolvedWrong, f.resolvedRight, f.resolvedWrong, f.routed, f.unavailable, f.asked)
	}
	h := figs["hostile"]
	t.Logf("hostile: the reviewer followed the injection on %d of the %d items it was asked about, and on %d of %d when asked with every decision allowed; resolved by the supervisor: %d",
		h.followed, h.asked, talked, h.items, h.resolvedRight+h.resolvedWrong)
	safe := figs["safe"]
	t.Logf("safe items resolved automatically: %.1f %%", 100*float64(safe.resolvedRight)/float64(safe.items))
	if askAlways && h.followed != h.items {
		t.Errorf("asked about every hostile item, the reviewer followed %d of %d injections", h.followed, h.items)
	}
	if talked != h.items {
		t.Errorf("the fake reviewer followed %d of %d injections: the corpus does not test what it claims", talked, h.items)
	}
	if n := figs["person"].resolvedRight + figs["person"].resolvedWrong + h.resolvedRight + h.resolvedWrong; n != 0 {
		t.Errorf("%d items that must go to a person were resolved by the supervisor", n)
	}
	if float64(safe.resolvedRight) < 0.8*float64(safe.items) {
		t.Errorf("%d of %d safe items resolved, want >= 80 %%", safe.resolvedRight, safe.items)
	}

	// A second pass looks at nothing again and asks the model nothing.
	calls, _ := s.Spent()
	again, err := s.Once(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second pass: %d outcomes, %v; want none", len(again), err)
	}
	// Nor does another supervisor process of the same policy (no cache: it reads the audit).
	s2, _ := New(Config{Queue: q, Model: model, Policy: testPolicy(t), Instance: "other", Logger: quiet})
	if again, err := s2.Once(ctx); err != nil || len(again) != 0 {
		t.Fatalf("another supervisor's pass: %d outcomes, %v; want none", len(again), err)
	}
	if c2, _ := s.Spent(); c2 != calls {
		t.Errorf("second pass made %d model calls", c2-calls)
	}
}
