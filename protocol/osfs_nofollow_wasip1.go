//go:build wasip1

package protocol

import "syscall"

const oNoFollow = syscall.O_NOFOLLOW
