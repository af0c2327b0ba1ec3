package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// procfs and sysfs in the container. They are what maskedPaths and
// readonlyPaths protect (/proc/sys, /proc/kcore, /sys/firmware, ...), so
// rt makes sure that the masks land on the very filesystems it mounted:
//
//   - the destination is an ordinary directory reached without any symlink
//     (runc: "must be mounted on ordinary directory"). An image could
//     otherwise make /proc a symlink through, say, its own /sys tree, get
//     procfs mounted elsewhere, and see it unmasked once sysfs covers the
//     symlink's path;
//   - rt keeps an fd of each such mount and resolves masked and read-only
//     paths beneath it, never through the image's directories again; a
//     mount that is no longer reachable at its destination is an error.

// specialMount is a procfs or sysfs rt mounted: its destination and an
// O_PATH fd of the mount's root.
type specialMount struct {
	dest  string
	fstyp string
	root  *os.File
}

var specialMagic = map[string]int64{"proc": unix.PROC_SUPER_MAGIC, "sysfs": unix.SYSFS_MAGIC}

func isSpecialFs(typ string) bool { _, ok := specialMagic[typ]; return ok }

// openPlainDir opens dest inside root (O_PATH) one component at a time and
// refuses any component that is a symlink or not a directory. Missing
// components are created when create is set.
func openPlainDir(root *os.File, dest string, create bool) (*os.File, error) {
	cur, err := unix.Openat(int(root.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	walked := ""
	for _, comp := range strings.Split(filepath.Clean("/"+dest), "/") {
		if comp == "" {
			continue
		}
		walked += "/" + comp
		fd, err := unix.Openat(cur, comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(cur, comp, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				fd, err = unix.Openat(cur, comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(cur)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", walked, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			unix.Close(fd)
			return nil, fmt.Errorf("must be mounted on ordinary directory: %s is a symlink", walked)
		default:
			unix.Close(fd)
			return nil, fmt.Errorf("must be mounted on ordinary directory: %s is not a directory", walked)
		}
		cur = fd
	}
	return os.NewFile(uintptr(cur), dest), nil
}

// mountSpecial mounts procfs or sysfs at m's destination (see above) and
// records the mount for maskedPaths and readonlyPaths.
func (s *rootfsSetup) mountSpecial(dest, typ, source string, p parsedMount) error {
	target, err := openPlainDir(s.root, dest, true)
	if err != nil {
		return err
	}
	err = unix.Mount(source, procFd(target), typ, p.flags, p.data)
	if err != nil && typ == "sysfs" && errors.Is(err, unix.EPERM) {
		// sysfs needs a network namespace of our own; fall back to the
		// host's, read-only, as runc does in a user namespace.
		err = unix.Mount("/sys", procFd(target), "", unix.MS_BIND|unix.MS_REC, "")
		if err == nil {
			err = remount(procFd(target), p.flags|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_REC)
		}
	}
	target.Close()
	if err != nil {
		return err
	}
	mnt, err := openPlainDir(s.root, dest, false)
	if err != nil {
		return err
	}
	if err := checkFsType(mnt, typ); err != nil {
		mnt.Close()
		return err
	}
	s.special = append(s.special, specialMount{dest: filepath.Clean("/" + dest), fstyp: typ, root: mnt})
	return applyPropagation(s.root, dest, p.propagation)
}

func checkFsType(f *os.File, typ string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != specialMagic[typ] {
		return fmt.Errorf("%s is not a %s mount (filesystem magic %#x)", f.Name(), typ, st.Type)
	}
	return nil
}

// specialFor returns the procfs/sysfs rt mounted that holds path p (the
// deepest destination that is a prefix of p), or nil.
func (s *rootfsSetup) specialFor(p string) *specialMount {
	var best *specialMount
	for i := range s.special {
		m := &s.special[i]
		if (p == m.dest || strings.HasPrefix(p, m.dest+"/") || m.dest == "/") && (best == nil || len(m.dest) > len(best.dest)) {
			best = m
		}
	}
	return best
}

// openProtected opens (O_PATH) a masked or read-only path. Below a procfs
// or sysfs rt mounted it is resolved beneath that mount's fd, after
// checking that the mount is still what the container sees at its
// destination; elsewhere inside the rootfs. nil, nil: the path does not
// exist (the kernel lacks that file, or the image that directory).
func (s *rootfsSetup) openProtected(p string) (*os.File, error) {
	p = filepath.Clean("/" + p)
	m := s.specialFor(p)
	if m == nil {
		return openIfExists(s.root, p)
	}
	if err := m.stillMounted(s.root); err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, m.dest), "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(int(m.root.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve beneath the %s mounted at %s: %w", m.fstyp, m.dest, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// stillMounted checks that m.dest, walked without symlinks, is still the
// root of the mount rt made there.
func (m *specialMount) stillMounted(root *os.File) error {
	now, err := openPlainDir(root, m.dest, false)
	if err != nil {
		return fmt.Errorf("the %s mounted at %s is gone: %w", m.fstyp, m.dest, err)
	}
	defer now.Close()
	a, errA := mountID(m.root)
	b, errB := mountID(now)
	if errA != nil || errB != nil {
		return errors.Join(errA, errB)
	}
	if a != b {
		return fmt.Errorf("the %s mounted at %s is covered by another mount", m.fstyp, m.dest)
	}
	return nil
}

func mountID(f *os.File) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx %s: %w", f.Name(), err)
	}
	return stx.Mnt_id, nil
}

func (s *rootfsSetup) closeSpecial() {
	for _, m := range s.special {
		m.root.Close()
	}
	s.special = nil
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
