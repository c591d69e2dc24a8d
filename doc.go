// Package rebound is production error recovery for LLM agents: the error vocabulary every
// recovery pattern decides by, and the types the patterns share.
//
// Every failure has a [Class]: transient, rate_limited, overloaded, timeout, malformed,
// context_overflow, content_policy, quota, auth, invalid, canceled or unknown. [Classify]
// returns it, with any delay the server asked for, from Rebound's own [*Error], the marks
// [Permanent], [Transient] and [RetryAfter], context errors and transport errors. [HTTPError]
// builds an *Error from a status and the headers that matter (x-should-retry, retry-after-ms,
// retry-after, and the providers' rate-limit reset headers).
//
// The escalation vocabulary that package checkpoint (a run that cannot go on) and package
// escalate (the queue a person decides in) share is declared here once: [Escalation],
// [EscalationReason], [Action] and [Decision].
//
// The patterns live in their own packages, each importing only the standard library and this
// one:
//
//	retry       backoff with jitter, driven by class; a shared retry budget
//	breaker     circuit breakers per dependency
//	fallback    an ordered chain of alternatives whose answer is marked
//	checkpoint  durable runs: a journal of steps and messages, leases, resume
//	escalate    the escalation queue: park what cannot be resolved, let a person decide
//	ratelimit   pacing from the providers' own rate-limit headers
//
// Unknown errors are not retried: an error user code returns is retried only when it is marked
// Transient or has a retriable class. x-should-retry from a server always wins.
package rebound
