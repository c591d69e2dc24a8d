package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/rebound-go/rebound/agent/agenttest"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/sqlite"
)

func TestMain(m *testing.M) {
	checkpointtest.CrashMain(openDSN)
	agenttest.CrashMain(openDSN)
	goleak.VerifyTestMain(m)
}

func openDSN(ctx context.Context, path string) (checkpoint.Store, func(), error) {
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// TestCrash kills a child process with SIGKILL at each persistence boundary (25 random points
// each) and resumes the run in a new process.
func TestCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	counts := checkpointtest.Crash(t, path, openDSN, 25, 4)
	checkpointtest.LogCrashCounts(t, "sqlite", counts)
}

// TestAgentCrash kills an agent's child process with SIGKILL at each persistence boundary
// inside its tool steps (25 random calls each) and resumes the run in a new process: no
// irreversible call runs twice, one in doubt escalates, an idempotent one re-runs with its key.
func TestAgentCrash(t *testing.T) {
	counts := agenttest.Crash(t, filepath.Join(t.TempDir(), "agentcrash.db"), openDSN, 25, 4)
	agenttest.LogCounts(t, "sqlite", counts)
	for b, c := range counts {
		if c.IrreversibleTwice != 0 || c.TurnsAskedAgain != 0 || c.Killed != c.Trials {
			t.Errorf("%s: %+v", b, *c)
		}
	}
}
