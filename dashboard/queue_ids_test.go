package dashboard_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
)

// TestQueueIDsAndErrorColumn: items filed together (their IDs share the time-ordered prefix)
// show distinct IDs in the queue, and the queue has an error column: escaped, on one line,
// truncated.
func TestQueueIDsAndErrorColumn(t *testing.T) {
	b := setup(t, setupOpts{})
	long := "<script>alert(1)</script> upstream said " + strings.Repeat("very ", 40) + "long"
	for i := range 3 {
		if _, err := b.queue.Escalate(t.Context(), rebound.Escalation{RunID: "r", Step: "s" + string(rune('0'+i)),
			Reason: rebound.ReasonMaxRetriesExceeded, Err: &rebound.Error{Class: rebound.ClassTransient, Message: long}}); err != nil {
			t.Fatal(err)
		}
	}
	body := b.get(t, "/escalations").Body.String()
	shown := regexp.MustCompile(`<span class="sub mono" title="esc_[0-9a-f]+">([^<]+)</span>`).FindAllStringSubmatch(body, -1)
	seen := map[string]bool{}
	for _, m := range shown {
		seen[m[1]] = true
	}
	if len(shown) != 3 || len(seen) != 3 {
		t.Errorf("the queue shows the IDs %v, want 3 distinct", shown)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; upstream said very") {
		t.Errorf("the error column is missing or not escaped")
	}
	if !regexp.MustCompile(`<span class="err" title="[^"]*">[^<]+ ver…</span>`).MatchString(body) {
		t.Errorf("the error column is not truncated")
	}
}
