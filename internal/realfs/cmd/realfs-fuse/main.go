//go:build linux && !386 && !arm && !mips && !mipsle

// Command realfs-fuse mounts a directory through the test FUSE filesystem of
// package fusefs (a loopback with configurable kernel caches and no
// cross-mount flock/fcntl) and serves it until it is unmounted or receives
// SIGINT/SIGTERM.
//
//	realfs-fuse [-attr 2s] [-entry 2s] [-negative 2s] [-cachedir | -listttl 1s] [-keepcache] BACKING MOUNTPOINT
//
// It prints "ready" on stdout once the mount is up (so a script can wait
// for it), and unmounts on exit.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cryolock-go/cryolock/internal/realfs/fusefs"
)

func main() {
	var o fusefs.Options
	flag.DurationVar(&o.AttrTimeout, "attr", 0, "attribute timeout")
	flag.DurationVar(&o.EntryTimeout, "entry", 0, "entry timeout")
	flag.DurationVar(&o.NegativeTimeout, "negative", 0, "negative entry timeout")
	flag.BoolVar(&o.CacheDir, "cachedir", false, "let the kernel cache directory listings")
	flag.BoolVar(&o.KeepCache, "keepcache", false, "keep file data cached across opens")
	flag.DurationVar(&o.ListTTL, "listttl", 0, "serve listings from per-mount snapshots refreshed this often (own changes show at once, others' only at a refresh)")
	flag.BoolVar(&o.Debug, "debug", false, "log every FUSE request")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: realfs-fuse [flags] BACKING MOUNTPOINT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	srv, err := fusefs.Mount(flag.Arg(0), flag.Arg(1), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realfs-fuse:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		if err := srv.Unmount(); err != nil {
			fmt.Fprintln(os.Stderr, "realfs-fuse: unmount:", err)
		}
	}()
	fmt.Println("ready")
	srv.Wait()
}
