//go:build !unix || aix

package fsprobe

import (
	"errors"
	"os"
)

type flockHeld struct{}

func (h *flockHeld) release() {}

func flockTry(path string) (*flockHeld, error) { return nil, errNoFlock }

func probeFlock(path string) Primitive { return Primitive{Error: errNoFlock.Error()} }

const haveFlock = false

var errNoFlock = errors.New("flock is not available on this platform")

// nlink returns a file's link count (0: unknown on this platform).
func nlink(fi os.FileInfo) uint64 { return 0 }
