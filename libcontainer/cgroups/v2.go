package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// freezeTimeout bounds how long Freeze waits for cgroup.events "frozen 1".
var freezeTimeout = 5 * time.Second

// v2Manager is a container's cgroup on a unified hierarchy mounted at
// mountpoint (/sys/fs/cgroup on a v2 host; the tests also use the hybrid
// /sys/fs/cgroup/unified and plain temporary directories).
type v2Manager struct {
	mountpoint string
	path       string // e.g. /rt/<id>
	dir        string // mountpoint + path
}

func newV2(mountpoint, p string) (*v2Manager, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	if err := cgroup2.VerifyGroupPath(p); err != nil {
		return nil, fmt.Errorf("cgroup path %q: %w", p, err)
	}
	return &v2Manager{mountpoint: mountpoint, path: p, dir: filepath.Join(mountpoint, p)}, nil
}

func (m *v2Manager) Mode() string { return ModeV2 }
func (m *v2Manager) Path() string { return m.path }

// cg is containerd's manager for the same directory. Load creates nothing.
func (m *v2Manager) cg() (*cgroup2.Manager, error) {
	return cgroup2.Load(m.path, cgroup2.WithMountpoint(m.mountpoint))
}

// create makes the directory and, like runc, enables in every ancestor
// (the mount root included) all controllers that ancestor has, so the
// container's cgroup gets every controller the host delegates to us, and
// `rt update` can later set a limit that create did not. containerd's
// NewManager only enables the controllers of the resources given at
// creation and fails when one cannot be enabled; here a controller that
// cannot be enabled (e.g. the parent holds processes) is left out and
// reported by Set only if the config actually uses it.
func (m *v2Manager) create() error {
	return retryENOENT(m.mkdirs)
}

func (m *v2Manager) mkdirs() error {
	cur := m.mountpoint
	for _, e := range strings.Split(strings.TrimPrefix(m.path, "/"), "/") {
		enableControllers(cur)
		cur = filepath.Join(cur, e)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup %s: %w", m.path, err)
		}
	}
	return nil
}

// enableControllers writes to dir's cgroup.subtree_control the controllers
// dir has but does not yet pass down. Nothing is written when there are
// none (e.g. the controller-less unified hierarchy of a hybrid host).
func enableControllers(dir string) {
	avail, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return
	}
	enabled, _ := readFile(dir, "cgroup.subtree_control")
	have := strings.Fields(enabled)
	var add []string
	for _, c := range strings.Fields(avail) {
		if !slices.Contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return
	}
	if writeFile(dir, "cgroup.subtree_control", strings.Join(add, " ")) != nil {
		// One failing controller fails the whole write; enable the
		// others one by one.
		for _, c := range add {
			_ = writeFile(dir, "cgroup.subtree_control", c)
		}
	}
}

func (m *v2Manager) Apply(pid int) error {
	if err := m.create(); err != nil {
		return err
	}
	if pid <= 0 {
		return nil
	}
	cg, err := m.cg()
	if err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, m.path, err)
	}
	if err := cg.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, m.path, err)
	}
	return nil
}

func (m *v2Manager) dirs() []string { return []string{m.dir} }

func (m *v2Manager) Claim(owner string) error {
	return claimDirs(m.dirs(), owner, m.create)
}

func (m *v2Manager) Owned(owner string) bool { return markedBy(m.dir, owner) }

func (m *v2Manager) Unmarked() bool { return unmarked([]string{m.dir}) }

func (m *v2Manager) OpenDir() (*os.File, error) {
	f, err := os.OpenFile(m.dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup dir %s: %w", m.path, err)
	}
	return f, nil
}

// Freeze writes cgroup.freeze and waits for cgroup.events to say
// "frozen 1": writing only requests it (containerd returns right away).
func (m *v2Manager) Freeze() error {
	if !exists(m.dir, "cgroup.freeze") {
		if _, err := os.Stat(m.dir); err != nil {
			return fmt.Errorf("freeze %s: %w", m.path, err)
		}
		return fmt.Errorf("freeze %s: cgroup.freeze (kernel >= 5.2): %w", m.path, ErrNotSupported)
	}
	if err := writeFile(m.dir, "cgroup.freeze", "1"); err != nil {
		return fmt.Errorf("freeze %s: %w", m.path, err)
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		ev, err := readKV(m.dir, "cgroup.events")
		if err != nil {
			_ = m.Thaw()
			return fmt.Errorf("freeze %s: %w", m.path, err)
		}
		if ev["frozen"] == 1 {
			return nil
		}
		if time.Now().After(deadline) {
			_ = m.Thaw()
			return fmt.Errorf("freeze %s: not frozen after %s", m.path, freezeTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *v2Manager) Thaw() error {
	if !exists(m.dir, "cgroup.freeze") {
		return nil // nothing can be frozen without it
	}
	if err := writeFile(m.dir, "cgroup.freeze", "0"); err != nil {
		return fmt.Errorf("thaw %s: %w", m.path, err)
	}
	return nil
}

func (m *v2Manager) Paused() (bool, error) {
	s, err := readFile(m.dir, "cgroup.freeze")
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(m.dir); serr != nil {
			return false, fmt.Errorf("freezer state of %s: %w", m.path, serr)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("freezer state of %s: %w", m.path, err)
	}
	return strings.TrimSpace(s) == "1", nil
}

func (m *v2Manager) Pids() ([]int, error) {
	cg, err := m.cg()
	if err == nil {
		var procs []uint64
		if procs, err = cg.Procs(true); err == nil {
			pids := make([]int, len(procs))
			for i, p := range procs {
				pids[i] = int(p)
			}
			return pids, nil
		}
	}
	return nil, fmt.Errorf("list processes of cgroup %s: %w", m.path, err)
}

// Kill uses cgroup.kill (kernel >= 5.14) for SIGKILL: the kernel kills
// the whole subtree atomically, forks included.
func (m *v2Manager) Kill(sig unix.Signal) error {
	if sig == unix.SIGKILL && exists(m.dir, "cgroup.kill") {
		cg, err := m.cg()
		if err == nil {
			err = cg.Kill()
		}
		if err != nil {
			return fmt.Errorf("kill cgroup %s: %w", m.path, err)
		}
		return nil
	}
	return killAll(m, sig)
}

func (m *v2Manager) Stats() (*Stats, error) {
	// containerd reads missing files as zero; a missing cgroup is an error.
	if _, err := os.Stat(m.dir); err != nil {
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.path, err)
	}
	cg, err := m.cg()
	if err != nil {
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.path, err)
	}
	metrics, err := cg.Stat()
	if err != nil {
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.path, err)
	}
	return v2Stats(metrics, m.dir), nil
}

// OOMEvents watches memory.events itself: containerd's EventChan cannot be
// stopped before the cgroup empties, which would leak its goroutine and fd
// in a long-running caller.
func (m *v2Manager) OOMEvents(ctx context.Context) (<-chan struct{}, error) {
	return watchMemoryEvents(ctx, m.dir)
}

func (m *v2Manager) Destroy() error {
	if err := waitEmpty(m.Pids); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
	}
	if err := removeCgroupDir(m.dir); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
	}
	removeEmptyDefaultParent(m.mountpoint, m.path)
	return nil
}
