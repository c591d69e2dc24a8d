package openaillm_test

import (
	"testing"

	"github.com/rebound-go/rebound/llm/llmtest"
)

// The conformance suite's tool rows, through the real SDK against fakellm.
func TestTools(t *testing.T) { llmtest.Tools(t, suiteModel) }
