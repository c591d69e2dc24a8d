package dashboard

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// Config configures the dashboard. Only Escalations is required; the runs and breakers pages
// say so when their source is missing.
type Config struct {
	// Escalations is the escalation queue (an *escalate.Queue). Required.
	Escalations Queue
	// Runs reads durable runs: any checkpoint.Store (the memory store, store/sqlite,
	// store/postgres; ExampleNew passes one). Runs are read with checkpoint.Get, which verifies
	// them. Nil: the runs pages and the API's /runs answer 404 with a message saying no run
	// source is configured. What the journal holds as the workflow wrote it (the run's input,
	// step results, errors, messages) is shown redacted with the queue's rules (its Redactor
	// method, when it has one; else escalate.NewRedactor()).
	Runs RunSource
	// Breakers reports the circuit breakers of the serving process (a *breaker.Set). Nil: the
	// breakers page is empty.
	Breakers BreakerSource

	// Token, when set, is required by every page (through the login form, which sets a session
	// cookie) and every API call (as "Authorization: Bearer <token>"), and by Metrics. Default:
	// empty, no authentication; `rebound serve` refuses a non-loopback address without one. A
	// rebound.Secret, it never prints or logs.
	Token rebound.Secret
	// SessionTTL is how long a sign-in lasts. Default 12 h. Signing out ends the session at
	// once in this process (a restart forgets who signed out; changing the token ends every
	// session).
	SessionTTL time.Duration
	// AllowHosts are the host names (the request's Host, without the port) a dashboard with no
	// Token answers besides loopback ones (localhost, *.localhost, 127.0.0.0/8, ::1). Without a
	// token, any other Host gets 421: a web page that rebinds its own name to 127.0.0.1 must
	// not reach the dashboard. Ignored when Token is set. Default: none.
	AllowHosts []string

	// Metrics, if set, is served at /metrics under the token rule (a Prometheus handler).
	Metrics http.Handler
	// Healthz, if set, is served at /healthz without a token. Default: a handler answering 200
	// "ok".
	Healthz http.Handler

	// ClaimFor is how long a claim from the dashboard holds an item. Default: the queue's own
	// default (0 is passed through).
	ClaimFor time.Duration
	// RecentTransitions caps the transitions shown per breaker. Default 10.
	RecentTransitions int
	// Logger receives one line per server error (a store failing). Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for ages and sessions. Default: time.Now.
	Now func() time.Time
}

// Server is the dashboard: the HTML pages, the JSON API under /api/v1/, /healthz and,
// when configured, /metrics. It is an http.Handler, safe for concurrent use.
type Server struct {
	cfg       Config
	keys      keys
	templates map[string]*template.Template
	mux       *http.ServeMux
	handler   http.Handler
	log       *slog.Logger
}

var _ http.Handler = (*Server)(nil)

