package protocol

import (
	"bytes"
	"testing"
)

// FuzzDecodeFence checks the parser of fencing-token files (the earlier
// layouts' .meta/fence.a, fence.b and fence, which still count: files anyone
// who can write the lock directory may rewrite):
//   - no panic;
//   - every token round-trips through encodeFence;
//   - no proper prefix of a slot (a torn write) decodes;
//   - a slot with one byte changed never decodes to another token;
//   - whatever decodes, its canonical encoding decodes to the same token.
func FuzzDecodeFence(f *testing.F) {
	for _, tok := range []uint64{0, 1, 41, 1 << 32, 1<<64 - 1} {
		f.Add(encodeFence(tok), tok, uint16(3), byte('x'))
	}
	f.Add([]byte("cryolock-fence 1 007 0\n"), uint64(7), uint16(0), byte(0))
	f.Add([]byte(""), uint64(0), uint16(0), byte('\n'))
	f.Fuzz(func(t *testing.T, b []byte, tok uint64, at uint16, c byte) {
		if got, ok := decodeFence(b); ok {
			if g2, ok2 := decodeFence(encodeFence(got)); !ok2 || g2 != got {
				t.Fatalf("decodeFence(%q) = %d, but its canonical form %q decodes as %d, %v", b, got, encodeFence(got), g2, ok2)
			}
		}
		enc := encodeFence(tok)
		if got, ok := decodeFence(enc); !ok || got != tok {
			t.Fatalf("encodeFence(%d) = %q decodes as %d, %v", tok, enc, got, ok)
		}
		i := int(at) % len(enc)
		if _, ok := decodeFence(enc[:i]); ok {
			t.Fatalf("the torn slot %q decodes", enc[:i])
		}
		mut := bytes.Clone(enc)
		mut[i] = c
		if got, ok := decodeFence(mut); ok && got != tok {
			t.Fatalf("slot %q with byte %d changed to %q decodes to %d, not %d", enc, i, c, got, tok)
		}
	})
}
