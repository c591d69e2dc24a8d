package escalate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// The webhook tests run on real time with short settings: they talk to a real HTTP server.
func shortWebhook(url string) *escalate.Webhook {
	return escalate.NewWebhook(url, escalate.WebhookConfig{
		Timeout: 200 * time.Millisecond, Attempts: 3, Backoff: 5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond, Header: http.Header{"X-Token": {"t1"}},
	})
}

func TestWebhookPosts(t *testing.T) {
	got := make(chan escalate.WebhookPayload, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Token") != "t1" {
			t.Errorf("request %s %v", r.Method, r.Header)
		}
		var p escalate.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("body: %v", err)
		}
		got <- p
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{Notifier: shortWebhook(srv.URL)})
	id, err := q.Escalate(t.Context(), rebound.Escalation{RunID: "report-001", Step: "publish",
		Reason: "irreversible_action", Class: rebound.ClassAuth, Err: errors.New("401 x-api-key: k-secret-1"),
		State: json.RawMessage(`{"big":"state"}`)})
	if err != nil {
		t.Fatal(err)
	}
	p := <-got
	if p.Event != "escalation.created" || p.ID != id || p.RunID != "report-001" || p.Step != "publish" ||
		p.Reason != rebound.ReasonIrreversibleAction || p.Class != rebound.ClassAuth || p.Status != escalate.StatusOpen ||
		p.CreatedAt.IsZero() {
		t.Errorf("payload %+v", p)
	}
	if strings.Contains(p.Error, "k-secret-1") {
		t.Errorf("payload carries a secret: %q", p.Error)
	}
	audit, _ := q.Audit(t.Context(), id)
	if len(audit) != 1 {
		t.Errorf("a delivered notice left audit entries: %+v", audit)
	}
}

func TestWebhookRetries(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int
		hang     bool
		wantErr  bool
		wantHits int32
	}{
		{"503 then ok", []int{503, 503, 200}, false, false, 3},
		{"429 then ok", []int{429, 202}, false, false, 2},
		{"always 500", []int{500, 500, 500, 500}, false, true, 3},
		{"400 is final", []int{400, 200}, false, true, 1},
		{"timeouts", nil, true, true, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				if c.hang {
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					return
				}
				if c.statuses[n-1] == 429 {
					w.Header().Set("Retry-After", "0")
				}
				w.WriteHeader(c.statuses[n-1])
			}))
			defer srv.Close()
			err := shortWebhook(srv.URL).Notify(t.Context(), escalate.Item{ID: "esc_1"})
			if (err != nil) != c.wantErr {
				t.Errorf("Notify = %v, want error %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "esc_1") {
				t.Errorf("error %q does not name the item", err)
			}
			if hits.Load() != c.wantHits {
				t.Errorf("%d attempts, want %d", hits.Load(), c.wantHits)
			}
		})
	}
}

func TestWebhookStopsWithContext(t *testing.T) {
	// The first attempt fails; Notify then waits an hour for the next one. Canceling the
	// context once the first attempt has been answered must end that wait at once.
	answered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		select {
		case answered <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	wh := escalate.NewWebhook(srv.URL, escalate.WebhookConfig{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour})
	done := make(chan error)
	go func() { done <- wh.Notify(ctx, escalate.Item{ID: "esc_1"}) }()
	select {
	case <-answered:
	case err := <-done:
		t.Fatalf("Notify returned %v before its first attempt was answered", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Notify = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not return when its context ended")
	}
}

func TestWebhookFailureKeepsItem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{Notifier: shortWebhook(srv.URL)})
	id, err := q.Escalate(t.Context(), rebound.Escalation{RunID: "r", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := q.List(t.Context(), escalate.Filter{})
	if len(items) != 1 || items[0].ID != id {
		t.Fatalf("items %v, want %s", items, id)
	}
	audit, _ := q.Audit(t.Context(), id)
	if len(audit) != 2 || audit[1].Event != escalate.AuditNotifyFailed || !strings.Contains(audit[1].Note, "status 502") {
		t.Errorf("audit %+v", audit)
	}
}
