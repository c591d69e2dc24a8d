package dashboard_test

import (
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

// TestRunLease: a running run whose lease has expired (its worker was killed) says so on the
// runs page, on its run page (with what brings it back) and in the API's JSON (lease
// "expired"); a live lease names its holder and when it ends (lease "held"). The owner is
// escaped.
func TestRunLease(t *testing.T) {
	var now time.Time
	b := setup(t, setupOpts{now: func() time.Time { return now }})
	const owner = `<b>host-a</b>/4242`
	const shown = `&lt;b&gt;host-a&lt;/b&gt;/4242`
	if _, err := b.runs.ClaimRun(t.Context(), checkpoint.ClaimRequest{RunID: "run-lost", Owner: owner, TTL: time.Minute, Workflow: "research"}); err != nil {
		t.Fatal(err)
	}
	rec, err := b.runs.GetRun(t.Context(), "run-lost")
	if err != nil {
		t.Fatal(err)
	}
	expires := rec.LeaseExpires

	type runJSON struct {
		ID           string    `json:"id"`
		Owner        string    `json:"owner"`
		LeaseExpires time.Time `json:"lease_expires"`
		Lease        string    `json:"lease"`
	}
	checkAPI := func(t *testing.T, lease string) {
		t.Helper()
		one := decode[runJSON](t, b.api(t, "GET", "/api/v1/runs/run-lost", ""))
		list := decode[[]runJSON](t, b.api(t, "GET", "/api/v1/runs", ""))
		for _, got := range append(list, one) {
			if got.ID != "run-lost" || got.Lease != lease || got.Owner != owner || !got.LeaseExpires.Equal(expires) {
				t.Errorf("API run = %+v, want lease %q, owner %q, lease_expires %v", got, lease, owner, expires)
			}
		}
	}

	t.Run("expired", func(t *testing.T) {
		now = expires.Add(3*time.Minute + 5*time.Second)
		runs := b.get(t, "/runs")
		wantStatus(t, runs, 200)
		wantBody(t, runs, `no worker: lease of <span class="mono">`+shown+`</span> expired 3m 5s ago`)
		wantNoBody(t, runs, owner, "held by")
		page := b.get(t, "/runs/run-lost")
		wantStatus(t, page, 200)
		wantBody(t, page, `No worker: the lease of <span class="mono">`+shown+`</span> expired 3m 5s ago`,
			"<code>rebound serve --worker</code> recovers abandoned runs", "<code>rebound runs resume run-lost</code>",
			"lease expired 3m 5s ago", "Last held by")
		wantNoBody(t, page, owner)
		checkAPI(t, "expired")
	})
	t.Run("held", func(t *testing.T) {
		now = expires.Add(-25 * time.Second)
		runs := b.get(t, "/runs")
		wantStatus(t, runs, 200)
		wantBody(t, runs, `held by <span class="mono">`+shown+`</span>, lease ends in 25s`)
		wantNoBody(t, runs, "no worker")
		page := b.get(t, "/runs/run-lost")
		wantStatus(t, page, 200)
		wantBody(t, page, "Held by", "lease until", "(in 25s)")
		wantNoBody(t, page, "No worker", "runs resume")
		checkAPI(t, "held")
	})
}
