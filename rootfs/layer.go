package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/userns"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): never part of the image
	whiteoutOpaque = ".wh..wh..opq" // the directory hides everything lower layers put in it
)

// Unpacker applies layers, in order, onto one directory. Every path is
// resolved inside that directory: parents with openat2(RESOLVE_IN_ROOT) (or
// pathrs-lite where openat2 is missing), leaves with *at syscalls that never
// follow a symlink. So `../` names, symlinks (absolute or relative, from this
// layer or a lower one) and hardlink targets cannot reach outside.
type Unpacker struct {
	root   *os.File
	rootFd int
	chown  bool // only root can give files away; otherwise they stay the caller's
	// To skip fchown and fchmod where creating the file already gave the
	// right owner and mode (most files): who we are and our umask.
	uid, gid int
	umask    uint32
	warn     func(string)
	warned   map[string]bool
	// limit bounds the bytes of file content written (0: no bound).
	limit, written int64
	buf            []byte

	// Directory mtimes are set after the last layer: creating entries
	// inside a directory changes its mtime.
	dirTimes map[string][]unix.Timespec

	// touched holds the paths the current layer wrote and their ancestors:
	// whiteouts and opaque markers only hide what lower layers left
	// (image-spec layer.md), wherever the marker sits in the tar.
	touched map[string]bool

	// One cached parent directory: consecutive entries nearly always share
	// it. It goes stale when a directory or symlink is removed, since that
	// can change what the cached path resolves to.
	cacheDir   string
	cacheFd    int
	cacheGid   int // the group a file created in the cached directory gets
	cacheStale bool
	rootGid    int // the same for the root; -1 until known

	openat2 bool // cleared if the kernel lacks it (before 5.6)

	// overlay: each layer goes into a directory of its own, to be an
	// overlayfs lower dir, and whiteouts are written in overlay's format
	// (as containerd's overlay snapshotter does): ".wh.NAME" becomes a 0:0
	// character device NAME, ".wh..wh..opq" the xattr
	// trusted.overlay.opaque=y on its directory. Nothing is removed: there
	// is no lower layer here. Image xattrs in trusted.overlay.* are
	// dropped, since overlayfs would obey them (redirects, metacopy).
	overlay bool
	// whiteouts of the current layer, overlay mode: a directory later
	// made at one of these paths must be opaque.
	whiteouts map[string]bool
	progress  func(int64) // told the blob bytes read; may be nil
	// losses, for a rootless unpack, counts what cannot be kept
	// (userns.go) instead of failing or warning once per kind.
	losses *LossReport
}

// NewOverlayUnpacker is NewUnpacker in overlay mode: dir receives one
// layer, as an overlayfs lower directory (see Unpacker.overlay).
func NewOverlayUnpacker(dir string, warn func(string)) (*Unpacker, error) {
	u, err := NewUnpacker(dir, warn)
	if err != nil {
		return nil, err
	}
	u.overlay = true
	return u, nil
}

const (
	overlayOpaqueXattr = "trusted.overlay.opaque"
	overlayXattrPrefix = "trusted.overlay."
)

// Written returns the bytes of file content written so far.
func (u *Unpacker) Written() int64 { return u.written }

// NewUnpacker prepares to unpack layers into dir, which must exist. warn, if
// not nil, receives notes about things that were skipped (xattrs the
// filesystem refuses, device nodes in a user namespace).
func NewUnpacker(dir string, warn func(string)) (*Unpacker, error) {
	root, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if warn == nil {
		warn = func(string) {}
	}
	return &Unpacker{
		root:     root,
		rootFd:   int(root.Fd()),
		chown:    os.Geteuid() == 0,
		warn:     warn,
		warned:   map[string]bool{},
		buf:      make([]byte, 1<<20),
		dirTimes: map[string][]unix.Timespec{},
		cacheFd:  -1,
		rootGid:  -1,
		uid:      os.Geteuid(),
		gid:      os.Getegid(),
		umask:    umask(),
		openat2:  useOpenat2,
	}, nil
}

// umask reads the process umask without changing it (Linux 4.7+); if it
// cannot, every file gets an explicit chmod.
func umask() uint32 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}

// newFileGid is the group a file created in the directory pfd gets: the
// directory's own if it is setgid, else ours.
func (u *Unpacker) newFileGid(pfd int) int {
	if pfd == u.rootFd {
		if u.rootGid < 0 {
			u.rootGid = dirGid(pfd, u.gid)
		}
		return u.rootGid
	}
	return u.cacheGid
}

func dirGid(fd, gid int) int {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1 // unknown: always chown
	}
	if st.Mode&unix.S_ISGID != 0 {
		return int(st.Gid)
	}
	return gid
}

