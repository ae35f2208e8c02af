package locktest

import "testing"

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		iv   []Interval
		want int
	}{
		{"empty", nil, 0},
		{"disjoint", []Interval{{Worker: "a", Start: 0, End: 10}, {Worker: "b", Start: 10, End: 20}, {Worker: "a", Start: 25, End: 30}}, 0},
		{"overlap", []Interval{{Worker: "a", Start: 0, End: 10}, {Worker: "b", Start: 9, End: 20}}, 1},
		{"nested", []Interval{{Worker: "a", Start: 0, End: 100}, {Worker: "b", Start: 10, End: 20}, {Worker: "c", Start: 30, End: 40}}, 2},
		{"unsorted", []Interval{{Worker: "c", Start: 30, End: 40}, {Worker: "a", Start: 0, End: 35}}, 1},
	}
	for _, c := range cases {
		if got := Check(c.iv); len(got) != c.want {
			t.Errorf("%s: %d overlaps, want %d: %v", c.name, len(got), c.want, got)
		}
	}
}

func TestIncrementAndHistory(t *testing.T) {
	dir := t.TempDir()
	c := dir + "/counter"
	for i := 0; i < 3; i++ {
		if err := Increment(c); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := ReadCounter(c); err != nil || v != 3 {
		t.Fatalf("counter = %d, %v; want 3", v, err)
	}
	iv := []Interval{{Worker: "w1", Start: 1, End: 2}, {Worker: "w2", Start: 3, End: 4}}
	h := dir + "/h"
	if err := WriteHistory(h, iv); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHistory(h)
	if err != nil || len(got) != 2 || got[1] != iv[1] {
		t.Fatalf("ReadHistory = %v, %v", got, err)
	}
}

func TestCheckRWAndMaxConcurrent(t *testing.T) {
	iv := []Interval{
		{Worker: "r1", Start: 0, End: 10, Shared: true},
		{Worker: "r2", Start: 5, End: 15, Shared: true},
		{Worker: "w1", Start: 15, End: 20},
		{Worker: "w2", Start: 19, End: 25},
		{Worker: "r3", Start: 24, End: 30, Shared: true},
	}
	bad, shared := CheckRW(iv)
	if len(bad) != 2 || shared != 1 {
		t.Fatalf("CheckRW: %d bad, %d shared pairs; want 2, 1: %v", len(bad), shared, bad)
	}
	if m := MaxConcurrent(iv); m != 2 {
		t.Fatalf("MaxConcurrent = %d, want 2", m)
	}
	if m := MaxConcurrent([]Interval{{Start: 0, End: 5}, {Start: 5, End: 9}}); m != 1 {
		t.Fatalf("touching intervals: MaxConcurrent = %d, want 1", m)
	}
}
