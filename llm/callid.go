package llm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// MapCallID returns the id under which a tool call (and its result) is sent to a provider
// whose rules ok checks. An id ok accepts is sent as it is, so a provider's own ids go back
// to it untouched; any other id (another provider's shape, too long, empty) becomes prefix
// followed by 24 hex digits of its SHA-256. The mapping is a pure function of the id: a
// tool-use block and the tool-result block that answers it map to the same id in every
// request, while the conversation itself (and the run journal) keeps the original ids, so it
// can go back to the provider that made them.
func MapCallID(id, prefix string, ok func(string) bool) string {
	if id != "" && ok(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return prefix + hex.EncodeToString(sum[:12])
}

// ExtraFields returns the top-level fields of req.Extra[provider], the parameters Rebound does
// not model, in the order given, for an adapter to merge into the SDK's request body. An entry
// that is not a JSON object is an error (ClassInvalid when the adapter returns it).
func ExtraFields(req Request, provider string) ([]Field, error) {
	raw, ok := req.Extra[provider]
	if !ok || len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("Request.Extra[%q] is not a JSON object", provider)
	}
	var out []Field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("Request.Extra[%q]: %w", provider, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("Request.Extra[%q] field %q: %w", provider, k, err)
		}
		out = append(out, Field{Key: k.(string), Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("Request.Extra[%q]: %w", provider, err)
	}
	return out, nil
}

// Field is one top-level field of a JSON object.
type Field struct {
	Key   string
	Value json.RawMessage
}

// Path is the field's key escaped for a JSON-set path (the sjson syntax both SDKs'
// option.WithJSONSet take), so that a key holding '.', '*' or '#' names one field, not a path.
func (f Field) Path() string {
	var b strings.Builder
	for _, c := range f.Key {
		if strings.ContainsRune(`.*?|#@\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
