package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/retry"
)

// agentFaults is the built-in fake's script for `rebound demo agent`: the model's side of the
// ticket. Rules are tried in order; result= matches the tool whose result the last turn carries.
const agentFaults = `# rebound demo agent's script for the built-in fake (--faults FILE replaces it).
# 6. the email is sent: answer the customer
ok result=send_email
# 5. the refund went through: email the customer
tool-use name=send_email result=issue_refund result-error=false input='{"to":"customer-1042@example.com","subject":"Your refund for order 1042","body":"We are sorry order 1042 arrived broken. We have refunded 79.99 to your card."}'
# 4. the refund was refused for its arguments: the model corrects them
tool-use name=issue_refund result=issue_refund result-error=true input='{"order_id":"1042","amount_cents":7999}'
# 3. the order is found: refund it, with an argument the tool does not take (amount)
tool-use name=issue_refund result=lookup_order result-error=false input='{"order_id":"1042","amount":"79.99"}'
# 2. lookup_order was unavailable: the model thinks for a moment, then tries it again
latency 800ms result=lookup_order result-error=true
# 1. look the order up
tool-use name=lookup_order input='{"order_id":"1042"}'
`

const agentSystem = `You are the support agent of an online shop. Look the customer's order up before you act.
Refund a broken item in full with issue_refund (amounts in cents), then tell the customer by email
with send_email. If a tool is unavailable, try it again a little later.`

type lookupInput struct {
	OrderID string `json:"order_id" desc:"the order number, e.g. 1042"`
}

type orderInfo struct {
	OrderID    string `json:"order_id"`
	Status     string `json:"status"`
	Item       string `json:"item"`
	TotalCents int    `json:"total_cents"`
	Email      string `json:"customer_email"`
}

type refundInput struct {
	OrderID     string `json:"order_id" desc:"the order number"`
	AmountCents int    `json:"amount_cents" desc:"the amount to refund, in cents"`
}

type emailInput struct {
	To      string `json:"to" desc:"the customer's address"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// supportAgent builds the demo's agent: the models, and the three tools over the demo's
// services (an order book, and the ledger standing in for payments and email).
func supportAgent(in agentInput, m *demoModels) (*agent.Agent, error) {
	led := &ledger{path: in.Ledger}
	var down atomic.Int32
	if in.Provider == providerFake {
		down.Store(3) // the order service fails its first three requests: the outage of the story
	}
	lookupBreaker, err := breaker.New(breaker.Settings{Name: "tool/lookup_order", ConsecutiveFailures: 3, OpenFor: 500 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	fast := retry.Policy{MaxAttempts: 3, Base: 100 * time.Millisecond, Cap: time.Second}
	tools := []agent.Tool{
		{
			Name: "lookup_order", Description: "Look an order up by its number: status, item, total and the customer's email.",
			Effect: agent.ReadOnly, Timeout: 5 * time.Second, Retry: fast, Breaker: lookupBreaker,
			Handler: agent.Handle(func(ctx context.Context, _ agent.Call, in lookupInput) (orderInfo, error) {
				if down.Add(-1) >= 0 {
					return orderInfo{}, &rebound.Error{Class: rebound.ClassTransient, Status: 503, Provider: "orders", Message: "order service unavailable"}
				}
				if in.OrderID != "1042" {
					return orderInfo{}, rebound.Permanent(fmt.Errorf("no order %q", in.OrderID))
				}
				return orderInfo{OrderID: "1042", Status: "delivered, reported broken", Item: "ceramic teapot", TotalCents: 7999, Email: "customer-1042@example.com"}, nil
			}),
		},
		{
			Name: "issue_refund", Description: "Refund an amount of an order to the customer's card. Irreversible.",
			Effect:   agent.Irreversible,
			Approval: agent.When("amount_cents > 5000", func(in refundInput) bool { return in.AmountCents > 5000 }),
			Timeout:  10 * time.Second, Retry: fast,
			Handler: agent.Handle(func(ctx context.Context, call agent.Call, in refundInput) (string, error) {
				if in.AmountCents <= 0 {
					return "", rebound.Permanent(errors.New("amount_cents must be positive"))
				}
				if err := led.record(call, in); err != nil {
					return "", err
				}
				return fmt.Sprintf("refunded %d.%02d on order %s (reference %s)", in.AmountCents/100, in.AmountCents%100, in.OrderID, call.Key[:12]), nil
			}),
		},
		{
			Name: "send_email", Description: "Send an email to a customer. Irreversible.",
			Effect: agent.Irreversible, Timeout: 10 * time.Second, Retry: fast,
			Handler: agent.Handle(func(ctx context.Context, call agent.Call, in emailInput) (string, error) {
				if err := led.record(call, in); err != nil {
					return "", err
				}
				return "sent to " + in.To, nil
			}),
		},
	}
	return agent.New(agent.Config{Model: m.text, System: agentSystem, Tools: tools, MaxTokens: 700})
}

// ledger is the demo's payments and email service: every executed irreversible call appends
// one JSON line. Like a real payments API it honours the idempotency key: a call whose key it
// has already recorded (run again after a person approved a call left in doubt) is not recorded
// twice.
type ledger struct {
	path string
	mu   sync.Mutex
}

type ledgerLine struct {
	RunID     string          `json:"run_id"`
	Tool      string          `json:"tool"`
	CallID    string          `json:"call_id"`
	Arguments json.RawMessage `json:"arguments"`
	Key       string          `json:"idempotency_key"`
	Time      time.Time       `json:"time"`
}

func (l *ledger) record(call agent.Call, args any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seen, err := l.has(call.Key); err != nil || seen {
		return err
	}
	b, err := json.Marshal(args)
	if err != nil {
		return rebound.Permanent(err)
	}
	line, err := json.Marshal(ledgerLine{RunID: call.Fence.RunID, Tool: call.Tool, CallID: call.ID, Arguments: b, Key: call.Key, Time: time.Now().UTC()})
	if err != nil {
		return rebound.Permanent(err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return rebound.Permanent(fmt.Errorf("ledger: %w", err))
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("ledger: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: %w", err)
	}
	return f.Close()
}

// has reports whether the ledger holds a line with the idempotency key.
func (l *ledger) has(key string) (bool, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, rebound.Permanent(fmt.Errorf("ledger: %w", err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var ln ledgerLine
		if json.Unmarshal(sc.Bytes(), &ln) == nil && ln.Key == key {
			return true, nil
		}
	}
	return false, sc.Err()
}
