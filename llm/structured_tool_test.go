package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
)

type forecast struct {
	City string `json:"city"`
	Days int    `json:"days"`
}

var forecastSchema = json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":3}},"required":["city","days"]}`)

// Structured through a forced tool, through both SDKs: the answer is the call's input; a value
// that fails Validate is answered with an error tool result (a conversation the fake, checking
// it as the real APIs do, accepts) and re-asked.
func TestStructuredThroughForcedTool(t *testing.T) {
	a, o, srv := fakeModels(t, "")
	for _, m := range []llm.Model{a, o} {
		t.Run(m.Name(), func(t *testing.T) {
			before := len(srv.Requests())
			req := llm.Request{Messages: []llm.Message{llm.User("Forecast for Paris.")}, MaxTokens: 200}
			answers := 0
			v, resp, err := llm.Structured(context.Background(), m, req, llm.StructuredConfig[forecast]{
				Tool: "give_forecast", Schema: forecastSchema,
				Validate: func(f forecast) error {
					answers++
					if answers == 1 {
						return errors.New("days must be 5 at first")
					}
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if v.City == "" || v.Days != 3 || answers != 2 || len(resp.ToolCalls()) != 1 {
				t.Errorf("value %+v after %d answers, response %+v", v, answers, resp)
			}
			recs := llmtest.Log(srv, before+2)[before:]
			if len(recs) != 2 || len(recs[1].ToolResults) != 1 || recs[1].ToolResults[0] != recs[1].ToolUses[0] {
				t.Fatalf("requests %+v", recs)
			}
			for _, r := range recs {
				if r.Status != 200 || len(r.Tools) != 1 || r.Tools[0] != "give_forecast" {
					t.Errorf("request %d: %d %s tools %v", r.ID, r.Status, r.Invalid, r.Tools)
				}
			}
		})
	}
	// Repairs spent give up as a text answer's do.
	_, _, err := llm.Structured(context.Background(), a, llm.Request{Messages: []llm.Message{llm.User("x")}}, llm.StructuredConfig[forecast]{
		Tool: "give_forecast", Schema: forecastSchema, MaxRepairs: 1,
		Validate: func(forecast) error { return errors.New("never") },
	})
	var me *llm.MalformedError
	if !errors.Is(err, rebound.ErrGaveUp) || !errors.As(err, &me) || me.Answers != 2 {
		t.Errorf("give up: %v", err)
	}
	// No schema is the caller's bug.
	_, _, err = llm.Structured(context.Background(), a, llm.Request{}, llm.StructuredConfig[forecast]{Tool: "x"})
	if c, _ := rebound.Classify(err); c != rebound.ClassInvalid {
		t.Errorf("no schema: %v", err)
	}
}
