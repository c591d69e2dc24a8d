package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

var _ checkpoint.Store = (*Store)(nil)

const runColumns = `id, workflow, input, status, owner, epoch, lease_expires, created_at, updated_at,
	last_step, step_count, message_count, attempt_count, escalation_id, error`

type scanner interface{ Scan(dest ...any) error }

func scanRun(row scanner) (checkpoint.RunInfo, error) {
	var r checkpoint.RunInfo
	var status string
	var expires, created, updated int64
	err := row.Scan(&r.ID, &r.Workflow, (*[]byte)(&r.Input), &status, &r.Owner, &r.Epoch, &expires, &created, &updated,
		&r.LastStep, &r.StepCount, &r.MessageCount, &r.AttemptCount, &r.EscalationID, &r.Error)
	r.Status = checkpoint.Status(status)
	r.LeaseExpires, r.CreatedAt, r.UpdatedAt = fromNanos(expires), fromNanos(created), fromNanos(updated)
	return r, err
}

// ClaimRun implements checkpoint.Store.
func (s *Store) ClaimRun(ctx context.Context, req checkpoint.ClaimRequest) (*checkpoint.Claimed, error) {
	var c *checkpoint.Claimed
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		info, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, req.RunID))
		created := false
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			info = checkpoint.RunInfo{ID: req.RunID, Workflow: req.Workflow, Input: req.Input,
				Status: checkpoint.StatusRunning, CreatedAt: now, UpdatedAt: now}
			if _, err := tx.ExecContext(ctx, `INSERT INTO runs (id, workflow, input, status, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)`, req.RunID, req.Workflow, nullBytes(req.Input), string(info.Status), nanos(now), nanos(now)); err != nil {
				return fmt.Errorf("insert run: %w", err)
			}
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
		lease := checkpoint.Lease{RunID: req.RunID, Owner: req.Owner, Epoch: info.Epoch + 1, Expires: now.Add(req.TTL)}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET owner = ?, epoch = ?, lease_expires = ?, updated_at = ?,
			workflow = ?, input = ? WHERE id = ?`, lease.Owner, lease.Epoch, nanos(lease.Expires), nanos(now),
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
		var held *checkpoint.LeaseHeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: claim run %q: %w", req.RunID, err)
	}
	return c, nil
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// fence checks that the run is held under lease, inside tx.
func fence(ctx context.Context, tx *sql.Tx, lease checkpoint.Lease) error {
	var epoch int64
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT epoch, owner FROM runs WHERE id = ?`, lease.RunID).Scan(&epoch, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return &checkpoint.StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch}
	}
	if err != nil {
		return fmt.Errorf("read lease: %w", err)
	}
	if epoch != lease.Epoch || owner != lease.Owner {
		return &checkpoint.StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch, Current: epoch, Owner: owner}
	}
	return nil
}

// RenewRun implements checkpoint.Store.
func (s *Store) RenewRun(ctx context.Context, lease checkpoint.Lease, ttl time.Duration) (checkpoint.Lease, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := fence(ctx, tx, lease); err != nil {
			return err
		}
		lease.Expires = time.Now().Add(ttl)
		_, err := tx.ExecContext(ctx, `UPDATE runs SET lease_expires = ? WHERE id = ?`, nanos(lease.Expires), lease.RunID)
		return err
	})
	if err != nil {
		return checkpoint.Lease{}, wrap("renew lease of run", lease.RunID, err)
	}
	return lease, nil
}

func wrap(what, runID string, err error) error {
	if errors.Is(err, checkpoint.ErrStaleEpoch) {
		return err
	}
	return fmt.Errorf("sqlite: %s %q: %w", what, runID, err)
}

