package locktest

import "testing"

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		iv   []Interval
		want int
	}{
		{"empty", nil, 0},
		{"disjoint", []Interval{{"a", 0, 10}, {"b", 10, 20}, {"a", 25, 30}}, 0},
		{"overlap", []Interval{{"a", 0, 10}, {"b", 9, 20}}, 1},
		{"nested", []Interval{{"a", 0, 100}, {"b", 10, 20}, {"c", 30, 40}}, 2},
		{"unsorted", []Interval{{"c", 30, 40}, {"a", 0, 35}}, 1},
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
	iv := []Interval{{"w1", 1, 2}, {"w2", 3, 4}}
	h := dir + "/h"
	if err := WriteHistory(h, iv); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHistory(h)
	if err != nil || len(got) != 2 || got[1] != iv[1] {
		t.Fatalf("ReadHistory = %v, %v", got, err)
	}
}
