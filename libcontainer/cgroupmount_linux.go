package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// mountCgroup mounts the container's view of the cgroup hierarchy. With a
// cgroup namespace the kernel shows the container's own cgroup as the root;
// without one, the container's cgroup directories are bind-mounted.
func (s *rootfsSetup) mountCgroup(m *specs.Mount, p parsedMount) error {
	target, _, err := openOrCreateInRoot(s.root, m.Destination, false)
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
				err = bindOnto(s.root, filepath.Join("/sys/fs/cgroup", s.cfg.CgroupPath), m.Destination, target, p.flags|unix.MS_BIND, p.cleared, nil)
			}
		} else {
			err = bindOnto(s.root, filepath.Join("/sys/fs/cgroup", s.cfg.CgroupPath), m.Destination, target, p.flags|unix.MS_BIND, p.cleared, nil)
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
	// The tmpfs is new and no container process runs yet, so nothing in it
	// can be a symlink: its entries are made and opened relative to its fd,
	// not resolved through the rootfs again (about 40 syscalls fewer).
	tmpfs, err := pathrs.OpenatInRoot(s.root, m.Destination)
	if err != nil {
		return err
	}
	defer tmpfs.Close()
	tfd := int(tmpfs.Fd())
	// Bind mounts ignore these flags; they are set on the whole tree below.
	const lock = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, h := range hier {
		if err := unix.Mkdirat(tfd, h.Name, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		fd, err := unix.Openat(tfd, h.Name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		dir := "/proc/self/fd/" + strconv.Itoa(fd)
		if cgroupns {
			err = unix.Mount("cgroup", dir, "cgroup", p.flags&^unix.MS_RDONLY|lock, h.Options())
		} else {
			err = unix.Mount(filepath.Join(h.Mountpoint, s.cfg.CgroupPath), dir, "", unix.MS_BIND, "")
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		// "cpu,cpuacct" is also reachable as "cpu" and "cpuacct".
		if len(h.Controllers) > 1 {
			for _, alias := range h.Controllers {
				_ = unix.Symlinkat(h.Name, tfd, alias)
			}
		}
	}
	var flags uintptr = lock
	if p.flags&unix.MS_RDONLY != 0 {
		flags |= unix.MS_RDONLY
	}
	if err := lockCgroupTree(tmpfs, hier, flags, !cgroupns); err != nil {
		return err
	}
	return applyPropagation(s.root, m.Destination, p.propagation)
}

// lockCgroupTree sets flags on the cgroup tmpfs and every hierarchy mounted
// in it: one mount_setattr(AT_RECURSIVE) where the kernel has it (5.12),
// else a remount of each (binds needs one even when not read-only: a bind
// takes no flags).
func lockCgroupTree(tmpfs *os.File, hier []cgroups.Hierarchy, flags uintptr, binds bool) error {
	var set uint64
	for fl, attr := range map[uintptr]uint64{unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID, unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC} {
		if flags&fl != 0 {
			set |= attr
		}
	}
	err := unix.MountSetattr(int(tmpfs.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: set})
	if !errors.Is(err, unix.ENOSYS) {
		if err != nil {
			return fmt.Errorf("cgroup mount flags: mount_setattr: %w", err)
		}
		return nil
	}
	if flags&unix.MS_RDONLY == 0 && !binds {
		return nil // the new cgroup mounts took their flags; the tmpfs has them
	}
	for _, h := range hier {
		fd, err := unix.Openat(int(tmpfs.Fd()), h.Name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		err = remount("/proc/self/fd/"+strconv.Itoa(fd), flags)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
	}
	if flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return remount(procFd(tmpfs), flags)
}
