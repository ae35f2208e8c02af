// Package netfs holds the tests that run the lock across two independently
// cached mounts of one directory through the kernel's own NFSv3, NFSv4.2 and
// SMB3 clients (in a QEMU guest) and through rclone's FUSE mounts (on the
// host). It has no API: the tests are in netfs_test.go, the scripts that
// build and start the mounts in scripts/, and .ci/check-netfs.sh (run it as
// root on Debian 12: `bash .ci/check-netfs.sh`) sets everything up, runs the
// tests, writes FINDINGS.md from their `netfs-result` lines and tears down.
//
// The tests skip unless CRYOLOCK_NETFS_PAIRS names the pairs, as
// "name:mountA:mountB" separated by spaces (names: nfs3, nfs4, cifs,
// rclone-sftp, rclone-local; sshfs by hand, for the hand-off and peer tests
// on internal/realfs's mounts); every pair named in CRYOLOCK_NETFS_REQUIRE must
// be there, or the tests fail. CRYOLOCK_NETFS_WHERE=guest (set by
// scripts/vm-run.sh) says they run in the emulated guest: their CPU figures
// are then also given as a native estimate.
package netfs
