package supervisor

import (
	"os"
	"regexp"
	"testing"
)

// TestDocsPolicies: every policy file shown in the docs and the README parses, and the one in
// docs/supervisor.md has the rules the text describes.
func TestDocsPolicies(t *testing.T) {
	block := regexp.MustCompile("(?s)```json\n(.*?)```")
	for _, file := range []string{"../docs/supervisor.md", "../README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range block.FindAllSubmatch(b, -1) {
			if !regexp.MustCompile(`"rules"`).Match(m[1]) {
				continue
			}
			n++
			p, err := ParsePolicy(m[1])
			if err != nil {
				t.Errorf("%s: policy %d: %v", file, n, err)
				continue
			}
			if len(p.Rules) == 0 {
				t.Errorf("%s: policy %d has no rules", file, n)
			}
		}
		if n == 0 {
			t.Errorf("%s shows no policy", file)
		}
	}
}
