package checkpoint

import "slices"

// DeleteMessageForTest is the MemoryStore's test hook for the conformance suite: it deletes
// message seq of run runID behind the store's back, as a lost database row would, and leaves
// the run's MessageCount as it was.
func (m *MemoryStore) DeleteMessageForTest(runID string, seq int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[runID]
	if !ok {
		return false
	}
	n := len(r.messages)
	r.messages = slices.DeleteFunc(r.messages, func(msg MessageRecord) bool { return msg.Seq == seq })
	return len(r.messages) < n
}
