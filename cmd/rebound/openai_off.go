//go:build !openai

package main

import "github.com/rebound-go/rebound/llm"

// openAIBuilt is false: the OpenAI SDK, 36 % of a cold build's compile time, is left out of the
// default build (README, "What the first run costs"); -tags openai puts it in.
const openAIBuilt = false

func openAIModels(string, demoInput) (llm.Model, llm.Model, error) { return nil, nil, errNoOpenAI }
