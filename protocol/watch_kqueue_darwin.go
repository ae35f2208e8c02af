//go:build darwin

package protocol

import "golang.org/x/sys/unix"

// oEvtOnly opens the watched directory for event notification only, so
// that the watch does not keep its volume from being unmounted.
const oEvtOnly = unix.O_EVTONLY
