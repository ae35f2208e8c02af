package sim

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Trace is the step-by-step record of one run.
type Trace struct {
	Seed       uint64
	Config     Config
	Procs      int
	Events     []Event
	Holds      []Hold
	Violations []Violation
	End        time.Duration
}

// Event is one line of a trace: at virtual time T, process Proc's goroutine
// G did Op on Arg with Result. Proc is -1 for the checker's own lines; G is
// -1 for what happens to a process as a whole (start, crash, pause, lost).
type Event struct {
	T      time.Duration
	Proc   int
	G      int
	Op     string
	Arg    string
	Result string
}

func (w *world) event(proc, g int, op, arg, res string) {
	if w.trace == nil {
		return
	}
	w.trace.Events = append(w.trace.Events, Event{T: w.now, Proc: proc, G: g, Op: op, Arg: arg, Result: res})
}

// fmtTime renders a virtual time as seconds with microseconds.
func fmtTime(d time.Duration) string {
	return fmt.Sprintf("%d.%06ds", d/time.Second, (d%time.Second)/time.Microsecond)
}

// fmtWall renders a wall-clock time as seconds since the simulation's epoch.
func fmtWall(t time.Time) string {
	d := t.Sub(epoch)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + fmtTime(d)
}

// String renders e as one line: time, process.goroutine, primitive,
// argument, result.
func (e Event) String() string {
	who := "--"
	switch {
	case e.Proc >= 0 && e.G >= 0:
		who = fmt.Sprintf("p%d.g%d", e.Proc, e.G)
	case e.Proc >= 0:
		who = fmt.Sprintf("p%d", e.Proc)
	}
	s := fmt.Sprintf("%14s  %-7s %-9s %s", fmtTime(e.T), who, e.Op, e.Arg)
	if e.Result != "" {
		s += " -> " + e.Result
	}
	return strings.TrimRight(s, " ")
}

