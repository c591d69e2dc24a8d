package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

var _ escalate.Store = (*Store)(nil)

const escColumns = `id, run_id, step, reason, class, error, attempts, state, messages, context, status,
	claimed_by, claimed_until, decision_action, decision_answer, decision_note, decision_by,
	created_at, updated_at, decided_at, decision_actor, decision_rationale, decision_confidence,
	decision_hold_ns, acted_at`

type escScanner interface{ Scan(dest ...any) error }

func scanEscalation(row escScanner) (escalate.Item, error) {
	var (
		it                                 escalate.Item
		reason, class, status, action      string
		state, msgs                        []byte
		claimedUntil, created, updated, at int64
		actor                              string
		holdNS, acted                      int64
		d                                  rebound.Decision
	)
	if err := row.Scan(&it.ID, &it.RunID, &it.Step, &reason, &class, &it.Error, &it.Attempts, &state, &msgs,
		&it.Context, &status, &it.ClaimedBy, &claimedUntil, &action, &d.Answer, &d.Note, &d.By,
		&created, &updated, &at, &actor, &d.Rationale, &d.Confidence, &holdNS, &acted); err != nil {
		return escalate.Item{}, err
	}
	it.Reason, it.Status = rebound.EscalationReason(reason), escalate.Status(status)
	if action != "" {
		d.Action, d.Actor, d.Hold = rebound.Action(action), rebound.Actor(actor), time.Duration(holdNS)
		it.Decision = &d
	}
	it.ClaimedUntil, it.CreatedAt = fromNanos(claimedUntil), fromNanos(created)
	it.UpdatedAt, it.DecidedAt, it.ActedAt = fromNanos(updated), fromNanos(at), fromNanos(acted)
	// What follows can be damaged; the item read so far comes back with the *DamagedError.
	c, err := rebound.ParseClass(class)
	if err != nil {
		return it, &escalate.DamagedError{ID: it.ID, Field: "class", Err: err}
	}
	it.Class = c
	if len(state) > 0 {
		if !json.Valid(state) {
			return it, &escalate.DamagedError{ID: it.ID, Field: "state", Err: errors.New("not JSON")}
		}
		it.State = json.RawMessage(state)
	}
	if len(msgs) > 0 {
		if err := json.Unmarshal(msgs, &it.Messages); err != nil {
			it.Messages = nil
			return it, &escalate.DamagedError{ID: it.ID, Field: "messages", Err: err}
		}
	}
	return it, nil
}

func escNullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// escDecisionColumns is the decision's columns, in the order of escColumns: action, answer,
// note, by, actor, rationale, confidence, hold_ns.
func escDecisionColumns(d *rebound.Decision) []any {
	if d == nil {
		return []any{"", "", "", "", "", "", 0.0, int64(0)}
	}
	return []any{string(d.Action), d.Answer, d.Note, d.By, string(d.Actor), d.Rationale, d.Confidence, int64(d.Hold)}
}

func escInsertAudit(ctx context.Context, tx *sql.Tx, a escalate.AuditEntry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO escalation_audit (item_id, at, by_name, event, from_status, to_status, action, note,
		actor, answer, rationale, confidence, hold_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ItemID, nanos(a.At), a.By, string(a.Event), string(a.From),
		string(a.To), string(a.Action), a.Note, string(a.Actor), a.Answer, a.Rationale, a.Confidence, int64(a.Hold))
	if err != nil {
		return fmt.Errorf("append audit of escalation %q: %w", a.ItemID, err)
	}
	return nil
}

// InsertEscalation implements escalate.Store.
func (s *Store) InsertEscalation(ctx context.Context, it escalate.Item, a escalate.AuditEntry) (escalate.Item, bool, error) {
	return s.insertEscalation(ctx, it, a, nil)
}

// InsertEscalationFenced implements escalate.FencedStore.
func (s *Store) InsertEscalationFenced(ctx context.Context, it escalate.Item, a escalate.AuditEntry, owner string, epoch int64) (escalate.Item, bool, error) {
	return s.insertEscalation(ctx, it, a, &checkpoint.Lease{RunID: it.RunID, Owner: owner, Epoch: epoch})
}

