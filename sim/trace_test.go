package sim

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// svgFacts is what checkSVG learnt about a picture.
type svgFacts struct {
	texts []string
	zoom  bool // the zoomed panel (an element with id="zoom") is present
}

// checkSVG decodes svg as XML and checks that every text element's
// estimated extent (svgCharWidth × font size per character, the estimate
// the renderer's monospace font meets) lies inside the picture.
func checkSVG(t *testing.T, svg string) svgFacts {
	t.Helper()
	var (
		facts         svgFacts
		width, height float64
		rootFont      float64
		inText        bool
		tx, ty, tsize float64
		anchor        string
		content       strings.Builder
	)
	attr := func(e xml.StartElement, name string) string {
		for _, a := range e.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	num := func(e xml.StartElement, name string, def float64) float64 {
		s := attr(e, name)
		if s == "" {
			return def
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("<%s %s=%q>: %v", e.Name.Local, name, s, err)
		}
		return f
	}
	dec := xml.NewDecoder(strings.NewReader(svg))
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if e.Name.Local != "svg" {
					t.Fatalf("root element %q, want svg", e.Name.Local)
				}
				width, height, rootFont = num(e, "width", 0), num(e, "height", 0), num(e, "font-size", 16)
				if width <= 0 || height <= 0 {
					t.Fatalf("svg size %v×%v", width, height)
				}
			}
			if attr(e, "id") == "zoom" {
				facts.zoom = true
			}
			if e.Name.Local == "text" {
				if inText {
					t.Fatal("nested text elements")
				}
				inText = true
				tx, ty, tsize = num(e, "x", 0), num(e, "y", 0), num(e, "font-size", rootFont)
				anchor = attr(e, "text-anchor")
				content.Reset()
			}
		case xml.CharData:
			if inText {
				content.Write(e)
			}
		case xml.EndElement:
			depth--
			if e.Name.Local != "text" {
				continue
			}
			inText = false
			s := content.String()
			w := float64(utf8.RuneCountInString(s)) * svgCharWidth * tsize
			left := tx
			switch anchor {
			case "middle":
				left -= w / 2
			case "end":
				left -= w
			}
			if left < 0 || left+w > width+0.01 {
				t.Errorf("text %q spans x %.1f..%.1f, outside the width %v", s, left, left+w, width)
			}
			if ty-tsize < 0 || ty > height {
				t.Errorf("text %q at y %.1f, outside the height %v", s, ty, height)
			}
			facts.texts = append(facts.texts, s)
		}
	}
	return facts
}

