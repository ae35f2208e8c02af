package nonce

import (
	"strings"
	"testing"
)

func TestOwnerRoundTrip(t *testing.T) {
	src := newSeeded(1)
	for _, host := range []string{"web-1.example.org", "", "a_b", strings.Repeat("h", 80), "ünïcode"} {
		o := NewOwner(src, host, 4242)
		if !ValidOwner(o) || strings.Contains(o, ".") {
			t.Fatalf("NewOwner(%q) = %q: not a valid owner", host, o)
		}
		info, ok := ParseOwner(o)
		if !ok || info.Pid != 4242 || info.Shared {
			t.Fatalf("ParseOwner(%q) = %+v, %v", o, info, ok)
		}
		r := SharedOwner(o)
		if !ValidOwner(r) || !IsShared(r) || IsShared(o) {
			t.Fatalf("shared form %q: valid %v shared %v", r, ValidOwner(r), IsShared(r))
		}
		if info, ok := ParseOwner(r); !ok || !info.Shared {
			t.Fatalf("ParseOwner(%q) = %+v, %v", r, info, ok)
		}
	}
	// Owners of other shapes are never shared, never parsed.
	for _, o := range []string{"r", "x-r", "host_1_abc-r", "f81d4fae7dec11d0a76500a0c91e6bf6"} {
		if IsShared(o) {
			t.Errorf("IsShared(%q)", o)
		}
	}
}

func TestOwnersDiffer(t *testing.T) {
	a, b := NewCrypto(), NewCrypto()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		for _, s := range []Source{a, b} {
			o := NewOwner(s, "h", 1)
			if seen[o] {
				t.Fatalf("owner %q made twice", o)
			}
			seen[o] = true
		}
	}
}

func TestSeededIsDeterministic(t *testing.T) {
	x, y := newSeeded(7), newSeeded(7)
	for i := 0; i < 10; i++ {
		if x.Uint64() != y.Uint64() {
			t.Fatal("same seed, different streams")
		}
	}
	if newSeeded(7).Uint64() == newSeeded(8).Uint64() {
		t.Fatal("different seeds, same first value")
	}
}

func TestParseName(t *testing.T) {
	good := map[string]int32{"a.0": 0, "owner.-5": -5, "x_y-z.2147483647": 2147483647, "o.-2147483648": -2147483648}
	for n, want := range good {
		if _, got, ok := ParseName(n); !ok || got != want {
			t.Errorf("ParseName(%q) = %d, %v", n, got, ok)
		}
		o, tk, _ := ParseName(n)
		if FormatName(o, tk) != n {
			t.Errorf("FormatName does not round-trip %q", n)
		}
	}
	for _, n := range []string{"", "a", "a.", ".5", "a.b", "a.05", "a.+5", "a.-0", "a.2147483648", "a b.1", "a.1.2", strings.Repeat("o", 65) + ".1", "notes.txt"} {
		if _, _, ok := ParseName(n); ok {
			t.Errorf("ParseName(%q) accepted", n)
		}
	}
}

func FuzzParseName(f *testing.F) {
	f.Add("owner.12")
	f.Add("a.-1")
	f.Fuzz(func(t *testing.T, name string) {
		o, tk, ok := ParseName(name)
		if ok && FormatName(o, tk) != name {
			t.Fatalf("%q parsed to %q,%d which formats differently", name, o, tk)
		}
	})
}

// TestAppendOwnerIsNewOwner: AppendOwner keeps what dst held and appends
// exactly the owner NewOwner makes from the same draws.
func TestAppendOwnerIsNewOwner(t *testing.T) {
	for _, host := range []string{"web-1.example.org", "", strings.Repeat("h", 80)} {
		for _, pid := range []int{0, 7, 4242, 1 << 30, -1} {
			want := NewOwner(newSeeded(3), host, pid)
			got := AppendOwner([]byte("dir/"), newSeeded(3), host, pid)
			if string(got) != "dir/"+want {
				t.Fatalf("AppendOwner(%q, %d) = %q, want %q", host, pid, got, "dir/"+want)
			}
		}
	}
}