func (s *Store) insertEscalation(ctx context.Context, it escalate.Item, a escalate.AuditEntry, lease *checkpoint.Lease) (escalate.Item, bool, error) {
	var msgs []byte
	if it.Messages != nil {
		var err error
		if msgs, err = json.Marshal(it.Messages); err != nil {
			return escalate.Item{}, false, fmt.Errorf("insert escalation %q: %w", it.ID, err)
		}
	}
	var (
		stored  escalate.Item
		created bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if lease != nil {
			// A run this database does not keep (its journal lives elsewhere) is not checked.
			var stale *checkpoint.StaleEpochError
			if err := fence(ctx, tx, *lease); err != nil && !(errors.As(err, &stale) && stale.Current == 0) {
				return err
			}
		}
		dc := escDecisionColumns(it.Decision)
		res, err := tx.ExecContext(ctx, `INSERT INTO escalations (`+escColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			it.ID, it.RunID, it.Step, string(it.Reason), it.Class.String(), it.Error, it.Attempts,
			escNullJSON(it.State), escNullJSON(msgs), it.Context, string(it.Status), it.ClaimedBy,
			nanos(it.ClaimedUntil), dc[0], dc[1], dc[2], dc[3], nanos(it.CreatedAt), nanos(it.UpdatedAt),
			nanos(it.DecidedAt), dc[4], dc[5], dc[6], dc[7], nanos(it.ActedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// The run already has a waiting item for this step.
			row := tx.QueryRowContext(ctx, `SELECT `+escColumns+` FROM escalations
				WHERE run_id = ? AND step = ? AND status IN ('open', 'claimed') AND run_id <> ''`, it.RunID, it.Step)
			stored, err = scanEscalation(row)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("ID %q is taken", it.ID)
			}
			return err
		}
		stored, created = it, true
		return escInsertAudit(ctx, tx, a)
	})
	if err != nil {
		if errors.Is(err, checkpoint.ErrStaleEpoch) {
			return escalate.Item{}, false, err
		}
		return escalate.Item{}, false, fmt.Errorf("insert escalation %q: %w", it.ID, err)
	}
	return stored, created, nil
}

// GetEscalation implements escalate.Store.
func (s *Store) GetEscalation(ctx context.Context, id string) (escalate.Item, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+escColumns+` FROM escalations WHERE id = ?`, id)
	it, err := scanEscalation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return escalate.Item{}, &escalate.NotFoundError{ID: id}
	}
	if err != nil {
		return escalate.Item{}, fmt.Errorf("get escalation %q: %w", id, err)
	}
	return it, nil
}

