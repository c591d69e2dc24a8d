//go:build !noopenai

package main

// openAIRefusal is what `demo --provider openai` without a key says in a build with the provider.
const openAIRefusal = "OPENAI_API_KEY"
