package rebound

import (
	"encoding/json"
	"log/slog"
)

// Secret is a credential held in configuration: an API key, a token. It keeps its value out
// of every place a value usually leaks to: printed (fmt's %v, %s, %q and %#v), logged (slog) or
// marshalled as a value (encoding/json, encoding's TextMarshaler) it reads "[REDACTED]", or ""
// when empty (so that "no token" still shows). Reveal returns the value, for the one place that
// needs it. (Used as a map key, it is marshalled as the string it is: do not. Held in an
// unexported struct field, it prints as its value under %v of the struct, since fmt cannot call
// the methods of an unexported field: hold it in an exported one.)
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString returns the String form, for %#v.
func (s Secret) GoString() string { return "rebound.Secret(" + `"` + s.String() + `")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
