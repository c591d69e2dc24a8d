package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/dashboard"
)

func TestBreakerLog(t *testing.T) {
	t.Parallel()
	log := dashboard.NewBreakerLog(3)
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	states := []string{"open", "half_open", "open", "half_open", "closed"}
	from := "closed"
	for i, to := range states {
		log.Hook(ctx, rebound.Event{Kind: rebound.BreakerChanged, Model: "anthropic/x", From: from, To: to, Time: at.Add(time.Duration(i) * time.Second)})
		from = to
	}
	log.Hook(ctx, rebound.Event{Kind: rebound.AttemptFailed, Model: "anthropic/x"}) // not a breaker change
	log.Hook(ctx, rebound.Event{Kind: rebound.BreakerChanged})                      // no name

	set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{OnStateChange: log.OnStateChange}})
	if err != nil {
		t.Fatal(err)
	}
	log.Watch(set)
	set.Get("tool/search").ForceOpen()
	set.Get("tool/idle")

	bs, err := log.Breakers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(bs))
	for _, b := range bs {
		got += fmt.Sprintf(" | %s %s current=%v", b.Name, b.State, b.Current)
		for _, tr := range b.Transitions {
			got += fmt.Sprintf(" %s>%s", tr.From, tr.To)
		}
	}
	want := "3 | anthropic/x closed current=false half_open>closed open>half_open half_open>open" +
		" | tool/idle closed current=true | tool/search open current=true closed>open"
	if got != want {
		t.Fatalf("breakers:\n got %s\nwant %s", got, want)
	}
}
