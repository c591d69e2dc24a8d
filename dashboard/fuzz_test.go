package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

// FuzzActionBody sends any body to the API's actions: the answer is the item, or a JSON error
// with a client status; never a 500, never a half-applied change.
func FuzzActionBody(f *testing.F) {
	for _, s := range [][2]string{
		{"resolve", `{"action":"approve","by":"alice"}`},
		{"resolve", `{"action":"respond","answer":"42","note":"n","by":"bob"}`},
		{"resolve", `{"action":"respond","by":"bob"}`},
		{"claim", `{"by":"carol","claim_for":"5m"}`},
		{"claim", `{"by":"carol","claim_for":"-5m"}`},
		{"dismiss", `{"by":"dan","note":"dup"}`},
		{"reopen", `{"by":"erin"}`},
		{"resolve", `{"action":"approve","by":"x","extra":true}`},
		{"resolve", `[1,2,3]`},
		{"resolve", `{"by":`},
	} {
		f.Add(s[0], s[1])
	}
	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	srv, err := dashboard.New(dashboard.Config{Escalations: queue})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		switch op {
		case "claim", "resolve", "dismiss", "reopen":
		default:
			op = "resolve"
		}
		id, err := queue.Escalate(t.Context(), rebound.Escalation{Step: "pay", Reason: "requires_human"})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := queue.Get(t.Context(), id)
		req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/escalations/"+id+"/"+op, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var it escalate.Item
			if err := json.Unmarshal(rec.Body.Bytes(), &it); err != nil || it.ID != id {
				t.Fatalf("200 with body %s", rec.Body)
			}
		case http.StatusBadRequest, http.StatusConflict:
			var e map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == "" {
				t.Fatalf("%d with body %s", rec.Code, rec.Body)
			}
			after, _ := queue.Get(t.Context(), id)
			if after.Status != before.Status || after.UpdatedAt != before.UpdatedAt {
				t.Fatalf("refused %s changed the item: %+v", op, after)
			}
		default:
			t.Fatalf("%s %q: status %d, body %s", op, body, rec.Code, rec.Body)
		}
	})
}
