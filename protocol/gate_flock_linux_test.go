package protocol

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// maxGateWaitSwitches bounds the median of the context switches of a
// whole process over gateWaits waits at a gate held by another open file
// description, each counted for gateWaitWindow from its start: the start of
// a wait, its goroutine and the test's own sleep take 7–12. With the flock
// as an ordinary system call the runtime's monitor adds about fifty-five
// to every wait, in its first 10 ms (63–74 a wait on the 2-core test
// machine). The median, not the sum: a garbage collection or a loaded
// machine now and then adds tens to one wait.
const (
	gateWaits           = 7
	gateWaitWindow      = 50 * time.Millisecond
	maxGateWaitSwitches = 30
)

// TestGateWaitLetsProcessSleep: a process whose waiter blocks at the gate
// sleeps whole — the wait (gateFlock) hands its P off at once, so the
// runtime's monitor does not poll while it lasts. Measured in a fresh
// process (this test binary, re-executed), whose only activity is the
// waits.
func TestGateWaitLetsProcessSleep(t *testing.T) {
	if os.Getenv("CRYOLOCK_GATE_WAIT_CHILD") != "" {
		gateWaitChild(t)
		return
	}
	if !gateFlockBlocks {
		t.Skip("built with cryolock_nolinkname: the gate's flock is an ordinary system call")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGateWaitLetsProcessSleep$", "-test.v")
	cmd.Env = append(os.Environ(), "CRYOLOCK_GATE_WAIT_CHILD=1", "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the measuring process: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// gateWaitChild is the measuring process: one seat holds the gate, and a
// second (another open file description, as in another process) waits for
// it, gateWaits times. Each wait starts with the process idle (as a
// waiter's is between its looks), and its context switches are counted
// from just before it began until gateWaitWindow later, when it must still
// be blocked in flock(2); then the holder leaves, the waiter gets the gate
// and gives it back.
func gateWaitChild(t *testing.T) {
	d, err := OSFS().OpenDir(nil, t.TempDir(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	holder, waiter := openGate(d), openGate(d)
	if holder == nil || waiter == nil {
		t.Fatal("cannot open the gate")
	}
	defer holder.close()
	defer waiter.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var each []int
	for range gateWaits {
		h := holder.join()
		if !h.held() {
			t.Fatal("a free gate was not granted")
		}
		idle(t, gateWaitWindow/2)
		before := processSwitches(t)
		s := waiter.join()
		time.Sleep(gateWaitWindow) // the window measured, not a wait for an event
		n := processSwitches(t) - before
		if !inFlock() {
			t.Fatalf("no thread of the process is in flock(2) %v after the waiter joined the gate: nothing measured", gateWaitWindow)
		}
		if s.held() {
			t.Fatal("the gate was granted to two seats at once")
		}
		h.leave()
		c, done := s.arm(ctx)
		<-c.Done()
		done()
		if !s.held() {
			t.Fatal("the waiting seat was not granted after the holder left")
		}
		s.leave()
		each = append(each, n)
	}
	median := slices.Sorted(slices.Values(each))[len(each)/2]
	t.Logf("context switches of the process in %d waits at the gate, %v each: %v, median %d (limit %d)", gateWaits, gateWaitWindow, each, median, maxGateWaitSwitches)
	if median > maxGateWaitSwitches {
		t.Errorf("context switches in %d waits at the gate of %v each: %v, median %d, want at most %d: the runtime polls during the waits", gateWaits, gateWaitWindow, each, median, maxGateWaitSwitches)
	}
}

// idle blocks the calling goroutine for d on a timerfd read through the
// runtime's poller, not on a timer of the runtime's: with every goroutine
// blocked and no timer due, the runtime's monitor sleeps until woken (a
// timer's expiry would wake it just before the wait, which then starts with
// the monitor awake and polling slowly, as a wait sometimes does).
func idle(t *testing.T, d time.Duration) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	defer f.Close()
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if err := unix.TimerfdSettime(fd, 0, &spec, nil); err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	if _, err := f.Read(b[:]); err != nil {
		t.Fatal(err)
	}
}

// inFlock reports whether a thread of this process is blocked in flock(2).
func inFlock() bool {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "syscall"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_FLOCK) {
			return true
		}
	}
	return false
}

// processSwitches sums the voluntary and involuntary context switches of
// every thread of this process.
func processSwitches(t *testing.T) int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			continue // the thread ended: its switches are not this wait's
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("/proc/self/task/%s/status: %q: %v", task.Name(), l, err)
				}
				n += c
			}
		}
	}
	return n
}
