package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cryolockBin is the program the process tests run as cryolock: this test
// binary itself, which TestMain turns into cryolock when testMainEnv is set
// (so no separate build is needed, and it is race-enabled exactly when the
// tests are). Most tests run commands in-process with runCLI instead; only
// what needs a real process (signals, process groups, concurrency between
// processes) uses startCLI.
var cryolockBin string

// testMainEnv, set to 1 in a process's environment, makes this test binary
// behave as the cryolock command.
const testMainEnv = "CRYOLOCK_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervisorArg {
		os.Exit(superviseMain(os.Args[2:]))
	}
	if os.Getenv(testMainEnv) == "1" {
		os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cryolockBin = exe
	os.Exit(m.Run())
}

// hangGuard bounds every wait of the tests so that a bug fails a test
// instead of hanging it. It is not a timing threshold: nothing is expected
// to take more than a fraction of it.
const hangGuard = 60 * time.Second

// lineBuffer collects a stream's output and hands out its lines as they come.
type lineBuffer struct {
	mu    sync.Mutex
	all   bytes.Buffer
	part  []byte
	lines chan string
}

func newLineBuffer() *lineBuffer { return &lineBuffer{lines: make(chan string, 4096)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all.Write(p)
	b.part = append(b.part, p...)
	for {
		i := bytes.IndexByte(b.part, '\n')
		if i < 0 {
			break
		}
		select {
		case b.lines <- string(b.part[:i]):
		default: // nobody waits for lines this far: keep them in all only
		}
		b.part = b.part[i+1:]
	}
	return len(p), nil
}

// String returns everything written so far.
func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.String()
}

// cli is one running cryolock process.
type cli struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan struct{}
	code   int
}

// startCLI starts cryolock with args in directory dir ("" for the test's).
func startCLI(t *testing.T, dir string, args ...string) *cli {
	t.Helper()
	return startCLIVia(t, dir, nil, args...)
}

// startCLIVia is startCLI with cryolock started through the command
// wrapper (its arguments: cryolock's path, then args), as in
// "nohup cryolock ..."; nil for none.
func startCLIVia(t *testing.T, dir string, wrapper []string, args ...string) *cli {
	t.Helper()
	c := &cli{t: t, stdout: newLineBuffer(), stderr: newLineBuffer(), done: make(chan struct{})}
	argv := append(append(slices.Clone(wrapper), cryolockBin), args...)
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Dir = dir
	c.cmd.Env = append(os.Environ(), testMainEnv+"=1")
	if raceEnabled {
		// A race-enabled binary otherwise sleeps a second at exit; a race
		// it finds still makes it exit 66, which fails the test.
		c.cmd.Env = append(c.cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	c.cmd.WaitDelay = hangGuard
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		c.code = c.cmd.ProcessState.ExitCode()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the process to exit and returns its exit status.
func (c *cli) wait() int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(hangGuard):
		_ = c.cmd.Process.Kill()
		<-c.done
		c.t.Fatalf("cryolock %q did not exit within %v\nstdout: %s\nstderr: %s", c.cmd.Args[1:], hangGuard, c.stdout, c.stderr)
		return -1
	}
}

// expectLine waits for a line containing substr on stdout or (stderr true)
// stderr, and returns it.
func (c *cli) expectLine(stderr bool, substr string) string {
	c.t.Helper()
	b := c.stdout
	if stderr {
		b = c.stderr
	}
	timeout := time.After(hangGuard)
	for {
		select {
		case l := <-b.lines:
			if strings.Contains(l, substr) {
				return l
			}
		case <-c.done:
			// Drain what came before the exit.
			for {
				select {
				case l := <-b.lines:
					if strings.Contains(l, substr) {
						return l
					}
				default:
					c.t.Fatalf("cryolock %q exited (status %d) without printing %q\nstdout: %s\nstderr: %s", c.cmd.Args[1:], c.code, substr, c.stdout, c.stderr)
				}
			}
		case <-timeout:
			c.t.Fatalf("cryolock %q printed no %q within %v\nstdout: %s\nstderr: %s", c.cmd.Args[1:], substr, hangGuard, c.stdout, c.stderr)
		}
	}
}

// runCLI runs cryolock with args to completion and returns its status,
// stdout and stderr: in-process (with empty stdin) when dir is "", as a
// process in directory dir otherwise.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	if dir == "" {
		// Locked buffers: run writes to stderr while CMD's output is
		// copied into them.
		stdout, stderr := newLineBuffer(), newLineBuffer()
		code := execute(args, strings.NewReader(""), stdout, stderr)
		return code, stdout.String(), stderr.String()
	}
	c := startCLI(t, dir, args...)
	c.stdin.Close()
	code := c.wait()
	return code, c.stdout.String(), c.stderr.String()
}

// entries lists a lock directory's files (the protocol's entries; the
// .meta subdirectory is not one).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		if !d.IsDir() {
			names = append(names, d.Name())
		}
	}
	return names
}
