//go:build dragonfly || freebsd || netbsd || openbsd

package protocol

// oEvtOnly is macOS's; elsewhere the watched directory is opened O_RDONLY.
const oEvtOnly = 0
