package main

import "github.com/rebound-go/rebound"

// Keys and tokens (ANTHROPIC_API_KEY, OPENAI_API_KEY, REBOUND_TOKEN, serve's --token,
// fakellm's --require-key) are rebound.Secret from where the CLI reads them: printed (%v, %+v),
// logged (slog) or marshalled (JSON), a struct holding one shows "[REDACTED]". Only the option
// that needs the plain value (an SDK's WithAPIKey, the dashboard's comparison, fakellm's
// Options.Key) calls Reveal.

// secretEnv reads a key or token from the environment.
func (g *globals) secretEnv(name string) rebound.Secret { return rebound.Secret(g.getenv(name)) }

// secretFlag is a string flag held as a rebound.Secret (pflag.Value).
type secretFlag struct{ p *rebound.Secret }

func (f secretFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f secretFlag) Set(s string) error {
	*f.p = rebound.Secret(s)
	return nil
}

// Type is "string", as for the other text flags in --help.
func (f secretFlag) Type() string { return "string" }
