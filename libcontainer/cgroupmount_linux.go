package libcontainer

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// mountCgroup mounts the container's view of the cgroup hierarchy. With a
// cgroup namespace the kernel shows the container's own cgroup as the root;
// without one, the container's cgroup directories are bind-mounted.
func (s *rootfsSetup) mountCgroup(m *specs.Mount, p parsedMount) error {
	target, err := openOrCreateInRoot(s.root, m.Destination, false)
	if err != nil {
		return err
	}
	defer target.Close()
	cgroupns := hasNS(s.spec, specs.CgroupNamespace)
	mode, err := cgroups.HostMode()
	if err != nil {
		return err
	}
	if mode == cgroups.ModeV2 {
		if cgroupns {
			err = unix.Mount("cgroup2", procFd(target), "cgroup2", p.flags, p.data)
			// Inside a user namespace the kernel can refuse a new cgroup2
			// superblock (EPERM, or EBUSY when the cgroup namespace's root
			// is not one the caller may mount): bind the container's own
			// cgroup instead, as runc does.
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) {
				err = bindOnto(s.root, filepath.Join("/sys/fs/cgroup", s.cfg.CgroupPath), m.Destination, target, p.flags|unix.MS_BIND, nil)
			}
		} else {
			err = bindOnto(s.root, filepath.Join("/sys/fs/cgroup", s.cfg.CgroupPath), m.Destination, target, p.flags|unix.MS_BIND, nil)
		}
		if err != nil {
			return err
		}
		return applyPropagation(s.root, m.Destination, p.propagation)
	}
	hier, err := cgroups.V1Hierarchies()
	if err != nil {
		return err
	}
	// cgroup v1: a tmpfs holding one mount per hierarchy, read-only at the end.
	if err := unix.Mount("tmpfs", procFd(target), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("cgroup tmpfs: %w", err)
	}
	for _, h := range hier {
		sub := filepath.Join(m.Destination, h.Name)
		dir, err := openOrCreateInRoot(s.root, sub, false)
		if err != nil {
			return err
		}
		if cgroupns {
			err = unix.Mount("cgroup", procFd(dir), "cgroup", p.flags&^unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, h.Options())
		} else {
			err = bindOnto(s.root, filepath.Join(h.Mountpoint, s.cfg.CgroupPath), sub, dir, unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, nil)
		}
		if err == nil && p.flags&unix.MS_RDONLY != 0 {
			err = remountAt(s.root, sub, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
		}
		dir.Close()
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		// "cpu,cpuacct" is also reachable as "cpu" and "cpuacct".
		if len(h.Controllers) > 1 {
			parent, err := openOrCreateInRoot(s.root, m.Destination, false)
			if err != nil {
				return err
			}
			for _, alias := range h.Controllers {
				_ = unix.Symlinkat(h.Name, int(parent.Fd()), alias)
			}
			parent.Close()
		}
	}
	if p.flags&unix.MS_RDONLY != 0 {
		if err := remountAt(s.root, m.Destination, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	return applyPropagation(s.root, m.Destination, p.propagation)
}
