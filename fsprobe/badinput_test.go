package fsprobe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryolock-go/cryolock/protocol"
)

// TestCachedRefusesBadLockPath: Cached is for a lock directory, whose name
// protocol.New requires to end in ".cryolock". Given any other path it used
// to create the directory, probe it and write .meta/fsprobe-<host>.json in
// it (in a project or home directory, by mistake), only for protocol.New to
// refuse the path afterwards; given "" it did so in the working directory.
// It now refuses at once with ErrBadPath, naming the path, creating nothing.
func TestCachedRefusesBadLockPath(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, tc := range []struct{ name, path, says string }{
		{"no suffix", filepath.Join(root, "project"), ".cryolock"},
		{"existing dir without the suffix", root, ".cryolock"},
		{"empty", "", "empty"},
		{"NUL byte", filepath.Join(root, "a\x00b.cryolock"), "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Cached(context.Background(), tc.path, Options{})
			if !errors.Is(err, protocol.ErrBadPath) {
				t.Fatalf("err = %v, want ErrBadPath", err)
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Op != "cache" || pe.Path != tc.path {
				t.Errorf("err = %#v, want a *protocol.Error with Op cache, Path %q", err, tc.path)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("message %q does not say %q", err, tc.says)
			}
		})
	}
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range des {
		t.Errorf("Cached created %s", filepath.Join(root, d.Name()))
	}
	if _, err := os.Lstat(MetaDir); err == nil {
		t.Errorf("Cached(\"\") made %s in the working directory", MetaDir)
	}
}

// TestProbeRefusesEmptyDir: Probe("") (and `cryolock probe ""`) used to
// probe the working directory; like protocol.New("") it is now refused,
// with ErrUnusable.
func TestProbeRefusesEmptyDir(t *testing.T) {
	t.Parallel()
	for _, run := range []func() error{
		func() error { _, err := Probe(context.Background(), "", Options{}); return err },
		func() error { _, err := Peer(context.Background(), "", Options{}); return err },
	} {
		err := run()
		if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("err = %v, want ErrUnusable saying the path is empty", err)
		}
	}
}

// TestNegativeOptionsRefused: a negative Options field (a duration or count
// computed wrongly by the caller) is an error wrapping protocol.ErrConfig
// naming the field, before anything is probed; it used to be replaced by
// the default silently. Zero still means the default.
func TestNegativeOptionsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lockDir := filepath.Join(dir, "x.cryolock")
	for _, tc := range []struct {
		field string
		o     Options
	}{
		{"Timeout", Options{Timeout: -1}},
		{"Samples", Options{Samples: -1}},
		{"PeerTimeout", Options{PeerTimeout: -1}},
		{"PeerMeasureTimeout", Options{PeerMeasureTimeout: -1}},
		{"PeerRounds", Options{PeerRounds: -2}},
		{"CacheMaxAge", Options{CacheMaxAge: -1}},
	} {
		for _, run := range []struct {
			op string
			f  func() error
		}{
			{"probe", func() error { _, err := Probe(context.Background(), dir, tc.o); return err }},
			{"peer", func() error { _, err := Peer(context.Background(), dir, tc.o); return err }},
			{"cache", func() error { _, err := Cached(context.Background(), lockDir, tc.o); return err }},
		} {
			err := run.f()
			var pe *protocol.Error
			if !errors.Is(err, protocol.ErrConfig) || !strings.Contains(err.Error(), tc.field) || !errors.As(err, &pe) || pe.Op != run.op {
				t.Errorf("%s with %s < 0: %v; want a *protocol.Error (Op %s) wrapping ErrConfig naming %s", run.op, tc.field, err, run.op, tc.field)
			}
		}
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left in %s: %v", dir, des)
	}
}
