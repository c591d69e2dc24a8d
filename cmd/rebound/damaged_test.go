package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// One damaged escalation row does not break `escalations list`: it lists the rest and shows
// the damaged item as damaged.
func TestEscalationsListShowsDamaged(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	q := escalate.NewQueue(s, escalate.Config{})
	good, err := q.Escalate(ctx, rebound.Escalation{RunID: "run-good", Step: "outline"})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := q.Escalate(ctx, rebound.Escalation{RunID: "run-bad", Step: "section_2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE escalations SET class = 'no_such_class' WHERE id = ?`, bad); err != nil {
		t.Fatal(err)
	}
	s.Close()
	store := "--store=sqlite:" + path

	r := cli(t, nil, "escalations", "list", store)
	if r.code != 0 || !strings.Contains(r.stdout, good) {
		t.Fatalf("escalations list: exit %d, stdout %q, stderr %q; want exit 0 listing %s", r.code, r.stdout, r.stderr, good)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, bad) {
			line = l
		}
	}
	if !strings.Contains(line, "DAMAGED") || !strings.Contains(line, "class") {
		t.Fatalf("the damaged item's line %q should say DAMAGED and name the field:\n%s", line, r.stdout)
	}
	j := cli(t, nil, "escalations", "list", "--json", store)
	if j.code != 0 || !strings.Contains(j.stdout, `"damaged"`) || !strings.Contains(j.stdout, good) {
		t.Fatalf("escalations list --json: exit %d\n%s%s", j.code, j.stdout, j.stderr)
	}
}
