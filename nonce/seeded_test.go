package nonce

import "math/rand/v2"

// newSeeded returns a deterministic Source for tests: the same seed always
// yields the same stream.
func newSeeded(seed uint64) Source {
	var s [32]byte
	for i := 0; i < 4; i++ {
		v := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := 0; j < 8; j++ {
			s[i*8+j] = byte(v >> (8 * j))
		}
	}
	return &lockedChaCha{r: rand.NewChaCha8(s)}
}
