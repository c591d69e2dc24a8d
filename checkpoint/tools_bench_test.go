package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// toolTurn is turn i of a tool conversation as an agent journals it: the assistant's turn
// (text, a thinking block kept verbatim, two parallel calls) and the user turn of their results.
func toolTurn(i int) []rebound.Message {
	a, b := fmt.Sprintf("toolu_01A09q90qw90lq917835l%03d", 2*i), fmt.Sprintf("toolu_01A09q90qw90lq917835l%03d", 2*i+1)
	return []rebound.Message{
		rebound.NewMessage(rebound.RoleAssistant,
			rebound.Opaque("anthropic", json.RawMessage(`{"type":"thinking","thinking":"The user wants the weather and the time; I will call both tools.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxDKs4aUUi6ou16pk4iMPiTZhBKgjAbP0QjpCLgAP7bUzrMNyVuEuEDsQg9x6G1Q=="}`)),
			rebound.Text(fmt.Sprintf("Step %d: checking the weather and the time.", i)),
			rebound.ToolUse(a, "get_weather", json.RawMessage(`{"city":"Paris","days":2}`)),
			rebound.ToolUse(b, "get_time", json.RawMessage(`{"city":"Paris"}`))),
		rebound.ToolResults(
			rebound.ToolResult(a, `{"temp_c":18,"sky":"sunny","wind_kmh":12}`, false),
			rebound.ToolResult(b, "14:05 CEST", false)),
	}
}

// BenchmarkToolJournal journals a tool conversation of N turns (each turn in its step) and
// reads it back by resuming the run (decoding every message from the journal). Per turn:
// ns/turn, the journal's bytes (B/turn: the JSON of the messages the turn appends) and
// allocations; flat in N because the journal is append-only (turn n writes what it added).
func BenchmarkToolJournal(b *testing.B) {
	for _, turns := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("turns=%d", turns), func(b *testing.B) {
			conv := make([][]rebound.Message, turns)
			bytes := 0
			for i := range conv {
				conv[i] = toolTurn(i)
				for _, m := range conv[i] {
					j, _ := json.Marshal(m)
					bytes += len(j)
				}
			}
			stop := errors.New("stop")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{})
				resumed := false
				var got int
				workflow := func(ctx context.Context, run *checkpoint.Run) error {
					for i := range conv {
						_, err := checkpoint.Step(ctx, run, fmt.Sprint("turn-", i), func(ctx context.Context) (int, error) {
							return i, run.Append(ctx, conv[i]...)
						})
						if err != nil {
							return err
						}
					}
					if !resumed {
						return stop
					}
					got = len(run.Messages())
					return nil
				}
				if err := runner.Run(ctx, "bench", workflow); !errors.Is(err, stop) {
					b.Fatal(err)
				}
				resumed = true
				if err := runner.Run(ctx, "bench", workflow); err != nil || got != 2*turns {
					b.Fatalf("resume: %v, %d messages", err, got)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*turns), "ns/turn")
			b.ReportMetric(float64(bytes)/float64(turns), "B/turn")
		})
	}
}

// The journal gives a tool conversation back as it was written.
func TestToolJournalRoundTrip(t *testing.T) {
	var want []rebound.Message
	for i := range 3 {
		want = append(want, toolTurn(i)...)
	}
	runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{})
	stop := errors.New("stop")
	resumed := false
	var got []rebound.Message
	workflow := func(ctx context.Context, run *checkpoint.Run) error {
		if _, err := checkpoint.Step(ctx, run, "all", func(ctx context.Context) (int, error) { return 0, run.Append(ctx, want...) }); err != nil {
			return err
		}
		if !resumed {
			return stop
		}
		got = run.Messages()
		return nil
	}
	if err := runner.Run(context.Background(), "r", workflow); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	resumed = true
	if err := runner.Run(context.Background(), "r", workflow); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// BenchmarkToolMessageCodec is the journal's encoding alone: every message of an N-turn tool
// conversation encoded as its journal record body (JSON) and decoded back, per turn.
func BenchmarkToolMessageCodec(b *testing.B) {
	for _, turns := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("turns=%d", turns), func(b *testing.B) {
			var conv []rebound.Message
			for i := range turns {
				conv = append(conv, toolTurn(i)...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				for _, m := range conv {
					body, err := json.Marshal(m)
					if err != nil {
						b.Fatal(err)
					}
					var back rebound.Message
					if err := json.Unmarshal(body, &back); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*turns), "ns/turn")
		})
	}
}
