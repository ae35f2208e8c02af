//go:build !windows

package fsprobe

import "github.com/google/renameio/v2"

const canCache = true

func writeCache(path string, data []byte) error {
	return renameio.WriteFile(path, data, 0o666)
}
