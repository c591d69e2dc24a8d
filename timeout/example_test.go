package timeout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/timeout"
)

func Example() {
	slow := func(ctx context.Context) (string, error) {
		select {
		case <-time.After(time.Minute):
			return "late answer", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	_, err := timeout.Do(context.Background(), time.Millisecond, slow)
	c, _ := rebound.Classify(err)
	fmt.Println(c, rebound.Retriable(err))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller gives up
	_, err = timeout.Do(ctx, time.Millisecond, slow)
	c, _ = rebound.Classify(err)
	fmt.Println(c, rebound.Retriable(err))
	// Output:
	// timeout true
	// canceled false
}
