package rebound_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCitedDocsShip fails when a Go file cites a document that is not in the repository: the
// design notes and research notes the code was written from are not shipped, so what a
// maintainer needs of them lives under docs/, and the code cites that. A citation of a section
// of docs/provider-errors.md ("§5.1") must name one of its headings.
func TestCitedDocsShip(t *testing.T) {
	unshipped := regexp.MustCompile(`DESIGN\.md|reference/[a-z-]+\.md|\.\./shared/`)
	cited := regexp.MustCompile(`docs/([a-z-]+\.md)((?:[ ,]*(?:and )?§[0-9.]*[0-9])*)`)
	section := regexp.MustCompile(`§([0-9.]*[0-9])`)
	headings := map[string]bool{}
	pe, err := os.ReadFile("docs/provider-errors.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(pe), "\n") {
		if m := regexp.MustCompile(`^#+ ([0-9.]*[0-9])\.? `).FindStringSubmatch(line); m != nil {
			headings[m[1]] = true
		}
	}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		if path == "docs_test.go" {
			return nil
		}
		for _, m := range unshipped.FindAllString(src, -1) {
			t.Errorf("%s cites %s, which is not in the repository: cite docs/ instead", path, m)
		}
		for _, m := range cited.FindAllStringSubmatch(src, -1) {
			if _, err := os.Stat(filepath.Join("docs", m[1])); err != nil {
				t.Errorf("%s cites docs/%s, which does not exist", path, m[1])
				continue
			}
			for _, s := range section.FindAllStringSubmatch(m[2], -1) {
				if m[1] == "provider-errors.md" && !headings[s[1]] {
					t.Errorf("%s cites docs/provider-errors.md §%s, which has no such section", path, s[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
