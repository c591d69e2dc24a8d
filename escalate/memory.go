package escalate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
)

// MemoryStore is a Store in memory, for tests and single-process programs that need no
// durability. It is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	items map[string]*Item
	audit map[string][]AuditEntry
	// waiting maps a run step to its waiting (open or claimed) item.
	waiting map[stepKey]string
}

type stepKey struct{ run, step string }

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: map[string]*Item{}, audit: map[string][]AuditEntry{}, waiting: map[stepKey]string{}}
}

// clone copies it deeply, so that callers never share memory with the store.
func clone(it Item) Item {
	it.State = slices.Clone(it.State)
	it.Messages = slices.Clone(it.Messages)
	if it.Decision != nil {
		d := *it.Decision
		it.Decision = &d
	}
	return it
}

func waiting(s Status) bool { return s == StatusOpen || s == StatusClaimed }

// InsertEscalation implements Store.
func (m *MemoryStore) InsertEscalation(_ context.Context, it Item, a AuditEntry) (Item, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := stepKey{it.RunID, it.Step}
	if it.RunID != "" {
		if id, ok := m.waiting[k]; ok {
			return clone(*m.items[id]), false, nil
		}
	}
	if _, taken := m.items[it.ID]; taken {
		return Item{}, false, fmt.Errorf("insert escalation: ID %q is taken", it.ID)
	}
	c := clone(it)
	m.items[it.ID] = &c
	if it.RunID != "" && waiting(it.Status) {
		m.waiting[k] = it.ID
	}
	m.audit[it.ID] = append(m.audit[it.ID], a)
	return clone(c), true, nil
}

// GetEscalation implements Store.
func (m *MemoryStore) GetEscalation(_ context.Context, id string) (Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok {
		return Item{}, &NotFoundError{ID: id}
	}
	return clone(*it), nil
}

// UpdateEscalation implements Store.
func (m *MemoryStore) UpdateEscalation(_ context.Context, id string, update func(*Item) (AuditEntry, error)) (Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.items[id]
	if !ok {
		return Item{}, &NotFoundError{ID: id}
	}
	it := clone(*cur)
	a, err := update(&it)
	if err != nil {
		return Item{}, err
	}
	k := stepKey{cur.RunID, cur.Step}
	if cur.RunID != "" && waiting(it.Status) && !waiting(cur.Status) {
		if other, ok := m.waiting[k]; ok && other != id {
			return Item{}, &DuplicateError{ID: id, RunID: cur.RunID, Step: cur.Step, WaitingID: other}
		}
	}
	if cur.RunID != "" {
		switch {
		case waiting(it.Status):
			m.waiting[k] = id
		case m.waiting[k] == id:
			delete(m.waiting, k)
		}
	}
	cur.Status, cur.ClaimedBy, cur.ClaimedUntil = it.Status, it.ClaimedBy, it.ClaimedUntil
	cur.Decision, cur.UpdatedAt, cur.DecidedAt, cur.ActedAt = it.Decision, it.UpdatedAt, it.DecidedAt, it.ActedAt
	m.audit[id] = append(m.audit[id], a)
	return clone(*cur), nil
}

// matches reports whether it, as seen at now, is selected by f. Stores that filter in memory
// share it.
func (f Filter) matches(it Item, now time.Time) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, it.settle(now).Status) {
		return false
	}
	if len(f.Reason) > 0 && !slices.Contains(f.Reason, it.Reason) {
		return false
	}
	if f.RunID != "" && it.RunID != f.RunID {
		return false
	}
	if len(f.Actor) > 0 && (it.Decision == nil || !slices.Contains(f.Actor, it.DecidedByActor())) {
		return false
	}
	if f.DecidedBy != "" && (it.Decision == nil || it.Decision.By != f.DecidedBy) {
		return false
	}
	if f.OlderThan > 0 && it.CreatedAt.After(now.Add(-f.OlderThan)) {
		return false
	}
	if f.NewerThan > 0 && !it.CreatedAt.After(now.Add(-f.NewerThan)) {
		return false
	}
	return true
}

// ListEscalations implements Store.
func (m *MemoryStore) ListEscalations(_ context.Context, f Filter, now time.Time) ([]Item, error) {
	m.mu.Lock()
	var out []Item
	for _, it := range m.items {
		if f.matches(*it, now) {
			out = append(out, clone(*it))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Item) int {
		if d := statusRank(a.settle(now).Status) - statusRank(b.settle(now).Status); d != 0 {
			return d
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// EscalationAudit implements Store.
func (m *MemoryStore) EscalationAudit(_ context.Context, id string) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[id]; !ok {
		return nil, &NotFoundError{ID: id}
	}
	return slices.Clone(m.audit[id]), nil
}

// EscalationStats implements Store.
func (m *MemoryStore) EscalationStats(_ context.Context, now time.Time) ([]ReasonStats, error) {
	m.mu.Lock()
	by := map[rebound.EscalationReason]*ReasonStats{}
	for _, it := range m.items {
		if !waiting(it.Status) {
			continue
		}
		s := by[it.Reason]
		if s == nil {
			s = &ReasonStats{Reason: it.Reason, OldestCreatedAt: it.CreatedAt}
			by[it.Reason] = s
		}
		s.Open++
		if it.settle(now).Status == StatusClaimed {
			s.Claimed++
		}
		if it.CreatedAt.Before(s.OldestCreatedAt) {
			s.OldestCreatedAt = it.CreatedAt
		}
	}
	m.mu.Unlock()
	out := make([]ReasonStats, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ReasonStats) int { return strings.Compare(string(a.Reason), string(b.Reason)) })
	return out, nil
}
