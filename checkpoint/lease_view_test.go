package checkpoint_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

// A running run's lease is held before its expiry and expired from it on; a run that is not
// running has no lease state, and its JSON no "lease".
func TestLeaseAt(t *testing.T) {
	exp := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status checkpoint.Status
		now    time.Time
		want   checkpoint.LeaseState
	}{
		{checkpoint.StatusRunning, exp.Add(-time.Nanosecond), checkpoint.LeaseHeld},
		{checkpoint.StatusRunning, exp, checkpoint.LeaseExpired},
		{checkpoint.StatusRunning, exp.Add(time.Hour), checkpoint.LeaseExpired},
		{checkpoint.StatusEscalated, exp.Add(time.Hour), ""},
		{checkpoint.StatusCompleted, exp.Add(-time.Second), ""},
	} {
		ri := checkpoint.RunInfo{ID: "r", Status: tc.status, Owner: "h/1", LeaseExpires: exp}
		if got := ri.LeaseAt(tc.now); got != tc.want {
			t.Errorf("%s at expiry%+v: LeaseAt = %q, want %q", tc.status, tc.now.Sub(exp), got, tc.want)
		}
		one, err := ri.MarshalJSONAt(tc.now)
		if err != nil {
			t.Fatal(err)
		}
		view, err := checkpoint.RunView{RunInfo: ri}.MarshalJSONAt(tc.now)
		if err != nil {
			t.Fatal(err)
		}
		list, err := checkpoint.MarshalRunsAt([]checkpoint.RunInfo{ri}, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{one, view, []byte(strings.TrimSuffix(strings.TrimPrefix(string(list), "["), "]"))} {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if got, _ := m["lease"].(string); got != string(tc.want) {
				t.Errorf("%s: lease = %q, want %q", b, got, tc.want)
			}
		}
	}
	if b, _ := checkpoint.MarshalRunsAt(nil, exp); string(b) != "[]" {
		t.Errorf("MarshalRunsAt(nil) = %s, want []", b)
	}
}
