package rebound_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/rebound-go/rebound"
)

// TestMessageJournalV1 decodes messages as journals wrote them before messages had blocks
// (testdata/messages-v1.jsonl) and checks that a text message still encodes to the same bytes.
func TestMessageJournalV1(t *testing.T) {
	f, err := os.ReadFile("testdata/messages-v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := []rebound.Message{
		rebound.System("You are a research assistant."),
		rebound.User("Research topic: tides"),
		{Role: rebound.RoleAssistant, Content: "Outline: 1. Moon 2. Sun", Degraded: true, Source: "anthropic/claude-haiku-4-5"},
		rebound.User(""),
		rebound.Assistant("Sections with \"quotes\", <html> & unicode: café 🌊"),
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	i := 0
	for ; sc.Scan(); i++ {
		var m rebound.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if i >= len(want) || !m.Equal(want[i]) {
			t.Fatalf("line %d decoded as %+v", i+1, m)
		}
		if got := m.Text(); got != want[i].Content {
			t.Errorf("line %d: Text() = %q", i+1, got)
		}
		again, err := json.Marshal(m)
		if err != nil || !bytes.Equal(again, sc.Bytes()) {
			t.Errorf("line %d re-encoded as %s (%v)", i+1, again, err)
		}
	}
	if i != len(want) {
		t.Fatalf("decoded %d messages, want %d", i, len(want))
	}
}

func TestMessageBlocksRoundTrip(t *testing.T) {
	thinking := json.RawMessage(`{"type":"thinking","thinking":"The user wants…","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}`)
	msgs := []rebound.Message{
		rebound.NewMessage(rebound.RoleAssistant,
			rebound.Opaque("anthropic", thinking),
			rebound.Text("Let me look that up."),
			rebound.ToolUse("toolu_01A", "lookup_order", json.RawMessage(`{"order_id":"1042"}`)),
			rebound.ToolUse("toolu_01B", "weather", json.RawMessage(`{"city":"Paris"}`))),
		rebound.ToolResults(
			rebound.ToolResult("toolu_01A", `{"status":"delivered"}`, false),
			rebound.ToolResult("toolu_01B", "weather service unavailable", true)),
		rebound.NewMessage(rebound.RoleUser, rebound.Text("What is this?"), rebound.Image("image/png", "iVBORw0KGgo=")),
	}
	for i, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back rebound.Message
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !back.Equal(m) {
			t.Errorf("message %d: round trip gave %+v from %s", i, back, b)
		}
	}
	var back rebound.Message
	b, _ := json.Marshal(msgs[0])
	_ = json.Unmarshal(b, &back)
	if raw := back.Blocks[0].Raw; !bytes.Equal(raw, thinking) {
		t.Errorf("thinking block not verbatim: %s", raw)
	}
	if got := msgs[0].Text(); got != "Let me look that up." {
		t.Errorf("Text() = %q", got)
	}
	if calls := msgs[0].ToolCalls(); len(calls) != 2 || calls[1].Name != "weather" {
		t.Errorf("ToolCalls() = %+v", calls)
	}
	if rs := msgs[1].ToolResultBlocks(); len(rs) != 2 || !rs[1].IsError || rs[0].ResultText() != `{"status":"delivered"}` {
		t.Errorf("ToolResultBlocks() = %+v", rs)
	}
	if m := rebound.NewMessage(rebound.RoleUser, rebound.Text("hi")); !m.Equal(rebound.User("hi")) {
		t.Errorf("a single text block is not a text message: %+v", m)
	}
	if p := rebound.User("hi").Parts(); len(p) != 1 || p[0].Text != "hi" {
		t.Errorf("Parts() = %+v", p)
	}
	if rebound.User("a").Equal(rebound.User("b")) {
		t.Error("different messages equal")
	}
}
