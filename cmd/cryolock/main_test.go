package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// cryolockBin is the cryolock binary the tests run, built once by TestMain
// (with -race when the tests run with -race). Tests of every subcommand use
// it through startCLI and runCLI.
var cryolockBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cryolock-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cryolockBin = filepath.Join(dir, "cryolock")
	args := []string{"build", "-o", cryolockBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, ".")
	if out, err := exec.Command(goTool(), args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cryolock: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool returns the go command of the toolchain running the tests.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
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
	c := &cli{t: t, stdout: newLineBuffer(), stderr: newLineBuffer(), done: make(chan struct{})}
	c.cmd = exec.Command(cryolockBin, args...)
	c.cmd.Dir = dir
	if raceEnabled {
		// A race-enabled binary otherwise sleeps a second at exit; a race
		// it finds still makes it exit 66, which fails the test.
		c.cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
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
// stdout and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
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
