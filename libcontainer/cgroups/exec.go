package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

// The cgroup of an `rt exec` process. Without --cgroup it is the
// container's own (Apply), except on v2 where that cgroup has domain
// controllers enabled for its children (the init moved itself into a
// sub-cgroup): the kernel refuses a process there (EBUSY, "no internal
// processes"), and the process joins the init's cgroup instead, as runc's.
// With --cgroup it joins sub-cgroups of the container's, which must exist:
// SubCgroups maps a v1 controller to a path relative to the container's
// cgroup; the key "" is a path for every controller (v1) or the one path
// of v2.

// JoinExec moves pid, a process joining the container whose init is
// initPid, into the container's cgroup or the sub-cgroups sub names.
func JoinExec(m Manager, pid, initPid int, sub map[string]string) error {
	if s, ok := m.(*systemdManager); ok {
		m = s.Manager
	}
	switch m := m.(type) {
	case *v1Manager:
		if len(sub) == 0 {
			return m.Apply(pid)
		}
		return m.joinSub(pid, sub)
	case *v2Manager:
		if len(sub) == 0 {
			return m.joinExec(pid, initPid)
		}
		return m.joinSub(pid, sub)
	}
	if len(sub) > 0 {
		return fmt.Errorf("--cgroup: %w", ErrNotSupported)
	}
	return m.Apply(pid)
}

// subDir is rel resolved under base; rel may not leave it ("..", or a
// sibling sharing base's name as a prefix).
func subDir(base, rel string) (string, error) {
	d := filepath.Join(base, rel)
	if d != base && !strings.HasPrefix(d, base+"/") {
		return "", fmt.Errorf("bad sub cgroup path: %s", rel)
	}
	return d, nil
}

func enter(pid int, dirs []string) error {
	for _, d := range dirs {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("adding pid %d to cgroups: %w", pid, err)
		}
	}
	return nil
}

func (m *v1Manager) joinSub(pid int, sub map[string]string) error {
	all, forAll := sub[""]
	if forAll && len(sub) != 1 {
		return errors.New("--cgroup: a path without a controller cannot be combined with controller:path")
	}
	for name := range sub {
		if name != "" && m.sub(cgroup1.Name(strings.TrimPrefix(name, "name="))) == nil {
			return fmt.Errorf("--cgroup: unknown controller %s", name)
		}
	}
	// One directory per hierarchy: co-mounted controllers (cpu,cpuacct)
	// share one, and the one named explicitly wins over the default.
	byHier := map[string]string{}
	explicit := map[string]bool{}
	var order []string
	for _, s := range m.subs {
		name := string(s.Name())
		rel, named := sub[name]
		if !named {
			rel, named = sub["name="+name]
		}
		if forAll {
			rel, named = all, true
		}
		root := s.(v1Pather).Path("/")
		if r, err := filepath.EvalSymlinks(root); err == nil {
			root = r
		}
		if _, seen := byHier[root]; seen && (explicit[root] || !named) {
			continue
		}
		if _, seen := byHier[root]; !seen {
			order = append(order, root)
		}
		d, err := subDir(s.(v1Pather).Path(m.path), rel)
		if err != nil {
			return fmt.Errorf("--cgroup %s: %w", name, err)
		}
		byHier[root], explicit[root] = d, named
	}
	dirs := make([]string, 0, len(order)+1)
	for _, r := range order {
		dirs = append(dirs, byHier[r])
	}
	if m.unified != "" {
		d, err := subDir(m.unifiedDir(), all)
		if err != nil {
			return fmt.Errorf("--cgroup: %w", err)
		}
		dirs = append(dirs, d)
	}
	return enter(pid, dirs)
}

func (m *v2Manager) joinSub(pid int, sub map[string]string) error {
	rel, ok := sub[""]
	if !ok || len(sub) != 1 {
		return errors.New("--cgroup: cgroup v2 takes one path, without a controller")
	}
	d, err := subDir(m.dir, rel)
	if err != nil {
		return fmt.Errorf("--cgroup: %w", err)
	}
	return enter(pid, []string{d})
}

func (m *v2Manager) joinExec(pid, initPid int) error {
	err := m.Apply(pid)
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	d, ierr := initCgroupDir(m.mountpoint, initPid)
	if ierr != nil {
		return fmt.Errorf("%w (and the init's cgroup: %v)", err, ierr)
	}
	if d != m.dir && !strings.HasPrefix(d, m.dir+"/") {
		return fmt.Errorf("%w (the init's cgroup %s is not the container's)", err, d)
	}
	return enter(pid, []string{d})
}

// initCgroupDir reads pid's v2 cgroup ("0::/path") under mountpoint.
func initCgroupDir(mountpoint string, pid int) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return filepath.Join(mountpoint, p), nil
		}
	}
	return "", fmt.Errorf("/proc/%d/cgroup: no cgroup v2 line", pid)
}
