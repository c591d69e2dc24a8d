package checkpoint

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests and for runs that need not survive the process.
// It passes the same conformance suite as the database stores. Its zero value is not usable;
// call NewMemoryStore.
type MemoryStore struct {
	mu   sync.Mutex
	runs map[string]*memRun
	seq  int64
}

type memRun struct {
	info     RunInfo
	order    int64
	steps    []StepRecord
	messages []MessageRecord
	attempts []AttemptRecord
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{runs: make(map[string]*memRun)} }

// ClaimRun implements Store.
func (m *MemoryStore) ClaimRun(ctx context.Context, req ClaimRequest) (*Claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[req.RunID]
	if !ok {
		m.seq++
		r = &memRun{order: m.seq, info: RunInfo{
			ID: req.RunID, Workflow: req.Workflow, Input: clone(req.Input), Status: StatusRunning,
			CreatedAt: now, UpdatedAt: now,
		}}
		m.runs[req.RunID] = r
	} else if r.info.Owner != "" && now.Before(r.info.LeaseExpires) {
		to := req.TakeOver
		if to == nil || to.Owner != r.info.Owner || (to.Epoch != 0 && to.Epoch != r.info.Epoch) {
			return nil, &LeaseHeldError{RunID: req.RunID, Owner: r.info.Owner, Expires: r.info.LeaseExpires}
		}
	}
	prev := r.info
	if r.info.Workflow == "" && req.Workflow != "" {
		r.info.Workflow = req.Workflow
	}
	if len(r.info.Input) == 0 && len(req.Input) > 0 {
		r.info.Input = clone(req.Input)
	}
	r.info.Owner = req.Owner
	r.info.Epoch++
	r.info.LeaseExpires = now.Add(req.TTL)
	r.info.UpdatedAt = now
	c := &Claimed{
		Lease:    Lease{RunID: req.RunID, Owner: req.Owner, Epoch: r.info.Epoch, Expires: r.info.LeaseExpires},
		Created:  !ok,
		Previous: Lease{RunID: req.RunID, Owner: prev.Owner, Epoch: prev.Epoch, Expires: prev.LeaseExpires},
		Run:      copyInfo(r.info),
		Steps:    copySteps(r.steps),
		Messages: copyMessages(r.messages),
	}
	c.Run.Status = prev.Status
	return c, nil
}

// RenewRun implements Store.
func (m *MemoryStore) RenewRun(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.held(lease)
	if err != nil {
		return Lease{}, err
	}
	r.info.LeaseExpires = now.Add(ttl)
	lease.Expires = r.info.LeaseExpires
	return lease, nil
}

func (m *MemoryStore) held(lease Lease) (*memRun, error) {
	r, ok := m.runs[lease.RunID]
	if !ok {
		return nil, &StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch}
	}
	if r.info.Epoch != lease.Epoch || r.info.Owner != lease.Owner {
		return nil, &StaleEpochError{RunID: lease.RunID, Epoch: lease.Epoch, Current: r.info.Epoch, Owner: r.info.Owner}
	}
	return r, nil
}

// WriteRun implements Store.
func (m *MemoryStore) WriteRun(ctx context.Context, lease Lease, w Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.held(lease)
	if err != nil {
		return err
	}
	for i, msg := range w.Messages {
		if want := int64(len(r.messages) + i); msg.Seq != want {
			return fmt.Errorf("run %q: message sequence %d, expected %d", lease.RunID, msg.Seq, want)
		}
	}
	// Check every step before changing anything: a write applies whole or not at all.
	have := len(r.steps)
	for _, s := range w.Steps {
		if s.Index < 0 || s.Index > have {
			return fmt.Errorf("run %q: step index %d out of order (have %d steps)", lease.RunID, s.Index, have)
		}
		have = max(have, s.Index+1)
	}
	for _, s := range w.Steps {
		s.Result = clone(s.Result)
		if s.Index < len(r.steps) {
			r.steps[s.Index] = s
		} else {
			r.steps = append(r.steps, s)
		}
	}
	for _, msg := range w.Messages {
		msg.Body = clone(msg.Body)
		r.messages = append(r.messages, msg)
		r.info.MessageCount = int(msg.Seq) + 1
	}
	r.attempts = append(r.attempts, w.Attempts...)
	if u := w.Run; u != nil {
		r.info.Status, r.info.LastStep, r.info.StepCount = u.Status, u.LastStep, u.StepCount
		r.info.AttemptCount, r.info.EscalationID, r.info.Error = u.AttemptCount, u.EscalationID, u.Error
	}
	if w.Release {
		r.info.LeaseExpires = now
	}
	r.info.UpdatedAt = now
	return nil
}

// GetRun implements Store.
func (m *MemoryStore) GetRun(ctx context.Context, runID string) (*RunRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("run %q: %w", runID, ErrRunNotFound)
	}
	return &RunRecord{
		RunInfo:  copyInfo(r.info),
		Steps:    copySteps(r.steps),
		Messages: copyMessages(r.messages),
		Attempts: slices.Clone(r.attempts),
	}, nil
}

// ListRuns implements Store.
func (m *MemoryStore) ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	rs := make([]*memRun, 0, len(m.runs))
	for _, r := range m.runs {
		if len(f.Status) == 0 || slices.Contains(f.Status, r.info.Status) {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if !a.info.CreatedAt.Equal(b.info.CreatedAt) {
			return a.info.CreatedAt.After(b.info.CreatedAt)
		}
		return a.info.ID > b.info.ID
	})
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	var out []RunInfo
	for i := max(f.Offset, 0); i < len(rs) && len(out) < limit; i++ {
		out = append(out, copyInfo(rs[i].info))
	}
	m.mu.Unlock()
	return out, nil
}

// PruneRuns implements Store.
func (m *MemoryStore) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, r := range m.runs {
		if r.info.Status.Finished() && r.info.UpdatedAt.Before(before) {
			delete(m.runs, id)
			n++
		}
	}
	return n, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func copyInfo(i RunInfo) RunInfo {
	i.Input = clone(i.Input)
	return i
}

func copySteps(ss []StepRecord) []StepRecord {
	out := make([]StepRecord, len(ss))
	for i, s := range ss {
		s.Result = clone(s.Result)
		out[i] = s
	}
	return out
}

func copyMessages(ms []MessageRecord) []MessageRecord {
	out := make([]MessageRecord, len(ms))
	for i, m := range ms {
		m.Body = clone(m.Body)
		out[i] = m
	}
	return out
}
