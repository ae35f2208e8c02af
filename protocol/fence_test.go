package protocol

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestFenceTornWrites: a token file torn at any byte (its writer crashed
// mid-write, maybe after handing the token out) still counts by its name,
// and a torn slot of the earlier layout is ignored: the next token is
// greater than every token that may have been handed out.
func TestFenceTornWrites(t *testing.T) {
	full := encodeFence(4)
	if tok, ok := decodeFence(full); !ok || tok != 4 {
		t.Fatalf("decodeFence(encodeFence(4)) = %d, %v", tok, ok)
	}
	for cut := 0; cut < len(full); cut++ {
		if _, ok := decodeFence(full[:cut]); ok {
			t.Fatalf("a slot torn at byte %d decodes", cut)
		}
		dir := filepath.Join(t.TempDir(), "t.cryolock")
		l, err := New(dir, WithFencing(FencingSlots))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := 0; i < 3; i++ { // tokens 1, 2, 3: fence.3 is left
			if err := l.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			l.Unlock()
		}
		meta := filepath.Join(dir, MetaDir)
		if names, _ := filepath.Glob(filepath.Join(meta, "fence.*")); len(names) != 1 || filepath.Base(names[0]) != "fence.3" {
			t.Fatalf("after tokens 1-3: %v, want only fence.3 (the files below the greatest removed)", names)
		}
		// Token 4's writer crashed mid-write; an old slot is torn too.
		if err := os.WriteFile(filepath.Join(meta, "fence.4"), full[:cut], 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(meta, "fence.b"), encodeFence(9)[:cut], 0o666); err != nil {
			t.Fatal(err)
		}
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if got := l.Token(); got != 5 {
			t.Fatalf("torn at %d: next token %d, want 5", cut, got)
		}
		l.Unlock()
	}
	// Garbage is not a token; names other than fence.<n> are not token files.
	for _, junk := range []string{"", "cryolock-fence 1 9\n", "cryolock-fence 1 9 0\n", "hello"} {
		if _, ok := decodeFence([]byte(junk)); ok {
			t.Errorf("decodeFence(%q) accepted", junk)
		}
	}
	for _, name := range []string{"fence", "fence.", "fence.a", "fence.01", "fence.1x", "fence.-1", "fence.18446744073709551616", "xfence.1"} {
		if _, ok := fenceFileToken(name); ok {
			t.Errorf("fenceFileToken(%q) accepted", name)
		}
	}
	if tok, ok := fenceFileToken("fence.18446744073709551615"); !ok || tok != 18446744073709551615 {
		t.Errorf("fenceFileToken of the greatest token: %d, %v", tok, ok)
	}
}

// TestFenceRenamedFileStillCounts: .meta/fence, written by the rename mode
// of earlier versions, is still read, so tokens never go backwards.
func TestFenceRenamedFileStillCounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r.cryolock")
	if err := os.MkdirAll(filepath.Join(dir, MetaDir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetaDir, "fence"), encodeFence(41), 0o666); err != nil {
		t.Fatal(err)
	}
	l, _ := New(dir, WithFencing(FencingSlots))
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if tok := l.Token(); tok != 42 {
		t.Fatalf("token %d after a renamed fence of 41, want 42", tok)
	}
}
