package protocol_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// TestMain turns the test binary into a helper process when the environment
// asks for one: the concurrency tests re-execute it to get real, independent
// processes.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CRYOLOCK_HELPER"); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) error {
	if ok, err := kindHelper(mode); ok {
		return err
	}
	switch mode {
	case "contend":
		return contend()
	case "waiter":
		return waiter()
	}
	path := os.Getenv("CRYOLOCK_LOCK")
	lease, _ := time.ParseDuration(os.Getenv("CRYOLOCK_LEASE"))
	var opts []protocol.Option
	if lease > 0 {
		opts = append(opts, protocol.WithLease(lease))
	}
	l, err := protocol.New(path, opts...)
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch mode {
	case "worker":
		n, _ := strconv.Atoi(os.Getenv("CRYOLOCK_N"))
		iv, err := locktest.Run(ctx, l, locktest.Options{N: n, Counter: os.Getenv("CRYOLOCK_COUNTER"), Worker: fmt.Sprint("p", os.Getpid())})
		if werr := locktest.WriteHistory(os.Getenv("CRYOLOCK_HISTORY"), iv); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	case "hold":
		if err := l.Lock(ctx); err != nil {
			return err
		}
		fmt.Printf("held %s\n", l.Name())
		select {} // until killed
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func helperCmd(t testing.TB, mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"CRYOLOCK_HELPER=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestProcessesExclude: 8 independent processes each take the lock 200 times
// and increment a shared counter non-atomically inside it. A lost update or
// an overlapping hold is a violation of mutual exclusion.
func TestProcessesExclude(t *testing.T) {
	procs, each := 8, 200
	if testing.Short() {
		each = 40
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.cryolock")
	counter := filepath.Join(dir, "counter")
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmd := helperCmd(t, "worker",
			"CRYOLOCK_LOCK="+path, "CRYOLOCK_COUNTER="+counter, "CRYOLOCK_N="+strconv.Itoa(each),
			"CRYOLOCK_HISTORY="+filepath.Join(dir, fmt.Sprint("h", i)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	var all []locktest.Interval
	for i := 0; i < procs; i++ {
		iv, err := locktest.ReadHistory(filepath.Join(dir, fmt.Sprint("h", i)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, iv...)
	}
	got, err := locktest.ReadCounter(counter)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d processes × %d acquisitions: counter %d, %d holds recorded", procs, each, got, len(all))
	if got != procs*each || len(all) != procs*each {
		t.Errorf("counter = %d, holds = %d; want %d (lost updates mean two holders)", got, len(all), procs*each)
	}
	if ov := locktest.Check(all); len(ov) > 0 {
		t.Errorf("%d overlapping holds; first: %+v", len(ov), ov[0])
	}
	if names := locktest.Names(t, path); len(names) != 0 {
		t.Errorf("litter after all released: %v", names)
	}
}

// TestCrashedHolderReaped: a holder is SIGKILLed; this process then gets the
// lock once the dead holder's entry is stale — not before one lease of
// watching (the Observed rule) — and the dead holder's file is gone. How
// soon after the lease it gets in depends on the machine's load, so that
// upper bound is checked in virtual time (sim's
// TestCrashedHolderReapedInTime) and only logged here.
func TestCrashedHolderReaped(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	dir := t.TempDir()
	path := filepath.Join(dir, "c.cryolock")
	cmd := helperCmd(t, "hold", "CRYOLOCK_LOCK="+path, "CRYOLOCK_LEASE="+lease.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var name string
	if _, err := fmt.Fscanf(bufio.NewReader(out), "held %s\n", &name); err != nil {
		cmd.Process.Kill()
		t.Fatalf("holder did not report: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()

	l := newLock(t, path, protocol.WithLease(lease))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	defer l.Unlock()
	t.Logf("acquired %v after the holder was killed (lease %v)", took, lease)
	if _, err := os.Stat(filepath.Join(path, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dead holder's file %s not reaped: %v", name, err)
	}
	if took < lease {
		t.Errorf("acquired after %v, before one lease (%v) of watching: the dead holder was judged too early", took, lease)
	}
}
