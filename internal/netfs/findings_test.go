package netfs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestFindingsScript runs scripts/findings.sh on the netfs-result lines of
// a real run of the check (testdata/results.txt: a CI run's host, sshfs and
// guest outputs, grepped, 2026-11-30; the idle-waiter lines since given the
// where= field the check prints now) and checks what it writes: every table, a row per pair
// in the order the pairs first reported, the columns the README's table is
// made of, the idle waiter with the guest pairs' native estimate from the
// two calibrations, and that README's table can be generated from it. The
// check itself only runs the script where the network filesystems are;
// this runs it everywhere, so a script that breaks (an awk program cut
// short by a quote, a column left out) fails here.
func TestFindingsScript(t *testing.T) {
	got := runFindings(t, filepath.Join("testdata", "results.txt"), "CRYOLOCK_NETFS_RCLONE_OPTS=--dir-cache-time 0 --attr-timeout 0 --no-checksum")
	tables := mdTables(got)
	if len(tables) != 4 {
		t.Fatalf("%d tables, want 4 (gate, liveness, reader–writer and semaphore, gate with the recommendation):\n%s", len(tables), got)
	}
	wantPairs := []string{"rclone-sftp", "rclone-defaults", "sshfs", "nfs3", "nfs4", "cifs"}
	for i, tb := range tables[:2] {
		var pairs []string
		for _, r := range tb {
			pairs = append(pairs, r["pair"])
		}
		if strings.Join(pairs, " ") != strings.Join(wantPairs, " ") {
			t.Errorf("table %d: pairs %q, want %q", i+1, pairs, wantPairs)
		}
	}
	row := func(tb []map[string]string, pair string) map[string]string {
		for _, r := range tb {
			if r["pair"] == pair {
				return r
			}
		}
		t.Fatalf("no row of %s", pair)
		return nil
	}
	const idleCol = "idle waiter (default backoff): CPU, listings/s once backed off"
	for pair, want := range map[string]string{
		// 5.75% divided by 847045/35603 (TestCalibrate's two lines)
		"nfs3":        "5.75% (≈0.24% native), 1.22 listings/s",
		"cifs":        "4.20% (≈0.18% native), 0.80 listings/s",
		"rclone-sftp": "0.20%, 1.39 listings/s",
		"sshfs":       "0.08%, 1.31 listings/s",
	} {
		if v := row(tables[1], pair)[idleCol]; v != want {
			t.Errorf("%s: %s is %q, want %q", pair, idleCol, v, want)
		}
	}
	if v := row(tables[0], "nfs3")["holds done / expected"]; v != "50/400" {
		t.Errorf("nfs3: gate holds %q, want 50/400", v)
	}
	if !strings.Contains(got, "by about 24;") {
		t.Errorf("no calibration paragraph with the factor 24:\n%s", got)
	}
	if !strings.Contains(got, "rclone mount options used: `--dir-cache-time 0 --attr-timeout 0 --no-checksum`") {
		t.Errorf("no line with the rclone mount options:\n%s", got)
	}
	block, err := readmeTable(got)
	if err != nil {
		t.Fatalf("README's table from it: %v", err)
	}
	if !strings.Contains(block, "idle waiter (default backoff) CPU 5.75% (≈0.24% native), 1.22 listings/s") {
		t.Errorf("README's table has no idle waiter of nfs3:\n%s", block)
	}
}

// TestFindingsHandoffRec: the hand-off with the peer probe's joint
// recommendation (test handoff-rec, newer than testdata/results.txt) goes
// into the table of the recommendation's gate, beside the gate or alone
// (a pair whose gate this check does not run), and into README's row; a
// hand-off not run is shown as such. The input lines are made up here in
// the check's format: what is checked is where they go, not the figures.
func TestFindingsHandoffRec(t *testing.T) {
	in := filepath.Join(t.TempDir(), "results.txt")
	lines := strings.Join([]string{
		"netfs-result pair=nfs3 test=handoff-rec n=8 median=512ms p95=640ms max=700ms beyond_settle=212ms waiter_cpu=9.10% settle=300ms",
		"netfs-result pair=nfs3 test=gate-rec holds=400/400 overlaps=0 counter=400/400 counter_skipped=0 lock_errors=0 took=3m51s settle=300ms lease=10s backoff=7.5ms-1s",
		"netfs-result pair=sshfs test=handoff-rec n=8 median=90ms p95=120ms max=130ms beyond_settle=30ms waiter_cpu=0.50% settle=60ms",
		"netfs-result pair=cifs test=handoff-rec not_run=no_joint_recommendation",
	}, "\n") + "\n"
	if err := os.WriteFile(in, []byte(lines), 0o666); err != nil {
		t.Fatal(err)
	}
	out := runFindings(t, in)
	tables := mdTables(out)
	const col = "hand-off with it: median / p95 (median beyond its settle), waiter CPU"
	var rec []map[string]string
	for _, tb := range tables {
		if len(tb) > 0 && hasKey(tb[0], col) {
			rec = tb
		}
	}
	want := map[string]string{"nfs3": "512ms / 640ms (212ms), CPU 9.10%", "sshfs": "90ms / 120ms (30ms), CPU 0.50%", "cifs": "— (not run)"}
	if len(rec) != len(want) {
		t.Fatalf("the recommendation's table: %v, want rows of %d pairs\n%s", rec, len(want), out)
	}
	for _, r := range rec {
		if r[col] != want[r["pair"]] {
			t.Errorf("%s: %q, want %q", r["pair"], r[col], want[r["pair"]])
		}
	}
	block, err := readmeTable(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"counter 400/400, hand-off 512ms / 640ms (212ms), CPU 9.10%; time-boxed", "the probe's joint settings: hand-off 90ms / 120ms (30ms), CPU 0.50%"} {
		if !strings.Contains(block, s) {
			t.Errorf("README's table lacks %q:\n%s", s, block)
		}
	}
	if strings.Contains(block, "not run)") {
		t.Errorf("README's table shows a hand-off not run:\n%s", block)
	}
}

// runFindings runs scripts/findings.sh on the result lines in file in
// (with env added to the environment) and returns what it printed; it
// skips where the check does not run (no bash, Windows, or inside the
// check itself) and fails on an error or anything on stderr.
func runFindings(t *testing.T, in string, env ...string) string {
	t.Helper()
	skipInNetfsRun(t)
	bash, err := exec.LookPath("bash")
	if err != nil || runtime.GOOS == "windows" {
		t.Skip("the script runs where the check does: bash, awk and grep on Linux")
	}
	cmd := exec.Command(bash, filepath.Join("scripts", "findings.sh"), in)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("findings.sh %s: %v\n%s", in, err, stderr.String())
	}
	return string(out)
}
