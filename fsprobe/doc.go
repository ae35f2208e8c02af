// Package fsprobe measures what a directory's filesystem really does and
// recommends a safe protocol.Config for a cryolock there.
//
// (Documentation of the measurements and the JSON schema: see below once
// implemented.)
package fsprobe
