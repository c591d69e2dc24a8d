package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/postgres"
)

// Workers on several machines share runs through one PostgreSQL schema; a run held by a live
// worker is refused to the others with the owner's name and the lease's expiry.
func Example() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.WithSchema("rebound"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	runner := checkpoint.NewRunner(store, checkpoint.Config{})
	err = runner.Run(ctx, "report-001", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return "1. tides", nil
		})
		return err
	})
	fmt.Println(err)
}
