package libcontainer

import (
	"errors"
	"fmt"
	"path/filepath"

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

// finishRootfs runs after pivot_root: shared root propagation and a
// read-only root.
func finishRootfs(spec *specs.Spec) error {
	// Shared (or unbindable) root propagation goes on the new / only now,
	// so it never reaches the host's mounts.
	if p := propagationFlags[spec.Linux.RootfsPropagation]; p != 0 && p&(unix.MS_PRIVATE|unix.MS_SLAVE) == 0 && hasNS(spec, specs.MountNamespace) {
		if err := unix.Mount("", "/", "", p, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	if spec.Root.Readonly {
		if err := remount("/", unix.MS_RDONLY|unix.MS_REC); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}
