//go:build windows

package fsprobe

import (
	"strings"

	"golang.org/x/sys/windows"
)

// identify fills what Windows says about the volume holding dir: the
// filesystem's name from GetVolumeInformation ("NTFS", "ReFS", "FAT32",
// "exFAT"; a share reports the server's filesystem) and whether it is
// remote: a UNC path (\\server\share\...) or a volume whose drive type is
// DRIVE_REMOTE (a mapped network drive). A remote volume is an SMB (or
// WebDAV, NFS) share whose client caches directory listings and attributes.
func identify(dir string) Filesystem {
	root, err := volumeRoot(dir)
	if err != nil {
		return Filesystem{Type: unknownType}
	}
	f := Filesystem{Type: unknownType, Mount: &Mount{MountPoint: root, Root: `\`, Source: root}}
	if name, err := volumeFSName(root); err == nil && name != "" {
		f.Type = strings.ToLower(name)
		f.Mount.FSType = f.Type
	}
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return Filesystem{Type: unknownType}
	}
	drive := windows.GetDriveType(p)
	unc := strings.HasPrefix(root, `\\`) && !strings.HasPrefix(root, `\\?\`) && !strings.HasPrefix(root, `\\.\`)
	f.Remote = unc || drive == windows.DRIVE_REMOTE
	if f.Remote {
		// The server's filesystem, seen through the redirector.
		if f.Type == unknownType {
			f.Type = "remote"
		} else {
			f.Type = "remote:" + f.Type
		}
		f.Mount.FSType = f.Type
		// The SMB2/3 client's defaults (LanmanWorkstation parameters
		// DirectoryCacheLifetime and FileInfoCacheLifetime, 10 s each);
		// the registry, which may change them, is not read.
		f.AttrCache, f.AttrCacheSource = Duration(smbClientCache), "Windows SMB client default FileInfoCacheLifetime=10, assumed: the registry is not read"
		f.DirCache, f.DirCacheSource = Duration(smbClientCache), "Windows SMB client default DirectoryCacheLifetime=10, assumed: the registry is not read"
	} else if drive == windows.DRIVE_UNKNOWN || drive == windows.DRIVE_NO_ROOT_DIR {
		return Filesystem{Type: unknownType}
	}
	return f
}

// volumeRoot is the root of the volume holding path ("C:\",
// "\\server\share\", or a mounted folder).
func volumeRoot(path string) (string, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return "", err
	}
	buf := make([]uint16, windows.MAX_LONG_PATH)
	if err := windows.GetVolumePathName(p, &buf[0], uint32(len(buf))); err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf), nil
}

// volumeFSName is the filesystem name GetVolumeInformation reports for a
// volume root.
func volumeFSName(root string) (string, error) {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return "", err
	}
	var name [windows.MAX_PATH + 1]uint16
	if err := windows.GetVolumeInformation(p, nil, 0, nil, nil, nil, &name[0], uint32(len(name))); err != nil {
		return "", err
	}
	return windows.UTF16ToString(name[:]), nil
}
