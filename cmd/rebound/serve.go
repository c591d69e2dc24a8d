package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

// serveCmd is `rebound serve`.
type serveCmd struct {
	g    *globals
	addr string
	// Token is --token. Exported, as every field holding a rebound.Secret: fmt prints an
	// unexported field without calling its String method, so %v of the struct would show it.
	Token rebound.Secret
	// dash is the dashboard's part of serve (serve_dashboard.go): its flags, handler and worker.
	dash dashboardServe
	// sup is --supervise (supervise.go): the supervisor in this process.
	sup superviseServe
	// ready, if set, receives the address serve listens on (tests listen on port 0).
	ready func(addr string)
}

func newServeCmd(g *globals) *cobra.Command {
	c := &serveCmd{g: g}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard, /metrics and /healthz",
		Long: `Serve the dashboard (the escalation queue, runs and breakers, at /), its JSON API under
/api/v1/, Prometheus metrics at /metrics (the escalation queue's depth and age, and the recovery
metrics of what runs in this process) and a health check at /healthz.

Listens on 127.0.0.1:8080 by default. Bound to any other address it needs a token (--token or
REBOUND_TOKEN) of at least 16 characters. With a token, pages ask for it once through a login form
(a session cookie; signing out ends it), and API calls and /metrics carry it as
"Authorization: Bearer TOKEN"; /healthz stays open. Without a token, only loopback host names are
answered.

With --worker it also resumes runs whose escalations were resolved. It sends the environment's
ANTHROPIC_API_KEY or OPENAI_API_KEY only to the providers' own APIs and to the base URLs given with
--trust-base-url; a run that recorded another --base-url resumes with no key.

A SQLite store this user cannot write (the file, or its directory, read-only) is served
read-only: pages and reads answer, and every decision is refused (status 503, naming the file;
the item stays open). --worker and --supervise, which write, are refused on it (exit code 2).`,
		Example: `  rebound serve
  rebound serve --worker
  rebound serve --addr 0.0.0.0:8080 --token "$(openssl rand -hex 16)" --worker
  curl -s localhost:8080/metrics | grep rebound_escalations_open`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on, HOST:PORT")
	cmd.Flags().Var(secretFlag{&c.Token}, "token", "token every request needs (env REBOUND_TOKEN); required off loopback")
	c.dash.register(cmd.Flags())
	c.sup.register(cmd.Flags())
	return cmd
}

// serveDeps is what serve hands the handlers it mounts: the store, the metrics and the token.
type serveDeps struct {
	stores   *stores
	registry *prometheus.Registry
	metrics  *observe.Metrics
	// metricsHandler serves /metrics, behind the token when there is one.
	metricsHandler http.Handler
	healthz        http.Handler
	Token          rebound.Secret // exported, so that %v of serveDeps prints it redacted
	logger         *slog.Logger
}

