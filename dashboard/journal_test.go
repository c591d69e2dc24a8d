package dashboard_test

import (
	"context"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
)

// lostLastMessage reads runs from a store as a database that lost each run's last message row
// would hold them: the run still counts the message, the journal no longer holds it.
type lostLastMessage struct{ *checkpoint.MemoryStore }

func (s lostLastMessage) GetRun(ctx context.Context, id string) (*checkpoint.RunRecord, error) {
	rec, err := s.MemoryStore.GetRun(ctx, id)
	if rec != nil && len(rec.Messages) > 0 {
		rec.Messages = rec.Messages[:len(rec.Messages)-1]
	}
	return rec, err
}

// TestLostMessageShowsAsDamaged: the run page and the API show a journal missing its last
// message as a damaged record naming the missing message, not as a shorter conversation.
func TestLostMessageShowsAsDamaged(t *testing.T) {
	b := setup(t, setupOpts{})
	if err := b.runner.Run(t.Context(), "run-lost", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return "outline", run.Append(ctx, rebound.User("topic: tides"), rebound.Assistant("an outline"))
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := dashboard.New(dashboard.Config{Escalations: b.queue, Runs: lostLastMessage{b.runs}})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = srv

	page := b.get(t, "/runs/run-lost")
	wantStatus(t, page, 200)
	wantBody(t, page, "damaged record", "message count", "message 1 is missing")

	rec := b.api(t, "GET", "/api/v1/runs/run-lost", "")
	wantStatus(t, rec, 200)
	run := decode[struct {
		Damaged      []string `json:"damaged"`
		MessageCount int      `json:"message_count"`
	}](t, rec)
	if len(run.Damaged) != 1 || run.MessageCount != 1 {
		t.Fatalf("run = %s", rec.Body)
	}
}