// Close releases the directory handles. Call Finish first to set directory
// mtimes.
func (u *Unpacker) Close() error {
	u.dropCache()
	return u.root.Close()
}

// ApplyLayer applies one layer, an uncompressed tar stream, on top of what
// earlier layers left. Errors name the tar entry at fault.
func (u *Unpacker) ApplyLayer(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	u.touched = map[string]bool{}
	u.whiteouts = map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// Finish sets the mtimes of directories, after all layers.
func (u *Unpacker) Finish() error {
	names := make([]string, 0, len(u.dirTimes))
	for n := range u.dirTimes {
		names = append(names, n)
	}
	sort.Strings(names) // siblings together, so the parent cache hits
	for _, name := range names {
		dir, base := path.Dir(name), path.Base(name)
		pfd, err := u.parentDir(dir, false)
		if err != nil {
			continue // a later layer removed it
		}
		var st unix.Stat_t
		if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if err := unix.UtimesNanoAt(pfd, base, u.dirTimes[name], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set mtime of %q: %w", name, err)
		}
	}
	return nil
}

// cleanName turns a tar name into a path relative to the root. Absolute
// names are taken as relative to the root (as Docker and umoci do); a name
// that climbs above the root with ".." is refused.
func cleanName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("invalid name")
	}
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errors.New("path escapes the root directory")
	}
	return p, nil
}

func (u *Unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Dir(name), path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(dir, base)
	}
	if strings.Contains(name, "/"+whiteoutMeta) || strings.HasPrefix(name, whiteoutMeta) {
		return nil // inside an AUFS bookkeeping directory
	}
	// CVE-2021-29136 (umoci): a "." symlink would send later entries to
	// wherever it points.
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return errors.New("refusing to replace the root directory with a non-directory")
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) >= math.MaxUint32 || int64(hdr.Gid) >= math.MaxUint32 {
		return fmt.Errorf("invalid owner %d:%d", hdr.Uid, hdr.Gid)
	}
	pfd, err := u.parentDir(dir, true)
	if err != nil {
		return err
	}
	u.touch(name)

	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeCont, tar.TypeGNUSparse:
		return u.file(pfd, base, hdr, r)
	case tar.TypeDir:
		return u.dir(pfd, name, base, hdr)
	case tar.TypeSymlink:
		if err := u.replace(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
			return err
		}
		return u.meta(pfd, base, hdr, false)
	case tar.TypeLink:
		return u.hardlink(pfd, name, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return u.node(pfd, base, hdr)
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
}

// file writes a regular file. An existing entry is unlinked first, so a
// hardlink from a lower layer keeps its old content, as in overlayfs.
func (u *Unpacker) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	var fd int
	mode := uint32(hdr.Mode & 0o7777)
	err := u.replace(pfd, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode&0o777)
		return err
	})
	if err != nil {
		return err
	}
	// Created by us in pfd, the file has our uid, the gid newFileGid
	// says and mode&^umask: only what differs needs a syscall.
	chown := u.chown && (hdr.Uid != u.uid || hdr.Gid != u.newFileGid(pfd))
	u.lostOwner(hdr)
	chmod := mode&0o7000 != 0 || mode&u.umask != 0
	if err := u.writeFile(fd, hdr, r, chown, chmod); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Close(fd); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

func (u *Unpacker) writeFile(fd int, hdr *tar.Header, r io.Reader, chown, chmod bool) error {
	for {
		n, rerr := r.Read(u.buf)
		if u.written += int64(n); u.limit > 0 && u.written > u.limit {
			return fmt.Errorf("%w (%d bytes)", ErrTooLarge, u.limit)
		}
		for off := 0; off < n; {
			w, err := unix.Write(fd, u.buf[off:n])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			off += w
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read tar: %w", rerr)
		}
	}
	// chown before chmod and xattrs: chown clears setuid/setgid and
	// security.capability.
	if chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			if err := u.chownFailed(hdr, err); err != nil {
				return err
			}
		}
	}
	if chmod {
		if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return u.setXattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) })
}

