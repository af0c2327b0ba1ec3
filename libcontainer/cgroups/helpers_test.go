package cgroups

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every cgroup a test creates lives under testParent ("/rt-test-<pid>") in
// each hierarchy, so a leak is attributable and never touches the host's
// own cgroups.
var testParent = fmt.Sprintf("/rt-test-%d", os.Getpid())

func TestMain(m *testing.M) {
	code := m.Run()
	own, stale := leftTestCgroups()
	if len(own) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: test cgroups left behind: %v\n", own)
		// Clean up anyway (they are ours), so one failing run does not
		// break the next.
		for _, l := range own {
			_ = removeCgroupDir(l)
		}
		code = 1
	}
	if len(stale) > 0 {
		// Left by an earlier run that died; not ours to remove.
		fmt.Fprintf(os.Stderr, "note: stale rt-test cgroups of dead processes: %v\n", stale)
	}
	os.Exit(code)
}

// leftTestCgroups finds rt-test-<pid>[-...] directories anywhere under
// /sys/fs/cgroup: own are this process's (a leak of this run), stale those
// of dead processes. Those of live other processes belong to a concurrent
// test run and are ignored.
func leftTestCgroups() (own, stale []string) {
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rest, ok := strings.CutPrefix(d.Name(), "rt-test-")
		if !ok {
			return nil
		}
		digits, _, _ := strings.Cut(rest, "-")
		switch pid, err := strconv.Atoi(digits); {
		case err == nil && pid == os.Getpid():
			own = append(own, p)
		case err != nil || unix.Kill(pid, 0) == unix.ESRCH:
			stale = append(stale, p)
		}
		return filepath.SkipDir
	})
	return own, stale
}

// testCgroup returns "/rt-test-<pid>/<name>" and, at cleanup, removes the
// leaf and then the shared test parent (if no other test still uses it)
// in every hierarchy under the given roots.
func testCgroup(t *testing.T, name string, roots ...string) string {
	t.Helper()
	p := filepath.Join(testParent, name)
	t.Cleanup(func() {
		for _, root := range roots {
			if err := removeCgroupDir(filepath.Join(root, p)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			if err := unix.Rmdir(filepath.Join(root, testParent)); err != nil &&
				!errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
				t.Errorf("cleanup: rmdir %s: %v", filepath.Join(root, testParent), err)
			}
		}
	})
	return p
}

// hostRoots lists the directories New's manager uses on this host: each
// v1 hierarchy (and a hybrid host's cgroup2 mount), or the v2 mount.
func hostRoots(t *testing.T) []string {
	t.Helper()
	mode, err := HostMode()
	if err != nil {
		t.Skip(err)
	}
	if mode == ModeV2 {
		return []string{unifiedMountpoint}
	}
	hs, err := V1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for _, h := range hs {
		roots = append(roots, h.Mountpoint)
	}
	// A hybrid host's cgroup2 mount: the v1 manager uses it too.
	if u := filepath.Join(unifiedMountpoint, "unified"); isCgroup2(u) {
		roots = append(roots, u)
	}
	return roots
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// proc is a test process (sh -c script) that waits for a line on stdin
// before running the rest, so the test can put it in a cgroup first: the
// same "in the cgroup before user code runs" order rt uses.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *strings.Builder
	waited chan error
}

func startProc(t *testing.T, script string, attr *syscall.SysProcAttr) *proc {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = attr
	// Background children may hold stdout open after the shell is gone.
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &strings.Builder{}
	cmd.Stdout = &syncWriter{b: out}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, out: out, waited: make(chan error, 1)}
	go func() { p.waited <- cmd.Wait() }()
	t.Cleanup(func() {
		// By PID only: never by name.
		_ = unix.Kill(cmd.Process.Pid, unix.SIGKILL)
		select {
		case <-p.waited:
		case <-time.After(10 * time.Second):
			t.Errorf("pid %d did not exit", cmd.Process.Pid)
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// step releases the next "read _" of the script.
func (p *proc) step(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "\n"); err != nil {
		t.Fatal(err)
	}
}

func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.waited:
		p.waited <- err // keep it for cleanup
		return err
	case <-time.After(d):
		t.Fatalf("pid %d still running after %s; output: %s", p.pid(), d, p.output())
		return nil
	}
}

func (p *proc) output() string {
	w := p.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func ptr[T any](v T) *T { return &v }
