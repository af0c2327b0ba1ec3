package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The device nodes of /dev: the default ones, linux.devices, and the
// /dev symlinks (runc's set).

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
