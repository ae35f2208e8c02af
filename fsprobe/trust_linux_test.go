package fsprobe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startImpostor starts, as uid (through setpriv unless uid is 0), a
// process whose argv[0] is rclone and whose arguments are those of an
// rclone mount of mountPoint with --dir-cache-time 0, and waits until
// /proc shows it with that command line and uid.
func startImpostor(t *testing.T, mountPoint string, uid int) int {
	t.Helper()
	script := `exec -a rclone bash -c "sleep 30; :" mount remote: "$0" --dir-cache-time 0 --attr-timeout 0`
	var cmd *exec.Cmd
	if uid == 0 {
		cmd = exec.Command("bash", "-c", script, mountPoint)
	} else {
		u := strconv.Itoa(uid)
		cmd = exec.Command("setpriv", "--reuid="+u, "--regid="+u, "--clear-groups", "--", "bash", "-c", script, mountPoint)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start the impostor: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pd := filepath.Join("/proc", strconv.Itoa(pid))
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(pd, "cmdline"))
		got, known := procRealUID(pd)
		if bytes.HasPrefix(b, []byte("rclone\x00")) && bytes.Contains(b, []byte(mountPoint)) && known && got == uid {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the impostor (pid %d) did not show up in /proc: cmdline %q", pid, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRcloneImpostorProc: another user's process disguised as `rclone
// mount` of a root-owned rclone mount, in the real /proc, does not set the
// cache times; the same process run by root (the mount's owner) does.
func TestRcloneImpostorProc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	for _, c := range []struct {
		name    string
		uid     int
		trusted bool
	}{{"nobody", 65534, false}, {"root", 0, true}} {
		t.Run(c.name, func(t *testing.T) {
			mp := filepath.Join(t.TempDir(), "mnt-"+c.name)
			pid := startImpostor(t, mp, c.uid)
			line := "49 27 0:59 / " + mp + " rw,nosuid,nodev - fuse.rclone remote: rw,user_id=0,group_id=0"
			m := parseMountinfo(strings.NewReader(line), mp)
			f := Filesystem{Type: m.FSType, Mount: m, Remote: true}
			cacheTimesFrom(&f, "/proc")
			believed := strings.Contains(f.DirCacheSource, "pid "+strconv.Itoa(pid))
			if believed != c.trusted {
				t.Fatalf("process of uid %d believed: %v, want %v (dir %v: %s)", c.uid, believed, c.trusted, f.DirCache, f.DirCacheSource)
			}
			if c.trusted {
				if f.DirCache != 0 {
					t.Errorf("root's rclone says --dir-cache-time 0, got %v", f.DirCache)
				}
				return
			}
			if f.DirCache.D() != rcloneDirCacheDefault {
				t.Errorf("dir cache %v, want rclone's default %v", f.DirCache, rcloneDirCacheDefault)
			}
			rec := Recommend(Report{Filesystem: f, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}})
			unsafe := false
			for _, w := range rec.Warnings {
				unsafe = unsafe || strings.Contains(w, "UNSAFE")
			}
			if rec.Settle.D() < rcloneDirCacheDefault || !unsafe {
				t.Errorf("settle %v, UNSAFE warning %v", rec.Settle, unsafe)
			}
		})
	}
}

// TestRemoteMagicWithoutMountinfo: a network filesystem identified by its
// statfs magic alone (no /proc/self/mountinfo) gets the conservative
// cache times, so a settle above 0, not none.
func TestRemoteMagicWithoutMountinfo(t *testing.T) {
	for _, magic := range []uint64{0x6969, 0xff534d42, 0xfe534d42} {
		f := Filesystem{Magic: "0x" + strconv.FormatUint(magic, 16), MagicName: magicNames[magic]}
		classify(&f)
		if !f.Remote {
			t.Errorf("%s: not remote", f.MagicName)
		}
		rec := Recommend(Report{Filesystem: f, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}})
		if rec.Settle.D() < unknownDirCache || f.DirCache.D() < unknownDirCache || f.AttrCache.D() < unknownDirCache {
			t.Errorf("%s: settle %v (dir cache %v, attr cache %v [%s]), want at least %v", f.MagicName, rec.Settle, f.DirCache, f.AttrCache, f.DirCacheSource, unknownDirCache)
		}
	}
	// With its mount entry, NFS keeps the cache times its options declare.
	f := Filesystem{Magic: "0x6969", MagicName: "nfs", Mount: parseMountinfo(strings.NewReader("40 27 0:50 / /mnt/nfs rw - nfs4 srv:/e rw,actimeo=3"), "/mnt/nfs")}
	classify(&f)
	if f.DirCache.D() != 3*time.Second {
		t.Errorf("nfs with actimeo=3: dir cache %v", f.DirCache)
	}
}
