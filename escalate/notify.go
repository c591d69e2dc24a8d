package escalate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/timeout"
)

// Notifier is told of every new item. The Queue calls it after the item is stored, on the
// goroutine of Escalate, with no lock held; an error it returns is written into the item's audit
// trail and passed to Config.NotifyFailed, and never loses the item.
type Notifier interface {
	Notify(ctx context.Context, it Item) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, it Item) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, it Item) error { return f(ctx, it) }

// WebhookConfig configures a Webhook. The zero value works.
type WebhookConfig struct {
	// Client sends the requests. Default: a client of its own with no timeout (each attempt has
	// Timeout).
	Client *http.Client
	// Header is added to every request, say an Authorization for the receiver.
	Header http.Header
	// Timeout bounds each attempt. Default 5 s.
	Timeout time.Duration
	// Attempts is how many times a delivery is tried in all. Default 3.
	Attempts int
	// Backoff is the base of the waits between attempts (package retry: doubling each time,
	// with full jitter). A server's Retry-After replaces the computed wait. Default 500 ms.
	Backoff time.Duration
	// MaxBackoff caps each wait; a Retry-After longer than it gives up at once (the delivery
	// fails with reason hint_too_long) rather than retrying before the server asked. Default 5 s.
	MaxBackoff time.Duration
}

// Webhook is a Notifier that POSTs a JSON summary of each new item (WebhookPayload) to a URL.
// It retries a failed delivery with package retry, by rebound's classes: a transport failure,
// an attempt's timeout, 408, 429 and the 5xx that rebound.HTTPError classes as retriable are
// retried (x-should-retry honoured), with full jitter and the server's Retry-After; a 2xx is
// success and any other status fails at once.
type Webhook struct {
	url    string
	cfg    WebhookConfig
	policy retry.Policy
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a Webhook posting to url.
func NewWebhook(url string, cfg WebhookConfig) *Webhook {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	policy := retry.Policy{
		MaxAttempts: cfg.Attempts, Base: cfg.Backoff, Cap: cfg.MaxBackoff, Name: "webhook",
	}
	return &Webhook{url: url, cfg: cfg, policy: policy}
}

// WebhookPayload is the JSON body a Webhook posts. State and messages are left out (a
// reviewer reads them from the queue); everything in it was redacted before it was stored.
type WebhookPayload struct {
	Event     string                   `json:"event"` // "escalation.created"
	ID        string                   `json:"id"`
	RunID     string                   `json:"run_id"`
	Step      string                   `json:"step"`
	Reason    rebound.EscalationReason `json:"reason"`
	Status    Status                   `json:"status"`
	Class     rebound.Class            `json:"class"`
	Error     string                   `json:"error,omitempty"`
	Attempts  int                      `json:"attempts"`
	Context   string                   `json:"context,omitempty"`
	CreatedAt time.Time                `json:"created_at"`
}

// Notify posts the item's summary, retrying as WebhookConfig says. It returns the last failure.
func (w *Webhook) Notify(ctx context.Context, it Item) error {
	body, err := json.Marshal(WebhookPayload{
		Event: "escalation.created", ID: it.ID, RunID: it.RunID, Step: it.Step, Reason: it.Reason,
		Status: it.Status, Class: it.Class, Error: it.Error, Attempts: it.Attempts,
		Context: it.Context, CreatedAt: it.CreatedAt,
	})
	if err != nil {
		return fmt.Errorf("webhook for escalation %q: %w", it.ID, err)
	}
	_, err = retry.Do(ctx, w.policy, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, w.post(ctx, body)
	})
	if err != nil {
		return fmt.Errorf("webhook for escalation %q: %w", it.ID, err)
	}
	return nil
}

// post makes one delivery attempt under the attempt timeout; its failure is classified.
func (w *Webhook) post(ctx context.Context, body []byte) error {
	_, err := timeout.Do(ctx, w.cfg.Timeout, func(ctx context.Context) (struct{}, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			return struct{}{}, rebound.Permanent(err)
		}
		for k, vs := range w.cfg.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.cfg.Client.Do(req)
		if err != nil {
			return struct{}{}, err // classified by rebound.Classify: a transport failure is transient
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return struct{}{}, nil
		}
		e := rebound.HTTPError(resp.StatusCode, resp.Header, time.Now())
		e.Provider = "webhook"
		return struct{}{}, e
	})
	return err
}
