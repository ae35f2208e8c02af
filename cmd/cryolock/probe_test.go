package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cryolock-go/cryolock/fsprobe"
)

func TestProbeTable(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "", "probe", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, s := range []string{"Filesystem", "create_write", "set_mtime", "mtime granularity", "clock skew", "Recommendation", "lease", "settle", "stale_rule"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if e := entries(t, dir); len(e) != 0 {
		t.Errorf("left behind: %v", e)
	}
}

func TestProbeJSON(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "", "probe", "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"dir", "filesystem", "primitives", "mtime_granularity", "mtime_granularity_seconds", "clock_skew", "listing", "recommendation"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no key %q", k)
		}
	}
	var rec map[string]any
	json.Unmarshal(m["recommendation"], &rec)
	for _, k := range []string{"lease", "lease_seconds", "settle", "settle_seconds", "stale_rule", "reasons", "warnings", "usable"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("no key recommendation.%s", k)
		}
	}
	var r fsprobe.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("does not read back as a Report: %v", err)
	}
	if !r.Recommendation.Usable || r.Recommendation.Lease.D() <= 0 {
		t.Errorf("recommendation %+v", r.Recommendation)
	}
}

func TestProbePeerProcesses(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o777)
	other := filepath.Join(dir, "link")
	if err := os.Symlink(shared, other); err != nil {
		other = shared
	} else if fi, err := os.Lstat(other); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		other = shared // Wine 8 makes something else than a link
	}
	var wg sync.WaitGroup
	var codes [2]int
	var outs, errs [2]string
	for i, d := range []string{shared, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i], errs[i] = runCLI(t, "", "probe", "--json", "--peer", "--peer-timeout", "30s", d)
		}()
	}
	wg.Wait()
	var recs [2]fsprobe.Recommendation
	for i := range 2 {
		if codes[i] != 0 {
			t.Fatalf("side %d: exit %d\n%s\n%s", i, codes[i], outs[i], errs[i])
		}
		var r fsprobe.Report
		if err := json.Unmarshal([]byte(outs[i]), &r); err != nil {
			t.Fatalf("side %d: %v", i, err)
		}
		if r.Peer == nil || r.Peer.Rounds != fsprobe.DefaultPeerRounds {
			t.Errorf("side %d: peer %+v", i, r.Peer)
		}
		if !strings.Contains(errs[i], "paired with peer") || !strings.Contains(errs[i], "joint verdict") {
			t.Errorf("side %d: no progress on stderr: %s", i, errs[i])
		}
		if r.Peer == nil || r.Peer.Verdict == nil || r.Peer.Verdict.Recommendation == nil {
			t.Fatalf("side %d: no joint verdict", i)
		}
		recs[i] = r.Recommendation
	}
	if recs[0].Settle != recs[1].Settle || recs[0].Lease != recs[1].Lease || recs[0].MaxBackoff != recs[1].MaxBackoff {
		t.Errorf("the two sides recommend differently: %+v / %+v", recs[0], recs[1])
	}
	if e := entries(t, shared); len(e) != 0 {
		t.Errorf("left behind: %v", e)
	}
}

func TestProbeBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"probe"}, exitUsage, "arg"},
		{[]string{"probe", dir, dir}, exitUsage, "arg"},
		{[]string{"probe", "--samples", "0", dir}, exitUsage, "positive"},
		{[]string{"probe", missing}, exitFail, missing},
	} {
		code, _, errOut := runCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("probe created %s", missing)
	}
}
