package fleetredis_test

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/retry"
)

func ExampleNewBudget() {
	// Every process of the fleet builds the same budget (same Name) on its own client; nothing is
	// sent to Redis until the first call.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	budget := fleetredis.NewBudget(rdb, fleetredis.BudgetConfig{Name: "anthropic"})
	policy := retry.Policy{Budget: budget, Name: "anthropic/claude-sonnet-4-6"}
	_ = policy // retry.Do(ctx, policy, callModel)

	// Over a 10 s window the fleet may retry a fifth of the calls it began, never fewer than 3.
	fmt.Println(budget.Limit(0), budget.Limit(40), budget.Limit(1000))
	// Output:
	// 3 8 200
}
