package main

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// section is the JSON answer section_2 asks for: {"heading": ..., "paragraphs": [...]}. Any
// JSON object with some text is accepted (a model may name its keys its own way); prose is not.
type section map[string]any

func (s section) validate() error {
	if len(s) == 0 {
		return errors.New("the JSON object is empty; want \"heading\" and \"paragraphs\"")
	}
	if s.markdown() == "" {
		return errors.New("the JSON object holds no text; want \"heading\" and \"paragraphs\"")
	}
	return nil
}

func (s section) markdown() string {
	var b strings.Builder
	if h, ok := s["heading"].(string); ok && strings.TrimSpace(h) != "" {
		b.WriteString("**" + strings.TrimSpace(h) + "**\n\n")
	}
	var paras []string
	if ps, ok := s["paragraphs"].([]any); ok {
		for _, p := range ps {
			if t, ok := p.(string); ok && strings.TrimSpace(t) != "" {
				paras = append(paras, strings.TrimSpace(t))
			}
		}
	}
	if len(paras) == 0 { // another shape: every string value, the usual names for text first
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		rank := func(k string) int {
			switch k {
			case "text", "body", "content", "echo":
				return 0
			}
			return 1
		}
		sort.Slice(keys, func(i, j int) bool {
			if rank(keys[i]) != rank(keys[j]) {
				return rank(keys[i]) < rank(keys[j])
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			if t, ok := s[k].(string); ok && k != "heading" && strings.TrimSpace(t) != "" {
				paras = append(paras, strings.TrimSpace(t))
			}
		}
	}
	b.WriteString(strings.Join(paras, "\n\n"))
	return strings.TrimSpace(b.String())
}

// structuredSection asks m for a section as JSON with llm.Structured, which re-asks with the
// error when an answer is not usable. Each re-ask is shown as a failed attempt of class
// malformed, so that the repair is visible in the live view, the JSON events and the journal.
func structuredSection(m llm.Model) func(ctx context.Context, req llm.Request) (section, *llm.Response, error) {
	return func(ctx context.Context, req llm.Request) (section, *llm.Response, error) {
		return llm.Structured(ctx, &repairEvents{Model: m}, req, llm.StructuredConfig[section]{
			Validate:    section.validate,
			Instruction: `Answer with one JSON object and nothing else (no prose, no code fence): {"heading": "...", "paragraphs": ["...", "..."]}`,
		})
	}
}

// repairEvents is a Model that reports each repeated call (a repair) as the failure of the
// answer before it.
type repairEvents struct {
	llm.Model
	calls int
	last  string // the model that gave the previous answer
}

func (r *repairEvents) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	r.calls++
	if r.calls > 1 {
		why := "the answer could not be used"
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == rebound.RoleUser {
			why = req.Messages[n-1].Content
		}
		rebound.Hook(nil).Emit(ctx, rebound.Event{Kind: rebound.AttemptFailed, Attempt: r.calls - 1,
			Class: rebound.ClassMalformed, Model: r.last, Err: errors.New(why)})
	}
	resp, err := r.Model.Generate(ctx, req)
	if err == nil {
		r.last = resp.Provenance.Model
	}
	return resp, err
}
