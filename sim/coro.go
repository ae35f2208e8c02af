//go:build !race

package sim

import "iter"

// newCoro returns a function that runs body as a coroutine (iter.Pull)
// until body calls suspend or returns; each call resumes it where it
// suspended. A switch takes tens of nanoseconds, not a trip through the Go
// scheduler as a hand-off over channels does. Race-detector builds use a
// goroutine and channels instead (coro_race.go).
func newCoro(body func(suspend func())) (resume func()) {
	next, _ := iter.Pull(func(yield func(struct{}) bool) {
		body(func() { yield(struct{}{}) })
	})
	return func() { next() }
}
