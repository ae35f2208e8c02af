package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{".25", 250 * time.Millisecond, true},
		{"3.", 3 * time.Second, true},
		{"0", 0, true},
		{" 2 ", 2 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"-1", 0, false},
		{"-1s", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{".", 0, false},
		{"1.2.3", 0, false},
		{"", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, err := parseSeconds(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		none bool
		ok   bool
	}{
		{"10s", 10 * time.Second, false, true},
		{"2.5", 2500 * time.Millisecond, false, true},
		{"1s", time.Second, false, true},
		{"24h", 24 * time.Hour, false, true},
		{"none", 0, true, true},
		{"None", 0, true, true},
		{"999ms", 0, false, false},
		{"1ms", 0, false, false},
		{"0", 0, false, false},
		{"24h0m0.001s", 0, false, false},
		{"2000000h", 0, false, false},
	} {
		d, none, err := parseLease(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (d != tc.want || none != tc.none)) {
			t.Errorf("parseLease(%q) = %v, %v, %v; want %v, %v, ok %v", tc.in, d, none, err, tc.want, tc.none, tc.ok)
		}
		if err != nil && strings.Contains(tc.in, "h") && !errors.Is(err, errLeaseRange) && tc.in != "2000000h" {
			t.Errorf("parseLease(%q): %v does not wrap errLeaseRange", tc.in, err)
		}
	}
}

// FuzzParseSeconds: parseSeconds never panics, accepts only non-negative
// durations, agrees with time.ParseDuration on what that accepts, and reads
// plain decimals as seconds.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"5", "0.5", "1m30s", "-1", "1e3", ".", "", "9223372036", "9223372037", "0.0000000005"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSeconds(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("parseSeconds(%q) = %v, negative", s, d)
		}
		t2 := strings.TrimSpace(s)
		if isDecimal(t2) {
			return
		}
		want, err := time.ParseDuration(t2)
		if err != nil || want != d {
			t.Fatalf("parseSeconds(%q) = %v; time.ParseDuration says %v, %v", s, d, want, err)
		}
	})
}

// FuzzParseLease: a lease that parses is "none" or lies in
// [minLease, maxLease], and its String form parses back to itself.
func FuzzParseLease(f *testing.F) {
	for _, s := range []string{"10s", "none", "None", "1ms", "2000000h", "2.5", "24h", "1s", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, none, err := parseLease(s)
		if err != nil {
			return
		}
		if none {
			if d != 0 {
				t.Fatalf("parseLease(%q) = none with %v", s, d)
			}
			return
		}
		if d < minLease || d > maxLease {
			t.Fatalf("parseLease(%q) = %v, outside %v..%v", s, d, minLease, maxLease)
		}
		d2, none2, err := parseLease(d.String())
		if err != nil || none2 || d2 != d {
			t.Fatalf("parseLease(%q) = %v, but %q parses as %v, %v, %v", s, d, d.String(), d2, none2, err)
		}
	})
}

// FuzzParseRange: a range that parses has 0 <= min <= max, and a single
// value gives min == max.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"1ms..10ms", "5", "0.1..2", "10ms..1ms", "..", "1s..", "-1s..2s", "1..2..3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := parseRange(s)
		if err != nil {
			return
		}
		if lo < 0 || hi < lo {
			t.Fatalf("parseRange(%q) = %v..%v", s, lo, hi)
		}
		if !strings.Contains(s, "..") && lo != hi {
			t.Fatalf("parseRange(%q) = %v..%v for a single value", s, lo, hi)
		}
	})
}
