package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Manager is a container's cgroup on a legacy or hybrid host: the same
// path in each mounted v1 hierarchy under root.
type v1Manager struct {
	root string // e.g. /sys/fs/cgroup, holding one dir (or symlink) per controller
	path string // e.g. /rt/<id>
	subs []cgroup1.Subsystem
	// claimed: the cgroup Claim made, so that Apply of the init joins it
	// without making every directory (and the cpuset copies) again.
	claimed cgroup1.Cgroup
	// unified is the controller-less cgroup2 mount of a hybrid host
	// (root/unified), "" elsewhere. The container gets the same path there
	// too, as runc does: tools that read only the v2 line of
	// /proc/PID/cgroup (systemd, runc's own tests) find it there.
	unified string
}

// The containerd subsystems implement these; its own interfaces are
// unexported, and calling them one by one lets Set order the writes and
// skip the ones this package does itself.
type (
	v1Pather  interface{ Path(string) string }
	v1Updater interface {
		Update(string, *specs.LinuxResources) error
	}
	v1Creator interface {
		Create(string, *specs.LinuxResources) error
	}
)

func newV1(root, p string) (*v1Manager, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	subs, err := v1Subsystems(root)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("no cgroup v1 controller mounted under %s: %w", root, ErrNoCgroups)
	}
	m := &v1Manager{root: root, path: p, subs: subs}
	if u := filepath.Join(root, "unified"); isCgroup2(u) {
		m.unified = u
	}
	return m, nil
}

// v1Subsystems lists containerd's subsystems for the controllers actually
// mounted under root. containerd's own cgroup1.Default does the same
// filtering but only for the first cgroup mount's parent directory, and
// adds a hugetlb subsystem whenever the kernel has huge pages even when it
// is not mounted (as on this project's CI machine); filtering every
// subsystem by its directory keeps a missing controller out of the list
// instead of failing Apply on it.
func v1Subsystems(root string) ([]cgroup1.Subsystem, error) {
	// Kernels without kmem accounting files (newer ones drop them) would
	// make every memory Stat fail; leave those entries at zero instead.
	var noKmem []string
	for _, mod := range []string{"kmem", "kmem.tcp"} {
		if !exists(filepath.Join(root, "memory"), "memory."+mod+".usage_in_bytes") {
			noKmem = append(noKmem, mod)
		}
	}
	all := []cgroup1.Subsystem{
		cgroup1.NewNamed(root, "systemd"),
		cgroup1.NewFreezer(root),
		cgroup1.NewPids(root),
		cgroup1.NewNetCls(root),
		cgroup1.NewNetPrio(root),
		cgroup1.NewPerfEvent(root),
		cgroup1.NewCpuset(root),
		cgroup1.NewCpu(root),
		cgroup1.NewCpuacct(root),
		cgroup1.NewMemory(root, cgroup1.OptionalSwap(), cgroup1.IgnoreModules(noKmem...)),
		cgroup1.NewBlkio(root),
		cgroup1.NewRdma(root),
	}
	// In a user namespace the devices cgroup cannot be written (runc and
	// containerd skip it too).
	if !userns.RunningInUserNS() {
		all = append(all, cgroup1.NewDevices(root))
	}
	if h, err := cgroup1.NewHugetlb(root); err == nil {
		all = append(all, h)
	}
	// Only real cgroup mounts count (mounts.go, v1Mounted).
	mounted, err := v1Mounted(root)
	if err != nil {
		return nil, err
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		p, ok := s.(v1Pather)
		if !ok {
			continue
		}
		if mounted != nil && !mounted[string(s.Name())] {
			continue
		}
		if _, err := os.Stat(p.Path("/")); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *v1Manager) Mode() string { return ModeV1 }
func (m *v1Manager) Path() string { return m.path }

func (m *v1Manager) hierarchy() cgroup1.InitOpts {
	subs := m.subs
	return cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subs, nil })
}