// WriteText writes the trace as readable text: a header, one line per step,
// then the holds and the violations.
func (t *Trace) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# cryolock simulation, seed %d\n# %s\n", t.Seed, t.Config.Summary())
	fmt.Fprintf(&b, "# lock directory %s; paths below are relative to it\n", LockDir)
	fmt.Fprintf(&b, "# columns: virtual time, process.goroutine, primitive, argument -> result\n")
	for _, e := range t.Events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	b.WriteString("# critical sections:\n")
	for _, h := range t.Holds {
		fmt.Fprintf(&b, "#   p%d %s .. %s (%s) %s\n", h.Proc, fmtTime(h.Start), fmtTime(h.End), h.EndBy, h.Name)
	}
	for _, v := range t.Violations {
		fmt.Fprintf(&b, "# VIOLATION %s\n", v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Text returns [Trace.WriteText]'s output.
func (t *Trace) Text() string {
	var b strings.Builder
	_ = t.WriteText(&b)
	return b.String()
}

// SVG geometry. Text is monospace, so a label's extent is estimated as
// svgCharWidth × font size per character; every label is shortened or
// wrapped to lie inside the picture (trace_test.go checks it).
const (
	svgWidth     = 1200.0
	svgLeft      = 56.0 // room for the lane labels
	svgRight     = 32.0 // room for the last axis label
	svgMargin    = 4.0  // no text closer than this to either edge
	svgFont      = 11.0 // the picture's default font size
	svgCharWidth = 0.6  // advance of a monospace character, in ems
)

// Colours of the picture, shared by the lanes and the legend.
const (
	colHold    = "#4a90d9"
	colRead    = "#5cb85c"
	colPause   = "#e8a000"
	colLost    = "#d00"
	colCrash   = "#d00"
	colStep    = "#8e44ad"
	colOpRead  = "#888"
	colOpWrite = "#2a2"
	colOpRm    = "#a22"
)

// svgDoc accumulates the picture's elements.
type svgDoc struct{ b strings.Builder }

func (d *svgDoc) printf(format string, a ...any) { fmt.Fprintf(&d.b, format, a...) }

// textWidth estimates the width in pixels of s at the given font size.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * svgCharWidth * size
}

// fitText shortens s with an ellipsis so that it spans at most w pixels.
func fitText(s string, size, w float64) string {
	n := int(w / (svgCharWidth * size))
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n < 2 {
		return ""
	}
	return string(r[:n-1]) + "…"
}

// wrapText breaks s at spaces into lines of at most w pixels (a word longer
// than a line is cut).
func wrapText(s string, size, w float64) []string {
	n := max(int(w/(svgCharWidth*size)), 8)
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > n {
			if line != "" {
				lines, line = append(lines, line), ""
			}
			r := []rune(word)
			lines, word = append(lines, string(r[:n])), string(r[n:])
		}
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= n:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// text writes s with its baseline at y, anchored at x ("start", "middle" or
// "end"), shortened and moved as needed to lie within the picture; attrs
// are extra attributes (with a leading space). It returns the left and
// right edges used (equal when nothing was written).
func (d *svgDoc) text(x, y, size float64, anchor, attrs, s string) (float64, float64) {
	s = fitText(s, size, svgWidth-2*svgMargin)
	if s == "" {
		return x, x
	}
	w := textWidth(s, size)
	left := x
	switch anchor {
	case "middle":
		left = x - w/2
	case "end":
		left = x - w
	}
	left = max(svgMargin, min(left, svgWidth-svgMargin-w))
	d.printf(`<text x="%.1f" y="%.1f" font-size="%g"%s>%s</text>`+"\n", left, y, size, attrs, html.EscapeString(s))
	return left, left + w
}

// para writes s wrapped to the picture's width from x, one line every
// size+3 pixels from baseline y, and returns the baseline after the last.
func (d *svgDoc) para(x, y, size float64, attrs, s string) float64 {
	for _, l := range wrapText(s, size, svgWidth-svgMargin-x) {
		d.text(x, y, size, "start", attrs, l)
		y += size + 3
	}
	return y
}

// timeSpan maps the virtual times [t0, t1] onto the pixels [x0, x1].
type timeSpan struct {
	t0, t1 time.Duration
	x0, x1 float64
}

func (p timeSpan) x(d time.Duration) float64 {
	d = max(p.t0, min(d, p.t1))
	return p.x0 + float64(d-p.t0)/float64(p.t1-p.t0)*(p.x1-p.x0)
}

// clip returns the pixels of the part of [a, b] inside the span, at least
// minW wide, and whether any of it is inside.
func (p timeSpan) clip(a, b time.Duration, minW float64) (x, w float64, ok bool) {
	if b < p.t0 || a > p.t1 {
		return 0, 0, false
	}
	x = p.x(a)
	return x, max(p.x(b)-x, minW), true
}

// tickStep picks 1, 2 or 5 × 10ⁿ so that span holds at most about n ticks.
func tickStep(span time.Duration, n int) time.Duration {
	step := time.Duration(1)
	for {
		for _, m := range []time.Duration{1, 2, 5} {
			if span/(m*step) <= time.Duration(n) {
				return m * step
			}
		}
		step *= 10
	}
}

// fmtSecs renders d in seconds with the given number of decimals.
func fmtSecs(d time.Duration, decimals int) string {
	return strconv.FormatFloat(d.Seconds(), 'f', decimals, 64) + " s"
}

// decimalsFor is how many decimals tell apart times step apart.
func decimalsFor(step time.Duration) int {
	n := 0
	for s := time.Second; step < s && n < 9; s /= 10 {
		n++
	}
	return n
}

// axis draws a time axis for p with its baseline at y and returns the y
// below its labels.
func (d *svgDoc) axis(p timeSpan, y float64) float64 {
	step := tickStep(p.t1-p.t0, int((p.x1-p.x0)/90))
	dec := decimalsFor(step)
	d.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#444"/>`+"\n", p.x0, p.x1, y, y)
	for t := (p.t0 + step - 1) / step * step; t <= p.t1; t += step {
		x := p.x(t)
		d.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#444"/>`+"\n", x, x, y, y+4)
		d.text(x, y+15, 10, "middle", ` fill="#333"`, fmtSecs(t, dec))
	}
	return y + 20
}

// laneStyle is the geometry of one panel's lanes.
type laneStyle struct {
	height  float64 // of a lane
	barTop  float64 // hold bar, from the lane's top
	barH    float64
	labels  int // rows of event labels above the bar (0: none)
	tickTop float64
}

var (
	overviewLanes = laneStyle{height: 34, barTop: 3, barH: 20, tickTop: 26}
	zoomLanes     = laneStyle{height: 72, barTop: 37, barH: 22, labels: 3, tickTop: 61}
)

const laneGap = 6.0

// laneY is the top of process p's lane in a panel whose lanes start at top.
func (s laneStyle) laneY(top float64, p int) float64 {
	return top + float64(p)*(s.height+laneGap)
}

// eventLabel is the short label of an event in the zoomed panel ("" for
// none).
func eventLabel(e Event) string {
	switch e.Op {
	case "LOCK":
		switch {
		case strings.HasPrefix(e.Result, "acquisition"):
			return "Lock"
		case strings.HasPrefix(e.Result, "TryLock"):
			return "busy"
		default:
			return "Lock error"
		}
	case "HELD":
		return "holds"
	case "UNLOCK":
		return "Unlock"
	case "REAP":
		if i := strings.Index(e.Result, "owner "); i >= 0 {
			if f := strings.Fields(e.Result[i+6:]); len(f) > 0 {
				return "reaps live " + f[0]
			}
		}
		return "reaps live"
	case "LOST":
		return "▼ lost"
	case "LOST?":
		return "told lost"
	case "CRASH":
		return "✕ crash"
	case "PAUSE":
		return "pause " + e.Arg
	case "WALLSTEP":
		return "clock step " + e.Arg
	}
	return ""
}

// opColor is the tick colour of a filesystem primitive ("" when e is not
// one).
func opColor(op string) string {
	switch op {
	case "MkdirAll", "ReadDir", "ReadFile", "Stat", "Chtimes":
		return colOpRead
	case "WriteFile", "Create", "Write":
		return colOpWrite
	case "Remove":
		return colOpRm
	}
	return ""
}

// lanes draws one lane per process over the span p from top, with holds,
// pauses, crashes, lost notifications and primitive ticks; with labelled
// style rows it also names the events. It returns the y below the lanes.
func (d *svgDoc) lanes(t *Trace, p timeSpan, top float64, st laneStyle) float64 {
	for i := 0; i < t.Procs; i++ {
		y := st.laneY(top, i)
		d.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%g" fill="#f6f6f6" stroke="#ccc"/>`+"\n", p.x0, y, p.x1-p.x0, st.height)
		d.text(svgLeft-8, y+st.height/2+4, 12, "end", ` font-weight="bold"`, fmt.Sprintf("p%d", i))
	}
	for _, v := range t.Violations {
		if v.Kind == KindMutex {
			d.hatchOverlap(v, p, top, st, t.Procs)
		}
	}
	for _, h := range t.Holds {
		if h.Proc < 0 || h.Proc >= t.Procs {
			continue
		}
		x, w, ok := p.clip(h.Start, h.End, 1)
		if !ok {
			continue
		}
		col, what := colHold, "holds"
		if h.Shared {
			col, what = colRead, "holds (read)"
		}
		d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="%g" fill="%s" fill-opacity="0.6"><title>p%d %s %s from %s to %s (%s)</title></rect>`+"\n",
			x, st.laneY(top, h.Proc)+st.barTop, w, st.barH, col, h.Proc, what, html.EscapeString(h.Name), fmtTime(h.Start), fmtTime(h.End), h.EndBy)
	}
	rowEnd := make([][]float64, t.Procs)
	for i := range rowEnd {
		rowEnd[i] = make([]float64, st.labels)
		for r := range rowEnd[i] {
			rowEnd[i][r] = -1e9
		}
	}
	for _, e := range t.Events {
		if e.Proc < 0 || e.Proc >= t.Procs || e.T > p.t1 {
			continue
		}
		y := st.laneY(top, e.Proc)
		x := p.x(e.T)
		tip := html.EscapeString(e.String())
		if e.T < p.t0 {
			// Only what lasts can reach into the span: a crash, a pause.
			if e.Op != "CRASH" && e.Op != "PAUSE" {
				continue
			}
			if e.Op == "CRASH" {
				d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="%g" fill="#000" fill-opacity="0.12"><title>%s</title></rect>`+"\n", x, y, p.x1-x, st.height, tip)
				continue
			}
		}
		switch e.Op {
		case "CRASH":
			d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="%g" fill="#000" fill-opacity="0.12"><title>%s</title></rect>`+"\n", x, y, p.x1-x, st.height, tip)
			d.printf(`<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", x, x, y, y+st.height, colCrash)
		case "PAUSE":
			dur, _ := time.ParseDuration(e.Arg)
			if px, w, ok := p.clip(e.T, e.T+dur, 2); ok {
				d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="5" fill="%s"><title>%s</title></rect>`+"\n", px, y+st.barTop+st.barH-5, w, colPause, tip)
			}
		case "LOST":
			d.printf(`<path d="M%.2f %.1f l-5 -7 h10 z" fill="%s"><title>%s</title></path>`+"\n", x, y+st.barTop+7, colLost, tip)
		case "WALLSTEP":
			d.printf(`<path d="M%.2f %.1f l4 4 l-4 4 l-4 -4 z" fill="%s"><title>%s</title></path>`+"\n", x, y+st.barTop+st.barH-8, colStep, tip)
		default:
			if col := opColor(e.Op); col != "" {
				d.printf(`<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="%s" stroke-opacity="0.7"><title>%s</title></line>`+"\n",
					x, x, y+st.tickTop, y+st.height-1, col, tip)
			}
		}
		if st.labels == 0 || e.T < p.t0 {
			continue
		}
		label := eventLabel(e)
		if label == "" {
			continue
		}
		w := textWidth(label, 10)
		lx := min(x, svgWidth-svgMargin-w)
		for r := 0; r < st.labels; r++ {
			if lx < rowEnd[e.Proc][r]+4 {
				continue
			}
			ly := y + 11 + float64(r)*11
			d.printf(`<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="1,1"/>`+"\n", x, x, ly+2, y+st.barTop)
			fill := "#222"
			if e.Op == "CRASH" || e.Op == "LOST" || e.Op == "LOST?" || e.Op == "REAP" {
				fill = "#c00"
			}
			_, right := d.text(lx, ly, 10, "start", ` fill="`+fill+`" stroke="white" stroke-width="3" paint-order="stroke"`, label)
			rowEnd[e.Proc][r] = right
			break
		}
	}
	return st.laneY(top, t.Procs) - laneGap
}

// overlapLabel says who held together when: "p0 and p1 both hold from
// 34.118 s to 35.069 s (0.951 s)".
func overlapLabel(v Violation) string {
	var who []string
	for _, p := range v.Procs {
		who = append(who, fmt.Sprintf("p%d", p))
	}
	verb := "both hold"
	switch len(who) {
	case 0:
		return ""
	case 1:
		verb = "holds"
	case 2:
	default:
		verb = "all hold"
		who = append(who[:len(who)-2], who[len(who)-2]+" and "+who[len(who)-1])
	}
	names := strings.Join(who, ", ")
	if len(who) == 2 {
		names = who[0] + " and " + who[1]
	}
	dec := max(3, decimalsFor((v.OverlapEnd-v.OverlapStart)/10))
	return fmt.Sprintf("%s %s from %s to %s (%s)", names, verb, fmtSecs(v.OverlapStart, dec), fmtSecs(v.OverlapEnd, dec), fmtSecs(v.OverlapEnd-v.OverlapStart, dec))
}

// zoomWindow is the stretch of the run the second panel shows for v: the
// overlap and some time around it, or the time before a violation without
// one.
func zoomWindow(v Violation, end time.Duration) (time.Duration, time.Duration) {
	var t0, t1 time.Duration
	if v.Kind == KindMutex && v.OverlapEnd > v.OverlapStart {
		w := max((v.OverlapEnd-v.OverlapStart)*8/5, 10*time.Millisecond)
		mid := v.OverlapStart + (v.OverlapEnd-v.OverlapStart)/2
		t0, t1 = mid-w/2, mid+w/2
	} else {
		w := max(end/10, 50*time.Millisecond)
		t0, t1 = v.Time-w*3/4, v.Time+w/4
	}
	if t1 > end {
		t0, t1 = t0-(t1-end), end
	}
	if t0 < 0 {
		t0, t1 = 0, min(t1-t0, end)
	}
	if t1 <= t0 {
		t1 = t0 + time.Millisecond
	}
	return t0, t1
}

// hatchOverlap shades v's overlap on the lanes of its processes.
func (d *svgDoc) hatchOverlap(v Violation, p timeSpan, top float64, st laneStyle, procs int) {
	for _, i := range v.Procs {
		if i < 0 || i >= procs {
			continue
		}
		if x, w, ok := p.clip(v.OverlapStart, v.OverlapEnd, 3); ok {
			// Below the event labels, if any.
			dy := max(st.barTop-4, 0)
			d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="%g" fill="url(#hatch)" stroke="#d00"><title>%s</title></rect>`+"\n",
				x, st.laneY(top, i)+dy, w, st.height-dy, html.EscapeString(overlapLabel(v)))
		}
	}
}

