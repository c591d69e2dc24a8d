package checkpoint_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
)

// Config.Redact rewrites the error texts the journal keeps; the error returned is untouched.
func TestRedactJournaledErrors(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	r := checkpoint.NewRunner(store, checkpoint.Config{Redact: func(s string) string {
		return strings.ReplaceAll(s, "hunter2", "[REDACTED]")
	}})
	err := r.Run(ctx, "leaky", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "login", func(ctx context.Context) (string, error) {
			return "", errors.New("login refused for password hunter2")
		})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("run returned %v, want the failure as it was", err)
	}
	rec, err := store.GetRun(ctx, "leaky")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 1 || !strings.Contains(rec.Steps[0].Error, "[REDACTED]") || strings.Contains(rec.Steps[0].Error, "hunter2") ||
		strings.Contains(rec.Error, "hunter2") || !strings.Contains(rec.Error, "login refused") {
		t.Errorf("journaled errors: step %+v, run %q", rec.Steps, rec.Error)
	}
}