func (m *v1Manager) sub(name cgroup1.Name) cgroup1.Subsystem {
	for _, s := range m.subs {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// dir is the container's directory in the hierarchy of name ("" if that
// controller is not mounted).
func (m *v1Manager) dir(name cgroup1.Name) string {
	if s := m.sub(name); s != nil {
		return s.(v1Pather).Path(m.path)
	}
	return ""
}

// Apply creates the directories (containerd also seeds cpuset.cpus/mems
// from the parent, without which no task could join the cpuset cgroup) and
// writes pid to cgroup.procs of every hierarchy.
func (m *v1Manager) Apply(pid int) error {
	cg := m.claimed
	if cg == nil {
		var err error
		if cg, err = m.create(); err != nil {
			return err
		}
	}
	if pid <= 0 {
		return nil
	}
	if err := cg.Add(cgroup1.Process{Pid: pid}); err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, m.path, err)
	}
	if m.unified != "" {
		if err := writeFile(m.unifiedDir(), "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add pid %d to cgroup %s: %w", pid, m.path, err)
		}
	}
	return nil
}

// unifiedDir is the container's directory in a hybrid host's cgroup2
// mount ("" without one).
func (m *v1Manager) unifiedDir() string {
	if m.unified == "" {
		return ""
	}
	return filepath.Join(m.unified, m.path)
}

// create makes the directories in every hierarchy. containerd seeds
// cpuset.cpus/mems from each parent as it goes, but another container's
// Destroy can remove an emptied /rt between that seeding and the mkdir of
// our own directory; MkdirAll then makes a fresh /rt with empty cpus and
// mems, and no task can join. Once our directory exists no parent can be
// removed, so seeding again top-down after the fact is stable.
func (m *v1Manager) create() (cgroup1.Cgroup, error) {
	var cg cgroup1.Cgroup
	err := retryENOENT(func() (err error) {
		cg, err = cgroup1.New(cgroup1.StaticPath(m.path), &specs.LinuxResources{}, m.hierarchy())
		if err == nil && m.unified != "" {
			err = os.MkdirAll(m.unifiedDir(), 0o755)
		}
		return err
	})
	if err == nil {
		err = m.seedCpuset()
	}
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", m.path, err)
	}
	return cg, nil
}