func (u *Unpacker) dir(pfd int, name, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		// A directory over a directory merges; over anything else replaces.
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err = u.removeAt(pfd, base); err == nil {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := u.meta(pfd, base, hdr, true); err != nil {
		return err
	}
	if u.overlay && u.whiteouts[name] {
		// Whited out, then made again in this layer: nothing of the
		// lower one may show through.
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = setOpaque(fd)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	// Its owner or setgid bit may have changed: what files created in it
	// get (newFileGid) must be looked up again.
	if name == "." {
		u.rootGid = -1
	} else {
		u.cacheStale = true
	}
	u.dirTimes[name] = timespecs(hdr)
	return nil
}

// hardlink links to an entry already in the rootfs. Its target is resolved
// inside the root like any other name, so "/etc/passwd" means the rootfs's
// own. The link shares the target's inode and metadata; nothing of the link
// header is applied (a chown would strip security.capability).
func (u *Unpacker) hardlink(pfd int, name, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	if target == "." {
		return errors.New("hardlink to the root directory")
	}
	if target == name {
		return nil
	}
	tdir, tbase := path.Dir(target), path.Base(target)
	tfd := pfd
	if tdir != path.Dir(name) {
		f, err := u.openDir(tdir, unix.O_PATH)
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hardlink target %q does not exist (it must come earlier)", hdr.Linkname)
		}
		if err != nil {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
		}
		defer unix.Close(f)
		tfd = f
	}
	err = u.replace(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) })
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("hardlink target %q does not exist (it must come earlier)", hdr.Linkname)
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("hardlink target %q: %w (a directory?)", hdr.Linkname, err)
	}
	return err
}

