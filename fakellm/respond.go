package fakellm

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

func (c *call) writeJSON(status int, body []byte) {
	c.set("Content-Type", "application/json")
	c.set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	c.status = status
	c.w.Write(body)
}

// reset drops the connection without a response: a TCP reset where the connection can be
// hijacked, else an aborted response.
func (c *call) reset() {
	if hj, ok := c.w.(http.Hijacker); ok {
		conn, _, err := hj.Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

const html413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"

func (c *call) html(r *Rule) {
	body := html413
	if r.Status != 413 {
		t := strconv.Itoa(r.Status) + " " + http.StatusText(r.Status)
		body = "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" + t + "</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", "cloudflare")
	c.hintHeaders(r)
	c.w.WriteHeader(r.Status)
	c.status = r.Status
	io.WriteString(c.w, body)
}

func (c *call) hintHeaders(r *Rule) {
	h := c.w.Header()
	if r.RetryAfter != "" {
		h.Set("Retry-After", r.RetryAfter)
	}
	if r.RetryAfterMS != "" {
		h.Set("Retry-After-Ms", r.RetryAfterMS)
	}
	if r.ShouldRetry != "" {
		h.Set("X-Should-Retry", r.ShouldRetry)
	}
}

func (c *call) setIDHeader() {
	if c.openai {
		c.set("X-Request-Id", c.reqID)
	} else {
		c.set("Request-Id", c.reqID)
	}
}

// setHeaders sets the request ID and rate-limit headers every API response carries.
func (c *call) setHeaders() {
	c.setIDHeader()
	if c.openai {
		c.set("Openai-Version", "2020-10-01")
		c.set("Openai-Organization", "org-fakellm")
		c.set("Openai-Processing-Ms", "1")
	} else {
		c.set("Anthropic-Organization-Id", "00000000-0000-4000-8000-00000000fa4e")
	}
	c.setRateHeaders()
}

func (c *call) setRateHeaders() {
	q := &c.q
	if c.openai {
		if !q.enabled || q.reqLimit == 0 {
			c.set("X-Ratelimit-Limit-Requests", nominalReqStr)
			c.set("X-Ratelimit-Remaining-Requests", nominalReqStr)
			c.set("X-Ratelimit-Reset-Requests", "0s")
		} else {
			c.set("X-Ratelimit-Limit-Requests", strconv.FormatInt(q.reqLimit, 10))
			c.set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(q.reqRemain, 10))
			c.set("X-Ratelimit-Reset-Requests", goDuration(q.reqReset))
		}
		if !q.enabled || q.tokLimit == 0 {
			c.set("X-Ratelimit-Limit-Tokens", nominalTokStr)
			c.set("X-Ratelimit-Remaining-Tokens", nominalTokStr)
			c.set("X-Ratelimit-Reset-Tokens", "0s")
		} else {
			c.set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(q.tokLimit, 10))
			c.set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(q.tokRemain, 10))
			c.set("X-Ratelimit-Reset-Tokens", goDuration(q.tokReset))
		}
		return
	}
	now := c.clock().format(c.now)
	if !q.enabled || q.reqLimit == 0 {
		c.set("Anthropic-Ratelimit-Requests-Limit", nominalReqStr)
		c.set("Anthropic-Ratelimit-Requests-Remaining", nominalReqStr)
		c.set("Anthropic-Ratelimit-Requests-Reset", now)
	} else {
		c.set("Anthropic-Ratelimit-Requests-Limit", strconv.FormatInt(q.reqLimit, 10))
		c.set("Anthropic-Ratelimit-Requests-Remaining", strconv.FormatInt(q.reqRemain, 10))
		c.set("Anthropic-Ratelimit-Requests-Reset", c.clock().resetTime(c.now, q.reqReset))
	}
	lim, rem, reset := nominalTokStr, nominalTokStr, now
	if q.enabled && q.tokLimit > 0 {
		lim = strconv.FormatInt(q.tokLimit, 10)
		rem = strconv.FormatInt(q.tokRemain, 10)
		reset = c.clock().resetTime(c.now, q.tokReset)
	}
	for _, k := range [...][3]string{
		{"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset"},
		{"Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset"},
		{"Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"},
	} {
		c.set(k[0], lim)
		c.set(k[1], rem)
		c.set(k[2], reset)
	}
}

func (c *call) clock() *rfc3339Cache { return &c.h.clock }

