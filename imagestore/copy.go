package imagestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/rootfs"
)

// copyLayers is the fallback where overlayfs is not available: the layers,
// bottom first, are merged into dst by copying (a reflink where the
// filesystem can), interpreting overlay's whiteouts as overlayfs would.
// The sources are the store's own layers; every destination name is
// handled with *at calls that never follow a symlink, so a symlink a lower
// layer left cannot send a copy elsewhere.
func copyLayers(lowersTopFirst []string, dst string) error {
	d, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	for i := len(lowersTopFirst) - 1; i >= 0; i-- {
		s, err := unix.Open(lowersTopFirst[i], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		c := &copier{links: map[uint64]string{}, dstRoot: d}
		err = c.dir(s, d, "")
		unix.Close(s)
		if err != nil {
			return fmt.Errorf("copy layer %s: %w", filepath.Base(filepath.Dir(lowersTopFirst[i])), err)
		}
		if err := copyMeta(lowersTopFirst[i], fmt.Sprintf("/proc/self/fd/%d/.", d), true); err != nil {
			return err
		}
	}
	return nil
}

const (
	overlayOpaqueXattr = "trusted.overlay.opaque"
	overlayXattrPrefix = "trusted.overlay."
)

type copier struct {
	links   map[uint64]string // source inode -> destination path (relative), for hardlinks within a layer
	dstRoot int
}

func (c *copier) dir(s, d int, rel string) error {
	names, err := rootfs.ReadDirNames(s)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := c.entry(s, d, n, filepath.Join(rel, n)); err != nil {
			return fmt.Errorf("%q: %w", filepath.Join("/", rel, n), err)
		}
	}
	return nil
}

func (c *copier) entry(s, d int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(s, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	src := fmt.Sprintf("/proc/self/fd/%d/%s", s, name)
	dstp := fmt.Sprintf("/proc/self/fd/%d/%s", d, name)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 { // a whiteout
			return rootfs.RemoveAllAt(d, name)
		}
	case unix.S_IFDIR:
		var dst unix.Stat_t
		exists := unix.Fstatat(d, name, &dst, unix.AT_SYMLINK_NOFOLLOW) == nil
		opq := make([]byte, 2)
		n, err := unix.Lgetxattr(src, overlayOpaqueXattr, opq)
		opaque := err == nil && string(opq[:n]) == "y"
		if exists && (dst.Mode&unix.S_IFMT != unix.S_IFDIR || opaque) {
			if err := rootfs.RemoveAllAt(d, name); err != nil {
				return err
			}
			exists = false
		}
		if !exists {
			if err := unix.Mkdirat(d, name, 0o700); err != nil {
				return err
			}
		}
		sfd, err := unix.Openat(s, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(sfd)
		dfd, err := unix.Openat(d, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		if err := c.dir(sfd, dfd, rel); err != nil {
			return err
		}
		return copyMeta(src, fmt.Sprintf("/proc/self/fd/%d/.", dfd), true)
	}
	if err := rootfs.RemoveAllAt(d, name); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
		if first, ok := c.links[st.Ino]; ok {
			return unix.Linkat(c.dstRoot, first, d, name, 0)
		}
		c.links[st.Ino] = rel
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyFile(s, d, name, st.Mode&0o7777); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkAt(s, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, d, name); err != nil {
			return err
		}
	default:
		if err := unix.Mknodat(d, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	return copyMeta(src, dstp, st.Mode&unix.S_IFMT != unix.S_IFLNK)
}

func copyFile(s, d int, name string, mode uint32) error {
	in, err := unix.Openat(s, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	inf := os.NewFile(uintptr(in), name)
	defer inf.Close()
	out, err := unix.Openat(d, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	outf := os.NewFile(uintptr(out), name)
	defer outf.Close()
	// A reflink where the filesystem shares extents (btrfs, xfs); else
	// copy_file_range through io.Copy.
	if unix.IoctlFileClone(out, in) == nil {
		return nil
	}
	_, err = io.Copy(outf, inf)
	return err
}

// copyMeta gives dst (a /proc/self/fd path, not followed at the leaf) the
// owner, mode, xattrs and times of src.
func copyMeta(src, dst string, chmod bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if chmod {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(src, buf)
	if err == nil {
		for _, k := range strings.Split(string(buf[:n]), "\x00") {
			if k == "" || strings.HasPrefix(k, overlayXattrPrefix) {
				continue
			}
			v := make([]byte, 64<<10)
			m, err := unix.Lgetxattr(src, k, v)
			if err != nil {
				continue
			}
			if err := unix.Lsetxattr(dst, k, v[:m], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("xattr %s: %w", k, err)
			}
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func readlinkAt(d int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(d, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}
