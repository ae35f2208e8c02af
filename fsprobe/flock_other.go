//go:build !unix

package fsprobe

import "errors"

type flockHeld struct{}

func (h *flockHeld) release() {}

func flockTry(path string) (*flockHeld, error) { return nil, errNoFlock }

func probeFlock(path string) Primitive { return Primitive{Error: errNoFlock.Error()} }

const haveFlock = false

var errNoFlock = errors.New("flock is not available on this platform")
