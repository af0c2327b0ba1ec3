package libcontainer

import (
	"errors"
	"fmt"
	"os"

	"github.com/containerd/console"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole allocates the container's pty from its own devpts, makes the
// slave the process's controlling terminal and stdio, bind-mounts it on
// /dev/console (the init only), and sends the master to the parent
// (message "pty").
func setupConsole(sock *syncSocket, devConsole bool, p *specs.Process) error {
	master, slavePath, err := console.NewPty()
	if err != nil {
		return fmt.Errorf("allocate pty: %w", err)
	}
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open pty %s: %w", slavePath, err)
	}
	defer slave.Close()
	// The size the caller asked for (containerd sets it for exec -t), before
	// the process can ask for it.
	if cs := p.ConsoleSize; cs != nil && cs.Height != 0 && cs.Width != 0 {
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)}); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	// The process's user owns its terminal, so it can control it (runc
	// does the same; the group stays devpts's gid= one). Only this pty,
	// never stdio rt was given. In a user namespace an unmapped owner
	// refuses it (EINVAL, EPERM): the terminal is then left as it is.
	if uid := int(p.User.UID); uid != 0 {
		if err := unix.Fchown(int(slave.Fd()), uid, -1); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("process.user.uid %d: chown pty %s: %w", uid, slavePath, err)
		}
	}
	if devConsole {
		if err := bindConsole(slave); err != nil {
			return err
		}
	}
	// newSession made this process a session leader without a terminal.
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	// The pty is the container's stderr now; rt's pipe is gone from fd 2.
	_ = restoreStderr(false)
	return sock.sendFd(msgPty, nil, int(master.Fd()))
}

// bindConsole bind-mounts the pty slave on /dev/console, onto the opened
// file, never through the path: an image's /dev/console symlink must not
// redirect the bind (CVE-2025-52565); such a symlink is left alone.
func bindConsole(slave *os.File) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	defer f.Close()
	if err := unix.Mount(procFd(slave), procFd(f), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/console: %w", err)
	}
	return nil
}

// newSession puts the container's process in a session of its own, with or
// without a terminal, as runc: a signal rt's caller sends to its process
// group (timeout(1) does, and so does ^C on rt's terminal) reaches rt, which
// forwards it, and never the container's process a second time.
func newSession() error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	return nil
}
