//go:build unix && !linux

package protocol

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// readDirFD lists the open directory fd and closes it. Entries whose type
// the listing does not give are described with fstatat on the directory.
func readDirFD(fd int, path string) ([]DirEntry, error) {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]DirEntry, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		err := unix.Fstatat(int(f.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT || err == unix.ESTALE {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, mapErr(&fs.PathError{Op: "lstat", Path: path + "/" + n, Err: err})
		}
		out = append(out, DirEntry{Name: n, Type: modeType(uint32(st.Mode))})
	}
	return out, nil
}
