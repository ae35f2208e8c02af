//go:build unix

package main

import "testing"

// TestChooseTerminal: run hands CMD's group the terminal it is in the
// foreground of, but not as a background job of a shell without job
// control (SIGINT ignored at start, stdin not a terminal), whose process
// group is the script's own foreground group.
func TestChooseTerminal(t *testing.T) {
	t.Parallel()
	const me, other = 100, 200
	none := [3]int{-1, -1, -1}
	for _, tc := range []struct {
		name          string
		fg            [3]int
		sigintIgnored bool
		stdinTTY      bool
		want          int
	}{
		{"foreground on stdin", [3]int{me, me, me}, false, true, 0},
		{"foreground, stdin redirected", [3]int{-1, me, me}, false, false, 1},
		{"foreground, only stderr", [3]int{-1, -1, me}, false, false, 2},
		{"background job of an interactive shell", [3]int{other, other, other}, false, true, -1},
		{"no terminal", none, false, false, -1},
		{"no terminal, SIGINT ignored", none, true, false, -1},
		{"foreground with trap '' INT", [3]int{me, me, me}, true, true, 0},
		// sh -c "cryolock run L -- cmd & ...": the script's group is the
		// terminal's foreground group, stdin is /dev/null, SIGINT ignored.
		{"background job of a script", [3]int{-1, me, me}, true, false, -1},
		{"background job of a script, stdin a file", [3]int{-1, me, -1}, true, false, -1},
		// SIGINT ignored (nohup does not ignore it, but a caller may) with
		// stdin redirected yet not a background job: indistinguishable, the
		// terminal stays with run's group.
		{"SIGINT ignored, stdin a terminal not the controlling one", [3]int{-1, me, me}, true, true, 1},
	} {
		if got := chooseTerminal(me, tc.fg, tc.sigintIgnored, tc.stdinTTY); got != tc.want {
			t.Errorf("%s: chooseTerminal(%d, %v, sigintIgnored %v, stdinTTY %v) = %d, want %d", tc.name, me, tc.fg, tc.sigintIgnored, tc.stdinTTY, got, tc.want)
		}
	}
}
