package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Making the prepared rootfs the root: pivot_root (or chroot with
// --no-pivot), then what must wait until after it.

// parentMountPrivate sets the propagation of the mount that holds path:
// EINVAL from mount(2) means "not a mount point", so walk up.
func parentMountPrivate(path string, rootProp uintptr) error {
	flag := uintptr(unix.MS_PRIVATE)
	if rootProp&unix.MS_SLAVE != 0 {
		flag = unix.MS_SLAVE
	}
	for {
		err := unix.Mount("", path, "", flag, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || path == "/" {
			return fmt.Errorf("set propagation of the mount holding %s: %w", path, err)
		}
		path = filepath.Dir(path)
	}
}

// pivotRoot makes rootfs the root. The old root is detached without ever
// being reachable from the container (runc's fd-based pivot_root(".", ".")).
func pivotRoot(rootfs string, noPivot, privateMounts bool) error {
	if !privateMounts {
		// pivot_root would swap the host's root: chroot, as runc does.
		if err := unix.Chroot(rootfs); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	if noPivot {
		if err := hideHostProcSys(rootfs); err != nil {
			return fmt.Errorf("--no-pivot: %w", err)
		}
		if err := unix.Chdir(rootfs); err != nil {
			return err
		}
		if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Keep the unmount from propagating to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// hideHostProcSys, for --no-pivot, removes from the container's mount
// namespace every whole (root "/") procfs and sysfs mount outside the
// rootfs. chroot leaves the host's /proc mounted in the namespace, below
// the container's root, and the kernel lets a process mount a new procfs
// (unshare -mrpf; mount -t proc) when a fully visible one exists there:
// that procfs would have no masks (runc's msMoveRoot does the same). The
// mounts go slave first so the unmount never reaches the host; where an
// unmount is refused they are covered with an empty tmpfs instead.
func hideHostProcSys(rootfs string) error {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		inside := m.Mountpoint == rootfs || strings.HasPrefix(m.Mountpoint, rootfs+"/")
		return m.Root != "/" || (m.FSType != "proc" && m.FSType != "sysfs") || inside, false
	})
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Mount("", m.Mountpoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // below a mount already gone
			}
			return fmt.Errorf("make %s slave: %w", m.Mountpoint, err)
		}
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("unmount %s: %w", m.Mountpoint, err)
			}
			if err := unix.Mount("tmpfs", m.Mountpoint, "tmpfs", 0, ""); err != nil {
				return fmt.Errorf("cover %s: %w", m.Mountpoint, err)
			}
		}
	}
	return nil
}

// finishRootfs runs after pivot_root (and after /dev/console is in place):
// shared root propagation, the tmpfs and /dev mounts asked read-only, and a
// read-only root.
func finishRootfs(spec *specs.Spec, readonlyLater []delayedRO) error {
	// Shared (or unbindable) root propagation goes on the new / only now,
	// so it never reaches the host's mounts.
	if p := propagationFlags[spec.Linux.RootfsPropagation]; p != 0 && p&(unix.MS_PRIVATE|unix.MS_SLAVE) == 0 && hasNS(spec, specs.MountNamespace) {
		if err := unix.Mount("", "/", "", p, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	if len(readonlyLater) > 0 {
		// "/" is the container's root now: each destination is resolved
		// inside it again, never through a symlink out of it.
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer root.Close()
		for _, d := range readonlyLater {
			if err := remountAt(root, d.dest, d.flags); err != nil {
				return fmt.Errorf("mount %s: make read-only: %w", d.dest, err)
			}
		}
	}
	if spec.Root.Readonly {
		if err := remount("/", unix.MS_RDONLY|unix.MS_REC); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}
