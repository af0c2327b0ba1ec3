package libcontainer

// The parent <-> init protocol. One SOCK_SEQPACKET socketpair, one message
// per packet: "<type>[ <payload>]", optionally carrying one fd (SCM_RIGHTS).
//
//	step  direction       message             meaning
//	1     parent -> C     bootstrap           namespaces to join/create (nsenter.c)
//	2     C -> parent     usermap             new user ns: write uid/gid maps
//	3     parent -> C     usermap-done
//	4     C -> parent     pid <n>             host pid of the container init
//	5     parent -> init  config + fd         initConfig (JSON) in a sealed memfd: any size
//	6     init -> parent  hooks               set linux.resources, run prestart+createRuntime now
//	7     parent -> init  hooks-done          (or "error <msg>" if a hook failed)
//	8     init -> parent  pty + fd            pty master (terminal: true)
//	9     init -> parent  ready               all set up; the parent sets linux.resources if
//	                                          step 6 did not (`rt exec`: moves the process
//	                                          into the container's cgroup)
//	10    parent -> init  ready-ack           its pid is in state.json; the init
//	                                          may outlive rt: it clears its parent-
//	                                          death signal, closes its end (the
//	                                          parent waits for that) and blocks
//	                                          on exec.fifo
//	any   init -> parent  warning <msg>       a warning for rt's logger (set-up goes on)
//	any   init -> parent  note <msg>          a line for rt's log only (Note, log.go)
//	any   init -> parent  debug <msg>         a debug line (only with rt --debug: initConfig.Debug)
//	any   child -> parent error <msg>         setup failed; the child exits
//	any   child -> parent exec-error <json>   the program cannot be run (ExecError: 126/127)
//
// Until "ready-ack" the init's stderr is a pipe to the parent
// (initstderr_linux.go). The container's init closes its end after
// "ready-ack"; a closed socket before "ready" means the init died, and the
// parent reports its exit status. Until the ack the init dies with rt (parent-death signal), so an
// rt killed during a create never leaves a live init that state.json does
// not name. `rt exec`'s process keeps its end after the ack, close-on-exec,
// until execve: `rt exec` reads EOF when execve succeeded, or an
// exec-error. The container init's execve happens after `rt start`, so it
// reports a failed one through the exec fifo instead (after the "0" it
// wrote there; see waitExec).

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	msgUsermap     = "usermap"
	msgUsermapDone = "usermap-done"
	msgPid         = "pid"
	msgConfig      = "config"
	msgHooks       = "hooks"
	msgHooksDone   = "hooks-done"
	msgPty         = "pty"
	msgReady       = "ready"
	msgReadyAck    = "ready-ack"
	msgError       = "error"
	msgWarning     = "warning"
	msgNote        = "note"
	msgDebug       = "debug"
)

// maxMsg bounds one packet; the config (spec JSON) is the largest message.
const maxMsg = 1 << 20

type syncSocket struct {
	f   *os.File
	buf []byte // receive buffer, allocated on first use
}

func newSyncPair() (parent, child *syncSocket, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("init socketpair: %w", err)
	}
	for _, fd := range fds {
		// Large configs must fit in one packet; root may force the size.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, maxMsg)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, maxMsg)
	}
	return &syncSocket{f: os.NewFile(uintptr(fds[0]), "init-parent")},
		&syncSocket{f: os.NewFile(uintptr(fds[1]), "init-child")}, nil
}

func (s *syncSocket) send(typ string, payload []byte) error {
	return s.sendFd(typ, payload, -1)
}

func (s *syncSocket) sendFd(typ string, payload []byte, fd int) error {
	msg := []byte(typ)
	if payload != nil {
		msg = append(append(msg, ' '), payload...)
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(int(s.f.Fd()), msg, oob, nil, 0); err != nil {
		if err == unix.EPIPE || err == unix.ECONNRESET {
			err = errPeerClosed
		}
		return fmt.Errorf("send %s: %w", typ, err)
	}
	return nil
}

var errPeerClosed = errors.New("peer closed the init socket")

// recv returns the next message; fd is non-nil when one was attached.
func (s *syncSocket) recv() (typ string, payload []byte, fd *os.File, err error) {
	if s.buf == nil {
		s.buf = make([]byte, maxMsg)
	}
	buf := s.buf
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(int(s.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		// ECONNRESET: the peer died with our last message unread.
		if err == unix.ECONNRESET {
			return "", nil, nil, errPeerClosed
		}
		if err != nil {
			return "", nil, nil, fmt.Errorf("receive: %w", err)
		}
		if n == 0 && oobn == 0 {
			return "", nil, nil, errPeerClosed
		}
		if flags&unix.MSG_TRUNC != 0 {
			return "", nil, nil, errors.New("receive: message too large")
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
					fd = os.NewFile(uintptr(fds[0]), "received-fd")
					for _, extra := range fds[1:] {
						unix.Close(extra)
					}
				}
			}
		}
		msg := bytes.Clone(buf[:n])
		if i := bytes.IndexByte(msg, ' '); i >= 0 {
			return string(msg[:i]), msg[i+1:], fd, nil
		}
		return string(msg), nil, fd, nil
	}
}

// expect receives one message and checks its type; an "error" message from
// the child becomes the returned error.
func (s *syncSocket) expect(want string) ([]byte, *os.File, error) {
	typ, payload, fd, err := s.recv()
	if err != nil {
		return nil, nil, err
	}
	if typ == msgError {
		return nil, fd, errors.New(string(payload))
	}
	if typ != want {
		return nil, fd, fmt.Errorf("protocol error: got %q, want %q", typ, want)
	}
	return payload, fd, nil
}

func (s *syncSocket) Close() error { return s.f.Close() }
