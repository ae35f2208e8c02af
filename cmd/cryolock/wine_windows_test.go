//go:build windows && wine

package main

import _ "unsafe" // for go:linkname

// Wine 8 has no FileDispositionInformationEx, which the os package's
// RemoveAll uses on Windows before its own fallback for old systems: turn
// that fallback on, so that t.TempDir's cleanup works under Wine.
// .ci/check-wine.sh builds with -tags wine -ldflags=-checklinkname=0.
//
//go:linkname osDeleteatFallback internal/syscall/windows.TestDeleteatFallback
var osDeleteatFallback bool

func init() { osDeleteatFallback = true }
