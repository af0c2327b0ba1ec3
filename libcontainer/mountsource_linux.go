package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// Bind sources the container's init cannot reach itself. In a new user
// namespace the init is root of that namespace only: a source below a
// directory only the host's root may enter (mode 0700) fails its stat with
// EACCES. The init then asks rt ("mount-source <i>", sync.go), as runc's
// init asks runc (procMountPlease): rt opens the source of its own copy of
// mounts[i] (never a path the init names) with O_PATH, from a thread that
// has joined the init's mount namespace, so the path resolves as the init
// would see it (the container's earlier mounts included, e.g. a source
// inside the rootfs), and sends the fd back. The init bind-mounts the fd
// (/proc/self/fd/N); an fd of its own mount namespace is a valid source.
// An id-mapped bind mount always comes this way, as a detached mount tree
// (idmap_linux.go).

// requestMountSource asks the parent for an O_PATH fd of mounts[i]'s source.
func (s *rootfsSetup) requestMountSource(i int) (*os.File, error) {
	if s.sock == nil {
		return nil, errors.New("no parent to ask")
	}
	if err := s.sock.send(msgMountSource, []byte(strconv.Itoa(i))); err != nil {
		return nil, err
	}
	_, fd, err := s.sock.expect(msgMountFd)
	if err != nil {
		if fd != nil {
			fd.Close()
		}
		return nil, err
	}
	if fd == nil {
		return nil, errors.New("rt sent no fd")
	}
	return fd, nil
}

// serveMountSource answers "mount-source <i>" (parent side): "mount-fd"
// with the fd, or "error <why>" (the init fails with it).
func (p *parentProcess) serveMountSource(payload []byte) error {
	f, err := p.openMountSource(payload)
	if err != nil {
		return p.sock.send(msgError, []byte(err.Error()))
	}
	defer f.Close()
	return p.sock.sendFd(msgMountFd, nil, int(f.Fd()))
}

func (p *parentProcess) openMountSource(payload []byte) (*os.File, error) {
	i, err := strconv.Atoi(string(payload))
	if err != nil || i < 0 || i >= len(p.spec.Mounts) || !isBind(&p.spec.Mounts[i]) {
		return nil, fmt.Errorf("protocol error: mount-source %q is not a bind mount's index", payload)
	}
	m := &p.spec.Mounts[i]
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(p.c.state.Bundle, src)
	}
	if idm := mountIDMapping(p.spec, m); idm != nil {
		rbind := parseMountOptions(m.Options).flags&unix.MS_REC != 0
		return inMountNS(p.pid, func() (*os.File, error) { return openIDMappedTree(src, rbind, idm) })
	}
	return inMountNS(p.pid, func() (*os.File, error) {
		fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: src, Err: err}
		}
		return os.NewFile(uintptr(fd), src), nil
	})
}

// inMountNS runs open in the mount namespace of pid, on a thread of its
// own: setns(CLONE_NEWNS) needs a thread that does not share its fs
// context, and the thread is never given back to the Go scheduler (it
// exits with the goroutine, as in runc's goCreateMountSources).
func inMountNS(pid int, open func() (*os.File, error)) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with this goroutine
		ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
		if err != nil {
			ch <- result{err: fmt.Errorf("open the container's mount namespace: %w", err)}
			return
		}
		defer ns.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			ch <- result{err: fmt.Errorf("unshare(CLONE_FS): %w", err)}
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			ch <- result{err: fmt.Errorf("join the container's mount namespace: %w", err)}
			return
		}
		f, err := open()
		ch <- result{f: f, err: err}
	}()
	r := <-ch
	return r.f, r.err
}
