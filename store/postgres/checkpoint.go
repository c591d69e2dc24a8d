package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-go/rebound/checkpoint"
)

var _ checkpoint.Store = (*Store)(nil)

const runColumns = `id, workflow, input, status, owner, epoch, lease_expires, created_at, updated_at,
	last_step, step_count, message_count, attempt_count, escalation_id, error`

func scanRun(row pgx.Row) (checkpoint.RunInfo, error) {
	var r checkpoint.RunInfo
	var status string
	var steps, messages, attempts int32
	err := row.Scan(&r.ID, &r.Workflow, &r.Input, &status, &r.Owner, &r.Epoch, &r.LeaseExpires, &r.CreatedAt,
		&r.UpdatedAt, &r.LastStep, &steps, &messages, &attempts, &r.EscalationID, &r.Error)
	r.Status, r.StepCount, r.MessageCount, r.AttemptCount = checkpoint.Status(status), int(steps), int(messages), int(attempts)
	r.LeaseExpires, r.CreatedAt, r.UpdatedAt = utc(r.LeaseExpires), utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, err
}

func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ClaimRun implements checkpoint.Store. The run's row is locked with FOR UPDATE SKIP LOCKED: a
// worker that finds it locked (another worker is claiming or writing it this instant) is told
// the run is held rather than queueing behind it.
func (s *Store) ClaimRun(ctx context.Context, req checkpoint.ClaimRequest) (*checkpoint.Claimed, error) {
	var c *checkpoint.Claimed
	err := s.tx(ctx, func(tx pgx.Tx) error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		info, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1 FOR UPDATE SKIP LOCKED`, req.RunID))
		created := false
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			tag, err := tx.Exec(ctx, `INSERT INTO runs (id, workflow, input, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING`,
				req.RunID, req.Workflow, nullBytes(req.Input), string(checkpoint.StatusRunning), now)
			if err != nil {
				return fmt.Errorf("insert run: %w", err)
			}
			if tag.RowsAffected() == 0 {
				// The row exists and another worker has it locked right now.
				held := &checkpoint.LeaseHeldError{RunID: req.RunID, Locked: true}
				_ = s.pool.QueryRow(ctx, `SELECT owner, lease_expires FROM runs WHERE id = $1`, req.RunID).Scan(&held.Owner, &held.Expires)
				return held
			}
			created = true
			info = checkpoint.RunInfo{ID: req.RunID, Workflow: req.Workflow, Input: req.Input,
				Status: checkpoint.StatusRunning, CreatedAt: now, UpdatedAt: now}
		case err != nil:
			return fmt.Errorf("read run: %w", err)
		case info.Owner != "" && now.Before(info.LeaseExpires):
			to := req.TakeOver
			if to == nil || to.Owner != info.Owner || (to.Epoch != 0 && to.Epoch != info.Epoch) {
				return &checkpoint.LeaseHeldError{RunID: req.RunID, Owner: info.Owner, Expires: info.LeaseExpires}
			}
		}
		if info.Workflow == "" {
			info.Workflow = req.Workflow
		}
		if len(info.Input) == 0 {
			info.Input = req.Input
		}
		lease := checkpoint.Lease{RunID: req.RunID, Owner: req.Owner, Epoch: info.Epoch + 1,
			Expires: now.Add(req.TTL).Truncate(time.Microsecond)}
		if _, err := tx.Exec(ctx, `UPDATE runs SET owner = $1, epoch = $2, lease_expires = $3, updated_at = $4,
			workflow = $5, input = $6 WHERE id = $7`, lease.Owner, lease.Epoch, lease.Expires, now,
			info.Workflow, nullBytes(info.Input), req.RunID); err != nil {
			return fmt.Errorf("take lease: %w", err)
		}
		prev := checkpoint.Lease{RunID: req.RunID, Owner: info.Owner, Epoch: info.Epoch, Expires: info.LeaseExpires}
		info.Owner, info.Epoch, info.LeaseExpires, info.UpdatedAt = lease.Owner, lease.Epoch, lease.Expires, now
		c = &checkpoint.Claimed{Lease: lease, Created: created, Run: info, Previous: prev}
		if created {
			return nil
		}
		if c.Steps, err = readSteps(ctx, tx, req.RunID); err != nil {
			return err
		}
		c.Messages, err = readMessages(ctx, tx, req.RunID)
		return err
	})
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseHeld) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: claim run %q: %w", req.RunID, err)
	}
	return c, nil
}

// fence takes the run's row lock and checks that the run is held under lease.
func fence(ctx context.Context, tx pgx.Tx, lease checkpoint.Lease, set string, args ...any) error {
	args = append([]any{lease.RunID, lease.Epoch, lease.Owner}, args...)
	tag, err := tx.Exec(ctx, `UPDATE runs SET `+set+` WHERE id = $1 AND epoch = $2 AND owner = $3`, args...)
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	stale := &checkpoint.StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch}
	err = tx.QueryRow(ctx, `SELECT epoch, owner FROM runs WHERE id = $1`, lease.RunID).Scan(&stale.Current, &stale.Owner)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read lease: %w", err)
	}
	return stale
}

func wrap(what, runID string, err error) error {
	if errors.Is(err, checkpoint.ErrStaleEpoch) {
		return err
	}
	return fmt.Errorf("postgres: %s %q: %w", what, runID, err)
}

// RenewRun implements checkpoint.Store.
func (s *Store) RenewRun(ctx context.Context, lease checkpoint.Lease, ttl time.Duration) (checkpoint.Lease, error) {
	lease.Expires = time.Now().Add(ttl).UTC().Truncate(time.Microsecond)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return fence(ctx, tx, lease, `lease_expires = $4`, lease.Expires)
	})
	if err != nil {
		return checkpoint.Lease{}, wrap("renew lease of run", lease.RunID, err)
	}
	return lease, nil
}

// WriteRun implements checkpoint.Store in one transaction and two round trips: BEGIN, the fence
// (a conditional update of the run's row, which also takes its lock) and the records go in one
// pipelined batch; COMMIT follows if the fence held, ROLLBACK otherwise.
func (s *Store) WriteRun(ctx context.Context, lease checkpoint.Lease, w checkpoint.Write) error {
	now := time.Now().UTC()
	set := []string{"updated_at = $4"}
	args := []any{lease.RunID, lease.Epoch, lease.Owner, now}
	if u := w.Run; u != nil {
		set = append(set, "status = $5", "last_step = $6", "step_count = $7", "attempt_count = $8", "escalation_id = $9", "error = $10")
		args = append(args, string(u.Status), u.LastStep, u.StepCount, u.AttemptCount, u.EscalationID, u.Error)
	}
	if n := len(w.Messages); n > 0 {
		set = append(set, fmt.Sprintf("message_count = $%d", len(args)+1))
		args = append(args, int32(w.Messages[n-1].Seq+1))
	}
	if w.Release {
		set = append(set, fmt.Sprintf("lease_expires = $%d", len(args)+1))
		args = append(args, now)
	}
	var b pgx.Batch
	b.Queue(`BEGIN`)
	b.Queue(`UPDATE runs SET `+strings.Join(set, ", ")+` WHERE id = $1 AND epoch = $2 AND owner = $3`, args...)
	for _, st := range w.Steps {
		b.Queue(`INSERT INTO steps (run_id, idx, name, status, key, irreversible, version, result, checksum, error,
			class, reason, escalation_id, executions, started_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (run_id, idx) DO UPDATE SET name = excluded.name, status = excluded.status,
			key = excluded.key, irreversible = excluded.irreversible, version = excluded.version,
			result = excluded.result, checksum = excluded.checksum, error = excluded.error,
			class = excluded.class, reason = excluded.reason, escalation_id = excluded.escalation_id,
			executions = excluded.executions, started_at = excluded.started_at, finished_at = excluded.finished_at`,
			lease.RunID, st.Index, st.Name, string(st.Status), st.Key, st.Irreversible, st.Version,
			nullBytes(st.Result), int64(st.Checksum), st.Error, st.Class, st.Reason, st.EscalationID,
			st.Executions, st.StartedAt, st.FinishedAt)
	}
	for _, m := range w.Messages {
		b.Queue(`INSERT INTO messages (run_id, seq, step, version, body, checksum) VALUES ($1, $2, $3, $4, $5, $6)`,
			lease.RunID, m.Seq, m.Step, m.Version, m.Body, int64(m.Checksum))
	}
	for _, a := range w.Attempts {
		b.Queue(`INSERT INTO attempts (run_id, step, at, kind, attempt, class, delay_ns, model, from_state, to_state,
			reason, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			lease.RunID, a.Step, a.Time, a.Kind, a.Attempt, a.Class, int64(a.Delay), a.Model, a.From, a.To, a.Reason, a.Error)
	}
	if err := s.pipeline(ctx, lease, &b); err != nil {
		return wrap("write run", lease.RunID, err)
	}
	return nil
}

// pipeline sends b (BEGIN, the fence, then the records) and commits if every statement
// succeeded and the fence matched one row.
func (s *Store) pipeline(ctx context.Context, lease checkpoint.Lease, b *pgx.Batch) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	var firstErr error
	fenced := false
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("statement %d: %w", i, err)
			}
			break
		}
		if i == 1 {
			fenced = tag.RowsAffected() == 1
		}
	}
	if err := br.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil || !fenced {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // the pool drops it
		}
		if !fenced {
			stale := &checkpoint.StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch}
			err := s.pool.QueryRow(ctx, `SELECT epoch, owner FROM runs WHERE id = $1`, lease.RunID).Scan(&stale.Current, &stale.Owner)
			if err == nil || errors.Is(err, pgx.ErrNoRows) {
				if firstErr == nil || stale.Current != lease.Epoch || stale.Owner != lease.Owner {
					return stale
				}
			}
		}
		return firstErr
	}
	if _, err := conn.Exec(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func readSteps(ctx context.Context, q pgx.Tx, runID string) ([]checkpoint.StepRecord, error) {
	rows, err := q.Query(ctx, `SELECT idx, name, status, key, irreversible, version, result, checksum, error,
		class, reason, escalation_id, executions, started_at, finished_at FROM steps WHERE run_id = $1 ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.StepRecord
	for rows.Next() {
		var st checkpoint.StepRecord
		var status string
		var idx, version, execs int32
		var sum int64
		if err := rows.Scan(&idx, &st.Name, &status, &st.Key, &st.Irreversible, &version, &st.Result, &sum,
			&st.Error, &st.Class, &st.Reason, &st.EscalationID, &execs, &st.StartedAt, &st.FinishedAt); err != nil {
			return nil, fmt.Errorf("read steps: %w", err)
		}
		st.Index, st.Version, st.Executions = int(idx), int(version), int(execs)
		st.Status, st.Checksum = checkpoint.StepStatus(status), uint32(sum)
		st.StartedAt, st.FinishedAt = utc(st.StartedAt), utc(st.FinishedAt)
		out = append(out, st)
	}
	return out, rows.Err()
}

func readMessages(ctx context.Context, q pgx.Tx, runID string) ([]checkpoint.MessageRecord, error) {
	rows, err := q.Query(ctx, `SELECT seq, step, version, body, checksum FROM messages WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.MessageRecord
	for rows.Next() {
		var m checkpoint.MessageRecord
		var step, version int32
		var sum int64
		if err := rows.Scan(&m.Seq, &step, &version, &m.Body, &sum); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		m.Step, m.Version, m.Checksum = int(step), int(version), uint32(sum)
		out = append(out, m)
	}
	return out, rows.Err()
}

func readAttempts(ctx context.Context, q pgx.Tx, runID string) ([]checkpoint.AttemptRecord, error) {
	rows, err := q.Query(ctx, `SELECT step, at, kind, attempt, class, delay_ns, model, from_state, to_state,
		reason, error FROM attempts WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.AttemptRecord
	for rows.Next() {
		var a checkpoint.AttemptRecord
		var step, attempt int32
		var delay int64
		if err := rows.Scan(&step, &a.Time, &a.Kind, &attempt, &a.Class, &delay, &a.Model, &a.From, &a.To, &a.Reason, &a.Error); err != nil {
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		a.Step, a.Attempt, a.Delay, a.Time = int(step), int(attempt), time.Duration(delay), utc(a.Time)
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetRun implements checkpoint.Store. It reads in one repeatable-read transaction, so the
// records agree.
func (s *Store) GetRun(ctx context.Context, runID string) (*checkpoint.RunRecord, error) {
	var rec *checkpoint.RunRecord
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		info, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, runID))
		if errors.Is(err, pgx.ErrNoRows) {
			return checkpoint.ErrRunNotFound
		}
		if err != nil {
			return err
		}
		rec = &checkpoint.RunRecord{RunInfo: info}
		if rec.Steps, err = readSteps(ctx, tx, runID); err != nil {
			return err
		}
		if rec.Messages, err = readMessages(ctx, tx, runID); err != nil {
			return err
		}
		rec.Attempts, err = readAttempts(ctx, tx, runID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: get run %q: %w", runID, err)
	}
	return rec, nil
}

// ListRuns implements checkpoint.Store.
func (s *Store) ListRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = checkpoint.DefaultListLimit
	}
	statuses := make([]string, len(f.Status))
	for i, st := range f.Status {
		statuses[i] = string(st)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs
		WHERE cardinality($1::text[]) = 0 OR status = ANY($1::text[])
		ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, statuses, limit, max(f.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("postgres: list runs: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.RunInfo
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list runs: %w", err)
	}
	return out, nil
}

// PruneRuns implements checkpoint.Store. Steps, messages and attempts go with their runs (ON DELETE
// CASCADE).
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE status IN ('completed', 'failed', 'canceled') AND updated_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune runs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
