package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

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
	if len(paras) == 0 { // another shape: every string value, by key
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if t, ok := s[k].(string); ok && k != "heading" && strings.TrimSpace(t) != "" {
				paras = append(paras, strings.TrimSpace(t))
			}
		}
	}
	b.WriteString(strings.Join(paras, "\n\n"))
	return strings.TrimSpace(b.String())
}

// structuredSection asks m for a section as JSON.
func structuredSection(m llm.Model) func(ctx context.Context, req llm.Request) (section, *llm.Response, error) {
	return func(ctx context.Context, req llm.Request) (section, *llm.Response, error) {
		resp, err := m.Generate(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		var s section
		if err := json.Unmarshal([]byte(resp.Text), &s); err != nil {
			return nil, nil, fmt.Errorf("section is not JSON: %w", err)
		}
		return s, resp, s.validate()
	}
}
