package locktest

import "golang.org/x/sys/unix"

// Now reads CLOCK_MONOTONIC: one clock for every process of the machine, so
// hold intervals recorded by different processes can be compared.
func Now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}
