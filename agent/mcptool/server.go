package mcptool

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/retry"
)

// Config configures the connection to one MCP server. Name and exactly one of Command, URL and
// Transport are required; the zero value of everything else works.
type Config struct {
	// Name names the server: its breaker is "mcp/NAME", its errors say "mcp server NAME".
	Name string

	// Command returns the command of a stdio server (a new *exec.Cmd on every call: a server
	// that died is started again).
	Command func() *exec.Cmd
	// URL is the endpoint of a streamable HTTP server.
	URL string
	// HTTPClient is the client for URL. Nil: http.DefaultClient.
	HTTPClient *http.Client
	// Transport returns the transport of any other server (the SDK's in-memory transport, say),
	// a new one for each connection.
	Transport func(ctx context.Context) (mcp.Transport, error)

	// Trusted says that the operator trusts this server's tool annotations. Untrusted (the
	// default), every tool of the server is irreversible and needs approval, whatever it
	// claims. Trusted: readOnlyHint makes a tool read-only, idempotentHint idempotent, and
	// any other tool is irreversible and needs approval. A server cannot make itself trusted.
	Trusted bool
	// Effects sets the effect of tools by their MCP name, whatever the annotations and the trust
	// say (the operator's word wins). An irreversible tool needs approval either way.
	Effects map[string]agent.Effect
	// Prefix is put before each tool's name as the model sees it ("github_"). Characters a
	// provider refuses in a tool name become '_'.
	Prefix string

	// Timeout bounds each call (agent.Tool.Timeout). Zero: agent.DefaultToolTimeout.
	Timeout time.Duration
	// Retry is each tool's retry policy (agent.Tool.Retry). Zero: the agent's default.
	Retry retry.Policy
	// Reconnect is the backoff with which a dead server is started again (stdio) or connected
	// to again (HTTP, Transport), inside a call. Zero: 3 attempts, base 100 ms, cap 2 s.
	Reconnect retry.Policy
	// Breakers is the set the server's breaker "mcp/NAME" comes from; every tool of the server
	// shares it. Nil: a breaker of the server's own with breaker's defaults.
	Breakers *breaker.Set
	// Client names this client to the server. Nil: "rebound".
	Client *mcp.Implementation
}

// Server is a connection to one MCP server, and its tools as agent tools. It is safe for
// concurrent use. A server that dies (its process exits, its connection breaks) is connected
// to again by the next call, with Config.Reconnect's backoff.
type Server struct {
	cfg    Config
	client *mcp.Client
	brk    *breaker.Breaker
	tools  []agent.Tool
	names  map[string]string // agent name -> MCP name

	lock chan struct{} // held while connecting
	mu   sync.Mutex
	sess *mcp.ClientSession // nil: not connected
	conn int                // connections made
}

// Connect connects to the server and lists its tools. It returns an error naming the server if
// the configuration is wrong or the server cannot be reached.
func Connect(ctx context.Context, c Config) (*Server, error) {
	if c.Name == "" {
		return nil, errors.New("mcptool: Config.Name is empty")
	}
	n := 0
	for _, set := range []bool{c.Command != nil, c.URL != "", c.Transport != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("mcptool: server %q: set exactly one of Config.Command, Config.URL and Config.Transport", c.Name)
	}
	if c.Reconnect.MaxAttempts == 0 {
		c.Reconnect.MaxAttempts = 3
	}
	if c.Reconnect.Base == 0 {
		c.Reconnect.Base = 100 * time.Millisecond
	}
	if c.Reconnect.Cap == 0 {
		c.Reconnect.Cap = 2 * time.Second
	}
	impl := c.Client
	if impl == nil {
		impl = &mcp.Implementation{Name: "rebound", Version: "1"}
	}
	s := &Server{cfg: c, client: mcp.NewClient(impl, nil), lock: make(chan struct{}, 1), names: map[string]string{}}
	if c.Breakers != nil {
		s.brk = c.Breakers.Get("mcp/" + c.Name)
	} else {
		b, err := breaker.New(breaker.Settings{Name: "mcp/" + c.Name})
		if err != nil {
			return nil, fmt.Errorf("mcptool: server %q: %w", c.Name, err)
		}
		s.brk = b
	}
	sess, err := s.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("mcptool: connect to server %q: %w", c.Name, err)
	}
	if err := s.list(ctx, sess); err != nil {
		return nil, fmt.Errorf("mcptool: list the tools of server %q: %w", c.Name, err)
	}
	return s, nil
}

// Tools returns the server's tools as agent tools, as listed when it connected.
func (s *Server) Tools() []agent.Tool { return append([]agent.Tool(nil), s.tools...) }

// Breaker returns the breaker all the server's tools share.
func (s *Server) Breaker() *breaker.Breaker { return s.brk }

// Connections returns how many connections were made to the server (the first one included):
// one more after each restart or reconnection.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// Close closes the connection (a stdio server's process is stopped).
func (s *Server) Close() error {
	s.mu.Lock()
	sess := s.sess
	s.sess = nil
	s.mu.Unlock()
	if sess == nil {
		return nil
	}
	return sess.Close()
}

// session returns the live session, connecting (with backoff) if there is none.
func (s *Server) session(ctx context.Context) (*mcp.ClientSession, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess != nil {
		return sess, nil
	}
	sess, err := retry.Do(ctx, s.cfg.Reconnect, func(ctx context.Context) (*mcp.ClientSession, error) {
		t, err := s.transport(ctx)
		if err != nil {
			return nil, rebound.Permanent(err)
		}
		cs, err := s.client.Connect(ctx, t, nil)
		if err != nil {
			// A server that cannot be started or reached now may be there in a moment.
			return nil, rebound.Transient(err)
		}
		return cs, nil
	})
	if err != nil {
		return nil, &rebound.Error{Class: rebound.ClassTransient, Provider: "mcp/" + s.cfg.Name,
			Message: "server unreachable: " + err.Error(), Err: err}
	}
	s.mu.Lock()
	s.sess = sess
	s.conn++
	s.mu.Unlock()
	go func() {
		_ = sess.Wait() // the process exited or the connection broke
		s.drop(sess)
	}()
	return sess, nil
}

// drop forgets sess if it is still the live session: the next call connects again.
func (s *Server) drop(sess *mcp.ClientSession) {
	s.mu.Lock()
	live := s.sess == sess
	if live {
		s.sess = nil
	}
	s.mu.Unlock()
	if live {
		_ = sess.Close()
	}
}

func (s *Server) transport(ctx context.Context) (mcp.Transport, error) {
	switch {
	case s.cfg.Command != nil:
		cmd := s.cfg.Command()
		if cmd == nil {
			return nil, errors.New("Config.Command returned nil")
		}
		return &mcp.CommandTransport{Command: cmd, TerminateDuration: time.Second}, nil
	case s.cfg.URL != "":
		return &mcp.StreamableClientTransport{Endpoint: s.cfg.URL, HTTPClient: s.cfg.HTTPClient, MaxRetries: -1}, nil
	}
	return s.cfg.Transport(ctx)
}
