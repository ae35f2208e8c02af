//go:build windows

package fsprobe

import "errors"

const canCache = false

func writeCache(path string, data []byte) error {
	return errors.New("fsprobe: report caching is not supported on this platform")
}
