package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// One damaged escalation row does not break the queue: the page and the API list the rest and
// show the damaged item as damaged.
func TestDamagedEscalationListed(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rebound.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := escalate.NewQueue(s, escalate.Config{})
	good, err := q.Escalate(ctx, rebound.Escalation{RunID: "run-good", Step: "outline"})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := q.Escalate(ctx, rebound.Escalation{RunID: "run-bad", Step: "section_2",
		Messages: []rebound.Message{rebound.User("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE escalations SET messages = '[{"role": ' WHERE id = ?`, bad); err != nil {
		t.Fatal(err)
	}
	srv, err := dashboard.New(dashboard.Config{Escalations: q, Runs: s})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "localhost"
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	page := get("/escalations")
	body := page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(body, "run-good") || !strings.Contains(body, "run-bad") ||
		!strings.Contains(body, "damaged") {
		t.Fatalf("queue page: %d, want 200 listing both items, the damaged one as damaged:\n%s", page.Code, body)
	}

	api := get("/api/v1/escalations")
	if api.Code != http.StatusOK {
		t.Fatalf("API list: %d %s", api.Code, api.Body)
	}
	var items []struct {
		ID      string `json:"id"`
		Damaged string `json:"damaged"`
	}
	if err := json.Unmarshal(api.Body.Bytes(), &items); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, it := range items {
		seen[it.ID] = it.Damaged
	}
	if d, ok := seen[good]; !ok || d != "" {
		t.Errorf("API list: the good item %s is missing or damaged (%q)", good, d)
	}
	if d := seen[bad]; !strings.Contains(d, "messages") {
		t.Errorf("API list: the damaged item %s reads damaged=%q, want it named damaged (messages)", bad, d)
	}
}
