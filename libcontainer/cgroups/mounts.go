package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
)

// Hierarchy is one mounted cgroup v1 hierarchy, as the rootfs code needs it
// to mount the container's own view (in a new cgroup namespace) at
// /sys/fs/cgroup/<Name>.
type Hierarchy struct {
	// Mountpoint on the host, e.g. "/sys/fs/cgroup/cpu,cpuacct".
	Mountpoint string
	// Name is the mountpoint's base name, e.g. "cpu,cpuacct" or "systemd".
	Name string
	// Controllers it carries, e.g. ["cpu", "cpuacct"]; a named hierarchy
	// is ["name=systemd"].
	Controllers []string
}

// Options is the data for mount(2) of this hierarchy's cgroup filesystem:
// a v1 hierarchy can only be mounted again with exactly its controller set.
func (h Hierarchy) Options() string {
	return strings.Join(h.Controllers, ",")
}

// V1Hierarchies returns the cgroup v1 hierarchies mounted on the host
// (nothing on a pure v2 host), sorted by Name. For a v2 host the container's
// `cgroup` mount is simply a cgroup2 mount.
func V1Hierarchies() ([]Hierarchy, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, fmt.Errorf("reading cgroup v1 mounts: %w", err)
	}
	mounts = slices.Clone(mounts) // the list is shared (cgroupMounts)
	known := knownSubsystems()
	seen := map[string]bool{}
	var out []Hierarchy
	// Prefer the canonical /sys/fs/cgroup mounts when a hierarchy is also
	// mounted elsewhere (bind mounts into other containers, tools).
	sort.SliceStable(mounts, func(i, j int) bool {
		return underCgroupRoot(mounts[i].Mountpoint) && !underCgroupRoot(mounts[j].Mountpoint)
	})
	for _, m := range mounts {
		h := Hierarchy{Mountpoint: m.Mountpoint, Name: filepath.Base(m.Mountpoint)}
		for _, opt := range strings.Split(m.VFSOptions, ",") {
			if strings.HasPrefix(opt, "name=") || known[opt] {
				h.Controllers = append(h.Controllers, opt)
			}
		}
		if len(h.Controllers) == 0 || seen[h.Options()] {
			continue
		}
		seen[h.Options()] = true
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// cgroupMounts lists the cgroup v1 mounts (mountinfo); tests replace it.
// It is read once per process: the hierarchies are mounted at boot, and one
// rt command asked up to six times (a mountinfo parse each). Callers must
// not modify the list.
var cgroupMounts = sync.OnceValues(func() ([]*mountinfo.Info, error) {
	return mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
})

// v1Mounted returns the v1 subsystems (by containerd's names: "cpu",
// "memory", "systemd" for name=systemd, ...) whose directory root/<name>
// is, or links to, a cgroup mount carrying that controller. Anything else
// under root, such as a plain directory "net_cls" on the /sys/fs/cgroup
// tmpfs, is not a controller: writing cgroup.procs there would only make
// files. nil means no cgroup is mounted under root at all, which happens
// only for a fake layout in unit tests (rt's own root comes from the
// mounts, see v1Root): then directories are taken as they are.
func v1Mounted(root string) (map[string]bool, error) {
	v1MountedMu.Lock()
	defer v1MountedMu.Unlock()
	if m, ok := v1MountedCache[root]; ok {
		return m, nil
	}
	m, err := readV1Mounted(root)
	// Only real mounts are remembered (see cgroupMounts); a fake layout of
	// the unit tests (nil) is looked at again.
	if err == nil && m != nil {
		v1MountedCache[root] = m
	}
	return m, err
}

// One look per root and process: every cgroup manager (a command makes up
// to three) resolved each controller's directory again, four lstat each.
var (
	v1MountedMu    sync.Mutex
	v1MountedCache = map[string]map[string]bool{}
)

func readV1Mounted(root string) (map[string]bool, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, fmt.Errorf("reading cgroup v1 mounts: %w", err)
	}
	known := knownSubsystems()
	var out map[string]bool
	for _, m := range mounts {
		if filepath.Dir(m.Mountpoint) != filepath.Clean(root) {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		for _, opt := range strings.Split(m.VFSOptions, ",") {
			name, named := strings.CutPrefix(opt, "name=")
			if !named && !known[opt] {
				continue
			}
			// root/cpu may be a symlink to root/cpu,cpuacct.
			if p, err := filepath.EvalSymlinks(filepath.Join(root, name)); err == nil && p == m.Mountpoint {
				out[name] = true
			}
		}
	}
	return out, nil
}

func underCgroupRoot(p string) bool {
	return filepath.Dir(p) == unifiedMountpoint
}

// v1Root is the directory holding one directory (or symlink) per v1
// controller, which is the layout containerd's cgroup1 subsystems expect.
func v1Root() (string, error) {
	hs, err := V1Hierarchies()
	if err != nil {
		return "", err
	}
	if len(hs) == 0 {
		return "", fmt.Errorf("no cgroup v1 hierarchy mounted: %w", ErrNoCgroups)
	}
	for _, h := range hs {
		if underCgroupRoot(h.Mountpoint) {
			return unifiedMountpoint, nil
		}
	}
	return filepath.Dir(hs[0].Mountpoint), nil
}

// knownSubsystems reads the kernel's controller names, so superblock options
// such as "rw" or "clone_children" are not taken for controllers. Read once
// per process (the kernel's list does not change); callers must not modify
// the map.
var knownSubsystems = sync.OnceValue(readSubsystems)

func readSubsystems() map[string]bool {
	known := map[string]bool{}
	f, err := os.Open("/proc/cgroups")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			line := s.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			if fields := strings.Fields(line); len(fields) > 0 {
				known[fields[0]] = true
			}
		}
	}
	if len(known) == 0 {
		for _, n := range []string{"cpuset", "cpu", "cpuacct", "blkio", "memory", "devices",
			"freezer", "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"} {
			known[n] = true
		}
	}
	return known
}
