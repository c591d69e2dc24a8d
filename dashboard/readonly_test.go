package dashboard_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

// readOnlyItems is an escalation store whose writes fail as a read-only SQLite file's do.
type readOnlyItems struct{ escalate.Store }

func (readOnlyItems) UpdateEscalation(context.Context, string, func(*escalate.Item) (escalate.AuditEntry, error)) (escalate.Item, error) {
	return escalate.Item{}, fmt.Errorf("the database file /srv/rebound.db is read-only for this user: %w", fs.ErrPermission)
}

// A decision the store refuses as read-only is a 503 that says why, by the API and by the form
// (the page again, with the message), and the item stays open.
func TestDecisionOnReadOnlyStore(t *testing.T) {
	ctx := t.Context()
	items := escalate.NewMemoryStore()
	id, err := escalate.NewQueue(items, escalate.Config{}).Escalate(ctx, rebound.Escalation{RunID: "r1", Step: "publish", Reason: rebound.ReasonIrreversibleAction})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dashboard.New(dashboard.Config{Escalations: escalate.NewQueue(readOnlyItems{items}, escalate.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{srv: srv}

	api := b.api(t, "POST", "/api/v1/escalations/"+id+"/resolve", `{"by":"ana","action":"approve"}`)
	wantStatus(t, api, http.StatusServiceUnavailable)
	wantBody(t, api, "/srv/rebound.db is read-only")
	var s formSession
	b.open(t, &s, "/escalations/"+id)
	form := b.post(t, &s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "action": {"approve"}, "by": {"ana"}})
	wantStatus(t, form, http.StatusServiceUnavailable)
	wantBody(t, form, "/srv/rebound.db is read-only", `name="csrf"`) // the item's page, with its form
	if it, err := items.GetEscalation(ctx, id); err != nil || it.Status != escalate.StatusOpen {
		t.Fatalf("after refused decisions the item is %v (%v), want open", it.Status, err)
	}
}
