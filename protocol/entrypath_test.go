package protocol

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/cryolock-go/cryolock/nonce"
)

// TestEntryPath: entryPath is filepath.Join for every clean directory and
// every name classify accepts, roots and dot directories included.
func TestEntryPath(t *testing.T) {
	dirs := []string{"/", "/a", "/a/b.lock", "a", ".", "..", "../..", "a/b.", "/srv/x.lock"}
	if filepath.Separator == '\\' {
		dirs = append(dirs, `C:\`, `C:\a`, `C:.`, `\\host\share\`, `\\host\share\x`)
	}
	for _, dir := range dirs {
		dir = filepath.Clean(filepath.FromSlash(dir))
		for _, name := range []string{"h-1_a.42", "x.-7", "Ab.0"} {
			if _, _, ignore, foreign := classify(DirEntry{Name: name}); ignore || foreign != "" {
				t.Fatalf("classify rejects %q: the test's names must be entries", name)
			}
			if got, want := entryPath(dir, name), filepath.Join(dir, name); got != want {
				t.Errorf("entryPath(%q, %q) = %q, want %q", dir, name, got, want)
			}
		}
	}
}

// unsureFS answers every Stat with an error.
type unsureFS struct{ FS }

func (unsureFS) Stat(Dir, string) (FileInfo, error) { return FileInfo{}, errors.New("no lstat here") }

// TestAttemptClassifyRemembers: scan's classify, which remembers a name's
// parse in the entry's record, says what classify says, also when the same
// name later lists as something else than a regular file.
func TestAttemptClassifyRemembers(t *testing.T) {
	l := &Lock{}
	l.cfg.FS = unsureFS{} // the lstat that checks a foreign verdict fails: the listing's type stands
	a := &attempt{l: l, memory: memory{entries: map[string]*seen{}}}
	for _, d := range []DirEntry{
		{Name: "h_1_abcdefghijkl.42"}, {Name: "h_1_abcdefghijkl-r.-3"}, {Name: "junk"},
		{Name: "h_1_abcdefghijkl.42"}, {Name: "h_1_abcdefghijkl-r.-3"},
		{Name: "h_1_abcdefghijkl.42", Type: fs.ModeDir}, {Name: "h_1_abcdefghijkl-r.-3", Type: fs.ModeNamedPipe},
		{Name: ".nfs123"}, {Name: "h_1_abcdefghijkl.42"},
	} {
		owner, wantTicket, wantIgnore, wantForeign := classify(d)
		wantShared := !wantIgnore && wantForeign == "" && nonce.IsShared(owner)
		if wantIgnore || wantForeign != "" {
			wantTicket = 0
		}
		ticket, shared, ignore, foreign := a.classify(d)
		if ticket != wantTicket || shared != wantShared || ignore != wantIgnore || foreign != wantForeign {
			t.Errorf("%q %v: got %d %v %v %q, want %d %v %v %q", d.Name, d.Type, ticket, shared, ignore, foreign, wantTicket, wantShared, wantIgnore, wantForeign)
		}
	}
	if r := a.entries["h_1_abcdefghijkl-r.-3"]; r == nil || !r.parsed || !r.shared || r.ticket != -3 {
		t.Fatalf("the reader's record: %+v", r)
	}
}
