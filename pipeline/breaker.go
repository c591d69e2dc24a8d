package pipeline

import (
	"context"

	"github.com/rebound-go/rebound/breaker"
)

// Breaker is the circuit breaker a Pipeline consults around each attempt of a key. Local makes
// one of a *breaker.Breaker; a breaker whose evidence is shared by a fleet of processes
// implements it too (Config.BreakerFor), keeping a local *breaker.Breaker whose Permits it hands
// out. Its methods are called on the caller's goroutine, Check and Allow once per attempt and
// Done once per Permit that Allow granted.
type Breaker interface {
	// Check returns the refusal (an error matching rebound.ErrCircuitOpen) of an attempt about
	// to wait for its pacing turn, when the breaker is open now, without admitting anything;
	// nil when the attempt may be admitted once its turn comes.
	Check(ctx context.Context) error
	// Allow admits the attempt, which is about to be sent, or refuses it with an error matching
	// rebound.ErrCircuitOpen.
	Allow(ctx context.Context) (breaker.Permit, error)
	// Done reports the outcome of the attempt p admitted, returned under ctx (nil: success; the
	// caller's own cancellation counts as nothing), and returns err, or, when the breaker is open
	// after it, an error matching rebound.ErrCircuitOpen that keeps err (a
	// *breaker.OpenedError), so that the retry stops at once.
	Done(ctx context.Context, p breaker.Permit, err error) error
}

// Local returns b as a Pipeline's Breaker. It allocates nothing.
func Local(b *breaker.Breaker) Breaker { return (*local)(b) }

type local breaker.Breaker

func (l *local) Check(context.Context) error { return (*breaker.Breaker)(l).Check() }

func (l *local) Allow(context.Context) (breaker.Permit, error) { return (*breaker.Breaker)(l).Allow() }

func (l *local) Done(ctx context.Context, p breaker.Permit, err error) error {
	return p.DoneContext(ctx, err)
}
