package sim

import (
	"context"
	"testing"
	"time"
)

// TestOwnWriteRefreshes: where a client's own create refreshes its cached
// listing, rules v1 are safe with no settle at all (the create-then-list lag
// is 0, docs/PROOF.md A1); where it patches the cached listing instead, the
// same cache with a settle below it lets two contenders hold (row A1c of the
// audit).
func TestOwnWriteRefreshes(t *testing.T) {
	var row Assumption
	for _, a := range Assumptions() {
		if a.ID == "A1c" {
			row = a
		}
	}
	if row.Dropped == nil {
		t.Fatal("no row A1c")
	}
	if err := row.Holds.InModel(); err != nil {
		t.Fatalf("holds outside the model: %v", err)
	}
	if msg := row.modelErr(); msg != "" {
		t.Fatalf("row A1c: %s", msg)
	}
	ctx := context.Background()
	h := Explore(ctx, row.Holds, ExploreOptions{Schedules: 2000})
	if len(h.Failures) > 0 {
		t.Fatalf("own writes refresh, settle 0: violation %v", h.Failures[0].Violations)
	}
	d := Explore(ctx, *row.Dropped, ExploreOptions{Schedules: minDropped})
	if len(d.Failures) == 0 {
		t.Fatalf("own writes patch the cache, settle %v < cache %v: no violation in %d schedules", row.Dropped.Settle, row.Dropped.Faults.CacheDelta, d.Schedules)
	}
	if row.Dropped.Settle == 0 || row.Dropped.Settle >= row.Dropped.Faults.CacheDelta || row.Holds.Settle != 0 || row.Holds.Faults.CacheDelta < time.Second {
		t.Errorf("row A1c is not the contrast it claims: %s / %s", row.Holds.Summary(), row.Dropped.Summary())
	}
}