// UpdateEscalation implements escalate.Store. The change runs in one immediate transaction, so
// it is serialised with every other writer of the database.
func (s *Store) UpdateEscalation(ctx context.Context, id string, update func(*escalate.Item) (escalate.AuditEntry, error)) (escalate.Item, error) {
	var it escalate.Item
	var refused error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		it, err = scanEscalation(tx.QueryRowContext(ctx, `SELECT `+escColumns+` FROM escalations WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			refused = &escalate.NotFoundError{ID: id}
			return refused
		}
		if err != nil {
			return err
		}
		was := it.Status
		a, err := update(&it)
		if err != nil {
			refused = err
			return err
		}
		if err := escCheckWaiting(ctx, tx, it, was); err != nil {
			refused = err
			return err
		}
		dc := escDecisionColumns(it.Decision)
		if _, err := tx.ExecContext(ctx, `UPDATE escalations SET status = ?, claimed_by = ?, claimed_until = ?,
			decision_action = ?, decision_answer = ?, decision_note = ?, decision_by = ?, decision_actor = ?,
			decision_rationale = ?, decision_confidence = ?, decision_hold_ns = ?, updated_at = ?, decided_at = ?,
			acted_at = ? WHERE id = ?`, string(it.Status), it.ClaimedBy, nanos(it.ClaimedUntil), dc[0], dc[1], dc[2],
			dc[3], dc[4], dc[5], dc[6], dc[7], nanos(it.UpdatedAt), nanos(it.DecidedAt), nanos(it.ActedAt), id); err != nil {
			return err
		}
		return escInsertAudit(ctx, tx, a)
	})
	if refused != nil && errors.Is(err, refused) {
		return escalate.Item{}, refused
	}
	if err != nil {
		return escalate.Item{}, fmt.Errorf("update escalation %q: %w", id, err)
	}
	return it, nil
}

// ListEscalations implements escalate.Store.
func (s *Store) ListEscalations(ctx context.Context, f escalate.Filter, now time.Time) ([]escalate.Item, error) {
	n := nanos(now)
	var where []string
	var args []any
	if len(f.Status) > 0 {
		var ors []string
		for _, st := range f.Status {
			switch st {
			case escalate.StatusOpen:
				ors = append(ors, `(status = 'open' OR (status = 'claimed' AND claimed_until <= ?))`)
				args = append(args, n)
			case escalate.StatusClaimed:
				ors = append(ors, `(status = 'claimed' AND claimed_until > ?)`)
				args = append(args, n)
			default:
				ors = append(ors, `status = ?`)
				args = append(args, string(st))
			}
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if len(f.Reason) > 0 {
		where = append(where, "reason IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Reason)), ", ")+")")
		for _, r := range f.Reason {
			args = append(args, string(r))
		}
	}
	if f.RunID != "" {
		where = append(where, "run_id = ?")
		args = append(args, f.RunID)
	}
	if len(f.Actor) > 0 {
		// A decision that names no actor was a person's.
		where = append(where, "decision_action <> '' AND (CASE WHEN decision_actor = '' THEN 'person' ELSE decision_actor END) IN ("+
			strings.TrimSuffix(strings.Repeat("?, ", len(f.Actor)), ", ")+")")
		for _, a := range f.Actor {
			args = append(args, string(a))
		}
	}
	if f.DecidedBy != "" {
		where = append(where, "decision_action <> '' AND decision_by = ?")
		args = append(args, f.DecidedBy)
	}
	if f.OlderThan > 0 {
		where = append(where, "created_at <= ?")
		args = append(args, nanos(now.Add(-f.OlderThan)))
	}
	if f.NewerThan > 0 {
		where = append(where, "created_at > ?")
		args = append(args, nanos(now.Add(-f.NewerThan)))
	}
	q := `SELECT ` + escColumns + ` FROM escalations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY CASE WHEN status = 'open' OR (status = 'claimed' AND claimed_until <= ?) THEN 0
		WHEN status = 'claimed' THEN 1 WHEN status = 'resolved' THEN 2 WHEN status = 'dismissed' THEN 3 ELSE 4 END,
		created_at, id`
	args = append(args, n)
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	defer rows.Close()
	var out []escalate.Item
	for rows.Next() {
		it, err := scanEscalation(rows)
		var damaged *escalate.DamagedError
		switch {
		case errors.As(err, &damaged):
			it.Damaged = damaged.Field + ": " + damaged.Err.Error() // listed as damaged, not hiding the rest
		case err != nil:
			return nil, fmt.Errorf("list escalations: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	return out, nil
}

// EscalationAudit implements escalate.Store.
func (s *Store) EscalationAudit(ctx context.Context, id string) ([]escalate.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, by_name, event, from_status, to_status, action, note,
		actor, answer, rationale, confidence, hold_ns FROM escalation_audit WHERE item_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("audit of escalation %q: %w", id, err)
	}
	defer rows.Close()
	var out []escalate.AuditEntry
	for rows.Next() {
		var (
			a                              escalate.AuditEntry
			at, holdNS                     int64
			event, from, to, action, actor string
		)
		if err := rows.Scan(&at, &a.By, &event, &from, &to, &action, &a.Note, &actor, &a.Answer, &a.Rationale,
			&a.Confidence, &holdNS); err != nil {
			return nil, fmt.Errorf("audit of escalation %q: %w", id, err)
		}
		a.ItemID, a.At, a.Event = id, fromNanos(at), escalate.AuditEvent(event)
		a.Actor, a.Hold = rebound.Actor(actor), time.Duration(holdNS)
		a.From, a.To, a.Action = escalate.Status(from), escalate.Status(to), rebound.Action(action)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit of escalation %q: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := s.GetEscalation(ctx, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EscalationStats implements escalate.Store.
func (s *Store) EscalationStats(ctx context.Context, now time.Time) ([]escalate.ReasonStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT reason, COUNT(*),
		COALESCE(SUM(CASE WHEN status = 'claimed' AND claimed_until > ? THEN 1 ELSE 0 END), 0), MIN(created_at)
		FROM escalations WHERE status IN ('open', 'claimed') GROUP BY reason ORDER BY reason`, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("escalation stats: %w", err)
	}
	defer rows.Close()
	out := []escalate.ReasonStats{}
	for rows.Next() {
		var (
			r      escalate.ReasonStats
			reason string
			oldest int64
		)
		if err := rows.Scan(&reason, &r.Open, &r.Claimed, &oldest); err != nil {
			return nil, fmt.Errorf("escalation stats: %w", err)
		}
		r.Reason, r.OldestCreatedAt = rebound.EscalationReason(reason), fromNanos(oldest)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("escalation stats: %w", err)
	}
	return out, nil
}

func escWaiting(s escalate.Status) bool {
	return s == escalate.StatusOpen || s == escalate.StatusClaimed
}

// escCheckWaiting refuses a change that would give a run step a second waiting item.
func escCheckWaiting(ctx context.Context, tx *sql.Tx, it escalate.Item, was escalate.Status) error {
	if it.RunID == "" || !escWaiting(it.Status) || escWaiting(was) {
		return nil
	}
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM escalations WHERE run_id = ? AND step = ?
		AND status IN ('open', 'claimed') AND id <> ?`, it.RunID, it.Step, it.ID).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &escalate.DuplicateError{ID: it.ID, RunID: it.RunID, Step: it.Step, WaitingID: other}
}
