package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

var _ checkpoint.DecidedLister = (*Store)(nil)

// ListDecidedRuns implements checkpoint.DecidedLister: the escalated runs whose current
// escalation is resolved or dismissed, in one query over both tables; a supervisor's decision
// on hold is left out until its hold is over.
func (s *Store) ListDecidedRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = checkpoint.DefaultListLimit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs
		WHERE status = 'escalated' AND escalation_id IN
			(SELECT id FROM escalations WHERE status IN ('resolved', 'dismissed')
				AND NOT (decision_actor = 'supervisor' AND decision_hold_ns > 0 AND acted_at IS NULL
					AND decided_at + make_interval(secs => decision_hold_ns / 1e9) > $3))
		ORDER BY updated_at, id LIMIT $1 OFFSET $2`, limit, max(f.Offset, 0), time.Now())
	if err != nil {
		return nil, fmt.Errorf("postgres: list decided runs: %w", err)
	}
	defer rows.Close()
	var out []checkpoint.RunInfo
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list decided runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list decided runs: %w", err)
	}
	return out, nil
}
