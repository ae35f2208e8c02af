package nonce

import (
	"math"
	"testing"
	"time"
)

// TestOrderedTickets: blind tickets are below zero, queued tickets above
// the highest live one and above every blind ticket, growing with the time
// waited; none overflows.
func TestOrderedTickets(t *testing.T) {
	src := newSeeded(1)
	for i := 0; i < 10000; i++ {
		if b := BlindTicket(src); b >= 0 {
			t.Fatalf("blind ticket %d is not below zero", b)
		}
	}
	for _, highest := range []int32{math.MinInt32, -5, -1, 0, 7, 1 << 20} {
		q, ok := QueuedTicket(src, highest, 0)
		if !ok || q <= highest || q < 0 {
			t.Fatalf("QueuedTicket above %d = %d, %v", highest, q, ok)
		}
	}
	// Waiting longer draws a higher ticket, whatever the random bits.
	short, _ := QueuedTicket(src, 100, 10*time.Millisecond)
	long, _ := QueuedTicket(src, 100, 20*time.Millisecond)
	if long <= short {
		t.Fatalf("waited 20ms: %d, not above waited 10ms: %d", long, short)
	}
	// Near the top there is no room: QueuedTicket says so instead of wrapping.
	if _, ok := QueuedTicket(src, math.MaxInt32-10, time.Hour); ok {
		t.Fatal("QueuedTicket overflowed")
	}
	if QueueRoom(math.MaxInt32-10) || !QueueRoom(0) {
		t.Fatal("QueueRoom wrong")
	}
	// Every ticket is a valid 1.x name.
	for _, tk := range []int32{BlindTicket(src), short, long} {
		if _, got, ok := ParseName(FormatName("o", tk)); !ok || got != tk {
			t.Fatalf("ticket %d does not round-trip through a name", tk)
		}
	}
}
