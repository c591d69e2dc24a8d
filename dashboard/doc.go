// Package dashboard is the web front of Rebound's escalation queue and durable runs: an
// http.Handler with server-rendered pages and a JSON API, and a worker that resumes runs once a
// person has decided. `rebound serve` serves it; a program can mount it in its own server.
//
// # Pages
//
//	/escalations        the queue: open items first, oldest first; filters by status and
//	                    reason; counts and oldest age per reason on top
//	/escalations/{id}   one item: the error and its class, the attempts that led there, the
//	                    results the run has so far, the redacted messages and state, the context,
//	                    the audit trail; claim, resolve (approve, reject, respond, retry) with a
//	                    note and the reviewer's name, dismiss, reopen
//	/runs, /runs/{id}   runs; a run's steps as a timeline with each attempt's class and delay,
//	                    fallbacks marked, breaker changes, and its escalations
//	/breakers           the breakers of this process, and the breaker changes of recent runs
//
// Every page is plain HTML with one embedded stylesheet: no script, nothing loaded from the
// network, every action a form. The JSON API under /api/v1/ offers the same reads and actions
// (docs/api.md).
//
// # Security
//
// With Config.Token set, every page and API call needs it: the API as
// "Authorization: Bearer <token>", a browser through the login form, which sets a Secure,
// HttpOnly, SameSite=Strict session cookie (a random session ID and an HMAC under a key derived
// from the token, never the token itself; signing out revokes it). Without a token, only
// loopback Host names are served (DNS rebinding). /healthz stays open; /metrics follows the token rule. Forms carry a signed
// double-submit CSRF token; net/http's CrossOriginProtection refuses cross-origin writes; pages
// are sent with a content security policy that allows no script. Templates escape everything,
// and nothing the dashboard renders holds a secret: the queue redacts items before it stores
// them.
//
// # Resuming runs
//
// A decision only records what the reviewer decided; the run continues when it runs again.
// checkpoint.Worker, the resume worker, does that beside the dashboard (`rebound serve
// --worker`): it asks the store for runs whose escalation has a decision and resumes each with
// the workflow registered under the run's name (the map Runner.Resume takes):
//
//	w, err := checkpoint.NewWorker(runner, checkpoint.WorkerConfig{
//		Workflows: map[string]checkpoint.Workflow{"report": report},
//	})
//	...
//	go w.Run(ctx)
//
// Several workers may share one store: the run's lease lets one of them resume it.
package dashboard