// New returns the dashboard for cfg. It fails when cfg.Escalations is nil or a template does not
// parse.
func New(cfg Config) (*Server, error) {
	if cfg.Escalations == nil {
		return nil, errors.New("dashboard: Config.Escalations is required")
	}
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, 12*time.Hour)
	cfg.RecentTransitions = cmp.Or(cfg.RecentTransitions, 10)
	if cfg.SessionTTL < 0 || cfg.RecentTransitions < 0 || cfg.ClaimFor < 0 {
		return nil, errors.New("dashboard: SessionTTL, RecentTransitions and ClaimFor must be >= 0")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Healthz == nil {
		cfg.Healthz = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		})
	}
	if cfg.Runs != nil {
		cfg.Runs = redactedRuns{src: cfg.Runs, r: redactorOf(cfg.Escalations)}
	}
	s := &Server{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}
	secret := []byte(cfg.Token.Reveal())
	if cfg.Token == "" {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	} else {
		s.keys.token = []byte(cfg.Token.Reveal())
	}
	s.keys.session = deriveKey(secret, "session")
	s.keys.csrf = deriveKey(secret, "csrf")
	t, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	s.templates = t
	s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	open := http.NewServeMux()  // no token needed
	guard := http.NewServeMux() // behind the token
	s.mux = guard

	static, _ := fs.Sub(staticFS, "static")
	open.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	open.Handle("/healthz", s.cfg.Healthz)
	open.HandleFunc("GET /login", s.handleLoginForm)
	open.HandleFunc("POST /login", s.requireFormCSRF(s.handleLogin))
	open.HandleFunc("POST /logout", s.requireFormCSRF(s.handleLogout))

	// Pages.
	guard.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/escalations", http.StatusSeeOther)
	})
	guard.HandleFunc("GET /escalations", s.pageEscalations)
	guard.HandleFunc("GET /escalations/{id}", s.pageEscalation)
	guard.HandleFunc("POST /escalations/{id}/claim", s.requireFormCSRF(s.formClaim))
	guard.HandleFunc("POST /escalations/{id}/resolve", s.requireFormCSRF(s.formResolve))
	guard.HandleFunc("POST /escalations/{id}/dismiss", s.requireFormCSRF(s.formDismiss))
	guard.HandleFunc("POST /escalations/{id}/reopen", s.requireFormCSRF(s.formReopen))
	guard.HandleFunc("POST /escalations/{id}/override", s.requireFormCSRF(s.formOverride))
	guard.HandleFunc("GET /runs", s.pageRuns)
	guard.HandleFunc("GET /runs/{id}", s.pageRun)
	guard.HandleFunc("GET /breakers", s.pageBreakers)
	guard.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})

	// API.
	guard.HandleFunc("GET /api/v1/escalations", s.apiEscalations)
	guard.HandleFunc("GET /api/v1/escalations/stats", s.apiStats)
	guard.HandleFunc("GET /api/v1/escalations/{id}", s.apiEscalation)
	guard.HandleFunc("GET /api/v1/escalations/{id}/audit", s.apiAudit)
	guard.HandleFunc("POST /api/v1/escalations/{id}/claim", s.requireAPIWrite(s.apiClaim))
	guard.HandleFunc("POST /api/v1/escalations/{id}/resolve", s.requireAPIWrite(s.apiResolve))
	guard.HandleFunc("POST /api/v1/escalations/{id}/dismiss", s.requireAPIWrite(s.apiDismiss))
	guard.HandleFunc("POST /api/v1/escalations/{id}/reopen", s.requireAPIWrite(s.apiReopen))
	guard.HandleFunc("POST /api/v1/escalations/{id}/override", s.requireAPIWrite(s.apiOverride))
	guard.HandleFunc("GET /api/v1/runs", s.apiRuns)
	guard.HandleFunc("GET /api/v1/runs/{id}", s.apiRun)
	guard.HandleFunc("GET /api/v1/breakers", s.apiBreakers)
	guard.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	if s.cfg.Metrics != nil {
		guard.Handle("/metrics", s.cfg.Metrics)
	}

	protected := s.requireAuth(guard)
	open.Handle("/", protected)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		s.renderError(w, r, http.StatusForbidden, "This request came from another site and was refused.")
	}))
	s.handler = securityHeaders(s.requireHost(cop.Handler(open)))
}

// requireHost refuses, on a dashboard with no token, a request whose Host is not a loopback
// name or one of Config.AllowHosts (DNS rebinding: evil.example resolving to 127.0.0.1 would
// otherwise let any web page read and drive the dashboard). /healthz stays open.
func (s *Server) requireHost(next http.Handler) http.Handler {
	if len(s.keys.token) > 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || s.allowedHost(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		msg := fmt.Sprintf("this dashboard has no token, so it answers only to loopback host names (localhost, 127.0.0.1, [::1]), not %q; "+
			"set a token to serve it under another name", r.Host)
		if isAPI(r) {
			writeError(w, http.StatusMisdirectedRequest, msg)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMisdirectedRequest)
		_, _ = w.Write([]byte(msg + "\n"))
	})
}

func (s *Server) allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range s.cfg.AllowHosts {
		if strings.EqualFold(strings.TrimSpace(a), host) {
			return true
		}
	}
	return false
}

// securityHeaders sets the headers every response carries: no framing, no sniffing, no
// referrer to other sites, and a content security policy that allows only this server's own
// stylesheet and images, no script at all.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	v := fmt.Sprintf("public, max-age=%d", int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		next.ServeHTTP(w, r)
	})
}
