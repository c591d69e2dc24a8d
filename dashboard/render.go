package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxFormBytes bounds a form or JSON body. A note or an answer is text a person typed.
const maxFormBytes = 1 << 20

type ctxKey int

const authKey ctxKey = iota

func withAuth(ctx context.Context, k authKind) context.Context {
	return context.WithValue(ctx, authKey, k)
}

func authFrom(ctx context.Context) authKind {
	k, _ := ctx.Value(authKey).(authKind)
	return k
}

// flashes are the messages a page shows after a form redirected to it (?done=code). Only
// these fixed texts are ever shown, so a crafted link cannot put words on the page.
var flashes = map[string]string{
	"claimed":    "Claimed. Other reviewers see it as yours until the claim expires.",
	"resolved":   "Resolved. The run resumes with this decision (under rebound serve --worker, or with rebound runs resume).",
	"dismissed":  "Dismissed. The run reads a dismissal as a reject.",
	"reopened":   "Reopened. The item is back in the queue.",
	"overridden": "Overridden. Your decision replaces the supervisor's and acts at once; the supervisor's stays in the audit trail.",
}

// page is what every template receives: the layout's data and the page's own.
type page struct {
	Title string
	Nav   string // the active navigation entry: escalations, runs, breakers
	CSRF  string
	Auth  bool // a token is configured: show the sign-out button
	Flash string
	// Refresh, when positive, reloads the page every so many seconds (a meta refresh, no
	// script): a run page while the run is moving.
	Refresh int
	Data    any
}

// refresher is implemented by page data that wants the page reloaded while something moves.
type refresher interface{ refreshSeconds() int }

type loginPage struct {
	Next   string
	Failed bool
	// PlainHTTP is the host when the page came over plain HTTP to a host that is not loopback:
	// browsers then drop the Secure cookies that signing in needs, and the page says so.
	PlainHTTP string
}

type errorPage struct {
	Status  int
	Message string
}

// parseTemplates builds one template set per page: the layout plus the page's file, so that
// each page defines its own "content" block.
func parseTemplates() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.ReadFile(templateFS, "templates/partials.html")
	if err != nil {
		return nil, err
	}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template)
	for _, name := range entries {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		body, err := fs.ReadFile(templateFS, name)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(templateFuncs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("parse layout: %w", err)
		}
		if _, err := t.Parse(string(partials)); err != nil {
			return nil, fmt.Errorf("parse partials: %w", err)
		}
		if _, err := t.Parse(string(body)); err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		out[base] = t
	}
	return out, nil
}

var navOf = map[string]string{
	"escalations": "escalations", "escalation": "escalations",
	"runs": "runs", "run": "runs", "breakers": "breakers",
}

var titleOf = map[string]string{
	"escalations": "Escalations", "escalation": "Escalation", "runs": "Runs", "run": "Run",
	"breakers": "Breakers", "login": "Sign in", "error": "Error",
}

// render writes a page. It renders into a buffer first, so that a template error is a clean
// 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	s.renderTitled(w, r, status, name, "", data)
}

func (s *Server) renderTitled(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t, ok := s.templates[name]
	if !ok {
		http.Error(w, "dashboard: no template "+name, http.StatusInternalServerError)
		return
	}
	if title == "" {
		title = titleOf[name]
	}
	p := page{
		Title: title, Nav: navOf[name], CSRF: s.csrfToken(w, r),
		Auth: len(s.keys.token) > 0 && name != "login", Flash: flashes[r.URL.Query().Get("done")],
		Data: data,
	}
	if rf, ok := data.(refresher); ok {
		p.Refresh = rf.refreshSeconds()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		http.Error(w, "dashboard: render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.renderTitled(w, r, status, "error", http.StatusText(status), errorPage{Status: status, Message: msg})
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(apiError{Error: msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

var templateFuncs = template.FuncMap{
	"ago":     ago,
	"pathesc": url.PathEscape,
	"dur":     shortDuration,
	"ts":      timestamp,
	"short":   shortID,
	"lower":   strings.ToLower,
	"query":   queryString,
	"add":     func(a, b int) int { return a + b },
	"pct":     func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"until":   func(now, t time.Time) string { return shortDuration(t.Sub(now)) },
}

// ago renders how long ago t was, coarsely: "42s", "5m", "3h 10m", "2d 4h".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return shortDuration(now.Sub(t))
}

// shortDuration renders d for a person: two units at most, "1.5s" under a minute.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), ".0") + "s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m := int(d.Minutes())
		if sec := int(d.Seconds()) % 60; sec != 0 && m < 10 {
			return fmt.Sprintf("%dm %ds", m, sec)
		}
		return fmt.Sprintf("%dm", m)
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		days, h := int(d.Hours())/24, int(d.Hours())%24
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, h)
	}
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// shortID keeps long generated IDs readable in tables; the full ID is in the link and title.
func shortID(id string) string {
	if len(id) <= 14 {
		return id
	}
	return id[:12] + "…"
}

// queryString builds "?k=v&k2=v2" from pairs, skipping empty values.
func queryString(pairs ...string) template.URL {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(template.URLQueryEscaper(pairs[i]))
		b.WriteByte('=')
		b.WriteString(template.URLQueryEscaper(pairs[i+1]))
	}
	return template.URL(b.String())
}
