package netfs_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's filesystem table from FINDINGS.md")

// The README's block generated from FINDINGS.md lies between these lines.
const (
	readmeBegin = "<!-- netfs-table: generated from internal/netfs/FINDINGS.md by `go test ./internal/netfs -run TestREADMETable -update-readme`; do not edit -->"
	readmeEnd   = "<!-- netfs-table end -->"
)

// TestREADMETable: the README's table of filesystems (what was measured,
// what the probe recommends, the result) is the one generated from the CI
// run's FINDINGS.md. With -update-readme it rewrites the README's block.
func TestREADMETable(t *testing.T) {
	skipInNetfsRun(t)
	findings, err := os.ReadFile("FINDINGS.md")
	if err != nil {
		t.Fatal(err)
	}
	block, err := readmeTable(string(findings))
	if err != nil {
		t.Fatalf("FINDINGS.md: %v", err)
	}
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(readmeBegin)), bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("%s has no generated block (%q ... %q)", path, readmeBegin, readmeEnd)
	}
	got := string(readme[i+len(readmeBegin) : j])
	want := "\n" + block
	if got == want {
		return
	}
	if *updateREADME {
		out := append(append(append([]byte{}, readme[:i+len(readmeBegin)]...), want...), readme[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's filesystem table is not the one generated from FINDINGS.md: run go test ./internal/netfs -run TestREADMETable -update-readme\n--- got\n%s\n--- want\n%s", path, got, want)
}

// readmeTable renders the README's table from FINDINGS.md's two tables.
func readmeTable(findings string) (string, error) {
	tables := mdTables(findings)
	if len(tables) < 2 {
		return "", fmt.Errorf("%d tables, want the gate table and the liveness table", len(tables))
	}
	rows := map[string]map[string]string{}
	var order []string
	const (
		recHead    = "gate with the peer probe's joint recommendation: settle, lease, backoff"
		recHandoff = "hand-off with it: median / p95 (median beyond its settle), waiter CPU"
	)
	for i, tb := range tables {
		// The first two tables, and the gate run with the recommendation
		// (its columns prefixed "rec ").
		rec := len(tb) > 0 && hasKey(tb[0], recHead)
		if i >= 2 && !rec {
			continue
		}
		for _, r := range tb {
			p := r["pair"]
			if rows[p] == nil {
				rows[p] = map[string]string{}
				order = append(order, p)
			}
			for k, v := range r {
				if rec {
					k = "rec " + k
				}
				rows[p][k] = v
			}
		}
	}
	col := func(r map[string]string, k string) string {
		if v, ok := r[k]; ok && v != "" {
			return v
		}
		return "—"
	}
	var b strings.Builder
	b.WriteString("| filesystem (two mounts) | measured across the mounts | the probe recommends | the lock there (settings used) |\n|---|---|---|---|\n")
	for _, p := range order {
		r := rows[p]
		// Each part only where it was measured.
		parts := func(specs ...[2]string) string {
			var out []string
			for _, s := range specs {
				if v := col(r, s[1]); v != "—" {
					out = append(out, fmt.Sprintf(s[0], v))
				}
			}
			if len(out) == 0 {
				return "—"
			}
			return strings.Join(out, "; ")
		}
		measured := parts(
			[2]string{"listing lag %s (median / max)", "listing lag median / max"},
			[2]string{"create-then-list / plain round trip %s", "peer: create-then-list / plain round trip"},
			[2]string{"own create refreshes the listing: %s", "own create refreshes the listing"},
			[2]string{"hand-off %s", "hand-off median / p95 (median beyond settle)"},
			[2]string{"waiter CPU %s", "waiter CPU"},
			[2]string{"with the default backoff %s", "hand-off with the default backoff, median / p95, waiter CPU"},
			[2]string{"idle waiter (default backoff) CPU %s", "idle waiter (default backoff): CPU, listings/s once backed off"},
			[2]string{"flock hand-off %s", "flock hand-off median / p95"})
		rec := parts(
			[2]string{"one mount: %s", "probe (each mount)"},
			[2]string{"both (`--peer`, joint): %s", "peer: joint recommendation"})
		result := fmt.Sprintf("%s: holds %s, overlaps %s, counter %s; recovery after SIGKILL %s",
			col(r, "settle / lease used"), col(r, "holds done / expected"), col(r, "overlaps"), col(r, "counter / holds"), col(r, "recovery after SIGKILL"))
		if col(r, "holds done / expected") == "—" {
			result = "gate not run by this check"
			if p == "sshfs" {
				result += " (internal/realfs: counter exact, 0 overlaps)"
			}
		}
		handoff := ""
		if h := col(r, "rec "+recHandoff); !strings.HasPrefix(h, "—") {
			handoff = "hand-off " + h
		}
		if h := col(r, "rec holds done / expected"); h != "—" {
			if handoff != "" {
				handoff = ", " + handoff
			}
			result = fmt.Sprintf("the probe's joint settings (%s): holds %s in %s, overlaps %s, counter %s%s; time-boxed at %s",
				col(r, "rec "+recHead), h, col(r, "rec took"), col(r, "rec overlaps"), col(r, "rec counter / holds"), handoff, result)
		} else if handoff != "" {
			result += "; the probe's joint settings: " + handoff
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fsName(p), measured, rec, result)
	}
	return b.String(), nil
}

// hasKey reports whether row r has column k.
func hasKey(r map[string]string, k string) bool {
	_, ok := r[k]
	return ok
}

// fsName names a pair for the README.
func fsName(pair string) string {
	switch pair {
	case "nfs3":
		return "NFSv3 (Linux kernel client, default caches)"
	case "nfs4":
		return "NFSv4.2 (Linux kernel client, default caches)"
	case "cifs":
		return "SMB 3.1.1 (Linux cifs client, default caches)"
	case "rclone-sftp":
		return "rclone mount of an sftp remote (`--dir-cache-time 0 --attr-timeout 0 --no-checksum`)"
	case "sshfs":
		return "sshfs (3.7, default caches: 20 s)"
	case "rclone-defaults":
		return "rclone mount of the sftp remote with rclone's defaults (probe only)"
	case "rclone-local":
		return "rclone mount of a local path (`--dir-cache-time 0 --attr-timeout 0 --no-checksum`)"
	}
	return pair
}

// mdTables parses the markdown tables of s: each a list of rows keyed by
// the header's cells.
func mdTables(s string) [][]map[string]string {
	var out [][]map[string]string
	var head []string
	var cur []map[string]string
	cells := func(line string) []string {
		line = strings.TrimSpace(line)
		line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
		f := strings.Split(line, "|")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	flush := func() {
		if head != nil {
			out = append(out, cur)
		}
		head, cur = nil, nil
	}
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			flush()
			continue
		}
		c := cells(line)
		switch {
		case head == nil:
			head = c
		case strings.Trim(strings.Join(c, ""), "-: ") == "":
			// the separator row
		default:
			r := map[string]string{}
			for i, h := range head {
				if i < len(c) {
					r[h] = c[i]
				}
			}
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// skipInNetfsRun skips a test of the package's own files (the README,
// FINDINGS.md, the scripts) in the network filesystem run: its test binary
// runs outside the package directory (in the guest, or from the check's
// state directory), while go test ./internal/netfs runs it everywhere.
func skipInNetfsRun(t *testing.T) {
	t.Helper()
	if os.Getenv("CRYOLOCK_NETFS_PAIRS") != "" {
		t.Skip("the network filesystem run (not in the package directory): go test ./internal/netfs runs this")
	}
}
