// Package netfs holds the tests that run the lock across two independently
// cached mounts of one directory through the kernel's own NFSv3, NFSv4.2 and
// SMB3 clients (in a QEMU guest) and through rclone's FUSE mounts (on the
// host). It has no API: the tests are in netfs_test.go, the scripts that
// build and start the mounts in scripts/, and .ci/check-netfs.sh runs the
// whole thing and writes FINDINGS.md from the tests' result lines.
//
// The tests skip unless CRYOLOCK_NETFS_PAIRS names the pairs, as
// "name:mountA:mountB" separated by spaces; every pair named in
// CRYOLOCK_NETFS_REQUIRE must be there, or the tests fail.
package netfs
