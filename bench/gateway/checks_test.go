package main

import (
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// TestChecksSayWhatIsWrong: each check of the scenario table passes a result that has what it
// asks for and names what is wrong with one that has not, and a scenario stops at its first
// failing check.
func TestChecksSayWhatIsWrong(t *testing.T) {
	a, err := startFake("A", fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	e := &env{a: a, b: a, c: a}
	marks := map[string]string{"x-rebound-degraded": "true", "x-rebound-upstream": "anthropic-b", "x-rebound-model": "claude-fallback"}
	apiErr := &CallError{Kind: "api", Status: 400, Type: "invalid_request_error", Code: "invalid_value"}
	tests := []struct {
		name  string
		check check
		good  Result
		bad   Result
	}{
		{"oneStart", oneStart, Result{Starts: 1}, Result{Starts: 2}},
		{"within", within(time.Second, "answered"), Result{ElapsedMS: 900}, Result{ElapsedMS: 1100}},
		{"markedAs", markedAs("anthropic-b", "claude-fallback"), Result{Headers: marks}, Result{}},
		{"apiError", apiError(400, "invalid_request_error", "invalid_value"), Result{Err: apiErr},
			Result{Err: &CallError{Kind: "api", Status: 400, Type: "invalid_request_error"}}},
		{"inBandError", inBandError, Result{Err: &CallError{Kind: "stream"}, Text: "partial", Starts: 1}, Result{OK: true, Text: "partial"}},
		{"noLeak", noLeak, Result{Text: "fine"}, Result{Text: "key " + upstreamKeyB}},
	}
	for _, tt := range tests {
		if why := tt.check(e, nil, tt.good); why != "" {
			t.Errorf("%s: a good result failed: %s", tt.name, why)
		}
		if why := tt.check(e, nil, tt.bad); why == "" {
			t.Errorf("%s: a bad result %+v passed", tt.name, tt.bad)
		}
	}
	// A has had no request.
	if why := attempts("A", "", 0, "on A")(e, nil, Result{}); why != "" {
		t.Errorf("attempts: none for none failed: %s", why)
	}
	if why := attempts("A", "", 1, "on A")(e, nil, Result{}); why == "" {
		t.Error("attempts: none passed for one")
	}
	if why := atMost("A", "", 0, "on A")(e, nil, Result{}); why != "" {
		t.Errorf("atMost: none for at most none failed: %s", why)
	}
	if why := atMost("A", "", -1, "on A")(e, nil, Result{}); why == "" {
		t.Error("atMost: none passed for at most -1")
	}

	s := Scenario{Want: []check{oneStart, func(*env, Driver, Result) string { t.Error("a check after a failed one ran"); return "" }}}
	if v := s.judge(e, nil, Result{Starts: 2}); v.pass || v.detail == "" {
		t.Errorf("a scenario whose check failed gave %+v", v)
	}
}