// legend draws the key from y and returns the y below it.
func (d *svgDoc) legend(t *Trace, y float64) float64 {
	type item struct{ swatch, label string }
	items := []item{
		{`<rect x="0" y="-9" width="22" height="10" fill="` + colHold + `" fill-opacity="0.6"/>`, "critical section (hold)"},
	}
	for _, h := range t.Holds {
		if h.Shared {
			items = append(items, item{`<rect x="0" y="-9" width="22" height="10" fill="` + colRead + `" fill-opacity="0.6"/>`, "read hold"})
			break
		}
	}
	has := map[string]bool{}
	for _, e := range t.Events {
		has[e.Op] = true
	}
	for _, v := range t.Violations {
		has[string(v.Kind)] = true
	}
	add := func(op, swatch, label string) {
		if has[op] {
			items = append(items, item{swatch, label})
		}
	}
	add(string(KindMutex), `<rect x="0" y="-9" width="22" height="10" fill="url(#hatch)" stroke="#d00"/>`, "overlap (violation)")
	add("PAUSE", `<rect x="0" y="-4" width="22" height="5" fill="`+colPause+`"/>`, "paused")
	add("CRASH", `<rect x="0" y="-9" width="22" height="10" fill="#000" fill-opacity="0.12"/><line x1="0" x2="0" y1="-9" y2="1" stroke="`+colCrash+`" stroke-width="2"/>`, "crashed")
	add("LOST", `<path d="M11 1 l-5 -7 h10 z" fill="`+colLost+`"/>`, "Lost() closed: told it lost the lock")
	add("WALLSTEP", `<path d="M11 -8 l4 4 l-4 4 l-4 -4 z" fill="`+colStep+`"/>`, "wall clock step")
	items = append(items, item{`<line x1="4" x2="4" y1="-9" y2="1" stroke="` + colOpRead + `"/><line x1="11" x2="11" y1="-9" y2="1" stroke="` + colOpWrite + `"/><line x1="18" x2="18" y1="-9" y2="1" stroke="` + colOpRm + `"/>`, "filesystem primitives: read/stat, write, remove"})
	x := svgLeft
	for _, it := range items {
		w := 28 + textWidth(it.label, 10) + 18
		if x+w > svgWidth-svgMargin && x > svgLeft {
			x, y = svgLeft, y+16
		}
		d.printf(`<g transform="translate(%.1f %.1f)">%s</g>`+"\n", x, y, it.swatch)
		d.text(x+28, y, 10, "start", "", it.label)
		x += w
	}
	return y + 8
}

