package escalatetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// Secrets are credentials of the shapes the redactor must catch, each with a random part so
// that finding it anywhere means it leaked.
type Secrets struct {
	Anthropic, OpenAIProject, OpenAI, Generic, Bearer, Basic, APIKeyHeader, SSN, Password string
}

// NewSecrets returns fresh secrets.
func NewSecrets() Secrets {
	return Secrets{
		Anthropic:     "sk-ant-api03-" + randHex(24) + "-" + randHex(8) + "AA",
		OpenAIProject: "sk-proj-" + randHex(28),
		OpenAI:        "sk-" + randHex(24),
		Generic:       "sk-live-" + randHex(20),
		Bearer:        "tok" + randHex(20),
		Basic:         "QWxhZGRpbjpv" + randHex(8) + "==",
		APIKeyHeader:  "xk" + randHex(16),
		SSN:           fmt.Sprintf("%s-%s", randHex(3), randHex(2)),
		Password:      "pw" + randHex(10),
	}
}

// All lists every secret.
func (s Secrets) All() []string {
	return []string{s.Anthropic, s.OpenAIProject, s.OpenAI, s.Generic, s.Bearer, s.Basic,
		s.APIKeyHeader, s.SSN, s.Password}
}

// Plant returns an escalation carrying the secrets in its error text, state, messages and
// context, and the fields to configure as Config.RedactFields.
func (s Secrets) Plant(run string) (rebound.Escalation, []string) {
	hdr := http.Header{"Authorization": {"Bearer " + s.Bearer}, "X-Api-Key": {s.APIKeyHeader}}
	errText := fmt.Sprintf("POST https://api.anthropic.com/v1/messages (x-api-key: %s): 401 authentication_error; "+
		"request headers %v; retried with Authorization: Basic %s and key %s", s.Anthropic, hdr, s.Basic, s.OpenAI)
	state := fmt.Sprintf(`{"workflow":"report","request":{"headers":{"Authorization":"Bearer %s","x-api-key":%q,
		"Content-Type":"application/json"}},"env":{"OPENAI_API_KEY":%q,"note":"fallback key %s"},
		"customer":{"name":"Ana","customer_ssn":%q,"db_password":%q,"orders":[1,2,3]},
		"log":["curl -H 'Authorization: Bearer %s' https://x", "{\"api_key\": \"%s\"}"]}`,
		s.Bearer, s.APIKeyHeader, s.OpenAIProject, s.Generic, s.SSN, s.Password, s.Bearer, s.OpenAI)
	msgs := []rebound.Message{
		rebound.System("You are a research assistant."),
		rebound.User("Use my key " + s.OpenAIProject + " if the other fails; header x-api-key=" + s.APIKeyHeader),
		rebound.Assistant(`Calling the tool with {"Authorization": "Bearer ` + s.Bearer + `", "customer_ssn": "` + s.SSN + `"}`),
	}
	ctxText := fmt.Sprintf("The request used password=%s and %s; customer_ssn: %s.", s.Password, s.Anthropic, s.SSN)
	return rebound.Escalation{RunID: run, Step: "fetch", Reason: rebound.ReasonRequiresHuman,
		Err: &rebound.Error{Class: rebound.ClassAuth, Status: 401, Message: errText}, Attempts: 1,
		State: json.RawMessage(state), Messages: msgs, Context: ctxText}, []string{"customer_ssn"}
}

// Leaks returns the secrets found in b.
func (s Secrets) Leaks(b []byte) []string {
	var out []string
	for _, x := range s.All() {
		if strings.Contains(string(b), x) {
			out = append(out, x)
		}
	}
	return out
}

func testRedaction(t *testing.T, open Open) {
	s := NewSecrets()
	e, fields := s.Plant("run-secret")
	ctx, q, h := setup(t, open, escalate.Config{RedactFields: fields})
	id, err := q.Escalate(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	// The reviewer's own words pass through the redactor too.
	if _, err := q.Claim(ctx, id, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionRespond,
		Answer: "use " + s.OpenAI, Note: "Authorization: Bearer " + s.Bearer, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Reopen(ctx, id, "ana", "key was "+s.Anthropic); err != nil {
		t.Fatal(err)
	}
	// A supervisor's rationale quotes what it read; it is redacted like a note.
	if _, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionRetry, By: "model-x policy:v1",
		Actor: rebound.ActorSupervisor, Rationale: "the tool output held the key " + s.OpenAI, Confidence: 0.9,
		Hold: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Reopen(ctx, id, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Dismiss(ctx, id, "ana", "password="+s.Password); err != nil {
		t.Fatal(err)
	}
	it, err := q.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := q.Audit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		Item  escalate.Item
		Audit []escalate.AuditEntry
	}{it, audit})
	if err != nil {
		t.Fatal(err)
	}
	if leaks := s.Leaks(b); len(leaks) > 0 {
		t.Errorf("secrets read back from the store: %q\n%s", leaks, b)
	}
	// What is not secret survives.
	var st map[string]any
	if err := json.Unmarshal(it.State, &st); err != nil {
		t.Fatalf("redacted state is not JSON: %v", err)
	}
	cust, _ := st["customer"].(map[string]any)
	if st["workflow"] != "report" || cust["name"] != "Ana" || cust["customer_ssn"] != escalate.Redacted {
		t.Errorf("redacted state lost its shape: %s", it.State)
	}
	if !strings.Contains(it.Error, "401 authentication_error") || !strings.Contains(it.Error, escalate.Redacted) {
		t.Errorf("redacted error %q", it.Error)
	}
	if len(it.Messages) != 3 || it.Messages[0].Content != "You are a research assistant." {
		t.Errorf("redacted messages %+v", it.Messages)
	}
	if h.Raw == nil {
		return
	}
	raw, err := h.Raw(ctx)
	if err != nil {
		t.Fatalf("read the raw store: %v", err)
	}
	if !strings.Contains(string(raw), "research assistant") && !strings.Contains(string(raw), id) {
		t.Fatalf("the raw store (%d bytes) holds neither the item nor its messages: the check would prove nothing", len(raw))
	}
	if leaks := s.Leaks(raw); len(leaks) > 0 {
		t.Errorf("secrets found in the raw store: %q", leaks)
	}
}
