package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
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
// not exist. existed reports whether it was there before. (The converter's
// readFileInRoot, rootfs/spec.go, only reads.)
//
// A dest that does not resolve because a symlink in it dangles (the image's
// /etc/hosts -> /tmp/hosts, with no /tmp/hosts) is created where the symlink
// points, inside the rootfs, as runc does: securejoin.SecureJoin computes
// that path lexically (symlinks resolved as if root were /), and the
// creation then goes through pathrs, which walks it again without
// following any symlink out of root, so a swap in between cannot move it
// outside.
func openOrCreateInRoot(root *os.File, dest string, isFile bool) (f *os.File, existed bool, err error) {
	f, err = pathrs.OpenatInRoot(root, dest)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, err == nil, err
	}
	joined, err := securejoin.SecureJoin(root.Name(), dest)
	if err != nil {
		return nil, false, err
	}
	dest = stripRoot(root.Name(), joined)
	if !isFile {
		f, err = pathrs.MkdirAllHandle(root, dest, 0o755)
		return f, false, err
	}
	dir, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, false, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, false, err
	}
	if err == nil {
		unix.Close(fd)
	}
	f, err = pathrs.OpenatInRoot(root, dest)
	return f, false, err
}

// stripRoot makes a path given with the rootfs in front of it (as runc
// accepts for mounts[].destination: "<rootfs>/mnt") relative to the rootfs;
// any other path is returned cleaned. Lexical only: the result is still
// resolved inside the rootfs.
func stripRoot(rootfs, p string) string {
	rootfs, p = filepath.Clean("/"+rootfs), filepath.Clean("/"+p)
	switch {
	case rootfs == "/":
		return p
	case p == rootfs:
		return "/"
	case strings.HasPrefix(p, rootfs+"/"):
		return p[len(rootfs):]
	}
	return p
}

// rootfsSetup holds what the mount steps share.
type rootfsSetup struct {
	sock   *syncSocket // to ask rt for bind sources (mountsource_linux.go)
	cfg    *initConfig
	spec   *specs.Spec
	rootfs string
	root   *os.File // O_PATH handle of rootfs
	userns bool
	// special: the procfs and sysfs mounts rt made (procfs_linux.go).
	special []specialMount
	// readonlyLater: tmpfs and /dev mounts asked read-only. They are
	// mounted writable (device nodes, /dev/pts and other mount points go
	// into them) and made read-only just before pivot_root, as runc does.
	readonlyLater []delayedRO
}

type delayedRO struct {
	dest  string
	flags uintptr
}

