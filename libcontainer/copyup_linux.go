package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// "tmpcopyup" (a runc extension podman sends for --read-only, --tmpfs and
// tmpfs volumes): the new tmpfs starts with a copy of what the image has
// at its destination, as runc does (runc libcontainer/rootfs_linux.go,
// doTmpfsCopyUp).
//
// The image's directory is opened (resolved inside the rootfs) before the
// tmpfs goes on top of it: that fd still reads the directory below the
// mount. The tmpfs is mounted writable (a read-only one is made read-only
// after the copy), reopened, and the tree copied between the two fds with
// *at(2) calls and O_NOFOLLOW only: a symlink of the image is copied as a
// symlink, never followed, so nothing outside the rootfs is read or written.
// Until the container starts nothing else runs in this mount namespace, so
// no one sees the tmpfs half-filled.

// mountTmpfsCopyUp mounts a tmpfs at dest (the opened target) and fills it
// with the directory's previous contents.
func (s *rootfsSetup) mountTmpfsCopyUp(dest string, target *os.File, p parsedMount) error {
	// The image's directory, below the mount to come.
	below, err := unix.Openat(int(target.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: open %s: %w", dest, err)
	}
	defer unix.Close(below)
	if err := unix.Mount("tmpfs", procFd(target), "tmpfs", p.flags&^unix.MS_RDONLY, p.data); err != nil {
		return err
	}
	top, err := pathrs.OpenatInRoot(s.root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	above, err := unix.Openat(int(top.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: open new tmpfs: %w", err)
	}
	defer unix.Close(above)
	// The tmpfs root takes the directory's owner and mode, as runc's copy.
	var st unix.Stat_t
	if err := unix.Fstat(below, &st); err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	if err := copyTree(below, above, dest); err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	if err := copyRootOwnerMode(above, &st); err != nil {
		return fmt.Errorf("tmpcopyup: %s: %w", dest, err)
	}
	if p.flags&unix.MS_RDONLY != 0 {
		return remountAt(s.root, dest, p.flags&^(unix.MS_REMOUNT|unix.MS_BIND))
	}
	return nil
}

// copyTree copies the entries of directory src into directory dst.
// name is the path shown in errors.
func copyTree(src, dst int, name string) error {
	d, err := unix.Openat(src, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(d), name)
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for _, e := range entries {
		if err := copyEntry(src, dst, e.Name(), name+"/"+e.Name()); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(src, dst int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = copyDir(src, dst, base, name)
	case unix.S_IFREG:
		err = copyFile(src, dst, base)
	case unix.S_IFLNK:
		var target string
		if target, err = readlinkat(src, base); err == nil {
			err = unix.Symlinkat(target, dst, base)
		}
	default: // devices, fifos, sockets
		err = unix.Mknodat(dst, base, st.Mode, int(st.Rdev))
	}
	if err == nil {
		err = copyOwnerMode(dst, base, &st)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func copyDir(src, dst int, base, name string) error {
	if err := unix.Mkdirat(dst, base, 0o700); err != nil {
		return err
	}
	s, err := unix.Openat(src, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return copyTree(s, d, name)
}

func copyFile(src, dst int, base string) error {
	s, err := unix.Openat(src, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(s), base)
	defer in.Close()
	d, err := unix.Openat(dst, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(d), base)
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}

func readlinkat(dir int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// copyOwnerMode gives dst/base the owner, mode and times of st: owner
// first, since chown clears set-id bits. An owner this user namespace does
// not map (EINVAL) is left as it is.
func copyOwnerMode(dst int, base string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dst, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	// base was made just now in the new tmpfs: not a symlink unless st is.
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dst, base, st.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(dst, base, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// copyRootOwnerMode does the same for the tmpfs root itself (fd dst).
func copyRootOwnerMode(dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return unix.Fchmod(dst, st.Mode&0o7777)
}
