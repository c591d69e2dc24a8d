package pipeline_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/httpx"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/retry"
)

// script is a dependency that answers with the given statuses in turn, then 200.
type script struct {
	statuses []int
	n        int
}

func (s *script) next() int {
	s.n++
	if s.n <= len(s.statuses) {
		return s.statuses[s.n-1]
	}
	return http.StatusOK
}

// scriptModel is an llm.Model over a script: a failing status is a *rebound.Error carrying it.
type scriptModel struct{ s *script }

func (m scriptModel) Name() string       { return "anthropic/m" }
func (m scriptModel) ContextWindow() int { return 0 }
func (m scriptModel) Generate(context.Context, llm.Request) (*llm.Response, error) {
	st := m.s.next()
	h := http.Header{"X-Status": {http.StatusText(st)}}
	if st != http.StatusOK {
		return nil, llm.WithResponseHeader(rebound.HTTPError(st, h, time.Now()), h)
	}
	return &llm.Response{Text: "ok", Header: h}, nil
}
func (m scriptModel) Stream(ctx context.Context, r llm.Request, _ func(llm.Delta)) (*llm.Response, error) {
	return m.Generate(ctx, r)
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// recorder is a PaceFunc that records the statuses reported to it.
type recorder struct {
	keys     []string
	statuses []int
}

func (r *recorder) pace(_ context.Context, key string, _ int) (func(http.Header, int), error) {
	r.keys = append(r.keys, key)
	return func(_ http.Header, status int) { r.statuses = append(r.statuses, status) }, nil
}

// outcome is what one scenario did, through one of the two.
type outcome struct {
	ok       bool
	attempts int
	reason   rebound.GiveUpReason // of the give-up, if any ("" when httpx returned the last response)
	statuses []int                // reported to the pacer, in order
}

// The retry budget and the pacing behave the same through llm.Resilient and httpx.Transport:
// with a budget that grants no retry at all, retries after 429s are free and succeed, an
// overloaded dependency is given up after one attempt; the pacer is asked once per attempt and
// told every response's status, under the call's key.
func TestBudgetAndPacingSameThroughLLMAndHTTPX(t *testing.T) {
	scenarios := map[string][]int{
		"429 twice":   {429, 429},
		"503":         {503},
		"at once 200": nil,
	}
	for name, statuses := range scenarios {
		synctest.Test(t, func(t *testing.T) {
			policy := func() retry.Policy {
				return retry.Policy{Base: time.Millisecond, Budget: &retry.Budget{MinRetries: -1, Ratio: 0.01}}
			}

			// Through llm.Resilient.
			ls := &script{statuses: statuses}
			lrec := &recorder{}
			m, err := llm.Resilient(scriptModel{ls}, llm.Config{Retry: policy(), Pace: lrec.pace})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Generate(context.Background(), llm.Request{Messages: []llm.Message{llm.User("hi")}})
			viaLLM := outcome{ok: err == nil, attempts: ls.n, statuses: lrec.statuses}
			var gu *rebound.GiveUpError
			if errors.As(err, &gu) {
				viaLLM.reason = gu.Reason
			}

			// Through httpx.Transport.
			hs := &script{statuses: statuses}
			hrec := &recorder{}
			tr, err := httpx.New(httpx.Config{Retry: policy(), Pace: hrec.pace, Base: rtFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: hs.next(), Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			})})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1", nil)
			resp, err := tr.RoundTrip(req)
			viaHTTP := outcome{attempts: hs.n, statuses: hrec.statuses}
			if errors.As(err, &gu) {
				viaHTTP.reason = gu.Reason
			}
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				viaHTTP.ok = resp.StatusCode == http.StatusOK
				if !viaHTTP.ok {
					// httpx hands back the last failing response instead of the give-up: the
					// reason is the same, as the budget refused the retry.
					viaHTTP.reason = viaLLM.reason
				}
			}

			if viaLLM.ok != viaHTTP.ok || viaLLM.attempts != viaHTTP.attempts || viaLLM.reason != viaHTTP.reason ||
				!slices.Equal(viaLLM.statuses, viaHTTP.statuses) {
				t.Errorf("%s: through llm %+v, through httpx %+v", name, viaLLM, viaHTTP)
			}
			want := map[string]outcome{
				"429 twice":   {ok: true, attempts: 3, statuses: []int{429, 429, 200}},
				"503":         {ok: false, attempts: 1, reason: rebound.BudgetExhausted, statuses: []int{503}},
				"at once 200": {ok: true, attempts: 1, statuses: []int{200}},
			}[name]
			if viaLLM.ok != want.ok || viaLLM.attempts != want.attempts || viaLLM.reason != want.reason || !slices.Equal(viaLLM.statuses, want.statuses) {
				t.Errorf("%s: %+v, want %+v", name, viaLLM, want)
			}
			if lrec.keys[0] != "anthropic/m" || hrec.keys[0] != "http/api.example" {
				t.Errorf("paced under %q and %q", lrec.keys[0], hrec.keys[0])
			}
		})
	}
}
