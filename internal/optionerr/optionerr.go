// Package optionerr lets the module's own packages make a protocol.Option
// that refuses: package fsprobe's recommendation of a filesystem where the
// lock cannot work makes protocol.New fail instead of applying settings
// that would not make it safe. It adds nothing to the public API.
package optionerr

// Refuse, set by package protocol, returns a protocol.Option (as any, to
// avoid an import cycle) that makes New fail with an error wrapping
// protocol.ErrConfig and err.
var Refuse func(err error) any
