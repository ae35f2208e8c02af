//go:build linux

package realfs_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
)

// TestWASICounter: the lock compiled for GOOS=wasip1 GOARCH=wasm
// (./wasiworker) runs as 4 wazero processes at once, 2 through each FUSE
// mount — a sandbox without flock or any locking call at all, over two
// incoherent clients — each taking the lock 15 times and incrementing the
// shared counter. Hold intervals are on the wall clock (one machine).
func TestWASICounter(t *testing.T) {
	v := need(t, "CRYOLOCK_WAZERO", "CRYOLOCK_FUSE_A", "CRYOLOCK_FUSE_B", "CRYOLOCK_FUSE_BACKING")
	wazero, mounts, backing := v[0], v[1:3], v[3]
	const procs, each = 4, 15
	lease := 4 * fuseTimeout(t)

	tmp := t.TempDir()
	wasm := filepath.Join(tmp, "wasiworker.wasm")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", wasm, ".")
	build.Dir = filepath.Join(filepath.Dir(file), "wasiworker")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 GOARCH=wasm go build ./wasiworker: %v\n%s", err, out)
	}
	data := filepath.Join(backing, "wasi-data")
	os.RemoveAll(data)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(data)
	cache := filepath.Join(tmp, "wazero-cache")
	cmd := func(i, n int) *exec.Cmd {
		return exec.Command(wazero, "run", "-cachedir", cache,
			"-mount", mounts[i%2]+":/work", "-mount", data+":/data",
			"-env", "CRYOLOCK_LOCK=/work/wasi.cryolock",
			"-env", "CRYOLOCK_COUNTER=/data/counter",
			"-env", "CRYOLOCK_N="+strconv.Itoa(n),
			"-env", "CRYOLOCK_LEASE="+lease.String(),
			"-env", fmt.Sprintf("CRYOLOCK_HISTORY=/data/h%d", i),
			"-env", fmt.Sprintf("CRYOLOCK_WORKER=wasm%d@%s", i, filepath.Base(mounts[i%2])),
			wasm)
	}
	// Compile once into the cache (and check the module runs at all).
	if out, err := cmd(0, 0).CombinedOutput(); err != nil {
		t.Fatalf("wazero run (warm-up): %v\n%s", err, out)
	}
	start := time.Now()
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		c := cmd(i, each)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("wazero process %d: %v", i, err)
		}
	}
	took := time.Since(start)
	var all []locktest.Interval
	for i := 0; i < procs; i++ {
		iv, err := locktest.ReadHistory(filepath.Join(data, fmt.Sprint("h", i)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, iv...)
	}
	got, err := locktest.ReadCounter(filepath.Join(data, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	ov := locktest.Check(all)
	logf(t, "WASI (wazero, GOOS=wasip1) on 2 FUSE mounts, %d processes × %d, lease %v, settle 0: counter %d, %d holds, %d overlaps, %v",
		procs, each, lease, got, len(all), len(ov), took.Round(time.Millisecond))
	if got != procs*each || len(all) != procs*each {
		t.Errorf("counter = %d, holds = %d; want %d (a lost update means two holders)", got, len(all), procs*each)
	}
	if len(ov) > 0 {
		t.Errorf("%d overlapping holds; first: %+v", len(ov), ov[0])
	}
	if l := lockLitter(t, backing, "wasi"); len(l) != 0 {
		t.Errorf("litter after all released: %v", l)
	}
}
