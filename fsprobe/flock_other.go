//go:build !unix || aix

package fsprobe

import (
	"errors"
)

type flockHeld struct{}

func (h *flockHeld) release() {}

func flockTry(x *xdir, name string) (*flockHeld, error) { return nil, errNoFlock }

func probeFlock(x *xdir, name string) Primitive { return Primitive{Error: errNoFlock.Error()} }

const haveFlock = false

var errNoFlock = errors.New("flock is not available on this platform")
