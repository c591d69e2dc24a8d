package fakellm

import (
	"os"
	"strings"
	"testing"
)

// TestRuleKeysDocumented keeps the key table and docs/fakellm.md in step: a key added to ruleKeys
// must be described there, with the kinds it applies to known rule kinds.
func TestRuleKeysDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/fakellm.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for key, k := range ruleKeys {
		if !strings.Contains(doc, key+"=") {
			t.Errorf("key %q is not described in docs/fakellm.md", key)
		}
		for _, kind := range k.kinds {
			if !kinds[kind] {
				t.Errorf("key %q applies to unknown kind %q", key, kind)
			}
		}
		if k.set == nil {
			t.Errorf("key %q has no setter", key)
		}
	}
}
