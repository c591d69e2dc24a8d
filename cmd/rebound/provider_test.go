package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/fakellm"
)

// The demo against a real provider's wire format, on a server started apart (here the fake, as
// `rebound fakellm` serves it): the key is optional with --base-url, the providers are recorded
// with the run, and `runs resume` without provider flags resumes against the same server.
func TestDemoAgainstCompatibleServers(t *testing.T) {
	// A real provider gets the default recovery settings (1 s backoff, 5 attempts): only a
	// rate limit with a short hint here, to keep the test quick.
	script := `error 429 retry-after-ms=200 contains="[outline]" times=1`
	for _, c := range []struct {
		provider, base string
	}{
		{provider: "anthropic"},
		{provider: "openai", base: "/v1/"},
	} {
		t.Run(c.provider, func(t *testing.T) {
			if c.provider == "openai" && !openAIBuilt {
				// Not a skip: with -tags noopenai the provider is refused (TestDemoOpenAIRefused);
				// the default build runs this case.
				return
			}
			chdirTemp(t)
			srv := fakellm.NewServer(t, script)
			store := tempStore(t)
			keys := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-secret-0451", "OPENAI_API_KEY": "sk-oai-secret-0451"}
			r := cli(t, keys, "demo", "--run-id", "p1", "--provider", c.provider, "--base-url", srv.URL+c.base,
				"--model", "big", "--fallback-model", "small", store)
			mustCode(t, r, exitEscalated, "demo")
			for _, want := range []string{
				"outline: attempt 1 on " + c.provider + "/big failed (rate_limited)",
				"outline: retry in",
				"publish: escalated (irreversible_action)",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
				}
			}
			// The providers are recorded with the run, the key never.
			if snap := snapshot(t, store); strings.Contains(snap, "secret-0451") || !strings.Contains(snap, srv.URL) {
				t.Errorf("the store holds the key, or not the base URL:\n%s", snap)
			}
			path := strings.TrimPrefix(store, "--store=sqlite:")
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte("secret-0451")) {
					t.Errorf("%s holds the API key", f)
				}
				if f == path+"-wal" && len(b) > 0 && !bytes.Contains(b, []byte("big")) && !bytes.Contains(mustRead(t, path), []byte("big")) {
					t.Errorf("neither the database nor its WAL holds the run's input: the check reads the wrong files")
				}
			}
			esc := escalationID(t, store)
			mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "alice", store), 0, "resolve")
			before := srv.Counters().Requests
			res := cli(t, keys, "runs", "resume", "p1", store)
			mustCode(t, res, 0, "resume")
			if !strings.Contains(res.stdout, "Report: reports/p1.md") {
				t.Errorf("resume:\n%s", res.stdout)
			}
			if after := srv.Counters().Requests; after != before {
				t.Errorf("the resume asked the model again (%d requests): finished steps must not be repeated", after-before)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A bare host as the OpenAI base URL gets the /v1/ that compatible servers serve under (the
// fake, vLLM, Ollama), as the SDK's own default does; a path given is kept.
func TestOpenAIBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8081":          "http://127.0.0.1:8081/v1/",
		"http://127.0.0.1:8081/":         "http://127.0.0.1:8081/v1/",
		"http://127.0.0.1:8081/v1":       "http://127.0.0.1:8081/v1/",
		"https://example.com/openai/v1/": "https://example.com/openai/v1/",
	} {
		if got := openAIBase(in); got != want {
			t.Errorf("openAIBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// Against a compatible server the attempt timeout is the real provider's (90 s) unless
// --attempt-timeout says otherwise; the value is recorded with the run, and a bad one is refused.
func TestDemoAttemptTimeoutFlag(t *testing.T) {
	chdirTemp(t)
	srv := fakellm.NewServer(t, `hang contains="[outline]" times=1`)
	store := tempStore(t)
	r := cli(t, nil, "demo", "--run-id", "t1", "--provider", "anthropic", "--base-url", srv.URL,
		"--model", "big", "--attempt-timeout", "300ms", store)
	mustCode(t, r, exitEscalated, "demo")
	if !strings.Contains(r.stdout, "outline: attempt 1 on anthropic/big failed (timeout)") ||
		!strings.Contains(r.stdout, "publish: escalated (irreversible_action)") {
		t.Errorf("demo output:\n%s", r.stdout)
	}
	if snap := snapshot(t, store); !strings.Contains(snap, `"attempt_timeout": "300ms"`) {
		t.Errorf("the run's input does not record the attempt timeout:\n%s", snap)
	}
	before := snapshot(t, store)
	bad := cli(t, nil, "runs", "resume", "t1", "--attempt-timeout", "-1s", store)
	mustCode(t, bad, exitUsage, "resume --attempt-timeout -1s")
	if !strings.Contains(bad.stderr, "--attempt-timeout") {
		t.Errorf("the refusal does not name the flag: %s", bad.stderr)
	}
	if after := snapshot(t, store); after != before {
		t.Errorf("a refused resume changed the store")
	}
}
