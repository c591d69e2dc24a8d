package anthropicllm_test

import (
	"testing"

	"github.com/rebound-go/rebound/llm/llmtest"
)

// The conformance suite's tool rows, through the real SDK against fakellm.
func TestTools(t *testing.T) { llmtest.Tools(t, suiteModel) }

// Thinking blocks come back opaque, survive the journal and go back byte for byte.
func TestThinking(t *testing.T) { llmtest.Thinking(t, suiteModel) }
