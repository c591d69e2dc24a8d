package mcptool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
)

// list reads the server's tools and makes them agent tools.
func (s *Server) list(ctx context.Context, sess *mcp.ClientSession) error {
	for t, err := range sess.Tools(ctx, nil) {
		if err != nil {
			return err
		}
		name := s.cfg.Prefix + toolName(t.Name)
		if prev, dup := s.names[name]; dup {
			return fmt.Errorf("tools %q and %q are both called %q", prev, t.Name, name)
		}
		s.names[name] = t.Name
		schema := json.RawMessage(`{"type":"object"}`)
		if t.InputSchema != nil {
			b, err := json.Marshal(t.InputSchema)
			if err != nil {
				return fmt.Errorf("tool %q: input schema: %w", t.Name, err)
			}
			schema = b
		}
		effect := Effect(t, s.cfg.Trusted)
		if e, ok := s.cfg.Effects[t.Name]; ok {
			effect = e
		}
		at := agent.Tool{
			Name:        name,
			Description: t.Description,
			Schema:      schema,
			Effect:      effect,
			Handler:     agent.Handle(s.handler(t.Name)),
			Timeout:     s.cfg.Timeout,
			Retry:       s.cfg.Retry,
			Breaker:     s.brk,
		}
		if effect == agent.Irreversible {
			at.Approval = agent.Always()
		}
		s.tools = append(s.tools, at)
	}
	return nil
}

// Effect returns the effect of an MCP tool from its annotations, as Connect gives it: for an
// untrusted server always agent.Irreversible; for a trusted one agent.ReadOnly for
// readOnlyHint, agent.Idempotent for idempotentHint, agent.Irreversible otherwise (no
// annotations included, as the spec's defaults say).
func Effect(t *mcp.Tool, trusted bool) agent.Effect {
	a := t.Annotations
	switch {
	case !trusted || a == nil:
		return agent.Irreversible
	case a.ReadOnlyHint:
		return agent.ReadOnly
	case a.IdempotentHint:
		return agent.Idempotent
	}
	return agent.Irreversible
}

// toolName makes an MCP tool name one every provider accepts.
func toolName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// handler returns the handler of the MCP tool name.
func (s *Server) handler(name string) func(ctx context.Context, call agent.Call, in json.RawMessage) (string, error) {
	return func(ctx context.Context, call agent.Call, in json.RawMessage) (string, error) {
		sess, err := s.session(ctx)
		if err != nil {
			return "", err
		}
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: in})
		if err != nil {
			return "", s.callError(ctx, sess, name, err)
		}
		text := content(res)
		if res.IsError {
			return "", &ToolError{Server: s.cfg.Name, Tool: name, Text: text}
		}
		return text, nil
	}
}

// ToolError is a call's result with isError set: the tool ran and reported a failure, which the
// model is shown as an error result (class invalid: it is not retried, and it is no failure of
// the server for its breaker).
type ToolError struct {
	Server, Tool, Text string
}

// Error returns the tool's text.
func (e *ToolError) Error() string { return e.Text }

// Unwrap gives the error its class.
func (e *ToolError) Unwrap() error {
	return &rebound.Error{Class: rebound.ClassInvalid, Provider: "mcp/" + e.Server, Type: "tool_error", Message: e.Text}
}

// callError classifies a failed tools/call. A JSON-RPC error from the server for the request
// (unknown tool, bad arguments, a method the server lacks) is class invalid: the call was
// refused and did not run. Any other JSON-RPC error (an internal error) is transient: the server
// failed, perhaps after starting the work. A transport failure (the process died, the
// connection broke) is transient, and the session is dropped so that the next call connects
// again; what a call in flight did is then in doubt, and the agent decides by the tool's effect.
// The caller's context ending is returned as it is (timeout or canceled).
func (s *Server) callError(ctx context.Context, sess *mcp.ClientSession, name string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("mcp server %s: tool %s: %w", s.cfg.Name, name, context.Cause(ctx))
	}
	var w *jsonrpc.Error
	if errors.As(err, &w) {
		e := &rebound.Error{Class: rebound.ClassTransient, Provider: "mcp/" + s.cfg.Name, Code: fmt.Sprint(w.Code), Message: w.Message, Err: err}
		switch w.Code {
		case jsonrpc.CodeInvalidParams, jsonrpc.CodeMethodNotFound, jsonrpc.CodeInvalidRequest, jsonrpc.CodeParseError:
			e.Class = rebound.ClassInvalid
		}
		return e
	}
	s.drop(sess)
	return &rebound.Error{Class: rebound.ClassTransient, Provider: "mcp/" + s.cfg.Name, Message: "connection lost: " + err.Error(), Err: err}
}

// content is the text the model is sent of a result: its text blocks, one a line; other blocks
// described; the structured content if there is no text.
func content(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch x := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, x.Text)
		case *mcp.ImageContent:
			parts = append(parts, fmt.Sprintf("[image %s, %d bytes]", x.MIMEType, len(x.Data)))
		case *mcp.AudioContent:
			parts = append(parts, fmt.Sprintf("[audio %s, %d bytes]", x.MIMEType, len(x.Data)))
		case *mcp.ResourceLink:
			parts = append(parts, fmt.Sprintf("[resource %s]", x.URI))
		case *mcp.EmbeddedResource:
			if x.Resource != nil && x.Resource.Text != "" {
				parts = append(parts, x.Resource.Text)
			} else if x.Resource != nil {
				parts = append(parts, fmt.Sprintf("[resource %s]", x.Resource.URI))
			}
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			return string(b)
		}
	}
	return strings.Join(parts, "\n")
}
