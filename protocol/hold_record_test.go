package protocol

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryolock-go/cryolock/nonce"
)

// TestEntryNameInPath: an entry's name, cut from its path, is the name
// nonce's functions make from the same draws: owner (reader form for a
// shared Lock), '.', ticket.
func TestEntryNameInPath(t *testing.T) {
	for _, shared := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "n.cryolock")
		var opts []Option
		if shared {
			opts = append(opts, WithShared())
		}
		l, err := New(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		e := l.newEntryTicket(func() int32 { return -123456789 })
		owner, ticket, ok := nonce.ParseName(e.name)
		if !ok || ticket != -123456789 || e.ticket != ticket || nonce.IsShared(owner) != shared {
			t.Fatalf("entry name %q: owner %q ticket %d ok %v (ticket field %d), shared %v", e.name, owner, ticket, ok, e.ticket, shared)
		}
		// Host and pid as NewOwner writes them (all but the 12 random digits).
		host, pid := l.cfg.Env.Process()
		want, suffix := nonce.NewOwner(nonce.NewCrypto(), host, pid), ""
		if shared {
			suffix = nonce.SharedSuffix
		}
		if owner[:len(owner)-len(suffix)-12] != want[:len(want)-12] || !strings.HasSuffix(owner, suffix) {
			t.Fatalf("owner %q, want the shape of %q", owner, want)
		}
		if e.path != filepath.Join(dir, e.name) {
			t.Fatalf("entry path %q, want %q", e.path, filepath.Join(dir, e.name))
		}
	}
}

// TestLeakRecordFollowsHold: the record the Lock value's cleanup reads
// names the entry while the value holds and nothing after Unlock, so that
// a value dropped after Unlock is not reported; leaked logs only a hold.
func TestLeakRecordFollowsHold(t *testing.T) {
	l, err := New(filepath.Join(t.TempDir(), "k.cryolock"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := l.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := l.leak.get(); got != l.held.path || got == "" {
			t.Fatalf("hold %d: leak record %q, want the entry %q", i, got, l.held.path)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		if got := l.leak.get(); got != "" {
			t.Fatalf("after Unlock %d the leak record still names %q", i, got)
		}
	}
	var buf bytes.Buffer
	x := &leak{logger: slog.New(slog.NewTextHandler(&buf, nil))}
	leaked(x)
	if buf.Len() != 0 {
		t.Fatalf("a value dropped without a hold was reported: %s", buf.String())
	}
	x.set("/d/x.cryolock/e.1")
	leaked(x)
	if !strings.Contains(buf.String(), "stays held") || !strings.Contains(buf.String(), "e.1") {
		t.Fatalf("a dropped hold reported as %q", buf.String())
	}
}

// TestLostChanEitherOrder: the channel of Lost is closed by the loss whether
// it was asked for before or after the loss, and only once.
func TestLostChanEitherOrder(t *testing.T) {
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	before := &entry{}
	c := before.lostChan()
	if closed(c) {
		t.Fatal("closed before the loss")
	}
	before.markLost(errors.New("gone"))
	before.markLost(errors.New("again")) // no second close
	if !closed(c) || before.lostChan() != c {
		t.Fatal("the channel asked for before the loss is not closed by it")
	}
	after := &entry{}
	after.markLost(errors.New("gone"))
	if !closed(after.lostChan()) {
		t.Fatal("the channel asked for after the loss is open")
	}
}

// TestHoldContextAfterEnd: a LockContext context registered after its hold
// ended (Unlock on another goroutine between LockContext's Lock and the
// registration) is cancelled at once, with ErrReleased.
func TestHoldContextAfterEnd(t *testing.T) {
	e := &entry{}
	e.endHold()
	ctx, cancel := context.WithCancelCause(context.Background())
	e.setHoldCancel(cancel)
	if ctx.Err() == nil {
		t.Fatal("the context of a hold that had ended is not cancelled")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrReleased) {
		t.Errorf("cause %v, want ErrReleased", cause)
	}
}
