package escalate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rebound-go/rebound"
)

// Redacted replaces every secret the Redactor finds.
const Redacted = "[REDACTED]"

// defaultRedactFields are the field names whose values are always redacted.
var defaultRedactFields = []string{
	"authorization", "proxy-authorization", "x-api-key", "api-key", "api-token", "auth-token",
	"cookie", "set-cookie", "password", "passwd", "pwd", "passphrase", "secret", "secret-key",
	"secret-access-key", "client-secret", "private-key", "token", "credentials",
}

// DefaultRedactFields returns the field names whose values are always redacted, in JSON (as
// keys) and in text (as "name: value", "name=value", "name":"value"): authorization,
// proxy-authorization, x-api-key, api-key, api-token, auth-token, cookie, set-cookie, password,
// passwd, pwd (MYSQL_PWD), passphrase, secret, secret-key, secret-access-key (AWS), client-secret,
// private-key, token (and so access-token, session-token, …) and credentials. A name matches
// every field whose name ends with it. Config.RedactFields adds to them.
func DefaultRedactFields() []string { return slices.Clone(defaultRedactFields) }

// tokenPattern finds a credential by its shape, wherever it is. Group 1, when present, is a
// boundary kept in the output. A pattern is tried only on text containing one of its hints (a
// cheap test that keeps redaction fast on text without secrets).
type tokenPattern struct {
	hints []string
	re    *regexp.Regexp
}

var tokenPatterns = []tokenPattern{
	// Anthropic (sk-ant-api03-…), OpenAI (sk-proj-…, sk-svcacct-…, sk-…) and other sk- keys.
	{[]string{"sk-"}, regexp.MustCompile(`(^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}`)},
	// Stripe-style secret and restricted keys.
	{[]string{"k_live_", "k_test_"}, regexp.MustCompile(`(^|[^A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,}`)},
	// GitHub tokens.
	{[]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		regexp.MustCompile(`(^|[^A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
	// AWS access key IDs (long-term and temporary) and Google API keys.
	{[]string{"AKIA", "ASIA", "AIza"}, regexp.MustCompile(`(^|[^A-Za-z0-9])(?:A[KS]IA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})`)},
	// PEM private keys.
	{[]string{"PRIVATE KEY-----"}, regexp.MustCompile(`()-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`)},
	// Slack tokens (bot, user, app, refresh, config).
	{[]string{"xox", "xapp-"}, regexp.MustCompile(`(^|[^A-Za-z0-9])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}`)},
	// JSON Web Tokens.
	{[]string{"eyJ"}, regexp.MustCompile(`(^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)},
}

// bearerPattern finds "Bearer <token>" (any case) and keeps the scheme.
var bearerPattern = regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}`)

// userinfoPattern finds the password of a URL's user info (scheme://user:password@host), with
// or without a user (redis://:password@host), up to the last '@' of the URL: a password written
// with an unescaped '/' or '@' is redacted whole.
var userinfoPattern = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"'<>]*:)[^\s"'<>]+@`)

// base64Run finds a maximal run of base64 characters; a run of exactly 40 of them is a
// candidate AWS secret access key. Runs are tried only on text that speaks of AWS or holds an
// access key ID, and a candidate is redacted only when it mixes upper case, lower case and
// digits (so a hex digest stays).
var base64Run = regexp.MustCompile(`[A-Za-z0-9/+=]+`)

func mayHoldAWSSecret(s string) bool {
	return containsFold(s, "aws") || strings.Contains(s, "AKIA") || strings.Contains(s, "ASIA")
}

