package escalate_test

import (
	"testing"

	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/escalate/escalatetest"
)

func openMemory(testing.TB) escalatetest.Harness {
	return escalatetest.Harness{Store: escalate.NewMemoryStore()}
}

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	escalatetest.Run(t, openMemory)
}

func BenchmarkMemoryEscalateClaimResolve(b *testing.B) {
	escalatetest.Bench(b, openMemory)
}