func (u *Unpacker) node(pfd int, base string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor > math.MaxUint32 {
		return fmt.Errorf("invalid device number %d:%d", hdr.Devmajor, hdr.Devminor)
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := u.replace(pfd, base, func() error { return unix.Mknodat(pfd, base, mode, dev) })
	if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo && (!u.chown || userns.RunningInUserNS()) {
		// Only the real root may make device nodes; the runtime provides
		// /dev anyway (containerd and moby skip them the same way).
		if u.losses != nil {
			u.lostDevice(hdr)
			return nil
		}
		u.warnOnce("mknod", fmt.Sprintf("device nodes skipped (no privilege for mknod), e.g. %q", hdr.Name))
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return u.meta(pfd, base, hdr, true)
}

// meta sets owner, mode, xattrs and (except for directories, done in
// Finish) times on an entry just created. The leaf is never followed: it is
// what we created, and fchmodat is only used on non-symlinks.
func (u *Unpacker) meta(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if u.chown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err := u.chownFailed(hdr, err); err != nil {
				return err
			}
		}
	} else {
		u.lostOwner(hdr)
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if len(hdr.PAXRecords) > 0 {
		// /proc/self/fd/N is the parent we resolved; lsetxattr does not
		// follow the leaf.
		p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
		if err := u.setXattrs(hdr, func(k string, v []byte) error { return unix.Lsetxattr(p, k, v, 0) }); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return setTimes(pfd, base, hdr)
}

const xattrPAX = "SCHILY.xattr."

func (u *Unpacker) setXattrs(hdr *tar.Header, set func(string, []byte) error) error {
	var keys []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, xattrPAX) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k[len(xattrPAX):]
		if u.overlay && strings.HasPrefix(name, overlayXattrPrefix) {
			u.warnOnce("xattr-"+name, fmt.Sprintf("xattr %q would steer overlayfs; dropped (first on %q)", name, hdr.Name))
			continue
		}
		err := set(name, []byte(hdr.PAXRecords[k]))
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOTSUP):
			u.warnOnce("xattr-"+name, fmt.Sprintf("xattr %q not supported by the filesystem; dropped (first on %q)", name, hdr.Name))
		case errors.Is(err, unix.EPERM) && u.losses != nil:
			// A rootless unpack: also in its user namespace, trusted.*
			// and the like need the host's root.
			u.lostXattr(name)
		case errors.Is(err, unix.EPERM) && !u.chown:
			u.warnOnce("xattr-"+name, fmt.Sprintf("xattr %q needs root; dropped (first on %q)", name, hdr.Name))
		default:
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

func setTimes(pfd int, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// whiteout handles ".wh.NAME" (NAME goes) and ".wh..wh..opq" (the directory
// keeps only what this layer put there).
func (u *Unpacker) whiteout(dir, base string) error {
	if u.overlay {
		return u.overlayWhiteout(dir, base)
	}
	if base == whiteoutOpaque {
		fd, err := u.openDir(dir, unix.O_RDONLY)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil
		}
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return u.clearLower(fd, dir)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	pfd, err := u.parentDir(dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there to hide
	}
	if err != nil {
		return err
	}
	return u.removeLower(pfd, path.Join(dir, target), target)
}

// overlayWhiteout writes a whiteout in overlayfs's format.
func (u *Unpacker) overlayWhiteout(dir, base string) error {
	if base == whiteoutOpaque {
		pfd, err := u.parentDir(dir, true)
		if err != nil {
			return err
		}
		if dir != "." {
			u.touch(dir)
		}
		return setOpaque(pfd)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." || strings.Contains(target, "/") {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	pfd, err := u.parentDir(dir, true)
	if err != nil {
		return err
	}
	p := path.Join(dir, target)
	if u.touched[p] {
		// This layer has its own NAME: it hides the lower one already,
		// unless it is a directory, which would merge; make it opaque.
		var st unix.Stat_t
		if unix.Fstatat(pfd, target, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			fd, err := unix.Openat(pfd, target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return setOpaque(fd)
		}
		return nil
	}
	u.touch(p)
	u.whiteouts[p] = true
	if err := unix.Mknodat(pfd, target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout %q: mknod: %w", p, err)
	}
	return nil
}

func setOpaque(fd int) error {
	// fd may be O_PATH: set the xattr through /proc, which follows it to
	// the directory itself.
	if err := unix.Setxattr(fmt.Sprintf("/proc/self/fd/%d", fd), overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("set %s: %w", overlayOpaqueXattr, err)
	}
	return nil
}

// removeLower removes what lower layers left at p, keeping what this layer
// wrote.
func (u *Unpacker) removeLower(pfd int, p, base string) error {
	if !u.touched[p] {
		return u.removeAt(pfd, base)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return u.clearLower(fd, p)
}

func (u *Unpacker) clearLower(fd int, dir string) error {
	names, err := ReadDirNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := u.removeLower(fd, path.Join(dir, n), n); err != nil {
			return err
		}
	}
	return nil
}

func (u *Unpacker) touch(name string) {
	u.touched[name] = true
	for d := path.Dir(name); d != "." && !u.touched[d]; d = path.Dir(d) {
		u.touched[d] = true
	}
}

// replace runs mk; if the name is taken, it removes what is there (never
// following it) and runs mk again.
func (u *Unpacker) replace(pfd int, base string, mk func() error) error {
	err := mk()
	if errors.Is(err, unix.EEXIST) {
		if err := u.removeAt(pfd, base); err != nil {
			return fmt.Errorf("replace existing entry: %w", err)
		}
		err = mk()
	}
	return err
}

func (u *Unpacker) removeAt(pfd int, base string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		u.cacheStale = true
		return RemoveAllAt(pfd, base)
	case unix.S_IFLNK:
		u.cacheStale = true
	}
	return unix.Unlinkat(pfd, base, 0)
}

// RemoveAllAt removes base in the directory pfd and everything below it,
// never following a symlink.
func RemoveAllAt(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := ReadDirNames(fd)
	for _, n := range names {
		if err == nil {
			err = RemoveAllAt(fd, n)
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
}

// ReadDirNames lists the directory fd (which stays open and unmoved).
func ReadDirNames(fd int) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

// parentDir returns a handle to dir, resolved inside the root; with create,
// missing directories are made (0755, root-owned, as Docker does).
func (u *Unpacker) parentDir(dir string, create bool) (int, error) {
	if dir == "." {
		return u.rootFd, nil
	}
	if u.cacheFd >= 0 && !u.cacheStale && u.cacheDir == dir {
		return u.cacheFd, nil
	}
	fd, err := u.openDir(dir, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) && create {
		var f *os.File
		if f, err = pathrs.MkdirAllHandle(u.root, dir, 0o755); err == nil {
			fd, err = unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			f.Close()
		}
	}
	if err != nil {
		return -1, fmt.Errorf("parent directory %q: %w", dir, err)
	}
	u.dropCache()
	u.cacheDir, u.cacheFd, u.cacheGid = dir, fd, dirGid(fd, u.gid)
	return fd, nil
}

func (u *Unpacker) dropCache() {
	if u.cacheFd >= 0 {
		unix.Close(u.cacheFd)
	}
	u.cacheDir, u.cacheFd, u.cacheStale = "", -1, false
}

// useOpenat2 is what new Unpackers start with; tests clear it to cover the
// pathrs-lite path.
var useOpenat2 = true

// openDir opens the directory dir (relative, cleaned) inside the root.
// Symlinks on the way are resolved as if the root were "/".
func (u *Unpacker) openDir(dir string, flags int) (int, error) {
	if dir == "." {
		return unix.Openat(u.rootFd, ".", flags|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if u.openat2 {
		how := &unix.OpenHow{
			Flags:   uint64(flags | unix.O_DIRECTORY | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for tries := 0; ; tries++ {
			fd, err := unix.Openat2(u.rootFd, dir, how)
			// EAGAIN: a concurrent rename or mount anywhere on the system.
			if errors.Is(err, unix.EAGAIN) && tries < 16 {
				continue
			}
			if !errors.Is(err, unix.ENOSYS) {
				return fd, err
			}
			u.openat2 = false
			break
		}
	}
	f, err := pathrs.OpenatInRoot(u.root, dir)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			err = errno // the host path of the rootfs says nothing useful
		}
		return -1, err
	}
	defer f.Close()
	// The handle is O_PATH; reopen it as asked, making sure it is a directory.
	return unix.Openat(int(f.Fd()), ".", flags|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func (u *Unpacker) warnOnce(key, msg string) {
	if !u.warned[key] {
		u.warned[key] = true
		u.warn(msg)
	}
}