func hasText(f svgFacts, sub string) bool {
	for _, s := range f.texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestSVGViolation: the picture of a real mutual-exclusion failure (the
// legacy rules, seed 76) is well-formed, every label fits, it has a time
// axis, and the zoomed panel labels the overlap with who and when.
func TestSVGViolation(t *testing.T) {
	r := RunWith(Default(RulesLegacy), 76, RunOptions{Trace: true})
	if !r.Failed() || r.Violations[0].Kind != KindMutex {
		t.Fatalf("legacy seed 76: want a mutual-exclusion violation, got %v", r.Violations)
	}
	v := r.Violations[0]
	f := checkSVG(t, r.Trace.SVG())
	if !f.zoom {
		t.Error("no zoomed panel for a violation")
	}
	want := overlapLabel(v)
	if !strings.Contains(want, fmtSecs(v.OverlapStart, 3)) || !strings.Contains(want, "both hold from") {
		t.Errorf("overlap label %q", want)
	}
	for _, s := range []string{want, "0 s", "zoomed on the violation", "critical section"} {
		if !hasText(f, s) {
			t.Errorf("no text %q in %q", s, f.texts)
		}
	}
}

// TestSVGNoViolation: a clean run has its timeline and axis but no zoom.
func TestSVGNoViolation(t *testing.T) {
	r := RunWith(inModelAll(), 3, RunOptions{Trace: true})
	if r.Failed() {
		t.Fatalf("in-model run failed: %v", r.Violations)
	}
	f := checkSVG(t, r.Trace.SVG())
	if f.zoom {
		t.Error("zoomed panel without a violation")
	}
	if !hasText(f, "0 s") || !hasText(f, "whole run") {
		t.Errorf("no axis or panel title in %q", f.texts)
	}
}

// TestSVGCrowded: a made-up trace with long names, many processes, every
// kind of mark, overlapping labels at the right edge and two violations
// still fits, and a violation without an overlap gets a zoom too.
func TestSVGCrowded(t *testing.T) {
	long := strings.Repeat("averyveryverylongname", 8)
	ms := time.Millisecond
	tr := &Trace{Seed: 1, Config: inModelAll(), Procs: 6, End: 9999 * ms}
	for p := 0; p < tr.Procs; p++ {
		tr.Holds = append(tr.Holds, Hold{Proc: p, Name: long, Start: time.Duration(p) * ms, End: 9999 * ms, Shared: p%2 == 1})
		for i := 0; i < 40; i++ {
			at := 9900*ms + time.Duration(i)*ms
			for _, op := range []string{"LOCK", "HELD", "REAP", "LOST", "LOST?", "UNLOCK", "ReadDir", "Remove"} {
				tr.Events = append(tr.Events, Event{T: at, Proc: p, G: 0, Op: op, Arg: long, Result: "the owner p12345 is alive " + long})
			}
		}
		tr.Events = append(tr.Events,
			Event{T: 9990 * ms, Proc: p, G: -1, Op: "PAUSE", Arg: "3s"},
			Event{T: 9995 * ms, Proc: p, G: -1, Op: "WALLSTEP", Arg: "-10s"},
			Event{T: 9998 * ms, Proc: p, G: -1, Op: "CRASH"})
	}
	tr.Violations = []Violation{
		{Kind: KindMutex, Time: 9999 * ms, Procs: []int{0, 1, 2, 3, 4, 5}, OverlapStart: 9998 * ms, OverlapEnd: 9999 * ms, Msg: long},
		{Kind: KindProgress, Time: 9999 * ms, Procs: []int{1}, Msg: long},
	}
	f := checkSVG(t, tr.SVG())
	if !f.zoom {
		t.Error("no zoomed panel")
	}
	if !hasText(f, "p0, p1, p2, p3, p4 and p5 all hold from 9.9980 s to 9.9990 s (0.0010 s)") {
		t.Errorf("no overlap label in %q", f.texts)
	}
	tr.Violations = tr.Violations[1:]
	f = checkSVG(t, tr.SVG())
	if !f.zoom || !hasText(f, "progress at 9.999 s") {
		t.Errorf("progress violation: zoom %v, texts %q", f.zoom, f.texts)
	}
}

func TestTickStep(t *testing.T) {
	for _, c := range []struct {
		span time.Duration
		n    int
		want time.Duration
		dec  int
		fmt  string
	}{
		{33590670 * time.Microsecond, 12, 5 * time.Second, 0, "30 s"},
		{2232 * time.Millisecond, 12, 200 * time.Millisecond, 1, "30.0 s"},
		{time.Millisecond, 12, 100 * time.Microsecond, 4, "30.0000 s"},
	} {
		got := tickStep(c.span, c.n)
		if got != c.want || decimalsFor(got) != c.dec || fmtSecs(30*time.Second, decimalsFor(got)) != c.fmt {
			t.Errorf("tickStep(%v, %d) = %v (%d decimals, %q), want %v (%d, %q)", c.span, c.n, got, decimalsFor(got), fmtSecs(30*time.Second, decimalsFor(got)), c.want, c.dec, c.fmt)
		}
	}
}

// TestShrinkProgressObservesOnly: Shrink reports progress, and reporting
// does not change what it finds.
func TestShrinkProgressObservesOnly(t *testing.T) {
	failed := RunWith(Default(RulesLegacy), 76, RunOptions{})
	if !failed.Failed() {
		t.Fatal("legacy seed 76 did not fail")
	}
	o := ShrinkOptions{Tries: 25, Shortest: 3, Workers: 2}
	quiet := Shrink(context.Background(), failed, o)
	var reports []ShrinkProgress
	o.Progress, o.ProgressEvery = func(p ShrinkProgress) { reports = append(reports, p) }, time.Millisecond
	loud := Shrink(context.Background(), failed, o)
	if quiet.Seed != loud.Seed || quiet.Config.Summary() != loud.Config.Summary() || quiet.Trace.Text() != loud.Trace.Text() {
		t.Fatalf("progress changed the result: seed %d %s vs seed %d %s", quiet.Seed, quiet.Config.Summary(), loud.Seed, loud.Config.Summary())
	}
	if len(reports) == 0 {
		t.Fatal("no progress reported")
	}
	last := reports[len(reports)-1]
	if last.Tried == 0 || last.Schedules == 0 || last.Config.Procs != loud.Config.Procs || last.Steps != loud.Steps {
		t.Fatalf("last report %+v, result %d procs %d steps", last, loud.Config.Procs, loud.Steps)
	}
}
