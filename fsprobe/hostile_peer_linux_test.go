package fsprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/protocol"
)

// scrPeerSession opens a two-party session in work's peer directory as run
// does, paired with peer, without a real peer.
func scrPeerSession(t *testing.T, work, peer string) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	o := Options{PeerTimeout: 10 * time.Second}.withDefaults()
	pd := filepath.Join(work, PeerDirName)
	d, err := o.FS.OpenDir(nil, pd, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &session{ctx: ctx, o: o, fs: o.FS, dir: work, pd: pd, d: d, id: randHex(), peer: peer, warned: map[string]bool{}}
}

// The two-party flock test opened the peer's hello file by path, O_RDWR,
// following a symbolic link, without O_NONBLOCK: a hello file planted as a
// link to a root-only file (in a peer directory another user made, with a
// flock marker saying "held") had root open and flock that file. Now the
// file is opened in the peer directory's handle without following a link
// and without blocking, and anything but a regular file with one name is
// refused, with an error naming it. (The peer's id sorts first, so that
// its hello file is the one flocked.)
func TestPeerFlockRefusesPlantedHello(t *testing.T) {
	const peer = "0000000000000000"
	for _, kind := range []string{"symlink", "fifo", "hardlink"} {
		t.Run(kind, func(t *testing.T) {
			work, victim := scrHostileWorld(t)
			pd := filepath.Join(work, PeerDirName)
			plant := map[string]string{
				"symlink":  `ln -s "$2" "$1/hello.$3"`,
				"fifo":     `mkfifo "$1/hello.$3"`,
				"hardlink": `echo x > "$1/own" && ln "$1/own" "$1/hello.$3"`,
			}[kind]
			scrAsNobody(t, `mkdir -m 0777 "$1" && `+plant+` && printf held > "$1/flock.$3"`, pd, victim, peer)
			// Whoever opens and flocks the victim while the test holds
			// its flock is refused: the probe would answer "excluded".
			f, err := os.Open(victim)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			s := scrPeerSession(t, work, peer)
			err = s.flock(false)
			if b, rerr := os.ReadFile(filepath.Join(pd, "flock."+s.id)); rerr == nil {
				t.Errorf("the probe answered %q after flocking hello.%s (a %s)", b, peer, kind)
			}
			s.cleanup()
			if err == nil || !strings.Contains(err.Error(), filepath.Join(pd, "hello."+peer)) || !errors.Is(err, protocol.ErrNotRegular) {
				t.Errorf("flock with hello.%s a %s: err = %v, want ErrNotRegular naming it", peer, kind, err)
			}
			scrVictimIntact(t, victim)
			t.Logf("refused: %v", err)
		})
	}
}

// A peer's id comes from its hello file's name: one the probe never
// generates (hello.0, which sorts first and so named the file flocked) is
// not a peer.
func TestPeerIgnoresMalformedId(t *testing.T) {
	work, _ := scrHostileWorld(t)
	pd := filepath.Join(work, PeerDirName)
	content := []byte(fmt.Sprintf("%d %d", time.Now().UnixNano(), DefaultPeerRounds))
	scrAsNobody(t, `mkdir -m 0777 "$1"`, pd)
	real := randHex()
	for _, n := range []string{"hello.0", "hello." + real, "hello.ZZZZZZZZZZZZZZZZ", "hello." + real + "0", "hello." + strings.ToUpper(real)} {
		if err := os.WriteFile(filepath.Join(pd, n), content, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	s := scrPeerSession(t, work, "")
	defer s.cleanup()
	if err := s.findPeer(); err != nil {
		t.Fatalf("findPeer: %v", err)
	}
	if s.peer != real {
		t.Errorf("paired with %q, want %q", s.peer, real)
	}
}
