package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

// benchQueue is a queue of n waiting items, each with a short history.
func benchQueue(b *testing.B, n int) (*escalate.Queue, string) {
	b.Helper()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	var id string
	reasons := []rebound.EscalationReason{"max_retries_exceeded", "irreversible_action", "low_confidence", "requires_human"}
	for i := range n {
		var err error
		id, err = q.Escalate(context.Background(), rebound.Escalation{
			RunID: fmt.Sprintf("run-%04d", i), Step: "section_2", Reason: reasons[i%len(reasons)],
			Err:      &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: "overloaded"},
			Attempts: 5, Context: "the primary model is overloaded",
			Messages: []rebound.Message{rebound.User("Research topic: tides"), rebound.Assistant("1. Tides\n2. Moon")},
			State:    []byte(`{"step":"section_2","completed_steps":["outline","section_1"]}`),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return q, id
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost"+path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
}

// BenchmarkQueuePage renders the queue page of 200 waiting items.
func BenchmarkQueuePage(b *testing.B) {
	q, _ := benchQueue(b, 200)
	srv, err := dashboard.New(dashboard.Config{Escalations: q})
	if err != nil {
		b.Fatal(err)
	}
	benchGet(b, srv, "/escalations")
}

// BenchmarkEscalationPage renders one item's page.
func BenchmarkEscalationPage(b *testing.B) {
	q, id := benchQueue(b, 1)
	srv, err := dashboard.New(dashboard.Config{Escalations: q})
	if err != nil {
		b.Fatal(err)
	}
	benchGet(b, srv, "/escalations/"+id)
}

// BenchmarkAPIList answers GET /api/v1/escalations for 200 waiting items, with a token.
func BenchmarkAPIList(b *testing.B) {
	q, _ := benchQueue(b, 200)
	srv, err := dashboard.New(dashboard.Config{Escalations: q, Token: "bench-token"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/v1/escalations", nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
