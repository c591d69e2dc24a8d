package fakellm

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counters are the totals since the Handler started (or since Reset).
type Counters struct {
	Requests int64            `json:"requests"`  // finished API requests
	InFlight int64            `json:"in_flight"` // API requests being answered (or hanging) now
	ByModel  map[string]int64 `json:"by_model"`
	ByStatus map[string]int64 `json:"by_status"` // "200", "529"; "0" when no status was sent (reset, hang)
	ByFault  map[string]int64 `json:"by_fault"`  // rule name ("line 3: error 529") or "rate-limit"
}

// Counters returns a copy of the counters.
func (h *Handler) Counters() Counters {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := Counters{Requests: h.total, InFlight: h.busy.Load(), ByModel: map[string]int64{}, ByStatus: map[string]int64{}, ByFault: map[string]int64{}}
	for k, v := range h.byModel {
		c.ByModel[k] = v
	}
	for k, v := range h.byStatus {
		c.ByStatus[strconv.Itoa(k)] = v
	}
	for k, v := range h.byFault {
		c.ByFault[k] = v
	}
	return c
}

// RequestRecord is one entry of the request log. The API key itself is never kept.
type RequestRecord struct {
	ID         int64     `json:"id"`  // matches the request-id / x-request-id header (req_fake_ID)
	Seq        int64     `json:"seq"` // request number under the current script (0: not numbered)
	Time       time.Time `json:"time"`
	Path       string    `json:"path"`
	Provider   string    `json:"provider"`
	Model      string    `json:"model,omitempty"`
	Stream     bool      `json:"stream"`
	Status     int       `json:"status"` // 0 when none was sent
	Fault      string    `json:"fault,omitempty"`
	RetryCount string    `json:"retry_count,omitempty"` // X-Stainless-Retry-Count as sent
	HasKey     bool      `json:"has_key"`
	AuthHeader string    `json:"auth_header,omitempty"` // "x-api-key" or "authorization"
	Version    string    `json:"anthropic_version,omitempty"`
	Prompt     string    `json:"prompt,omitempty"` // first words of the last user message
	ReplyHash  string    `json:"reply_hash,omitempty"`
	// Tools are the names of the tools the request offers.
	Tools []string `json:"tools,omitempty"`
	// ToolUses are the ids of every tool call in the request's conversation, in order, and
	// ToolResults the ids every tool result answers, in order.
	ToolUses    []string `json:"tool_uses,omitempty"`
	ToolResults []string `json:"tool_results,omitempty"`
	// Invalid is why the request was refused as the real API would refuse it (400), if it was:
	// a tool call without its result, a result of no call, an id the API does not take.
	Invalid string `json:"invalid,omitempty"`
	// Images counts the image blocks (OpenAI image_url parts) in the conversation.
	Images int   `json:"images,omitempty"`
	Millis int64 `json:"ms"`
}

// Requests returns the request log, oldest first (at most Options.LogSize entries).
func (h *Handler) Requests() []RequestRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RequestRecord, 0, len(h.log))
	if len(h.log) < h.opts.LogSize {
		return append(out, h.log...)
	}
	out = append(out, h.log[h.logNext:]...)
	return append(out, h.log[:h.logNext]...)
}

// Reset clears the counters and the request log and restarts the running script.
func (h *Handler) Reset() {
	h.mu.Lock()
	h.total = 0
	clear(h.byModel)
	clear(h.byStatus)
	clear(h.byFault)
	h.log = h.log[:0]
	h.logNext = 0
	h.mu.Unlock()
	h.load(h.state.Load().script)
}

func (h *Handler) record(rec *RequestRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	if rec.Model != "" {
		if _, ok := h.byModel[rec.Model]; ok || len(h.byModel) < 1000 {
			h.byModel[rec.Model]++
		}
	}
	h.byStatus[rec.Status]++
	if rec.Fault != "" {
		h.byFault[rec.Fault]++
	}
	if h.opts.LogSize == 0 {
		return
	}
	if len(h.log) < h.opts.LogSize {
		h.log = append(h.log, *rec)
		return
	}
	h.log[h.logNext] = *rec
	h.logNext = (h.logNext + 1) % h.opts.LogSize
}

// ControlPrefix is the reserved path of the control plane.
const ControlPrefix = "/_fakellm/"

// control serves the control plane.
func (h *Handler) control(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	switch name {
	case "script":
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, h.Script().Text)
		case http.MethodPut, http.MethodPost:
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, "read script: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := h.SetScript(string(b)); err != nil {
				var se *ScriptError
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				out := map[string]any{"error": err.Error()}
				if errors.As(err, &se) {
					out["line"] = se.Line
					out["reason"] = se.Reason
				}
				json.NewEncoder(w).Encode(out)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, PUT, POST")
			http.Error(w, "use GET, PUT or POST", http.StatusMethodNotAllowed)
		}
	case "counters":
		writeJSON(h.Counters())
	case "requests":
		writeJSON(h.Requests())
	case "reset":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		h.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "fakellm control plane: GET|PUT|POST script, GET counters, GET requests, POST reset", http.StatusNotFound)
	}
}
