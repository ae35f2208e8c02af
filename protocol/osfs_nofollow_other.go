//go:build !unix && !wasip1

package protocol

// oNoFollow is 0 where os.OpenFile has no O_NOFOLLOW: the Lstat just before
// the open is the only check.
const oNoFollow = 0
