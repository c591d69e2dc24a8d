package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

var _ escalate.NextStore = (*Store)(nil)

const escColumns = `id, run_id, step, reason, class, error, attempts, state, messages, context, status,
	claimed_by, claimed_until, decision_action, decision_answer, decision_note, decision_by,
	created_at, updated_at, decided_at, decision_actor, decision_rationale, decision_confidence,
	decision_hold_ns, acted_at`

func scanEscalation(row pgx.Row) (escalate.Item, error) {
	var (
		it                            escalate.Item
		reason, class, status, action string
		state, msgs                   *string
		claimedUntil, decidedAt       *time.Time
		actedAt                       *time.Time
		actor                         string
		holdNS                        int64
		d                             rebound.Decision
	)
	if err := row.Scan(&it.ID, &it.RunID, &it.Step, &reason, &class, &it.Error, &it.Attempts, &state, &msgs,
		&it.Context, &status, &it.ClaimedBy, &claimedUntil, &action, &d.Answer, &d.Note, &d.By,
		&it.CreatedAt, &it.UpdatedAt, &decidedAt, &actor, &d.Rationale, &d.Confidence, &holdNS, &actedAt); err != nil {
		return escalate.Item{}, err
	}
	it.Reason, it.Status = rebound.EscalationReason(reason), escalate.Status(status)
	if action != "" {
		d.Action, d.Actor, d.Hold = rebound.Action(action), rebound.Actor(actor), time.Duration(holdNS)
		it.Decision = &d
	}
	if actedAt != nil {
		it.ActedAt = actedAt.UTC()
	}
	if claimedUntil != nil {
		it.ClaimedUntil = claimedUntil.UTC()
	}
	if decidedAt != nil {
		it.DecidedAt = decidedAt.UTC()
	}
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	// What follows can be damaged; the item read so far comes back with the *DamagedError.
	c, err := rebound.ParseClass(class)
	if err != nil {
		return it, &escalate.DamagedError{ID: it.ID, Field: "class", Err: err}
	}
	it.Class = c
	if state != nil {
		if !json.Valid([]byte(*state)) {
			return it, &escalate.DamagedError{ID: it.ID, Field: "state", Err: errors.New("not JSON")}
		}
		it.State = json.RawMessage(*state)
	}
	if msgs != nil {
		if err := json.Unmarshal([]byte(*msgs), &it.Messages); err != nil {
			it.Messages = nil
			return it, &escalate.DamagedError{ID: it.ID, Field: "messages", Err: err}
		}
	}
	return it, nil
}

