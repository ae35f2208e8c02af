//go:build unix

package fsprobe

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// processGone reports whether no process pid exists on this host.
func processGone(pid int) bool {
	return unix.Kill(pid, 0) == unix.ESRCH
}

// removeScratch removes dir/name if it is a directory (not a link) for
// whose mtime abandoned says yes and that holds only what a probe creates.
// Every step is relative to a handle on the scratch directory opened
// without following links, so swapping it for a link redirects nothing.
func removeScratch(dir, name string, abandoned func(mtime time.Time) bool) bool {
	pfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(pfd)
	sfd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if unix.Fstat(sfd, &st) != nil || !abandoned(time.Unix(st.Mtim.Unix())) {
		return false
	}
	names, ok := listFD(sfd)
	if !ok {
		return false
	}
	var files, dirs []string
	for _, n := range names {
		if unix.Fstatat(sfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return false
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFREG && scratchFileOK(n):
			files = append(files, n)
		case st.Mode&unix.S_IFMT == unix.S_IFDIR && scratchDirOK(n):
			dfd, err := unix.Openat(sfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return false
			}
			sub, ok := listFD(dfd)
			unix.Close(dfd)
			if !ok || len(sub) != 0 {
				return false
			}
			dirs = append(dirs, n)
		default:
			return false // not the probe's: leave the whole directory
		}
	}
	for _, n := range files {
		unix.Unlinkat(sfd, n, 0)
	}
	for _, n := range dirs {
		unix.Unlinkat(sfd, n, unix.AT_REMOVEDIR) // fails, harmlessly, if no longer empty
	}
	return unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR) == nil
}

// listFD lists the directory open at fd (which it leaves open).
func listFD(fd int) ([]string, bool) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, false
	}
	f := os.NewFile(uintptr(dup), "scratch")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	return names, err == nil
}
