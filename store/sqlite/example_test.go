package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// A run journaled in a SQLite file survives the process: a second runner on the same file finds
// the step recorded and does not run it again.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "rebound-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rebound.db")

	for range 2 { // two "processes", one after the other
		store, err := sqlite.Open(ctx, path)
		if err != nil {
			fmt.Println(err)
			return
		}
		runner := checkpoint.NewRunner(store, checkpoint.Config{})
		err = runner.Run(ctx, "nightly", func(ctx context.Context, run *checkpoint.Run) error {
			n, err := checkpoint.Step(ctx, run, "count", func(ctx context.Context) (int, error) {
				fmt.Println("counting")
				return 42, nil
			})
			fmt.Println("count:", n)
			return err
		})
		fmt.Println("run:", err)
		store.Close()
	}
	// Output:
	// counting
	// count: 42
	// run: <nil>
	// count: 42
	// run: <nil>
}