func escText(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

func escTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// escDecision is the decision's columns: action, answer, note, by, actor, rationale,
// confidence, hold_ns.
func escDecision(d *rebound.Decision) []any {
	if d == nil {
		return []any{"", "", "", "", "", "", 0.0, int64(0)}
	}
	return []any{string(d.Action), d.Answer, d.Note, d.By, string(d.Actor), d.Rationale, d.Confidence, int64(d.Hold)}
}

func escInsertAudit(ctx context.Context, tx pgx.Tx, a escalate.AuditEntry) error {
	_, err := tx.Exec(ctx, `INSERT INTO escalation_audit (item_id, at, by_name, event, from_status, to_status, action, note,
		actor, answer, rationale, confidence, hold_ns)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, a.ItemID, a.At, a.By, string(a.Event), string(a.From),
		string(a.To), string(a.Action), a.Note, string(a.Actor), a.Answer, a.Rationale, a.Confidence, int64(a.Hold))
	if err != nil {
		return fmt.Errorf("append audit of escalation %q: %w", a.ItemID, err)
	}
	return nil
}

// InsertEscalation implements escalate.Store. Two workers escalating the same step at once get
// one item: the second insert waits on the unique index of waiting items and then reads the
// first one's row.
func (s *Store) InsertEscalation(ctx context.Context, it escalate.Item, a escalate.AuditEntry) (escalate.Item, bool, error) {
	return s.insertEscalation(ctx, it, a, nil)
}

// InsertEscalationFenced implements escalate.FencedStore: the run's row is read under a share
// lock, which keeps a take-over from committing until the item is filed.
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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if lease != nil {
			var epoch int64
			var owner string
			err := tx.QueryRow(ctx, `SELECT epoch, owner FROM runs WHERE id = $1 FOR SHARE`, lease.RunID).Scan(&epoch, &owner)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				// A run this database does not keep (its journal lives elsewhere) is not checked.
			case err != nil:
				return fmt.Errorf("read lease: %w", err)
			case epoch != lease.Epoch || owner != lease.Owner:
				return &checkpoint.StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch, Current: epoch, Owner: owner}
			}
		}
		dc := escDecision(it.Decision)
		tag, err := tx.Exec(ctx, `INSERT INTO escalations (`+escColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
				$21, $22, $23, $24, $25)
			ON CONFLICT DO NOTHING`,
			it.ID, it.RunID, it.Step, string(it.Reason), it.Class.String(), it.Error, it.Attempts,
			escText(it.State), escText(msgs), it.Context, string(it.Status), it.ClaimedBy,
			escTime(it.ClaimedUntil), dc[0], dc[1], dc[2], dc[3], it.CreatedAt, it.UpdatedAt, escTime(it.DecidedAt),
			dc[4], dc[5], dc[6], dc[7], escTime(it.ActedAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			row := tx.QueryRow(ctx, `SELECT `+escColumns+` FROM escalations
				WHERE run_id = $1 AND step = $2 AND status IN ('open', 'claimed') AND run_id <> ''`, it.RunID, it.Step)
			stored, err = scanEscalation(row)
			if errors.Is(err, pgx.ErrNoRows) {
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
	it, err := scanEscalation(s.pool.QueryRow(ctx, `SELECT `+escColumns+` FROM escalations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return escalate.Item{}, &escalate.NotFoundError{ID: id}
	}
	if err != nil {
		return escalate.Item{}, fmt.Errorf("get escalation %q: %w", id, err)
	}
	return it, nil
}

// UpdateEscalation implements escalate.Store. The item's row is locked (SELECT … FOR UPDATE)
// for the whole change, so concurrent claims and decisions on one item queue and each sees the
// one before it: exactly one of two competing claims wins.
func (s *Store) UpdateEscalation(ctx context.Context, id string, update func(*escalate.Item) (escalate.AuditEntry, error)) (escalate.Item, error) {
	it, _, err := s.updateEscalation(ctx, id, func(tx pgx.Tx) pgx.Row {
		return tx.QueryRow(ctx, `SELECT `+escColumns+` FROM escalations WHERE id = $1 FOR UPDATE`, id)
	}, update)
	return it, err
}

// UpdateNextEscalation implements escalate.NextStore: the first open item f selects is locked
// with FOR UPDATE SKIP LOCKED, so that concurrent callers each take a different item.
func (s *Store) UpdateNextEscalation(ctx context.Context, f escalate.Filter, now time.Time, update func(*escalate.Item) (escalate.AuditEntry, error)) (escalate.Item, bool, error) {
	f.Status = []escalate.Status{escalate.StatusOpen}
	eq := &escQuery{args: []any{now}}
	q := `SELECT ` + escColumns + ` FROM escalations` + eq.where(f) + escOrder + ` LIMIT 1 FOR UPDATE SKIP LOCKED`
	return s.updateEscalation(ctx, "", func(tx pgx.Tx) pgx.Row { return tx.QueryRow(ctx, q, eq.args...) }, update)
}

// updateEscalation changes the item that pick locks; id is "" when pick chooses one, and then
// finding none is ok false rather than a *NotFoundError.
func (s *Store) updateEscalation(ctx context.Context, id string, pick func(pgx.Tx) pgx.Row,
	update func(*escalate.Item) (escalate.AuditEntry, error)) (escalate.Item, bool, error) {
	var it escalate.Item
	var refused error
	none := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		it, err = scanEscalation(pick(tx))
		if errors.Is(err, pgx.ErrNoRows) {
			if id == "" {
				none = true
				return nil
			}
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
		dc := escDecision(it.Decision)
		if _, err := tx.Exec(ctx, `UPDATE escalations SET status = $1, claimed_by = $2, claimed_until = $3,
			decision_action = $4, decision_answer = $5, decision_note = $6, decision_by = $7, decision_actor = $8,
			decision_rationale = $9, decision_confidence = $10, decision_hold_ns = $11, updated_at = $12,
			decided_at = $13, acted_at = $14 WHERE id = $15`, string(it.Status), it.ClaimedBy, escTime(it.ClaimedUntil),
			dc[0], dc[1], dc[2], dc[3], dc[4], dc[5], dc[6], dc[7], it.UpdatedAt, escTime(it.DecidedAt),
			escTime(it.ActedAt), it.ID); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "escalations_waiting_step" {
				refused = &escalate.DuplicateError{ID: it.ID, RunID: it.RunID, Step: it.Step}
				return refused
			}
			return err
		}
		return escInsertAudit(ctx, tx, a)
	})
	if refused != nil && errors.Is(err, refused) {
		return escalate.Item{}, false, refused
	}
	if err != nil {
		if id == "" {
			return escalate.Item{}, false, fmt.Errorf("update next escalation: %w", err)
		}
		return escalate.Item{}, false, fmt.Errorf("update escalation %q: %w", id, err)
	}
	if none {
		return escalate.Item{}, false, nil
	}
	return it, true, nil
}

// escQuery builds the WHERE clause that f selects at now ($1), and the ORDER BY of
// ListEscalations.
type escQuery struct{ args []any }

func (q *escQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

const escOrder = ` ORDER BY CASE WHEN status = 'open' OR (status = 'claimed' AND claimed_until <= $1) THEN 0
	WHEN status = 'claimed' THEN 1 WHEN status = 'resolved' THEN 2 WHEN status = 'dismissed' THEN 3 ELSE 4 END,
	created_at, id COLLATE "C"`

func (q *escQuery) where(f escalate.Filter) string {
	var where []string
	if len(f.Status) > 0 {
		var ors []string
		for _, st := range f.Status {
			switch st {
			case escalate.StatusOpen:
				ors = append(ors, `(status = 'open' OR (status = 'claimed' AND claimed_until <= $1))`)
			case escalate.StatusClaimed:
				ors = append(ors, `(status = 'claimed' AND claimed_until > $1)`)
			default:
				ors = append(ors, `status = `+q.arg(string(st)))
			}
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if len(f.Reason) > 0 {
		rs := make([]string, len(f.Reason))
		for i, r := range f.Reason {
			rs[i] = string(r)
		}
		where = append(where, "reason = ANY("+q.arg(rs)+")")
	}
	if f.RunID != "" {
		where = append(where, "run_id = "+q.arg(f.RunID))
	}
	if len(f.Actor) > 0 {
		as := make([]string, len(f.Actor))
		for i, a := range f.Actor {
			as[i] = string(a)
		}
		// A decision that names no actor was a person's.
		where = append(where, "decision_action <> '' AND (CASE WHEN decision_actor = '' THEN 'person' ELSE decision_actor END) = ANY("+q.arg(as)+")")
	}
	if f.DecidedBy != "" {
		where = append(where, "decision_action <> '' AND decision_by = "+q.arg(f.DecidedBy))
	}
	now := q.args[0].(time.Time)
	if f.OlderThan > 0 {
		where = append(where, "created_at <= "+q.arg(now.Add(-f.OlderThan)))
	}
	if f.NewerThan > 0 {
		where = append(where, "created_at > "+q.arg(now.Add(-f.NewerThan)))
	}
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// ListEscalations implements escalate.Store.
func (s *Store) ListEscalations(ctx context.Context, f escalate.Filter, now time.Time) ([]escalate.Item, error) {
	eq := &escQuery{args: []any{now}}
	q := `SELECT ` + escColumns + ` FROM escalations` + eq.where(f) + escOrder
	if f.Limit > 0 {
		q += " LIMIT " + eq.arg(f.Limit)
	}
	args := eq.args
	rows, err := s.pool.Query(ctx, q, args...)
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
	rows, err := s.pool.Query(ctx, `SELECT at, by_name, event, from_status, to_status, action, note,
		actor, answer, rationale, confidence, hold_ns FROM escalation_audit WHERE item_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("audit of escalation %q: %w", id, err)
	}
	defer rows.Close()
	var out []escalate.AuditEntry
	for rows.Next() {
		var (
			a                              escalate.AuditEntry
			event, from, to, action, actor string
			holdNS                         int64
		)
		if err := rows.Scan(&a.At, &a.By, &event, &from, &to, &action, &a.Note, &actor, &a.Answer, &a.Rationale,
			&a.Confidence, &holdNS); err != nil {
			return nil, fmt.Errorf("audit of escalation %q: %w", id, err)
		}
		a.ItemID, a.At, a.Event = id, a.At.UTC(), escalate.AuditEvent(event)
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
	rows, err := s.pool.Query(ctx, `SELECT reason, COUNT(*),
		COUNT(*) FILTER (WHERE status = 'claimed' AND claimed_until > $1), MIN(created_at)
		FROM escalations WHERE status IN ('open', 'claimed') GROUP BY reason ORDER BY reason COLLATE "C"`, now)
	if err != nil {
		return nil, fmt.Errorf("escalation stats: %w", err)
	}
	defer rows.Close()
	out := []escalate.ReasonStats{}
	for rows.Next() {
		var (
			r            escalate.ReasonStats
			reason       string
			open, claimd int64
		)
		if err := rows.Scan(&reason, &open, &claimd, &r.OldestCreatedAt); err != nil {
			return nil, fmt.Errorf("escalation stats: %w", err)
		}
		r.Reason, r.Open, r.Claimed, r.OldestCreatedAt = rebound.EscalationReason(reason), int(open), int(claimd), r.OldestCreatedAt.UTC()
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

// escCheckWaiting refuses a change that would give a run step a second waiting item. (Should
// another worker escalate the step at the same moment, the unique index refuses the update,
// and UpdateEscalation reports that as the same *DuplicateError.)
func escCheckWaiting(ctx context.Context, tx pgx.Tx, it escalate.Item, was escalate.Status) error {
	if it.RunID == "" || !escWaiting(it.Status) || escWaiting(was) {
		return nil
	}
	var other string
	err := tx.QueryRow(ctx, `SELECT id FROM escalations WHERE run_id = $1 AND step = $2
		AND status IN ('open', 'claimed') AND id <> $3`, it.RunID, it.Step, it.ID).Scan(&other)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &escalate.DuplicateError{ID: it.ID, RunID: it.RunID, Step: it.Step, WaitingID: other}
}
