package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// What runs just before pivot_root: linux.sysctl, masked and read-only
// paths.

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
	var m masker
	defer m.close()
	seen := map[string]bool{}
	for _, p := range s.spec.Linux.MaskedPaths {
		// A path listed twice is masked once (runc too): a second mount
		// would only stack on the first.
		if clean := filepath.Clean("/" + p); !seen[clean] {
			seen[clean] = true
			if err := s.maskPath(&m, p); err != nil {
				return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
			}
		}
	}
	for _, p := range s.spec.Linux.ReadonlyPaths {
		if err := s.readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	return nil
}

// masker holds what masking shares: the read-only empty tmpfs that every
// masked directory gets a bind of (one tmpfs, as runc 1.5, rather than one
// per directory), and the checked /dev/null.
type masker struct {
	dirMask *os.File // O_PATH root of the first directory mask's tmpfs
	null    *os.File
}

func (m *masker) close() {
	if m.dirMask != nil {
		m.dirMask.Close()
	}
	if m.null != nil {
		m.null.Close()
	}
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

func (s *rootfsSetup) maskPath(m *masker, p string) error {
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
		if m.dirMask != nil {
			// A bind keeps the source mount's read-only flag.
			return unix.Mount(procFd(m.dirMask), procFd(f), "", unix.MS_BIND, "")
		}
		if err := unix.Mount("tmpfs", procFd(f), "tmpfs", unix.MS_RDONLY, "size=0k,nr_inodes=1"); err != nil {
			if err = unix.Mount("tmpfs", procFd(f), "tmpfs", unix.MS_RDONLY, "size=0k"); err != nil {
				return err
			}
		}
		// Reopen, resolved as before: the fd from before the mount points
		// below it. It is the tmpfs just made, or an error.
		top, err := s.openProtected(p)
		if err != nil || top == nil {
			return fmt.Errorf("reopen after mount: %w", err)
		}
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(top.Fd()), &st); err != nil || st.Type != unix.TMPFS_MAGIC {
			top.Close()
			return fmt.Errorf("reopen after mount: not the tmpfs just mounted (%v)", err)
		}
		m.dirMask = top
		return nil
	}
	if m.null == nil {
		if m.null, err = openDevNull(); err != nil {
			return err
		}
	}
	return unix.Mount(procFd(m.null), procFd(f), "", unix.MS_BIND, "")
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
