//go:build race

package sim

// newCoro is coro.go's with a goroutine and two channels: under the race
// detector every iter.Pull coroutine leaves about 5 KB of the detector's
// memory behind when it ends (gigabytes over the package's tests); a
// goroutine does not. The schedule is the same: only the switch differs.
func newCoro(body func(suspend func())) (resume func()) {
	wake, back := make(chan struct{}), make(chan struct{})
	started := false
	return func() {
		if !started {
			started = true
			go func() {
				<-wake
				body(func() {
					back <- struct{}{}
					<-wake
				})
				back <- struct{}{}
			}()
		}
		wake <- struct{}{}
		<-back
	}
}
