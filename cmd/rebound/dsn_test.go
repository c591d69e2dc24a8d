package main

import (
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		in           string
		kind, target string
		err          string
	}{
		{in: "sqlite:rebound.db", kind: "sqlite", target: "rebound.db"},
		{in: "sqlite:///var/lib/rebound.db", kind: "sqlite", target: "/var/lib/rebound.db"},
		{in: "SQLite:x.db", kind: "sqlite", target: "x.db"},
		{in: "memory:", kind: "memory"},
		{in: "postgres://u@h:5432/db?sslmode=disable", kind: "postgres", target: "postgres://u@h:5432/db?sslmode=disable"},
		{in: "postgresql://h/db", kind: "postgres", target: "postgresql://h/db"},
		{in: "", err: "is empty"},
		{in: "rebound.db", err: "no scheme"},
		{in: "sqlite:", err: "no file path"},
		{in: "memory:x", err: "takes nothing"},
		{in: "postgres:h/db", err: "want a URL"},
		{in: "mysql://h/db", err: `unknown scheme "mysql"`},
	} {
		d, err := parseDSN(c.in, "--store")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--store") {
				t.Errorf("parseDSN(%q): error %v, want one naming --store and saying %q", c.in, err, c.err)
			}
			if exitCode(err) != exitUsage {
				t.Errorf("parseDSN(%q): exit code %d, want 2", c.in, exitCode(err))
			}
			continue
		}
		if err != nil || d.kind != c.kind || d.target != c.target {
			t.Errorf("parseDSN(%q) = %+v, %v; want %s %q", c.in, d, err, c.kind, c.target)
		}
	}
}

func TestResolveDSNPrecedence(t *testing.T) {
	g := &globals{env: env{getenv: func(k string) string {
		if k == "REBOUND_STORE" {
			return "memory:"
		}
		return ""
	}}}
	if d, err := g.resolveDSN(); err != nil || d.kind != "memory" {
		t.Fatalf("REBOUND_STORE ignored: %+v %v", d, err)
	}
	g.store, g.storeSet = "sqlite:a.db", true
	if d, err := g.resolveDSN(); err != nil || d.target != "a.db" {
		t.Fatalf("--store does not win over REBOUND_STORE: %+v %v", d, err)
	}
	g = &globals{env: env{getenv: func(string) string { return "" }}}
	if d, err := g.resolveDSN(); err != nil || d.raw != defaultStore {
		t.Fatalf("default: %+v %v", d, err)
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"sqlite:rebound.db", "memory:", "postgres://u@h/db", "x", "", ":", "sqlite://", "C:\\x.db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDSN(s, "--store")
		if err != nil {
			if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--store") {
				t.Fatalf("parseDSN(%q): %v is not a usage error naming the flag", s, err)
			}
			return
		}
		switch d.kind {
		case "memory":
		case "sqlite", "postgres":
			if d.target == "" {
				t.Fatalf("parseDSN(%q): empty target", s)
			}
		default:
			t.Fatalf("parseDSN(%q): kind %q", s, d.kind)
		}
	})
}

func TestDSNRedactsPassword(t *testing.T) {
	d, err := parseDSN("postgres://rebound:hunter2@db:5432/rebound", "--store")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d.String(), "hunter2") || d.target != "postgres://rebound:hunter2@db:5432/rebound" {
		t.Errorf("String() = %q, target %q", d.String(), d.target)
	}
	r := cli(t, nil, "runs", "list", "--store", "postgres://rebound:hunter2@127.0.0.1:1/rebound?connect_timeout=1")
	if r.code != exitUsage || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("exit %d, stderr %q: want 2 without the password", r.code, r.stderr)
	}
}
