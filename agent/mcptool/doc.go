// Package mcptool makes the tools of an MCP server (Model Context Protocol, through the official
// Go SDK github.com/modelcontextprotocol/go-sdk) tools of the agent loop (package agent), with
// the loop's effect semantics:
//
//	github, err := mcptool.Connect(ctx, mcptool.Config{
//		Name:    "github",
//		Command: func() *exec.Cmd { return exec.Command("github-mcp-server", "stdio") },
//		Trusted: true, // the operator's decision: believe this server's annotations
//	})
//	...
//	a, err := agent.New(agent.Config{Model: model, Tools: append(own, github.Tools()...)})
//
// # Effects and trust
//
// The spec makes tool annotations hints that a client must not believe from an untrusted
// server, and trust is the operator's configuration per server (Config.Trusted), never the
// server's own claim:
//
//	annotations          untrusted server (default)        trusted server
//	-------------------  --------------------------------  ----------------------------------
//	readOnlyHint         irreversible, approval            agent.ReadOnly (retried, no approval)
//	idempotentHint       irreversible, approval            agent.Idempotent (retried)
//	none, or other       irreversible, approval            irreversible, approval
//
// Config.Effects overrides the effect of a tool by its MCP name, whatever the annotations and
// the trust (most servers annotate nothing); an irreversible tool needs approval either way.
//
// # Failures
//
// Every tool of a server shares one breaker, "mcp/NAME" (Config.Breakers), through the tool's
// pipeline. A call's failure is classified so that the agent decides by class and effect:
//
//	what happened                                  class       the agent then
//	---------------------------------------------  ----------  ------------------------------------
//	result with isError (the tool reported it)     invalid     error result with the tool's text;
//	                                                           not retried, no breaker failure
//	JSON-RPC error: unknown tool, invalid params,  invalid     error result (the call was refused,
//	  method not found, invalid request                        so an irreversible one is not in doubt)
//	JSON-RPC internal error                        transient   retried if read-only or idempotent;
//	                                                           in doubt if irreversible
//	the process died, the connection broke         transient   same; the server is started again
//	                                                           (stdio) or connected to again (HTTP)
//	                                                           by the next call, with Config.Reconnect
//	the call's timeout (Config.Timeout)            timeout     same (the SDK cancels the request)
//	the server cannot be reached again             transient   after Config.Reconnect's attempts
//
// A call in flight when its server died is in doubt: a read-only or idempotent one runs again on
// the new connection, an irreversible one escalates ambiguous_state and never runs again without
// a person (see package agent).
//
// The tools are those the server listed when Connect connected; a tool the server drops later
// answers with an error result (unknown tool).
package mcptool
