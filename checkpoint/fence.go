package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// FencingToken identifies one execution of a step under one lease: the run, the lease epoch
// of the worker running it and the step's idempotency key. A step with an effect outside the
// journal passes it to the system it acts on (see Fencing); that system, by keeping for each
// key the highest epoch it has seen and refusing a lower one, refuses the late request of a
// worker whose lease was taken over, which the journal's own fencing cannot reach.
type FencingToken struct {
	RunID string
	// Epoch is the lease epoch of the worker running the step; a worker that takes the run
	// over runs it under a higher one.
	Epoch int64
	// Key is the step's idempotency key (see IdempotencyKey), the same under every epoch.
	Key string
}

// String returns the token as "<key>.<epoch>", for a header or a request field.
func (t FencingToken) String() string { return t.Key + "." + strconv.FormatInt(t.Epoch, 10) }

type fenceCtx struct{}

// Fencing returns the fencing token of the step whose context ctx is, and false outside a
// step. Pass it (with the idempotency key) to the system an Irreversible step acts on.
func Fencing(ctx context.Context) (FencingToken, bool) {
	t, ok := ctx.Value(fenceCtx{}).(FencingToken)
	return t, ok
}

// confirmLease checks, before an irreversible step runs or an escalation is filed, that this
// worker still holds the run's lease by its own clock: the lease was last confirmed (claimed or
// renewed) at a time measured when the request was sent, so it is certainly valid until that
// time plus the lease's TTL, less Config.LeaseMargin for clocks that disagree. Past that, it
// renews the lease first (a write fenced like every other): a worker whose run was taken over
// is refused with the *StaleEpochError, one that cannot renew with ErrLeaseLost.
func (run *Run) confirmLease(ctx context.Context, what string) error {
	cfg := run.r.cfg
	run.mu.Lock()
	lease, confirmed := run.lease, run.confirmed
	run.mu.Unlock()
	if time.Since(confirmed) < cfg.LeaseTTL-cfg.LeaseMargin {
		return nil
	}
	sent := time.Now()
	nl, err := run.r.store.RenewRun(ctx, lease, cfg.LeaseTTL)
	if err != nil {
		if errors.Is(err, ErrStaleEpoch) {
			return fmt.Errorf("run %q: %s refused: %w", run.id, what, err)
		}
		return fmt.Errorf("run %q: %s refused: %w: the lease was last confirmed %s ago (lease %s, margin %s) and renewing it failed: %v",
			run.id, what, ErrLeaseLost, time.Since(confirmed).Round(time.Millisecond), cfg.LeaseTTL, cfg.LeaseMargin, err)
	}
	run.setLease(nl, sent)
	return nil
}

// previousOwner describes, for an in-doubt escalation, the worker that held the run before:
// a process that died, or a live one (or one of unknown fate) whose lease expired.
func (run *Run) previousOwner() string {
	p := run.prev
	if p.Owner == "" {
		return ""
	}
	at := p.Expires.UTC().Format(time.RFC3339Nano)
	if run.prevDead {
		return fmt.Sprintf("The previous owner, %s (lease epoch %d), was a process on this host that no longer exists: it died holding the step.", p.Owner, p.Epoch)
	}
	host, pid, ok := parseOwner(p.Owner)
	switch {
	case ok && host == run.r.host && pid != os.Getpid() && !processAlive(pid):
		return fmt.Sprintf("The previous owner, %s (lease epoch %d), is a process on this host that no longer exists; its lease expired at %s.", p.Owner, p.Epoch, at)
	case ok && host == run.r.host:
		return fmt.Sprintf("The previous owner, %s (lease epoch %d), is a live process whose lease expired at %s: it may have been paused or slowed and may still perform the step. It can no longer write to the journal; check the outside system again before approving, and refuse requests carrying its fencing token (epoch %d).", p.Owner, p.Epoch, at, p.Epoch)
	default:
		return fmt.Sprintf("The previous owner, %s (lease epoch %d), let its lease expire at %s; whether that process is still alive is unknown (it is not a process on this host): it may still perform the step. It can no longer write to the journal; check the outside system again before approving, and refuse requests carrying its fencing token (epoch %d).", p.Owner, p.Epoch, at, p.Epoch)
	}
}