// prepareRootfs runs every step before pivot_root: propagation, the rootfs
// bind, config mounts, /dev.
func prepareRootfs(sock *syncSocket, cfg *initConfig) (*rootfsSetup, error) {
	s := &rootfsSetup{sock: sock, cfg: cfg, spec: cfg.Spec, rootfs: cfg.Rootfs, userns: hasNS(cfg.Spec, specs.UserNamespace) || inUserNS()}
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
		m := s.spec.Mounts[i]
		m.Destination = stripRoot(s.rootfs, m.Destination)
		if err := s.mount(i, &m); err != nil {
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

// mount makes mounts[i] (m, its destination made relative to the rootfs).
func (s *rootfsSetup) mount(i int, m *specs.Mount) error {
	p := parseMountOptions(m.Options)
	if p.flags&unix.MS_RDONLY != 0 && !isBind(m) && (m.Type == "tmpfs" || filepath.Clean(m.Destination) == "/dev") {
		p.flags &^= unix.MS_RDONLY
		s.readonlyLater = append(s.readonlyLater, delayedRO{dest: m.Destination, flags: p.flags | unix.MS_RDONLY})
	}
	if err := s.mountOne(i, m, p); err != nil {
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

func (s *rootfsSetup) mountOne(i int, m *specs.Mount, p parsedMount) error {
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return s.mountCgroup(m, p)
	}
	if isBind(m) {
		return s.mountBind(i, m, p)
	}
	if isSpecialFs(m.Type) {
		return s.mountSpecial(m.Destination, m.Type, m.Source, p)
	}
	target, existed, err := openOrCreateInRoot(s.root, m.Destination, false)
	if err != nil {
		return err
	}
	defer target.Close()
	if m.Type == "tmpfs" && existed && !hasDataOption(p.data, "mode") {
		// A tmpfs over an existing directory keeps that directory's mode
		// (runc #4971: "mode=" inherited); one rt created gets tmpfs's
		// default 1777. An explicit mode= wins.
		fi, err := target.Stat()
		if err != nil {
			return err
		}
		mode := fmt.Sprintf("mode=%04o", unixMode(fi.Mode()))
		if p.data == "" {
			p.data = mode
		} else {
			p.data = mode + "," + p.data
		}
	}
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

// atMount runs fn on the mount now at dest (its /proc/self/fd path). It
// reopens dest: an fd opened before the mount still points below it.
func atMount(root *os.File, dest string, fn func(path string) error) error {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(procFd(f))
}

// applyPropagation sets propagation on the mount now at dest.
func applyPropagation(root *os.File, dest string, props []uintptr) error {
	if len(props) == 0 {
		return nil
	}
	return atMount(root, dest, func(path string) error {
		for _, fl := range props {
			if err := unix.Mount("", path, "", fl, ""); err != nil {
				return fmt.Errorf("set propagation: %w", err)
			}
		}
		return nil
	})
}

// remountAt remounts the mount now at dest.
func remountAt(root *os.File, dest string, flags uintptr) error {
	return atMount(root, dest, func(path string) error { return remount(path, flags) })
}

func (s *rootfsSetup) mountBind(i int, m *specs.Mount, p parsedMount) error {
	if mountIDMapping(s.spec, m) != nil {
		return s.mountIDMapped(i, m, p)
	}
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(s.cfg.Bundle, src)
	}
	fi, err := os.Stat(src)
	if err != nil && s.userns && (errors.Is(err, os.ErrPermission)) {
		// Out of reach of this user namespace's root: rt opens it for us
		// (mountsource_linux.go).
		f, rerr := s.requestMountSource(i)
		if rerr != nil {
			return fmt.Errorf("bind source %s: %w (rt could not open it either: %w)", src, err, rerr)
		}
		defer f.Close()
		if fi, err = f.Stat(); err == nil {
			src = procFd(f)
		}
	}
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	target, _, err := openOrCreateInRoot(s.root, m.Destination, !fi.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	return bindOnto(s.root, src, m.Destination, target, p.flags|unix.MS_BIND, p.cleared, p.propagation)
}

// mountIDMapped moves the id-mapped copy of mounts[i]'s source that rt
// made (idmap_linux.go) onto the destination, opened inside the rootfs.
func (s *rootfsSetup) mountIDMapped(i int, m *specs.Mount, p parsedMount) error {
	tree, err := s.requestMountSource(i)
	if err != nil {
		return fmt.Errorf("id-mapped bind source: %w", err)
	}
	defer tree.Close()
	fi, err := tree.Stat()
	if err != nil {
		return fmt.Errorf("id-mapped bind source: %w", err)
	}
	target, _, err := openOrCreateInRoot(s.root, m.Destination, !fi.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return afterBind(s.root, m.Destination, p.flags|unix.MS_BIND, p.cleared, p.propagation)
}

// bindOnto bind-mounts src onto target (the opened dest), then remounts it
// with the remaining flags (a bind ignores them on the first call).
func bindOnto(root *os.File, src, dest string, target *os.File, flags, cleared uintptr, props []uintptr) error {
	if err := unix.Mount(src, procFd(target), "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
		return err
	}
	return afterBind(root, dest, flags, cleared, props)
}

// afterBind remounts the bind mount now at dest with the flags a bind
// ignores, and sets its propagation. As runc (and unlike mount(8)), a bind
// with any option that sets or clears a flag gets exactly the flags asked
// for: "bind,dev" of a read-only source is read-write (remountBind).
func afterBind(root *os.File, dest string, flags, cleared uintptr, props []uintptr) error {
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 || cleared != 0 {
		if err := atMount(root, dest, func(path string) error { return remountBind(path, rest, cleared) }); err != nil {
			return err
		}
	}
	return applyPropagation(root, dest, props)
}

// The flags the kernel locks on mounts a user namespace inherits, and the
// atime ones among them.
const (
	lockedFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
)

// remount changes the flags of a bind mount, keeping the flags the kernel
// locks (nosuid, nodev, ... inherited in a user namespace) so it does not
// fail with EPERM.
func remount(path string, flags uintptr) error {
	return remountKeepingLocked(path, flags, nil)
}

// remountBind gives the bind mount at path the flags set, clearing the
// others (runc's "mount --bind -o" semantics). Where the kernel refuses
// that (EPERM: flags locked in a user namespace), the locked flags the
// mount has are kept, unless the config clears one of them explicitly or
// asks for another atime mode: then it fails, rather than make a mount
// other than the one asked for.
func remountBind(path string, set, cleared uintptr) error {
	return remountKeepingLocked(path, set, func(have uintptr) string {
		if c := have & cleared & lockedFlags; c != 0 {
			return fmt.Sprintf("cannot clear locked mount flags (%s)", flagNames(c))
		}
		if set&atimeFlags != 0 && set&atimeFlags != have&atimeFlags {
			return fmt.Sprintf("cannot change the locked atime flag (%s)", flagNames(have&atimeFlags))
		}
		return ""
	})
}

// remountKeepingLocked remounts the bind mount at path with flags; where
// the kernel refuses (EPERM), again with the locked flags the mount has
// (statfs) added, unless refuse, given those, says why not.
func remountKeepingLocked(path string, flags uintptr, refuse func(have uintptr) string) error {
	err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if err == nil || !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(path, &st); serr != nil {
		return err
	}
	have := statfsFlags(st)
	if refuse != nil {
		if why := refuse(have); why != "" {
			return fmt.Errorf("%s: %w", why, err)
		}
	}
	if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags|have&lockedFlags, ""); err != nil {
		return fmt.Errorf("remount with the locked flags (%s): %w", flagNames(have&lockedFlags), err)
	}
	return nil
}

// stNoSymfollow is statfs(2)'s ST_NOSYMFOLLOW (Linux 5.10), which x/sys
// does not name.
const stNoSymfollow = 0x2000

// statfsFlags turns statfs(2)'s ST_* flags into the MS_* ones mount(2)
// takes (they differ from ST_RELATIME on); no atime flag is strictatime.
func statfsFlags(st unix.Statfs_t) uintptr {
	var f uintptr
	for _, m := range [...][2]uintptr{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME}, {stNoSymfollow, unix.MS_NOSYMFOLLOW},
	} {
		if uintptr(st.Flags)&m[0] != 0 {
			f |= m[1]
		}
	}
	if f&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		f |= unix.MS_STRICTATIME
	}
	return f
}

// flagNames names the MS_* flags in f with their option names.
func flagNames(f uintptr) string {
	var names []string
	for _, n := range []string{"ro", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime", "nosymfollow"} {
		if mountFlags[n].flag&f != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// hasDataOption reports whether the comma-separated mount data sets key.
func hasDataOption(data, key string) bool {
	for _, o := range strings.Split(data, ",") {
		if o == key || strings.HasPrefix(o, key+"=") {
			return true
		}
	}
	return false
}

// unixMode turns Go's mode bits into the kernel's (set-id and sticky bits
// included).
func unixMode(m os.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		o |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		o |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		o |= unix.S_ISVTX
	}
	return o
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
