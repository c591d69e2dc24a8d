package main

import (
	"net"
	"strings"
	"testing"
)

// TestDemoClosedPortHint: against a base URL where nothing listens, the demo's step escalates
// (retries spent) and the summary says that nothing answers there and proposes retrying the
// step once the server is up, not approving it.
func TestDemoClosedPortHint(t *testing.T) {
	chdirTemp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	r := cli(t, nil, "demo", "--run-id", "c1", "--provider", "anthropic", "--base-url", url, "--model", "big", tempStore(t))
	mustCode(t, r, exitEscalated, "demo")
	for _, want := range []string{
		"Nothing answers at " + url + " (connection refused)",
		"--action retry --by",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the summary lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "--action approve") {
		t.Errorf("the summary proposes approving a step that failed")
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", r.stdout)
	}
}
