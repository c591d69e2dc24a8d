//go:build noopenai

package main

import (
	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// openAIBuilt is false in a build with -tags noopenai: the OpenAI SDK, 36 % of a cold build's
// compile time, is left out (README, "What the first run costs"). The default build has it.
const openAIBuilt = false

func openAIModels(rebound.Secret, demoInput) (llm.Model, llm.Model, error) {
	return nil, nil, errNoOpenAI
}
