//go:build linux && !cryolock_nolinkname

// An assembly file in the package lets gate_flock_linux.go declare the
// runtime functions it reaches through go:linkname without bodies.
