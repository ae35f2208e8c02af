package fsprobe

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDurationJSONRange: a number of seconds in a report (a hand-edited one,
// or `cryolock run --config`) is read exactly when a time.Duration can hold
// it, and refused, naming the value, when it cannot — never wrapped around
// into some other duration (1e300 seconds used to read as minus 292 years).
func TestDurationJSONRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: `"1.5s"`, want: 1500 * time.Millisecond},
		{in: `2`, want: 2 * time.Second},
		{in: `0.25`, want: 250 * time.Millisecond},
		{in: `-3`, want: -3 * time.Second},
		{in: `0`, want: 0},
		{in: `9000000000`, want: 9000000000 * time.Second}, // 285 years: fits
		{in: `1e300`, bad: true},
		{in: `-1e300`, bad: true},
		{in: `1e10`, bad: true}, // 317 years: does not fit
		{in: `-1e10`, bad: true},
		{in: `"1e300s"`, bad: true},
		{in: `true`, bad: true},
		{in: `null`, want: 0}, // JSON's "no value", as for every field
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		switch {
		case tc.bad && err == nil:
			t.Errorf("%s: read as %v, want an error", tc.in, d)
		case tc.bad && !strings.Contains(err.Error(), strings.Trim(tc.in, `"`)):
			t.Errorf("%s: error %q does not name the value", tc.in, err)
		case !tc.bad && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case !tc.bad && d.D() != tc.want:
			t.Errorf("%s: read as %v, want %v", tc.in, d, tc.want)
		}
	}
}
