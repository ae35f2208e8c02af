package fsprobe_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cryolock-go/cryolock/fsprobe"
	"github.com/cryolock-go/cryolock/protocol"
)

// Probe a directory and use its recommendation for a lock in it.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	report, err := fsprobe.Probe(context.Background(), dir, fsprobe.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rec := report.Recommendation
	fmt.Println("usable:", rec.Usable)
	fmt.Println("stale rule:", rec.StaleRule)
	fmt.Println("lease above 4 × settle:", rec.Lease.D() > 4*rec.Settle.D())

	l, err := protocol.New(filepath.Join(dir, "job.cryolock"), fsprobe.WithReport(report))
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Lock(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("held")
	l.Unlock()
	// Output:
	// usable: true
	// stale rule: observed
	// lease above 4 × settle: true
	// held
}

// Cached probes a lock directory once and keeps the report in its .meta
// subdirectory, so later starts reuse it.
func ExampleCached() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "job.cryolock")

	report, err := fsprobe.Cached(context.Background(), path, fsprobe.Options{})
	if err != nil {
		log.Fatal(err)
	}
	l, err := protocol.New(path, fsprobe.WithReport(report))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Settings().Stale)
	// Output: observed
}
