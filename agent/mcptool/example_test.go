package mcptool_test

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rebound-go/rebound/agent/mcptool"
)

func Example() {
	// A server with a tool that says it is read-only (here in process; a real one is a
	// subprocess, Config.Command, or an HTTP endpoint, Config.URL).
	inMemory := func(ctx context.Context) (mcp.Transport, error) {
		s := mcp.NewServer(&mcp.Implementation{Name: "shop", Version: "1"}, nil)
		mcp.AddTool(s, &mcp.Tool{Name: "lookup_order", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
			func(ctx context.Context, _ *mcp.CallToolRequest, in struct {
				OrderID string `json:"order_id"`
			}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "shipped"}}}, nil, nil
			})
		st, ct := mcp.NewInMemoryTransports()
		_, err := s.Connect(ctx, st, nil)
		return ct, err
	}
	ctx := context.Background()
	for _, trusted := range []bool{false, true} {
		srv, err := mcptool.Connect(ctx, mcptool.Config{Name: "shop", Transport: inMemory, Trusted: trusted})
		if err != nil {
			panic(err)
		}
		for _, t := range srv.Tools() { // agent.Config{Tools: srv.Tools()}
			fmt.Printf("trusted=%v %s: %s\n", trusted, t.Name, t.Effect)
		}
		srv.Close()
	}
	// Output:
	// trusted=false lookup_order: irreversible
	// trusted=true lookup_order: read_only
}
