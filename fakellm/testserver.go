package fakellm

import (
	"net/http/httptest"
)

// TB is the part of testing.TB that NewServer uses; *testing.T, *testing.B and *testing.F
// satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Server is a Handler listening on a loopback httptest server.
type Server struct {
	*Handler
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// AnthropicBaseURL is the base URL for the Anthropic SDK's option.WithBaseURL (= URL).
	AnthropicBaseURL string
	// OpenAIBaseURL is the base URL for the OpenAI SDK's option.WithBaseURL (= URL + "/v1/").
	OpenAIBaseURL string

	srv *httptest.Server
}

// NewServer starts a fake server running script on a loopback port and closes it when the
// test ends. A bad script fails the test with the line and the reason.
func NewServer(t TB, script string) *Server {
	t.Helper()
	h, err := New(script, Options{})
	if err != nil {
		t.Fatalf("fakellm: %v", err)
		return nil
	}
	s := Serve(h)
	t.Cleanup(s.Close)
	return s
}

// Serve starts h on a loopback httptest server. The caller closes it with Close.
func Serve(h *Handler) *Server {
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, AnthropicBaseURL: srv.URL, OpenAIBaseURL: srv.URL + "/v1/", srv: srv}
}

// Close releases hanging requests, drops open connections and stops the server.
func (s *Server) Close() {
	s.Handler.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
