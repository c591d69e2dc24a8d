package escalate_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rebound-go/rebound/escalate"
)

// FuzzItemJSON reads items from outside (the dashboard's JSON API, `rebound escalations list
// --json`): whatever decodes must encode and decode again to the same item.
func FuzzItemJSON(f *testing.F) {
	f.Add([]byte(`{"id":"esc_1","run_id":"r","step":"s","reason":"low_confidence","status":"claimed","class":"quota",` +
		`"error":"e","attempts":3,"state":{"a":[1,2]},"messages":[{"role":"user","content":"hi"}],"claimed_by":"ana",` +
		`"claimed_until":"2026-11-29T00:00:00Z","decision":{"action":"respond","answer":"42","by":"ana"},` +
		`"created_at":"2026-11-28T23:00:00Z","updated_at":"2026-11-28T23:30:00Z","decided_at":"2026-11-28T23:31:00Z"}`))
	f.Add([]byte(`{"id":"esc_2","class":"no_such_class"}`))
	f.Add([]byte(`{"state":null,"decision":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var it escalate.Item
		if err := json.Unmarshal(b, &it); err != nil {
			return
		}
		out, err := json.Marshal(it)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", b, err)
		}
		var back escalate.Item
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("cannot decode its own encoding %s: %v", out, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(out) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, again)
		}
		if !reflect.DeepEqual(back.Decision, it.Decision) || back.ID != it.ID || back.Class != it.Class {
			t.Fatalf("round trip changed the item: %+v vs %+v", back, it)
		}
	})
}
