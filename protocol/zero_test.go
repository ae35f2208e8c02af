package protocol_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// TestZeroValues: a Lock or Reentrant not made by New (a zero value, as in
// a struct field someone forgot to set) does not panic with a nil pointer
// nor, for Reentrant, block until the context ends: acquiring returns an
// error wrapping ErrConfig at once, releasing one wrapping ErrNotHeld, and
// the accessors report "not held".
func TestZeroValues(t *testing.T) {
	t.Parallel()
	// The deadline only ends a hang of the unfixed code; a correct
	// answer comes at once and is not DeadlineExceeded.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name string
		want error
		call func() error
	}{
		{"Lock", protocol.ErrConfig, func() error { return new(protocol.Lock).Lock(ctx) }},
		{"TryLock", protocol.ErrConfig, func() error {
			ok, err := new(protocol.Lock).TryLock(ctx)
			if ok {
				t.Error("TryLock of a zero Lock reports the lock taken")
			}
			return err
		}},
		{"LockContext", protocol.ErrConfig, func() error {
			hctx, err := new(protocol.Lock).LockContext(ctx)
			if hctx != nil {
				t.Error("LockContext of a zero Lock returned a context")
			}
			return err
		}},
		{"LockAll", protocol.ErrConfig, func() error { return protocol.LockAll(ctx, new(protocol.Lock)) }},
		{"Unlock", protocol.ErrNotHeld, func() error { return new(protocol.Lock).Unlock() }},
		{"UnlockContext", protocol.ErrNotHeld, func() error { return new(protocol.Lock).UnlockContext(ctx) }},
		{"Reentrant.Lock", protocol.ErrConfig, func() error {
			_, err := new(protocol.Reentrant).Lock(ctx)
			return err
		}},
		{"Reentrant.Unlock", protocol.ErrNotHeld, func() error { return new(protocol.Reentrant).Unlock() }},
		{"accessors", nil, func() error {
			var l protocol.Lock
			if l.Held() || l.Name() != "" || l.Token() != 0 || l.Lost() != nil || l.Path() != "" {
				t.Error("a zero Lock reports a hold")
			}
			var r protocol.Reentrant
			if r.Depth() != 0 || r.Lost() != nil {
				t.Error("a zero Reentrant reports a hold")
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				err = tc.call()
			}()
			if tc.want == nil {
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want it to wrap %v", err, tc.want)
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Errorf("err = %v (%T), want a *protocol.Error", err, err)
			}
		})
	}
}