// WriteRun implements checkpoint.Store.
func (s *Store) WriteRun(ctx context.Context, lease checkpoint.Lease, w checkpoint.Write) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := fence(ctx, tx, lease); err != nil {
			return err
		}
		now := time.Now()
		for _, st := range w.Steps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO steps (run_id, idx, name, status, key, irreversible, version,
				result, checksum, error, class, reason, escalation_id, executions, started_at, finished_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (run_id, idx) DO UPDATE SET name = excluded.name, status = excluded.status,
				key = excluded.key, irreversible = excluded.irreversible, version = excluded.version,
				result = excluded.result, checksum = excluded.checksum, error = excluded.error,
				class = excluded.class, reason = excluded.reason, escalation_id = excluded.escalation_id,
				executions = excluded.executions, started_at = excluded.started_at, finished_at = excluded.finished_at`,
				lease.RunID, st.Index, st.Name, string(st.Status), st.Key, st.Irreversible, st.Version,
				nullBytes(st.Result), int64(st.Checksum), st.Error, st.Class, st.Reason, st.EscalationID,
				st.Executions, nanos(st.StartedAt), nanos(st.FinishedAt)); err != nil {
				return fmt.Errorf("write step %d %q: %w", st.Index, st.Name, err)
			}
		}
		for _, m := range w.Messages {
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (run_id, seq, step, version, body, checksum)
				VALUES (?, ?, ?, ?, ?, ?)`, lease.RunID, m.Seq, m.Step, m.Version, m.Body, int64(m.Checksum)); err != nil {
				return fmt.Errorf("append message %d: %w", m.Seq, err)
			}
		}
		for _, a := range w.Attempts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (run_id, step, at, kind, attempt, class, delay_ns,
				model, from_state, to_state, reason, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				lease.RunID, a.Step, nanos(a.Time), a.Kind, a.Attempt, a.Class, int64(a.Delay), a.Model, a.From, a.To,
				a.Reason, a.Error); err != nil {
				return fmt.Errorf("append attempt: %w", err)
			}
		}
		set := []string{"updated_at = ?"}
		args := []any{nanos(now)}
		if u := w.Run; u != nil {
			set = append(set, "status = ?", "last_step = ?", "step_count = ?", "attempt_count = ?", "escalation_id = ?", "error = ?")
			args = append(args, string(u.Status), u.LastStep, u.StepCount, u.AttemptCount, u.EscalationID, u.Error)
		}
		if n := len(w.Messages); n > 0 {
			set = append(set, "message_count = ?")
			args = append(args, w.Messages[n-1].Seq+1)
		}
		if w.Release {
			set = append(set, "lease_expires = ?")
			args = append(args, nanos(now))
		}
		args = append(args, lease.RunID)
		_, err := tx.ExecContext(ctx, `UPDATE runs SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...)
		return err
	})
	if err != nil {
		return wrap("write run", lease.RunID, err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readSteps(ctx context.Context, q querier, runID string) ([]checkpoint.StepRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT idx, name, status, key, irreversible, version, result, checksum, error,
		class, reason, escalation_id, executions, started_at, finished_at FROM steps WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.StepRecord
	for rows.Next() {
		var st checkpoint.StepRecord
		var status string
		var sum, started, finished int64
		if err := rows.Scan(&st.Index, &st.Name, &status, &st.Key, &st.Irreversible, &st.Version, &st.Result, &sum,
			&st.Error, &st.Class, &st.Reason, &st.EscalationID, &st.Executions, &started, &finished); err != nil {
			return nil, fmt.Errorf("read steps: %w", err)
		}
		st.Status, st.Checksum = checkpoint.StepStatus(status), uint32(sum)
		st.StartedAt, st.FinishedAt = fromNanos(started), fromNanos(finished)
		out = append(out, st)
	}
	return out, rows.Err()
}

func readMessages(ctx context.Context, q querier, runID string) ([]checkpoint.MessageRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, step, version, body, checksum FROM messages WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.MessageRecord
	for rows.Next() {
		var m checkpoint.MessageRecord
		var sum int64
		if err := rows.Scan(&m.Seq, &m.Step, &m.Version, &m.Body, &sum); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		m.Checksum = uint32(sum)
		out = append(out, m)
	}
	return out, rows.Err()
}

func readAttempts(ctx context.Context, q querier, runID string) ([]checkpoint.AttemptRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT step, at, kind, attempt, class, delay_ns, model, from_state, to_state,
		reason, error FROM attempts WHERE run_id = ? ORDER BY rowid`, runID)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.AttemptRecord
	for rows.Next() {
		var a checkpoint.AttemptRecord
		var at, delay int64
		if err := rows.Scan(&a.Step, &at, &a.Kind, &a.Attempt, &a.Class, &delay, &a.Model, &a.From, &a.To, &a.Reason, &a.Error); err != nil {
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		a.Time, a.Delay = fromNanos(at), time.Duration(delay)
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetRun implements checkpoint.Store. It reads in one transaction, so the records agree.
func (s *Store) GetRun(ctx context.Context, runID string) (*checkpoint.RunRecord, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", runID, err)
	}
	defer tx.Rollback()
	info, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: run %q: %w", runID, checkpoint.ErrRunNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", runID, err)
	}
	rec := &checkpoint.RunRecord{RunInfo: info}
	if rec.Steps, err = readSteps(ctx, tx, runID); err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", runID, err)
	}
	if rec.Messages, err = readMessages(ctx, tx, runID); err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", runID, err)
	}
	if rec.Attempts, err = readAttempts(ctx, tx, runID); err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", runID, err)
	}
	return rec, nil
}

// ListRuns implements checkpoint.Store.
func (s *Store) ListRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	q := `SELECT ` + runColumns + ` FROM runs`
	var args []any
	if len(f.Status) > 0 {
		q += ` WHERE status IN (?` + strings.Repeat(", ?", len(f.Status)-1) + `)`
		for _, st := range f.Status {
			args = append(args, string(st))
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = checkpoint.DefaultListLimit
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.RunInfo
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	return out, nil
}

// PruneRuns implements checkpoint.Store.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const finished = `SELECT id FROM runs WHERE status IN ('completed', 'failed', 'canceled') AND updated_at < ?`
		for _, t := range []string{"steps", "messages", "attempts"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE run_id IN (`+finished+`)`, nanos(before)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN (`+finished+`)`, nanos(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune runs: %w", err)
	}
	return int(n), nil
}
