package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// defaultStore is the store used without --store or REBOUND_STORE: a SQLite file in the working
// directory.
const defaultStore = "sqlite:rebound.db"

// dsn is a parsed store address.
type dsn struct {
	kind string // "sqlite", "postgres", "memory"
	// target is the SQLite path or the PostgreSQL URL.
	target string
	raw    string
}

// String is the address as given, with a PostgreSQL password replaced by "xxxxx": it appears in
// messages and logs.
func (d dsn) String() string {
	if d.kind == "postgres" {
		if u, err := url.Parse(d.raw); err == nil {
			return u.Redacted()
		}
	}
	return d.raw
}

// parseDSN reads a store address: sqlite:PATH, postgres://… (or postgresql://…), memory:.
// source names where the address came from ("--store", "REBOUND_STORE") for the error.
func parseDSN(s, source string) (dsn, error) {
	raw := s
	s = strings.TrimSpace(s)
	const want = "want sqlite:PATH, postgres://USER@HOST/DB, or memory:"
	if s == "" {
		return dsn{}, usagef("%s is empty; %s", source, want)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return dsn{}, usagef("%s %q has no scheme; %s (for a SQLite file: sqlite:%s)", source, raw, want, s)
	}
	switch strings.ToLower(scheme) {
	case "memory":
		if rest != "" {
			return dsn{}, usagef("%s %q: memory: takes nothing after the colon", source, raw)
		}
		return dsn{kind: "memory", raw: raw}, nil
	case "sqlite", "sqlite3":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return dsn{}, usagef("%s %q: no file path after sqlite:", source, raw)
		}
		return dsn{kind: "sqlite", target: path, raw: raw}, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return dsn{}, usagef("%s %q: want a URL such as postgres://USER@HOST:5432/DB", source, raw)
		}
		return dsn{kind: "postgres", target: s, raw: raw}, nil
	}
	hint := ""
	if len(scheme) == 1 { // a Windows drive letter
		hint = fmt.Sprintf(" (for a SQLite file: sqlite:%s)", s)
	}
	return dsn{}, usagef("%s %q: unknown scheme %q; %s%s", source, raw, scheme, want, hint)
}

// resolveDSN picks the store address: --store if given, else REBOUND_STORE, else the default.
func (g *globals) resolveDSN() (dsn, error) {
	if g.storeSet {
		return parseDSN(g.store, "--store")
	}
	if v := g.getenv("REBOUND_STORE"); v != "" {
		return parseDSN(v, "REBOUND_STORE")
	}
	return parseDSN(defaultStore, "the default store")
}

// stores is an open store: the run journal and the escalation queue, usually one database.
type stores struct {
	dsn    dsn
	runs   checkpoint.Store
	queue  *escalate.Queue
	closer io.Closer
	// readOnly, when set, says why the store is open for reading only (serve opens a store this
	// user cannot write that way): every write fails, naming the file.
	readOnly error
}

// runner returns the Runner of the CLI's runs on s: escalations go to s's queue, and the lease is
// the CLI's short one (cliLeaseTTL, renewed every cliHeartbeat), so that a run whose process was
// killed is taken over soon. hook receives the run's events; observeWrite, if set, the time of
// each journal write.
func (s *stores) runner(hook rebound.Hook, observeWrite func(time.Duration)) *checkpoint.Runner {
	return checkpoint.NewRunner(s.runs, checkpoint.Config{
		Escalations:  s.queue,
		LeaseTTL:     cliLeaseTTL,
		Heartbeat:    cliHeartbeat,
		Hook:         hook,
		ObserveWrite: observeWrite,
	})
}

func (s *stores) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// openExistingStores opens the store like openStores, but refuses a SQLite file that does not
// exist: a command that reads or decides on runs and escalations has nothing to find in a new
// database, and creating one would leave a stray file behind a mistyped path.
func (g *globals) openExistingStores(ctx context.Context) (*stores, error) {
	return g.openExisting(ctx, false)
}

// openStoresToRead opens an existing store read-only, for the commands that only read (runs
// list/show, escalations list/show): a SQLite file is opened without a write transaction, so a
// worker holding the write lock does not stop them, and a file the user cannot write is listed.
func (g *globals) openStoresToRead(ctx context.Context) (*stores, error) {
	return g.openExisting(ctx, true)
}

func (g *globals) openExisting(ctx context.Context, readOnly bool) (*stores, error) {
	d, err := g.resolveDSN()
	if err != nil {
		return nil, err
	}
	if d.kind == "sqlite" {
		if _, err := os.Stat(d.target); errors.Is(err, os.ErrNotExist) {
			return nil, usagef("store %s: no database at %s ('rebound demo' or 'rebound serve' creates it; check --store or REBOUND_STORE)", d, d.target)
		}
	}
	if readOnly {
		s, err := openDSNReadOnly(ctx, d)
		if err != nil {
			return nil, usagef("open store %s: %w", d, err)
		}
		return s, nil
	}
	return g.openStores(ctx)
}

// openStores opens the store the flags and environment name. A store that cannot be opened is
// a configuration error (exit code 2).
func (g *globals) openStores(ctx context.Context) (*stores, error) {
	d, err := g.resolveDSN()
	if err != nil {
		return nil, err
	}
	s, err := openDSN(ctx, d)
	if err != nil {
		return nil, usagef("open store %s: %w", d, err)
	}
	return s, nil
}

// openStoresToServe opens the store for serve: read-write, or, when this user cannot write it
// (a SQLite file, or its directory, read-only), read-only, with the reason in readOnly, so that
// the pages and the read API still answer.
func (g *globals) openStoresToServe(ctx context.Context) (*stores, error) {
	s, err := g.openStores(ctx)
	var ro *sqlite.ReadOnlyError
	if err == nil || !errors.As(err, &ro) {
		return s, err
	}
	d, err := g.resolveDSN()
	if err != nil {
		return nil, err
	}
	s, err = openDSNReadOnly(ctx, d)
	if err != nil {
		return nil, usagef("open store %s: %w; read-only: %w", d, ro, err)
	}
	s.readOnly = ro
	return s, nil
}