// SVG renders the trace as a picture: a title, a swimlane timeline of the
// whole run (one lane per process: critical sections, pauses, crashes,
// lost notifications, clock steps and filesystem primitives as ticks) over
// a time axis, for a violation a second panel zoomed on where it happens
// (the overlap hatched and labelled with who held together when), the
// violations in words and a legend. Every label fits inside the picture.
func (t *Trace) SVG() string {
	end := t.End
	if end <= 0 {
		end = time.Second
	}
	var d svgDoc
	d.printf(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#d00" fill-opacity="0.45"/></pattern></defs>` + "\n")
	d.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	y := d.para(svgMargin+4, 20, 14, ` font-weight="bold"`, fmt.Sprintf("cryolock sim, seed %d: %s", t.Seed, t.Config.Summary()))
	if len(t.Violations) > 0 {
		v := t.Violations[0]
		head := fmt.Sprintf("%s at %s", v.Kind, fmtSecs(v.Time, 3))
		if v.Kind == KindMutex && v.OverlapEnd > v.OverlapStart {
			head += ": " + overlapLabel(v)
		}
		y = d.para(svgMargin+4, y+2, 12, ` fill="#c00" font-weight="bold"`, head)
	}

	// The whole run.
	y += 14
	d.text(svgMargin+4, y, 12, "start", "", fmt.Sprintf("whole run: virtual time 0 to %s, %d processes", fmtSecs(end, 3), t.Procs))
	all := timeSpan{0, end, svgLeft, svgWidth - svgRight}
	top := y + 8
	bottom := d.lanes(t, all, top, overviewLanes)
	for _, v := range t.Violations {
		if v.Kind != KindMutex && v.Time > 0 {
			x := all.x(v.Time)
			d.printf(`<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="#d00" stroke-width="2" stroke-dasharray="4,2"><title>%s</title></line>`+"\n", x, x, top, bottom, html.EscapeString(v.String()))
		}
	}
	y = d.axis(all, bottom+2)

	// The violation, zoomed.
	if len(t.Violations) > 0 {
		v := t.Violations[0]
		z0, z1 := zoomWindow(v, end)
		wx0, wx1 := all.x(z0), all.x(z1)
		if wx1-wx0 < 4 {
			wx0 = wx1 - 4
		}
		d.printf(`<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="none" stroke="#333" stroke-dasharray="3,2"/>`+"\n", wx0, top-3, wx1-wx0, bottom-top+6)
		ztop := y + 40
		d.printf(`<g id="zoom">` + "\n")
		d.printf(`<path d="M%.2f %.1f L%.2f %.1f M%.2f %.1f L%.2f %.1f" stroke="#999" stroke-dasharray="3,2" fill="none"/>`+"\n",
			wx0, bottom+3, svgLeft, ztop-20, wx1, bottom+3, svgWidth-svgRight, ztop-20)
		zs := timeSpan{z0, z1, svgLeft, svgWidth - svgRight}
		d.text(svgMargin+4, ztop-6, 12, "start", "", fmt.Sprintf("zoomed on the violation: %s to %s", fmtSecs(z0, 3), fmtSecs(z1, 3)))
		ltop := ztop + 18
		zb := d.lanes(t, zs, ltop, zoomLanes)
		if v.Kind == KindMutex && v.OverlapEnd > v.OverlapStart {
			a, b := zs.x(v.OverlapStart), zs.x(v.OverlapEnd)
			d.printf(`<path d="M%.2f %.1f V%.1f H%.2f V%.1f" stroke="#d00" fill="none"/>`+"\n", a, ltop-2, ltop-8, b, ltop-2)
			d.text((a+b)/2, ltop-11, 12, "middle", ` fill="#c00" font-weight="bold"`, overlapLabel(v))
		} else {
			x := zs.x(v.Time)
			d.printf(`<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="#d00" stroke-width="2" stroke-dasharray="4,2"/>`+"\n", x, x, ltop-4, zb)
			d.text(x, ltop-8, 12, "middle", ` fill="#c00" font-weight="bold"`, fmt.Sprintf("%s at %s", v.Kind, fmtSecs(v.Time, 3)))
		}
		y = d.axis(zs, zb+2)
		d.printf("</g>\n")
	}

	// The violations in words, and the legend.
	y += 10
	for _, v := range t.Violations {
		y = d.para(svgMargin+4, y+4, 11, ` fill="#c00"`, "VIOLATION "+v.String())
	}
	y = d.legend(t, y+12)
	height := y + 10

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="monospace" font-size="%g">`+"\n",
		svgWidth, height, svgWidth, height, svgFont)
	b.WriteString(d.b.String())
	b.WriteString("</svg>\n")
	return b.String()
}
