package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
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

// openInRoot opens (O_PATH) dest inside root, creating it as a directory, or
// as an empty file when isFile, if it does not exist.
func openInRoot(root *os.File, dest string, isFile bool) (*os.File, error) {
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
	target, err := openInRoot(s.root, m.Destination, false)
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
	target, err := openInRoot(s.root, m.Destination, !fi.IsDir())
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

// mountCgroup mounts the container's view of the cgroup hierarchy. With a
// cgroup namespace the kernel shows the container's own cgroup as the root;
// without one, the container's cgroup directories are bind-mounted.
func (s *rootfsSetup) mountCgroup(m *specs.Mount, p parsedMount) error {
	target, err := openInRoot(s.root, m.Destination, false)
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
		dir, err := openInRoot(s.root, sub, false)
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
			parent, err := openInRoot(s.root, m.Destination, false)
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

// defaultDevices are made in every container, as runc does.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// createDevices makes the default devices and linux.devices. In a user
// namespace mknod is not allowed, so the host's node is bind-mounted instead.
func (s *rootfsSetup) createDevices() error {
	if s.devIsHostBind() {
		return nil
	}
	devs := append([]specs.LinuxDevice{}, s.spec.Linux.Devices...)
	for _, d := range defaultDevices {
		dup := false
		for _, u := range s.spec.Linux.Devices {
			dup = dup || u.Path == d.Path
		}
		if !dup {
			mode := os.FileMode(0o666)
			d.FileMode = &mode
			devs = append(devs, d)
		}
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		if err := s.createDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

// devIsHostBind: a config that bind-mounts the host's /dev gets no nodes.
func (s *rootfsSetup) devIsHostBind() bool {
	for i := range s.spec.Mounts {
		if filepath.Clean(s.spec.Mounts[i].Destination) == "/dev" && isBind(&s.spec.Mounts[i]) {
			return true
		}
	}
	return false
}

func (s *rootfsSetup) createDevice(d specs.LinuxDevice) error {
	dir, err := pathrs.MkdirAllHandle(s.root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer dir.Close()
	name := filepath.Base(d.Path)
	// Replace whatever the image has there (a symlink must not be followed).
	_ = unix.Unlinkat(int(dir.Fd()), name, 0)
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode & 0o7777)
	}
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	}
	if s.userns && typ != unix.S_IFIFO {
		fd, err := unix.Openat(int(dir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		unix.Close(fd)
		f, err := pathrs.OpenatInRoot(s.root, d.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		// d.Path is still the host's /dev here (before pivot_root).
		return unix.Mount(d.Path, procFd(f), "", unix.MS_BIND, "")
	}
	if err := unix.Mknodat(int(dir.Fd()), name, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Fchownat(int(dir.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (s *rootfsSetup) devSymlinks() error {
	if s.devIsHostBind() {
		return nil
	}
	dev, err := pathrs.MkdirAllHandle(s.root, "/dev", 0o755)
	if err != nil {
		return err
	}
	defer dev.Close()
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	// With a private devpts, /dev/ptmx must be its ptmx.
	if ptmx, err := pathrs.OpenatInRoot(s.root, "/dev/pts/ptmx"); err == nil {
		ptmx.Close()
		_ = unix.Unlinkat(int(dev.Fd()), "ptmx", 0)
		if err := unix.Symlinkat("pts/ptmx", int(dev.Fd()), "ptmx"); err != nil {
			return fmt.Errorf("symlink /dev/ptmx: %w", err)
		}
	}
	return nil
}

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

// protectPaths runs just before pivot_root, while /proc and /dev are still
// the host's (trusted) ones: sysctls, then masked and read-only paths
// (read-only /proc/sys would refuse the sysctls). Masks are resolved on the
// procfs/sysfs rt mounted (openProtected), never through the image again.
func (s *rootfsSetup) protectPaths() error {
	defer s.closeSpecial()
	for k, v := range s.spec.Linux.Sysctl {
		// /proc here is the host's procfs; sysctls act on the namespaces of
		// the writer, which are the container's.
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := writeProcFile(p, v); err != nil {
			return fmt.Errorf("linux.sysctl %s: %w", k, err)
		}
	}
	for _, p := range s.spec.Linux.MaskedPaths {
		if err := s.maskPath(p); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	for _, p := range s.spec.Linux.ReadonlyPaths {
		if err := s.readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	return nil
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

// openIfExists opens p inside root (O_PATH); nil, nil when it does not
// exist: masked and read-only paths missing from an image are skipped.
func openIfExists(root *os.File, p string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

func (s *rootfsSetup) maskPath(p string) error {
	f, err := s.openProtected(p)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return unix.Mount("tmpfs", procFd(f), "tmpfs", unix.MS_RDONLY, "size=0k")
	}
	null, err := openDevNull()
	if err != nil {
		return err
	}
	defer null.Close()
	return unix.Mount(procFd(null), procFd(f), "", unix.MS_BIND, "")
}

// openDevNull opens /dev/null without following a symlink and checks that
// it is the real 1:3 node. Masking runs before pivot_root, so this is the
// host's /dev/null; the check stays as a guard (CVE-2025-31133: a /dev/null
// that is a symlink, say to /proc/sys/kernel/core_pattern, would turn "mask
// this path" into "bind that file here, writable").
func openDevNull() (*os.File, error) {
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		f.Close()
		return nil, errors.New("/dev/null in the container is not the null device (1:3); refusing to mask with it")
	}
	return f, nil
}

// writeProcFile writes a /proc file only after checking that the file
// opened is on procfs, so a mount laid over /proc (CVE-2025-52881) cannot
// redirect the write.
func writeProcFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs", path)
	}
	_, err = f.WriteString(data)
	return err
}

func (s *rootfsSetup) readonlyPath(p string) error {
	f, err := s.openProtected(p)
	if err != nil || f == nil {
		return err
	}
	err = unix.Mount(procFd(f), procFd(f), "", unix.MS_BIND|unix.MS_REC, "")
	f.Close()
	if err != nil {
		return err
	}
	// Reopen: the fd from before the bind still points below it.
	f, err = s.openProtected(p)
	if err != nil || f == nil {
		return fmt.Errorf("reopen after bind: %w", err)
	}
	defer f.Close()
	return remount(procFd(f), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_REC)
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
