package escalate_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// answers returns a client whose requests get the given responses in turn, recording when each
// came.
func answers(at *[]time.Time, resps ...func() *http.Response) *http.Client {
	return &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		*at = append(*at, time.Now())
		res := resps[min(len(*at), len(resps))-1]()
		res.Request = r
		return res, nil
	})}
}

func status(code int, h ...string) func() *http.Response {
	return func() *http.Response {
		hd := http.Header{}
		for i := 0; i+1 < len(h); i += 2 {
			hd.Set(h[i], h[i+1])
		}
		return &http.Response{StatusCode: code, Header: hd, Body: http.NoBody}
	}
}

// The webhook's retries are package retry's: waits with full jitter (not exactly 1 s, then
// 2 s), within the exponential bound.
func TestWebhookBackoffHasJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Time
		wh := escalate.NewWebhook("http://hooks.example/esc", escalate.WebhookConfig{
			Client: answers(&at, status(503), status(503), status(200)), Backoff: time.Second, MaxBackoff: time.Minute,
		})
		if err := wh.Notify(t.Context(), escalate.Item{ID: "esc_1"}); err != nil {
			t.Fatal(err)
		}
		if len(at) != 3 {
			t.Fatalf("%d attempts, want 3", len(at))
		}
		first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
		if first > time.Second || second > 2*time.Second || (first == time.Second && second == 2*time.Second) {
			t.Errorf("waits %s and %s: want full jitter under 1 s and 2 s", first, second)
		}
	})
}

// rebound's classification decides: a 503 marked x-should-retry: false is final, and a
// Retry-After longer than MaxBackoff gives up at once instead of retrying before the server
// asked.
func TestWebhookClassifies(t *testing.T) {
	for name, tc := range map[string]struct {
		resp   func() *http.Response
		reason rebound.GiveUpReason
	}{
		"x-should-retry false": {status(503, "x-should-retry", "false"), rebound.NotRetriable},
		"retry-after too long": {status(429, "Retry-After", "600"), rebound.HintTooLong},
	} {
		synctest.Test(t, func(t *testing.T) {
			var at []time.Time
			wh := escalate.NewWebhook("http://hooks.example/esc", escalate.WebhookConfig{
				Client: answers(&at, tc.resp, status(200)), Attempts: 3,
			})
			err := wh.Notify(t.Context(), escalate.Item{ID: "esc_1"})
			var gu *rebound.GiveUpError
			if !errors.As(err, &gu) || gu.Reason != tc.reason || len(at) != 1 {
				t.Errorf("%s: %v after %d attempts, want %s after 1", name, err, len(at), tc.reason)
			}
			if err != nil && !strings.Contains(err.Error(), "esc_1") {
				t.Errorf("%s: error %q does not name the item", name, err)
			}
		})
	}
}
