package protocol

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestFenceTornWrites: whatever prefix of a slot write reaches the disk, the
// next token is greater than every token handed out before.
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
		for i := 0; i < 3; i++ { // tokens 1, 2, 3: slot b holds 2, a holds 3
			if err := l.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			l.Unlock()
		}
		// The next update writes over slot b (the older); tear it.
		b := filepath.Join(dir, MetaDir, "fence.b")
		if err := os.WriteFile(b, full[:cut], 0o666); err != nil {
			t.Fatal(err)
		}
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if got := l.Token(); got != 4 {
			t.Fatalf("torn at %d: next token %d, want 4", cut, got)
		}
		l.Unlock()
	}
	// Garbage in both slots is not a token.
	for _, junk := range []string{"", "cryolock-fence 1 9\n", "cryolock-fence 1 9 0\n", "hello"} {
		if _, ok := decodeFence([]byte(junk)); ok {
			t.Errorf("decodeFence(%q) accepted", junk)
		}
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
