package postgres_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rebound-go/rebound/agent/agenttest"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/postgres"
)

func TestMain(m *testing.M) {
	checkpointtest.CrashMain(openDSN)
	agenttest.CrashMain(openDSN)
	goleak.VerifyTestMain(m)
}

// openDSN opens "SCHEMA URL".
func openDSN(ctx context.Context, dsn string) (checkpoint.Store, func(), error) {
	schema, url, _ := strings.Cut(dsn, " ")
	s, err := postgres.Open(ctx, url, postgres.WithSchema(schema), postgres.WithMaxConns(4))
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

// TestCrash kills a child process with SIGKILL at each persistence boundary (25 random points
// each) and resumes the run in a new process.
func TestCrash(t *testing.T) {
	s := open(t) // creates the schema and drops it at the end
	counts := checkpointtest.Crash(t, s.Schema()+" "+databaseURL(t), openDSN, 25, 4)
	checkpointtest.LogCrashCounts(t, "postgres", counts)
}

// TestAgentCrash kills an agent's child process with SIGKILL at each persistence boundary
// inside its tool steps (25 random calls each) and resumes the run in a new process: no
// irreversible call runs twice, one in doubt escalates, an idempotent one re-runs with its key.
func TestAgentCrash(t *testing.T) {
	s := open(t)
	counts := agenttest.Crash(t, s.Schema()+" "+databaseURL(t), openDSN, 25, 4)
	agenttest.LogCounts(t, "postgres", counts)
	for b, c := range counts {
		if c.IrreversibleTwice != 0 || c.TurnsAskedAgain != 0 || c.Killed != c.Trials {
			t.Errorf("%s: %+v", b, *c)
		}
	}
}