func (c *serveCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	token, from := c.Token, "--token"
	if token == "" {
		token, from = c.g.secretEnv("REBOUND_TOKEN"), "REBOUND_TOKEN"
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return usagef("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", c.addr)
	}
	if !isLoopback(host) && token == "" {
		return usagef("--addr %s is not a loopback address: refusing to serve without a token (--token or REBOUND_TOKEN)", c.addr)
	}
	if err := checkToken(token, !isLoopback(host)); err != nil {
		return usagef("%s: %w", from, err)
	}
	if err := c.dash.check(); err != nil {
		return err
	}
	if err := c.sup.check(c.g); err != nil {
		return err
	}
	s, err := c.g.openStoresToServe(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := c.refuseReadOnly(s); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(c.g.stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := serveDeps{stores: s, registry: reg, metrics: observe.NewMetrics(reg), Token: token, logger: logger}
	reg.MustRegister(observe.NewEscalationCollector(queueStats(s), observe.EscalationConfig{Logger: logger}))
	deps.metricsHandler = requireToken(token, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	deps.healthz = healthz(s)

	h, err := c.handler(deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return usagef("--addr %s: %w", c.addr, err)
	}
	fmt.Fprintf(c.g.human(), "Serving on http://%s (dashboard at /, metrics at /metrics, health at /healthz); store %s\n", ln.Addr(), s.dsn)
	if s.readOnly != nil {
		fmt.Fprintf(c.g.human(), "The store is open read-only, so decisions are refused: %v\n", s.readOnly)
	}
	stopWorker, err := c.dash.start(ctx, c.g, deps)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopWorker()
	stopSupervisor, err := c.sup.start(ctx, c.g, s.queue, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopSupervisor()
	if c.ready != nil {
		c.ready(ln.Addr().String())
	}
	return serveUntil(ctx, "serve", ln, h, func() { stopSupervisor(); stopWorker() })
}

// refuseReadOnly refuses --worker and --supervise on a store serve could open only for reading:
// each of them writes (the steps it resumes, the decisions it makes), and would fail at every
// turn.
func (c *serveCmd) refuseReadOnly(s *stores) error {
	if s.readOnly == nil {
		return nil
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{c.dash.worker, "--worker"}, {c.sup.on, "--supervise"}} {
		if f.on {
			return usagef("%s: store %s cannot be written by this user (%v); serve without %s to look at it read-only, or as a user who can write it", f.name, s.dsn, s.readOnly, f.name)
		}
	}
	return nil
}

// serveUntil serves h on ln until ctx ends; then it runs drain, if set (to release what would
// hold the shutdown up: the resume worker, hanging requests), and shuts the server down, giving
// requests in flight 5 s. name prefixes its errors.
func serveUntil(ctx context.Context, name string, ln net.Listener, h http.Handler, drain func()) error {
	srv := newHTTPServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	if drain != nil {
		drain()
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: shut down: %w", name, err)
	}
	return nil
}

// newHTTPServer is the server serve and fakellm listen with: a slow or idle client cannot hold
// a connection open for ever (headers within 10 s, a whole request within 1 min, an idle
// keep-alive connection 2 min) nor send more than 64 KiB of headers.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// minTokenLen is the shortest token serve accepts off loopback.
const minTokenLen = 16

// checkToken refuses a token that is blank or has blanks around it, and off loopback one that
// is easy to guess: shorter than minTokenLen or made of fewer than 6 distinct characters. Its
// errors never quote the token.
func checkToken(secret rebound.Secret, offLoopback bool) error {
	token := secret.Reveal() // to judge it, not to print it
	if token == "" {
		return nil
	}
	if strings.TrimSpace(token) != token || strings.TrimSpace(token) == "" {
		return errors.New("the token is blank or starts or ends with white space")
	}
	if !offLoopback {
		return nil
	}
	distinct := map[rune]bool{}
	for _, r := range token {
		distinct[r] = true
	}
	if len(token) < minTokenLen || len(distinct) < 6 {
		return fmt.Errorf("the token is too weak to serve off loopback: want at least %d characters, not all alike, e.g. \"$(openssl rand -hex 16)\"", minTokenLen)
	}
	return nil
}

// handler builds what serve listens with: the dashboard (serve_dashboard.go, the dashboard's
// owner's), which serves /metrics and /healthz from deps.
func (c *serveCmd) handler(deps serveDeps) (http.Handler, error) {
	h, err := c.dash.handler(deps)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return h, nil
}

// healthz answers 200 "ok" when the store answers, 503 otherwise.
func healthz(s *stores) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := s.queue.Stats(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "store %s: %v\n", s.dsn, err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
}

// queueStats adapts the escalation queue to the metrics collector.
func queueStats(s *stores) observe.EscalationStatsFunc {
	return func(ctx context.Context) ([]observe.EscalationStat, error) {
		st, err := s.queue.Stats(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]observe.EscalationStat, 0, len(st.ByReason))
		for _, r := range st.ByReason {
			out = append(out, observe.EscalationStat{Reason: string(r.Reason), Open: r.Open, Oldest: r.OldestCreatedAt})
		}
		return out, nil
	}
}

// requireToken lets through requests that carry "Authorization: Bearer token" (all of them when
// token is empty).
func requireToken(token rebound.Secret, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token.Reveal())) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rebound"`)
			http.Error(w, "a token is required: Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