// redactAWSSecrets replaces every candidate AWS secret access key in s.
func redactAWSSecrets(s string) string {
	ms := base64Run.FindAllStringIndex(s, -1)
	var b strings.Builder
	last := 0
	for _, m := range ms {
		v := s[m[0]:m[1]]
		if len(v) != 40 || strings.Contains(v, "=") || !mixedKey(v) {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(Redacted)
		last = m[1]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// mixedKey reports whether v holds an upper-case letter, a lower-case letter and a digit.
func mixedKey(v string) bool {
	var up, low, dig bool
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= 'a' && c <= 'z':
			low = true
		case c >= '0' && c <= '9':
			dig = true
		}
	}
	return up && low && dig
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// Redactor removes secrets from text and JSON before they are stored: API keys by their shape
// (Anthropic sk-ant-…, OpenAI sk-proj-… and sk-…, any other sk-… key, and a few other well-known
// forms: Slack xox…- tokens, AWS access key IDs and, beside a mention of AWS, their 40-character
// secret keys), bearer tokens, the password in a URL (with or without a user), and the values of
// sensitive fields, whatever the value looks like, named
// either in JSON keys or in text ("Authorization: …", "x-api-key=…", `"password": "…"`, Go's
// printed http.Header). A field matches when its name, lower-cased and without '-' and '_',
// ends with one of the configured names normalised the same way: "openai_api_key" and
// "X-Api-Key" both match "api-key". A Redactor is safe for concurrent use.
type Redactor struct {
	fields []string // normalised
	kv     *regexp.Regexp
}

// NewRedactor returns a Redactor for DefaultRedactFields and fields.
func NewRedactor(fields ...string) *Redactor {
	all := append(DefaultRedactFields(), fields...)
	r := &Redactor{}
	var alts []string
	seen := map[string]bool{}
	for _, f := range all {
		n := normField(f)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		r.fields = append(r.fields, n)
		// In text, a '-' or '_' may sit between any two letters of the name.
		var b strings.Builder
		for i, c := range n {
			if i > 0 {
				b.WriteString(`[-_]?`)
			}
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
		alts = append(alts, b.String())
	}
	// Group 1: the name; group 2: its closing quote and the separator; group 3: the value, in
	// one of its forms: an escaped-JSON string, a JSON string, a single-quoted string, Go's
	// printed header value [v], or a bare word (with its auth scheme).
	r.kv = regexp.MustCompile(`(?i)(` + strings.Join(alts, "|") + `)(\\?["']?\s*[:=]\s*)` +
		`(\\"[^"]*?\\"|"(?:[^"\\]|\\.)*"|'[^']*'|\[[^\]]*\]|(?:(?:bearer|basic|token|digest)\s+)?[^\s,;&"'\\\]\[}{)(<>]+)`)
	return r
}

// cleanText returns s as valid UTF-8 without NUL bytes.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

var fieldSeparators = strings.NewReplacer("-", "", "_", "", " ", "")

func normField(f string) string {
	return fieldSeparators.Replace(strings.ToLower(strings.TrimSpace(f)))
}

// Field reports whether a JSON key names a sensitive field.
func (r *Redactor) Field(key string) bool {
	n := normField(key)
	for _, f := range r.fields {
		if strings.HasSuffix(n, f) {
			return true
		}
	}
	return false
}

// Text returns s with every secret replaced by Redacted. It also makes s valid UTF-8 without
// NUL bytes (invalid bytes become U+FFFD, NULs are dropped), which every store can keep.
func (r *Redactor) Text(s string) string {
	if s == "" {
		return s
	}
	s = cleanText(s)
	if r.mayName(s) {
		s = r.redactValues(s)
	}
	for _, p := range tokenPatterns {
		if containsAny(s, p.hints) {
			s = p.re.ReplaceAllString(s, "${1}"+Redacted)
		}
	}
	if containsFold(s, "bearer") {
		s = bearerPattern.ReplaceAllString(s, "${1} "+Redacted)
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = userinfoPattern.ReplaceAllString(s, "${1}"+Redacted+"@")
	}
	if mayHoldAWSSecret(s) {
		s = redactAWSSecrets(s)
	}
	return s
}

// mayName reports whether s may contain one of the field names (a cheap test before the
// regular expression).
func (r *Redactor) mayName(s string) bool {
	n := normField(s)
	for _, f := range r.fields {
		if strings.Contains(n, f) {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// redactValues replaces the value of every "name: value" pair of a sensitive field.
func (r *Redactor) redactValues(s string) string {
	ms := r.kv.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		v := s[m[6]:m[7]]
		b.WriteString(s[last:m[6]])
		switch {
		case strings.HasPrefix(v, `\"`):
			b.WriteString(`\"` + Redacted + `\"`)
		case v[0] == '"':
			b.WriteString(`"` + Redacted + `"`)
		case v[0] == '\'':
			b.WriteString(`'` + Redacted + `'`)
		default:
			b.WriteString(Redacted)
		}
		last = m[7]
	}
	b.WriteString(s[last:])
	return b.String()
}

// JSON returns raw with the values of sensitive keys replaced by Redacted (whatever their type)
// and every string redacted as Text. Keys come out sorted. raw that is not valid JSON comes
// back as a JSON string of its redacted text; empty raw comes back nil.
func (r *Redactor) JSON(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return mustJSON(r.Text(string(raw)))
	}
	return mustJSON(r.value(v))
}

func (r *Redactor) value(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if r.Field(k) {
				x[k] = Redacted
			} else {
				x[k] = r.value(e)
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = r.value(e)
		}
		return x
	case string:
		return r.Text(x)
	}
	return v
}

func mustJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, numbers, bools, nil, maps and slices of them get here.
		panic("escalate: encode redacted JSON: " + err.Error())
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// Messages returns a copy of ms with every message's content redacted as Text.
func (r *Redactor) Messages(ms []rebound.Message) []rebound.Message {
	if ms == nil {
		return nil
	}
	out := make([]rebound.Message, len(ms))
	for i, m := range ms {
		m.Content = r.Text(m.Content)
		m.Source = r.Text(m.Source)
		m.Blocks = r.blocks(m.Blocks)
		out[i] = m
	}
	return out
}

// blocks returns a copy of bs with their text, tool inputs, tool results, opaque blocks and URLs
// redacted
// (an image's inline data is left as it is).
func (r *Redactor) blocks(bs []rebound.Block) []rebound.Block {
	if bs == nil {
		return nil
	}
	out := make([]rebound.Block, len(bs))
	for i, b := range bs {
		b.Text = r.Text(b.Text)
		b.URL = r.Text(b.URL)
		if len(b.Input) > 0 {
			b.Input = r.JSON(b.Input)
		}
		if len(b.Raw) > 0 {
			// An opaque block (Anthropic thinking) is shown to a reviewer, never sent back from
			// here: its text is redacted like any other, its signature with it.
			b.Raw = r.JSON(b.Raw)
		}
		b.Content = r.blocks(b.Content)
		out[i] = b
	}
	return out
}
