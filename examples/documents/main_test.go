package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDocumentsExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"doc-06  escalated (validation_failed)",
		"Escalated for a person: doc-06 at extract (validation_failed)",
		"7 documents saved",
		"7 documents already done (their steps skipped, nothing saved twice: 7 rows), 1 still waiting for a person",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "  saved") != 7 {
		t.Errorf("want 7 documents saved:\n%s", text)
	}
	m := regexp.MustCompile(`(\d+) writes failed during its outage; the breaker opened (\d+) times and refused (\d+) calls`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no database line:\n%s", text)
	}
	failed, _ := strconv.Atoi(m[1])
	opened, _ := strconv.Atoi(m[2])
	if failed != 6 || opened < 1 {
		t.Errorf("database outage: %d writes failed (want the 6 of the outage), breaker opened %d times (want at least once)", failed, opened)
	}
}
