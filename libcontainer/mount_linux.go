package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// This file builds the container's root filesystem inside its new mount
// namespace. Every destination is resolved inside the rootfs with
// pathrs-lite (openat2 RESOLVE_IN_ROOT where the kernel has it): a symlink in
// the image can never point a mount or device at the host. The mount itself
// goes onto the opened O_PATH fd (/proc/self/fd/N), so the path cannot be
// swapped for a symlink between the check and the mount.

// procFd is the magic-link path of an open fd, usable as a mount target.
func procFd(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// openOrCreateInRoot opens (O_PATH) dest inside root as a mount point,
// creating it as a directory, or as an empty file when isFile, if it does
// not exist. (The converter's readFileInRoot, rootfs/spec.go, only reads.)
func openOrCreateInRoot(root *os.File, dest string, isFile bool) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	if !isFile {
		return pathrs.MkdirAllHandle(root, dest, 0o755)
	}
	dir, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	if err == nil {
		unix.Close(fd)
	}
	return pathrs.OpenatInRoot(root, dest)
}

// rootfsSetup holds what the mount steps share.
type rootfsSetup struct {
	cfg    *initConfig
	spec   *specs.Spec
	rootfs string
	root   *os.File // O_PATH handle of rootfs
	userns bool
	// special: the procfs and sysfs mounts rt made (procfs_linux.go).
	special []specialMount
}

// prepareRootfs runs every step before pivot_root: propagation, the rootfs
// bind, config mounts, /dev.
func prepareRootfs(cfg *initConfig) (*rootfsSetup, error) {
	s := &rootfsSetup{cfg: cfg, spec: cfg.Spec, rootfs: cfg.Rootfs, userns: hasNS(cfg.Spec, specs.UserNamespace) || inUserNS()}
	// Without a mount namespace of its own the container's mounts go into
	// the host's, below the rootfs only: the host's propagation is left as
	// it is, and delete unmounts them (unmountRootfs).
	if hasNS(s.spec, specs.MountNamespace) {
		// Nothing we mount may propagate back to the host.
		prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
		if p := s.spec.Linux.RootfsPropagation; p != "" {
			prop = propagationFlags[p]
		}
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return nil, fmt.Errorf("make / %s: %w", s.spec.Linux.RootfsPropagation, err)
		}
		// pivot_root refuses a shared parent mount: make the mount holding
		// the rootfs private (slave if asked), as runc does. A "shared"
		// propagation goes on the new / after pivot_root (finishRootfs).
		if err := parentMountPrivate(s.rootfs, prop); err != nil {
			return nil, err
		}
	}
	// pivot_root needs the new root to be a mount point, and a read-only
	// root is this bind mount made read-only.
	if err := unix.Mount(s.rootfs, s.rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("bind rootfs %s: %w", s.rootfs, err)
	}
	root, err := os.OpenFile(s.rootfs, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	s.root = root
	for i := range s.spec.Mounts {
		if err := s.mount(&s.spec.Mounts[i]); err != nil {
			return nil, fmt.Errorf("mount %s (mounts[%d]): %w", s.spec.Mounts[i].Destination, i, err)
		}
	}
	if err := s.createDevices(); err != nil {
		return nil, err
	}
	if err := s.devSymlinks(); err != nil {
		return nil, err
	}
	return s, nil
}

func isBind(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func (s *rootfsSetup) mount(m *specs.Mount) error {
	p := parseMountOptions(m.Options)
	if err := s.mountOne(m, p); err != nil {
		return err
	}
	if p.recSet != 0 || p.recClr != 0 {
		return setRecursiveAttrs(s.root, m.Destination, p.recSet, p.recClr)
	}
	return nil
}

// setRecursiveAttrs sets and clears mount attributes on the mount at dest
// and every mount below it ("rro", "rnosuid", ...), with mount_setattr(2).
func setRecursiveAttrs(root *os.File, dest string, set, clr uint64) error {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer f.Close()
	// An atime mode replaces the current one: the kernel wants the whole
	// atime field cleared with it.
	if set&unix.MOUNT_ATTR__ATIME != 0 {
		clr |= unix.MOUNT_ATTR__ATIME
	}
	attr := &unix.MountAttr{Attr_set: set, Attr_clr: clr}
	if err := unix.MountSetattr(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("recursive mount options: mount_setattr: %w", err)
	}
	return nil
}

func (s *rootfsSetup) mountOne(m *specs.Mount, p parsedMount) error {
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return s.mountCgroup(m, p)
	}
	if isBind(m) {
		return s.mountBind(m, p)
	}
	if isSpecialFs(m.Type) {
		return s.mountSpecial(m.Destination, m.Type, m.Source, p)
	}
	target, err := openOrCreateInRoot(s.root, m.Destination, false)
	if err != nil {
		return err
	}
	defer target.Close()
	if p.copyUp {
		err = s.mountTmpfsCopyUp(m.Destination, target, p)
	} else {
		err = unix.Mount(m.Source, procFd(target), m.Type, p.flags, p.data)
	}
	if err != nil {
		return err
	}
	return applyPropagation(s.root, m.Destination, p.propagation)
}

// applyPropagation sets propagation on the mount now at dest. It reopens
// dest: an fd opened before the mount still points below it.
func applyPropagation(root *os.File, dest string, props []uintptr) error {
	if len(props) == 0 {
		return nil
	}
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, fl := range props {
		if err := unix.Mount("", procFd(f), "", fl, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// remountAt remounts the mount now at dest (see applyPropagation on reopening).
func remountAt(root *os.File, dest string, flags uintptr) error {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer f.Close()
	return remount(procFd(f), flags)
}

func (s *rootfsSetup) mountBind(m *specs.Mount, p parsedMount) error {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(s.cfg.Bundle, src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	target, err := openOrCreateInRoot(s.root, m.Destination, !fi.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	return bindOnto(s.root, src, m.Destination, target, p.flags|unix.MS_BIND, p.propagation)
}

// bindOnto bind-mounts src onto target (the opened dest), then remounts it
// with the remaining flags (a bind ignores them on the first call).
func bindOnto(root *os.File, src, dest string, target *os.File, flags uintptr, props []uintptr) error {
	if err := unix.Mount(src, procFd(target), "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
		return err
	}
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		if err := remountAt(root, dest, rest); err != nil {
			return err
		}
	}
	return applyPropagation(root, dest, props)
}

// remount changes the flags of a bind mount, keeping the flags the kernel
// locks (nosuid, nodev, ... inherited in a user namespace) so it does not
// fail with EPERM.
func remount(path string, flags uintptr) error {
	err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if err == nil || !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(path, &st); serr != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags|locked, "")
}

// unmountRootfs removes the mounts a container without a mount namespace of
// its own left in the host's: everything at or below rootfs, deepest first.
func unmountRootfs(rootfs string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(rootfs))
	if err != nil {
		return err
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