// rateLimited answers a request the limiter refused: 429 with retry-after, as the providers do.
func (c *call) rateLimited() {
	q := &c.q
	h := c.w.Header()
	if !q.tooLarge {
		secs := int64((q.wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if c.openai {
		var msg string
		if q.tooLarge {
			msg = fmt.Sprintf("Request too large for %s in organization org-fakellm on tokens per min (TPM): Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully.", c.req.Model, q.tokLimit, q.tokRequired)
		} else if q.deniedBy == "requests" {
			msg = fmt.Sprintf("Rate limit reached for %s in organization org-fakellm on requests %s: Limit %d, Used %d, Requested 1. Please try again in %s.", c.req.Model, openAIUnit(q.reqRate, q.reqBurst, "R"), q.reqLimit, q.reqUsed, goDuration(q.wait))
		} else {
			msg = fmt.Sprintf("Rate limit reached for %s in organization org-fakellm on tokens %s: Limit %d, Used %d, Requested %d. Please try again in %s.", c.req.Model, openAIUnit(q.tokRate, q.tokBurst, "T"), q.tokLimit, q.tokLimit-q.tokRemain, q.tokRequired, goDuration(q.wait))
		}
		c.writeError(http.StatusTooManyRequests, q.deniedBy, "rate_limit_exceeded", msg, nil)
		return
	}
	var msg string
	if q.deniedBy == "requests" {
		msg = fmt.Sprintf("This request would exceed your organization's rate limit of %s (org: fakellm, model: %s). For details, refer to: https://docs.claude.com/en/api/rate-limits.", rateText(q.reqRate, q.reqBurst, "requests"), c.req.Model)
	} else {
		msg = fmt.Sprintf("This request would exceed your organization's rate limit of %s (org: fakellm, model: %s). For details, refer to: https://docs.claude.com/en/api/rate-limits.", rateText(q.tokRate, q.tokBurst, "input tokens"), c.req.Model)
	}
	c.writeError(http.StatusTooManyRequests, "rate_limit_error", "", msg, nil)
}

// perMinute reports whether a limit was given per minute (rpm=, tpm=: the burst is the
// limit, the rate a sixtieth of it) rather than per second.
func perMinute(perSec, burst float64) bool {
	return perSec > 0 && math.Abs(perSec*60-burst) < 1e-6
}

// rateText says a limit in the unit the script gave it: "1200 requests per minute", "20
// requests per second".
func rateText(perSec, burst float64, what string) string {
	if perMinute(perSec, burst) {
		return fmt.Sprintf("%d %s per minute", int64(math.Round(burst)), what)
	}
	return fmt.Sprintf("%s %s per second", strconv.FormatFloat(perSec, 'f', -1, 64), what)
}

// openAIUnit is OpenAI's name of a limit's unit: "per min (RPM)" or "per sec (RPS)"; kind is
// "R" (requests) or "T" (tokens).
func openAIUnit(perSec, burst float64, kind string) string {
	if perMinute(perSec, burst) {
		return "per min (" + kind + "PM)"
	}
	return "per sec (" + kind + "PS)"
}

// faultError answers an error, quota or context-overflow rule.
func (c *call) faultError(r *Rule) {
	status, typ, code, msg := r.Status, r.Type, r.Code, r.Message
	var param *string
	switch r.Kind {
	case KindQuota:
		status = http.StatusTooManyRequests
		if c.openai {
			if typ == "" {
				typ = "insufficient_quota"
			}
			if code == "" {
				code = "insufficient_quota"
			}
			if msg == "" {
				msg = "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
			}
		} else {
			if typ == "" {
				typ = "rate_limit_error"
			}
			if code == "" {
				code = "enforced_spend_limit_reached"
			}
			if msg == "" {
				y, m, _ := c.now.UTC().Date()
				next := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
				msg = "You have reached your specified API usage limits. You will regain access on " + next.Format("2006-01-02") + " at 00:00 UTC."
			}
		}
	case KindContextOverflow:
		status = http.StatusBadRequest
		tokens := c.p.inTokens + 200000
		if c.openai {
			if code == "" {
				code = "context_length_exceeded"
			}
			if msg == "" {
				msg = fmt.Sprintf("This model's maximum context length is 128000 tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", tokens)
			}
			p := "messages"
			param = &p
		} else if msg == "" {
			msg = fmt.Sprintf("prompt is too long: %d tokens > 200000 maximum", tokens)
		}
	}
	if r.Kind == KindError && status == http.StatusTooManyRequests && typ == "" && code == "" {
		// A plain scripted 429 is a rate limit as the real APIs send it: the bucket is empty
		// and retry-after says when to come back.
		if r.RetryAfter == "" && r.RetryAfterMS == "" {
			c.set("Retry-After", "1")
		}
		if c.openai {
			c.set("X-Ratelimit-Remaining-Requests", "0")
		} else {
			c.set("Anthropic-Ratelimit-Requests-Remaining", "0")
		}
	}
	c.hintHeaders(r)
	c.writeError(status, typ, code, msg, param)
}

// writeError writes an error body in the provider's shape; empty type and message get the
// provider's usual ones for the status.
func (c *call) writeError(status int, typ, code, msg string, param *string) {
	b := getBuf()
	defer putBuf(b)
	if c.openai {
		*b = openaiError(*b, status, typ, code, msg, param, c.req.Model)
	} else {
		*b = anthropicError(*b, status, typ, code, msg, c.reqID)
	}
	c.writeJSON(status, *b)
}
