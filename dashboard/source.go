package dashboard

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// Queue is what the dashboard reads and changes in the escalation queue. *escalate.Queue
// implements it.
type Queue interface {
	List(ctx context.Context, f escalate.Filter) ([]escalate.Item, error)
	Get(ctx context.Context, id string) (escalate.Item, error)
	Audit(ctx context.Context, id string) ([]escalate.AuditEntry, error)
	Stats(ctx context.Context) (escalate.Stats, error)
	Claim(ctx context.Context, id, by string, d time.Duration) (escalate.Item, error)
	Resolve(ctx context.Context, id string, d rebound.Decision) (escalate.Item, error)
	Dismiss(ctx context.Context, id, by, note string) (escalate.Item, error)
	Reopen(ctx context.Context, id, by, note string) (escalate.Item, error)
	// Override replaces a supervisor's decision with a person's during its hold.
	Override(ctx context.Context, id string, d rebound.Decision) (escalate.Item, error)
}

var _ Queue = (*escalate.Queue)(nil)

// RunSource reads durable runs: checkpoint.RunReader, the read side of a store. Every
// checkpoint.Store implements it (the memory store, store/sqlite, store/postgres; Example_runs
// passes one); a *checkpoint.Runner does not. The dashboard reads runs with checkpoint.Get,
// which verifies their records.
type RunSource = checkpoint.RunReader

var _ RunSource = checkpoint.Store(nil)

// BreakerSource reports the circuit breakers of the serving process: each dependency's state
// and its recent transitions. Breaker state lives in the process, so this is the serving
// process's own view (a *BreakerLog over the process's breaker.Set).
type BreakerSource interface {
	Breakers(ctx context.Context) ([]BreakerStatus, error)
}

// BreakerStatus is one dependency's breaker as the breakers page shows it.
type BreakerStatus struct {
	// Name is the dependency's key ("anthropic/claude-x", "tool/search").
	Name  string        `json:"name"`
	State breaker.State `json:"-"`
	// Current is true when State is the breaker's state now (read from a watched set), false
	// when it is the state its last recorded transition went to (a breaker the set forgot, or
	// one of a set the source does not watch).
	Current bool `json:"current"`
	// Transitions are the most recent changes of state, newest first.
	Transitions []Transition `json:"transitions"`
}

// Transition is one change of a breaker's state.
type Transition struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	To   string    `json:"to"`
}

// statusOf maps the typed errors of the queue and the run store to HTTP statuses: 404 for an
// unknown ID, 409 for a conflict (claimed by someone else, a status that does not allow the
// change), 400 for a bad request (an unknown action, a respond without an answer, no name), 503
// for a store that refuses writes as read-only (an error matching fs.ErrPermission: the store's
// file cannot be written by the server's user).
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return http.StatusServiceUnavailable
	case errors.Is(err, escalate.ErrNotFound), errors.Is(err, checkpoint.ErrRunNotFound):
		return http.StatusNotFound
	case errors.Is(err, escalate.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, escalate.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
