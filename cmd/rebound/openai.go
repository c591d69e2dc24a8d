//go:build !noopenai

package main

import (
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// openAIBuilt: this rebound has the OpenAI provider (the default; -tags noopenai leaves it out).
const openAIBuilt = true

// openAIModels makes the demo's models on the OpenAI SDK (or a compatible server at in.BaseURL).
func openAIModels(key rebound.Secret, in demoInput) (primary, fallback llm.Model, err error) {
	opts := []option.RequestOption{option.WithAPIKey(orKey(key).Reveal())}
	if in.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(openAIBase(in.BaseURL)))
	}
	client := openai.NewClient(opts...)
	primary = openaillm.New(client, in.Model)
	if in.FallbackModel != "" {
		fallback = openaillm.New(client, in.FallbackModel)
	}
	return primary, fallback, nil
}
