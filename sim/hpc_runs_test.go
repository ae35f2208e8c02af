package sim

import (
	"context"
	"testing"
	"time"
)

// TestMeasureHPCNonPositiveRuns: MeasureHPC of no runs runs none. A
// negative count was turned into 2^64-1 seeds (`cryolock sim hpc --runs
// -1` never ended). The deadline only stops the unfixed loop.
func TestMeasureHPCNonPositiveRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, runs := range []int{0, -1} {
		if r := MeasureHPC(ctx, HPC(), runs); r.Runs != 0 {
			t.Errorf("MeasureHPC(%d runs) made %d runs", runs, r.Runs)
		}
	}
}
