package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/escalate/escalatetest"
	"github.com/rebound-go/rebound/store/postgres"
)

// openEscalateStore opens a store in a fresh schema, dropped when the test ends. Raw returns
// every row of the escalation tables as text (row_to_json), as PostgreSQL keeps them.
func openEscalateStore(tb testing.TB) escalatetest.Harness {
	tb.Helper()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("TEST_DATABASE_URL is not set (required when CI=true)")
		}
		tb.Skip("TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("rbt_esc_%d_%d", os.Getpid(), rand.Uint64())
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithMaxConns(8))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.DropSchema(context.WithoutCancel(ctx)); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		s.Close()
	})
	return escalatetest.Harness{Store: s, Raw: func(ctx context.Context) ([]byte, error) {
		var b strings.Builder
		for _, table := range []string{"escalations", "escalation_audit"} {
			rows, err := s.Pool().Query(ctx, `SELECT row_to_json(t)::text FROM `+
				pgx.Identifier{schema, table}.Sanitize()+` t`)
			if err != nil {
				return nil, err
			}
			texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, err
			}
			for _, t := range texts {
				b.WriteString(t)
				b.WriteByte('\n')
			}
		}
		return []byte(b.String()), nil
	}}
}

func TestEscalateConformance(t *testing.T) {
	escalatetest.Run(t, openEscalateStore)
}

func BenchmarkEscalateClaimResolve(b *testing.B) {
	escalatetest.Bench(b, openEscalateStore)
}

func TestEscalateDurableRun(t *testing.T) {
	h := openEscalateStore(t)
	escalatetest.RunDurable(t, h.Store.(*postgres.Store))
}

// A damaged row is an error naming the item, never an empty or partial item.
func TestEscalateDamagedRecord(t *testing.T) {
	ctx := t.Context()
	s := openEscalateStore(t).Store.(*postgres.Store)
	q := escalate.NewQueue(s, escalate.Config{})
	good, err := q.Escalate(ctx, rebound.Escalation{RunID: "r-good", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []string{`messages = '[{"role": '`, `class = 'no_such_class'`, `state = '{"half": '`} {
		id, err := q.Escalate(ctx, rebound.Escalation{RunID: "r-" + damage[:5], Step: "s",
			Messages: []rebound.Message{rebound.User("hi")}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pool().Exec(ctx, `UPDATE escalations SET `+damage+` WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		_, err = q.Get(ctx, id)
		if err == nil || errors.Is(err, escalate.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("%s: Get = %v, want an error naming %s", damage, err, id)
		}
		// One damaged row does not hide the queue: List shows the rest, and the damaged item
		// as damaged.
		items, err := q.List(ctx, escalate.Filter{})
		if err != nil || len(items) != 2 {
			t.Fatalf("%s: List = %d items, %v; want the good item and the damaged one", damage, len(items), err)
		}
		for _, it := range items {
			switch {
			case it.ID == good && it.Damaged != "":
				t.Errorf("%s: the good item is listed as damaged: %s", damage, it.Damaged)
			case it.ID == id && (it.Damaged == "" || it.RunID != "r-"+damage[:5]):
				t.Errorf("%s: the damaged item is listed as %+v", damage, it)
			}
		}
		if _, err := json.Marshal(items); err != nil {
			t.Errorf("%s: the listed items do not encode: %v", damage, err)
		}
		if _, err := s.Pool().Exec(ctx, `DELETE FROM escalations WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
}
