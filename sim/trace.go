package sim

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"
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

// SVG renders the trace as a swimlane timeline: one lane per process,
// critical sections shaded, crashes, pauses and lost notifications marked,
// filesystem primitives as ticks, and the violating overlap hatched in red.
func (t *Trace) SVG() string {
	const (
		left, right, top, lane, laneGap = 70.0, 20.0, 50.0, 44.0, 10.0
		width                           = 1200.0
	)
	end := t.End
	if end <= 0 {
		end = time.Second
	}
	scale := (width - left - right) / float64(end)
	x := func(d time.Duration) float64 { return left + float64(d)*scale }
	y := func(p int) float64 { return top + float64(p)*(lane+laneGap) }
	height := y(t.Procs) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="monospace" font-size="11">`+"\n", width, height)
	b.WriteString(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#d00" fill-opacity="0.6"/></pattern></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%v" y="18" font-size="13">%s</text>`+"\n", left, html.EscapeString(fmt.Sprintf("seed %d: %s", t.Seed, t.Config.Summary())))
	fmt.Fprintf(&b, `<text x="%v" y="34" fill="#555">virtual time 0 .. %s; shaded: critical section; red hatch: overlap; ticks: filesystem primitives</text>`+"\n", left, fmtTime(end))
	for p := 0; p < t.Procs; p++ {
		fmt.Fprintf(&b, `<text x="8" y="%.1f">p%d</text><rect x="%v" y="%.1f" width="%.1f" height="%v" fill="#f4f4f4" stroke="#ccc"/>`+"\n",
			y(p)+lane/2+4, p, left, y(p), width-left-right, lane)
	}
	for _, h := range t.Holds {
		w := max(x(h.End)-x(h.Start), 1)
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="%v" fill="#4a90d9" fill-opacity="0.55"><title>p%d holds %s from %s to %s (%s)</title></rect>`+"\n",
			x(h.Start), y(h.Proc)+4, w, lane-8, h.Proc, html.EscapeString(h.Name), fmtTime(h.Start), fmtTime(h.End), h.EndBy)
	}
	for _, e := range t.Events {
		if e.Proc < 0 {
			continue
		}
		switch e.Op {
		case "CRASH":
			fmt.Fprintf(&b, `<text x="%.2f" y="%.1f" fill="#d00" font-weight="bold">✕ crash</text><rect x="%.2f" y="%.1f" width="%.2f" height="%v" fill="#000" fill-opacity="0.08"/>`+"\n",
				x(e.T)-4, y(e.Proc)+lane/2+4, x(e.T), y(e.Proc), x(end)-x(e.T), lane)
		case "PAUSE":
			d, _ := time.ParseDuration(e.Arg)
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="6" fill="#e8a000"><title>paused %s</title></rect>`+"\n", x(e.T), y(e.Proc)+lane-6, max(x(e.T+d)-x(e.T), 1), e.Arg)
		case "LOST":
			fmt.Fprintf(&b, `<text x="%.2f" y="%.1f" fill="#d00">! lost</text>`+"\n", x(e.T), y(e.Proc)+12)
		case "MkdirAll", "ReadDir", "ReadFile", "WriteFile", "Create", "Write", "Stat", "Chtimes", "Remove":
			color := "#888"
			switch e.Op {
			case "WriteFile", "Create", "Write":
				color = "#2a2"
			case "Remove":
				color = "#a22"
			}
			fmt.Fprintf(&b, `<line x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f" stroke="%s"><title>%s</title></line>`+"\n",
				x(e.T), x(e.T), y(e.Proc)+lane-10, y(e.Proc)+lane, color, html.EscapeString(e.String()))
		}
	}
	for _, v := range t.Violations {
		if v.Kind != KindMutex {
			fmt.Fprintf(&b, `<text x="%v" y="%.1f" fill="#d00">%s</text>`+"\n", left, height-12, html.EscapeString(v.String()))
			continue
		}
		for _, p := range v.Procs {
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="%v" fill="url(#hatch)" stroke="#d00"><title>%s</title></rect>`+"\n",
				x(v.OverlapStart), y(p), max(x(v.OverlapEnd)-x(v.OverlapStart), 2), lane, html.EscapeString(v.String()))
		}
		fmt.Fprintf(&b, `<text x="%v" y="%.1f" fill="#d00">%s</text>`+"\n", left, height-12, html.EscapeString(v.String()))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
