package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// `runs show` of a run whose journal lost its last message shows the damage as a damaged
// record naming the missing message, and fails (exit 1); --json lists it under damaged.
func TestRunsShowLostMessage(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rebound.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := checkpoint.NewRunner(st, checkpoint.Config{})
	if err := r.Run(ctx, "lost", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return "outline", run.Append(ctx, rebound.User("topic: tides"), rebound.Assistant("an outline"))
		})
		return err
	}, checkpoint.WithWorkflow("research", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `DELETE FROM messages WHERE run_id = 'lost' AND seq = 1`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	store := "--store=sqlite:" + path

	human := cli(t, nil, "runs", "show", "lost", store)
	mustCode(t, human, 1, "runs show")
	if !strings.Contains(human.stdout, "damaged record: message count") || !strings.Contains(human.stdout, "message 1 is missing") ||
		!strings.Contains(human.stderr, "damaged record") {
		t.Errorf("runs show of a run missing its last message:\nstdout %s\nstderr %s", human.stdout, human.stderr)
	}
	js := cli(t, nil, "runs", "show", "lost", "--json", store)
	mustCode(t, js, 1, "runs show --json")
	var v struct {
		Damaged      []string `json:"damaged"`
		MessageCount int      `json:"message_count"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, js.stdout)
	}
	if len(v.Damaged) != 1 || !strings.Contains(v.Damaged[0], "message 1 is missing") || v.MessageCount != 1 {
		t.Errorf("runs show --json of a run missing its last message: %s", js.stdout)
	}
}
