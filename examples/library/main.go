// Library is the README's "Using the library" program: a report written step by step by an
// LLM, each step asking for its own part, then publication, which waits for a person's approval.
// report.go holds the README's lines exactly (a test keeps them in step).
//
// Against the fake LLM:
//
//	go run ./cmd/rebound fakellm --addr 127.0.0.1:8089 &
//	ANTHROPIC_BASE_URL=http://127.0.0.1:8089 ANTHROPIC_API_KEY=test go run ./examples/library
//
// The first run stops at publish (exit 3); after `rebound escalations resolve ID --action
// approve --by you` the same command resumes it and publishes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/rebound-go/rebound/checkpoint"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	publish := func(ctx context.Context) (string, error) {
		fmt.Println("published report-001")
		return "report-001", nil
	}
	err := writeReport(ctx, "report-001", "durable LLM agents", publish)
	switch {
	case errors.Is(err, checkpoint.ErrEscalated):
		fmt.Fprintln(os.Stderr, "library:", err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "library:", err)
		os.Exit(1)
	}
}