// seedCpuset copies cpuset.cpus and cpuset.mems into each directory from
// the hierarchy's root down to the container's that has them empty.
func (m *v1Manager) seedCpuset() error {
	s := m.sub(cgroup1.Cpuset)
	if s == nil {
		return nil
	}
	root := s.(v1Pather).Path("/")
	dir := root
	for _, part := range strings.Split(strings.Trim(m.path, "/"), "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := readFile(dir, f)
			if err != nil {
				return err
			}
			if strings.TrimSpace(cur) != "" {
				continue
			}
			val, err := readFile(parent, f)
			if err != nil {
				return err
			}
			if err := writeFile(dir, f, strings.TrimSpace(val)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) dirs() []string {
	var out []string
	for _, s := range m.subs {
		out = append(out, s.(v1Pather).Path(m.path))
	}
	if m.unified != "" {
		out = append(out, m.unifiedDir())
	}
	return out
}

func (m *v1Manager) Claim(owner string) error {
	return claimDirs(m.dirs(), owner, func() (err error) {
		m.claimed, err = m.create()
		return err
	})
}

func (m *v1Manager) Unmarked() bool { return unmarked(m.dirs()) }

func (m *v1Manager) Owned(owner string) bool {
	for _, d := range m.dirs() {
		if markedBy(d, owner) {
			return true
		}
	}
	return false
}

func (m *v1Manager) OpenDir() (*os.File, error) {
	return nil, fmt.Errorf("open cgroup dir for clone: cgroup v1: %w", ErrNotSupported)
}

// Freeze follows runc: FREEZING can stick while tasks keep forking, so
// retry, thaw now and then to let it settle, and give up (thawed) after
// a bounded number of tries instead of containerd's unbounded loop.
func (m *v1Manager) Freeze() (err error) {
	dir := m.dir(cgroup1.Freezer)
	if dir == "" {
		return fmt.Errorf("freeze %s: freezer controller: %w", m.path, ErrNotSupported)
	}
	defer func() {
		if err != nil {
			// Never leave a half-frozen container behind.
			_ = writeFile(dir, "freezer.state", "THAWED")
		}
	}()
	for i := range 1000 {
		if i%50 == 49 {
			_ = writeFile(dir, "freezer.state", "THAWED")
			time.Sleep(10 * time.Millisecond)
		}
		if err := writeFile(dir, "freezer.state", "FROZEN"); err != nil {
			return fmt.Errorf("freeze %s: %w", m.path, err)
		}
		if i%25 == 24 {
			time.Sleep(10 * time.Microsecond)
		}
		state, err := readFile(dir, "freezer.state")
		if err != nil {
			return fmt.Errorf("freeze %s: %w", m.path, err)
		}
		switch s := strings.TrimSpace(state); s {
		case "FROZEN":
			return nil
		case "FREEZING":
			continue
		default:
			return fmt.Errorf("freeze %s: unexpected freezer.state %q", m.path, s)
		}
	}
	return fmt.Errorf("freeze %s: still FREEZING after 1000 tries", m.path)
}

func (m *v1Manager) Thaw() error {
	dir := m.dir(cgroup1.Freezer)
	if dir == "" {
		return nil // nothing can be frozen without the freezer
	}
	if err := writeFile(dir, "freezer.state", "THAWED"); err != nil {
		return fmt.Errorf("thaw %s: %w", m.path, err)
	}
	return nil
}

// Paused is true only when this cgroup itself was frozen (self_freezing),
// not when an ancestor is: resuming the container could not undo that.
func (m *v1Manager) Paused() (bool, error) {
	dir := m.dir(cgroup1.Freezer)
	if dir == "" {
		return false, nil
	}
	for {
		state, err := readFile(dir, "freezer.state")
		if err != nil {
			return false, fmt.Errorf("freezer state of %s: %w", m.path, err)
		}
		switch strings.TrimSpace(state) {
		case "THAWED":
			return false, nil
		case "FREEZING":
			time.Sleep(time.Millisecond)
			continue
		}
		self, err := readFile(dir, "freezer.self_freezing")
		if errors.Is(err, os.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("freezer state of %s: %w", m.path, err)
		}
		return strings.TrimSpace(self) == "1", nil
	}
}

// pidsDir picks a hierarchy every container process is in.
func (m *v1Manager) pidsDir() string {
	for _, n := range []cgroup1.Name{cgroup1.Pids, cgroup1.Freezer, cgroup1.Memory, cgroup1.Cpu, cgroup1.Devices} {
		if d := m.dir(n); d != "" {
			return d
		}
	}
	return m.subs[0].(v1Pather).Path(m.path)
}

func (m *v1Manager) Pids() ([]int, error) {
	pids, err := readPids(m.pidsDir())
	if err != nil {
		return nil, fmt.Errorf("list processes of cgroup %s: %w", m.path, err)
	}
	return pids, nil
}

func (m *v1Manager) Kill(sig unix.Signal) error {
	return killAll(m, sig)
}

func (m *v1Manager) Stats() (*Stats, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath(m.path), m.hierarchy())
	if err != nil {
		if errors.Is(err, cgroup1.ErrCgroupDeleted) {
			err = fmt.Errorf("%w: %w", err, os.ErrNotExist)
		}
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.path, err)
	}
	metrics, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.path, err)
	}
	return v1Stats(m, metrics), nil
}

func (m *v1Manager) OOMEvents(ctx context.Context) (<-chan struct{}, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath(m.path), m.hierarchy())
	if err != nil {
		return nil, fmt.Errorf("oom events of cgroup %s: %w", m.path, err)
	}
	fd, err := cg.OOMEventFD()
	if err != nil {
		if errors.Is(err, cgroup1.ErrMemoryNotSupported) {
			err = fmt.Errorf("memory controller %w", ErrUnavailable)
		}
		return nil, fmt.Errorf("oom events of cgroup %s: %w", m.path, err)
	}
	return watchEventfd(ctx, int(fd), m.dir(cgroup1.Memory))
}

// Destroy removes the container's directory in each hierarchy once no
// process is left, and rt's own /rt parent once it is empty; no other
// parent is ever removed.
func (m *v1Manager) Destroy() error {
	if err := waitEmpty(m.Pids); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
	}
	var errs []error
	for _, s := range m.subs {
		if err := removeCgroupDir(s.(v1Pather).Path(m.path)); err != nil {
			errs = append(errs, err)
			continue
		}
		removeEmptyDefaultParent(s.(v1Pather).Path("/"), m.path)
	}
	if m.unified != "" {
		if err := removeCgroupDir(m.unifiedDir()); err != nil {
			errs = append(errs, err)
		} else {
			removeEmptyDefaultParent(m.unified, m.path)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
	}
	return nil
}
