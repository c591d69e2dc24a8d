package rebound

import "fmt"

// Class is what kind of failure an error is. Every policy in Rebound (retry, breaker, fallback,
// escalation) decides by class, never by matching error strings.
type Class uint8

// The classes, in the order of the error vocabulary (docs/architecture.md). The zero value is
// ClassUnknown.
const (
	// ClassUnknown is an error user code returned without marking it. Not retried unless marked
	// with Transient.
	ClassUnknown Class = iota
	// ClassTransient is a failure that the same call may not repeat: 500, 502, 503, a connection reset
	// or refused, an unexpected EOF, a cut stream. Retried; a breaker failure.
	ClassTransient
	// ClassRateLimited is a 429 for requests or tokens per minute. Retried after the server's delay;
	// feeds the limiter; not a breaker failure by default.
	ClassRateLimited
	// ClassOverloaded is the provider overloaded for everyone (529, a mid-stream overloaded event).
	// Retried briefly, then fallen back from; a breaker failure.
	ClassOverloaded
	// ClassTimeout is an attempt's own deadline: no response, no first token, a stream gone idle.
	// Retried; a breaker failure.
	ClassTimeout
	// ClassMalformed is an answer that failed validation, a truncated stream, or a body that is not
	// the JSON it should be. Repaired (re-asked with the error) or retried.
	ClassMalformed
	// ClassContextOverflow is a prompt too long for the model. Never a plain retry: fall back to a
	// larger-context model or shrink.
	ClassContextOverflow
	// ClassContentPolicy is a refusal or a content filter. Never a plain retry: fall back or escalate.
	ClassContentPolicy
	// ClassQuota is money, not time: insufficient quota, a spend limit reached, 402 billing. Never
	// retried; fall back to another provider, else escalate.
	ClassQuota
	// ClassAuth is 401 or 403: configuration. Fail fast; escalate.
	ClassAuth
	// ClassInvalid is any other 4xx: a bug in the request. Fail fast.
	ClassInvalid
	// ClassCanceled is the caller's context ending. Stop; neutral for breakers.
	ClassCanceled

	numClasses
)

var classNames = [numClasses]string{
	ClassUnknown:         "unknown",
	ClassTransient:       "transient",
	ClassRateLimited:     "rate_limited",
	ClassOverloaded:      "overloaded",
	ClassTimeout:         "timeout",
	ClassMalformed:       "malformed",
	ClassContextOverflow: "context_overflow",
	ClassContentPolicy:   "content_policy",
	ClassQuota:           "quota",
	ClassAuth:            "auth",
	ClassInvalid:         "invalid",
	ClassCanceled:        "canceled",
}

// Classes returns every class, ClassUnknown first.
func Classes() []Class {
	cs := make([]Class, numClasses)
	for i := range cs {
		cs[i] = Class(i)
	}
	return cs
}

// String returns the class's name as docs/architecture.md writes it: "rate_limited", "context_overflow".
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ParseClass is the inverse of String.
func ParseClass(s string) (Class, error) {
	for i, n := range classNames {
		if n == s {
			return Class(i), nil
		}
	}
	return ClassUnknown, fmt.Errorf("rebound: unknown class %q", s)
}

// MarshalText implements encoding.TextMarshaler, so a Class is its name in JSON.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Class) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Retriable reports whether the class is retried by default: transient, rate_limited,
// overloaded, timeout and malformed. The others cannot succeed by sending the same request
// again.
func (c Class) Retriable() bool {
	switch c {
	case ClassTransient, ClassRateLimited, ClassOverloaded, ClassTimeout, ClassMalformed:
		return true
	}
	return false
}
