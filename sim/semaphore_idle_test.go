package sim

import (
	"sort"
	"testing"
	"time"
)

// TestSemaphoreSlotIdleBesideLowerHolder pins down a liveness limit of the
// semaphore rule (docs/PROTOCOL.md §7): a waiter withdraws only before n
// entries with tickets ≥ its own, and an entry does not say whether it holds
// or waits. So two contenders that enter at about the same moment beside a
// single holder of a semaphore of 2 whose ticket is below both see two
// others live, neither sees two higher tickets, and both wait — the second
// slot unused — until the holder releases. The test finds such a stall of
// more than 5 s (4 processes, holds of 20–60 s) in the first 300 seeds; if the rule is
// ever changed to avoid it, this test fails and the paragraph must go.
func TestSemaphoreSlotIdleBesideLowerHolder(t *testing.T) {
	c := Config{Rules: RulesV1, Procs: 4, Acquisitions: 4, Kind: KindSemaphore, Slots: 2}
	c.HoldMin, c.HoldMax = 20*time.Second, 60*time.Second
	c.LongHold = 0
	c.Think = 3 * time.Second
	c = c.WithDefaults()
	for seed := uint64(0); seed < 300; seed++ {
		r := Run(c, seed)
		if r.Failed() {
			t.Fatalf("seed %d: %v", seed, r.Violations[0])
		}
		if d := idleSlotWithWaiters(r.Holds, c.Slots); d > 5*time.Second {
			t.Logf("seed %d: one holder, two waiters for %v", seed, d)
			return
		}
	}
	t.Fatal("no run left a slot idle beside waiters for more than 5 s: update docs/PROTOCOL.md §7 (semaphore liveness) and this test")
}

// idleSlotWithWaiters is the longest span during which fewer than slots
// processes held while at least slots processes waited.
func idleSlotWithWaiters(hs []Hold, slots int) time.Duration {
	var pts []time.Duration
	for _, h := range hs {
		pts = append(pts, h.Start-h.Wait, h.Start, h.End)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	var longest, run time.Duration
	for i := 0; i+1 < len(pts); i++ {
		mid := (pts[i] + pts[i+1]) / 2
		holders, waiters := 0, 0
		for _, h := range hs {
			if h.Start <= mid && mid < h.End {
				holders++
			}
			if h.Start-h.Wait <= mid && mid < h.Start {
				waiters++
			}
		}
		if holders < slots && waiters >= slots {
			run += pts[i+1] - pts[i]
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
