package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	runcspec "github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Seccomp filters are compiled and loaded by runc's libcontainer/seccomp
// (libseccomp through cgo, build tag "seccomp"): a filter generator is
// security-critical code that runc's is well tested. Without the tag,
// InitSeccomp refuses any config that asks for a filter, so rt never runs a
// container unfiltered by mistake.
//
// SCMP_ACT_NOTIFY: loading the filter gives the init a listener fd; the
// init hands it to rt over the sync socket ("seccomp"), and rt sends it,
// with the container's state, to the agent at linux.seccomp.listenerPath
// (runtime-spec's ContainerProcessState, as runc), then closes its copy:
// the agent holds the only one, so if it dies the notified syscalls fail
// with ENOSYS instead of hanging.

// seccompConfig converts and checks the spec's filter; nil when none.
func seccompConfig(s *specs.LinuxSeccomp) (*configs.Seccomp, error) {
	if s == nil {
		return nil, nil
	}
	cfg, err := runcspec.SetupSeccomp(s)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, nil
	}
	if s.Flags == nil {
		// No flags at all: the default was resolved at create
		// (resolveSeccompFlags); runc's converter would add it again.
		cfg.Flags = nil
	}
	// runc's rules, checked here rather than in the init: write(2) carries
	// the init's last words (the exec fifo, error reports), which must
	// never wait for an agent.
	if cfg.DefaultAction == configs.Notify {
		return nil, errors.New("defaultAction: SCMP_ACT_NOTIFY cannot be used as default action")
	}
	notify := false
	for _, sc := range cfg.Syscalls {
		if sc != nil && sc.Action == configs.Notify {
			notify = true
			if sc.Name == "write" {
				return nil, errors.New("syscalls: SCMP_ACT_NOTIFY cannot be used for the write syscall")
			}
		}
	}
	if notify && s.ListenerPath == "" {
		return nil, errors.New("listenerPath: required with SCMP_ACT_NOTIFY (the seccomp agent's unix socket)")
	}
	return cfg, nil
}

// resolveSeccompFlags writes runc's default for an absent
// linux.seccomp.flags (SECCOMP_FILTER_FLAG_SPEC_ALLOW, where the kernel
// has it) into the spec, at create: the spec reaches the init and
// state.json as JSON, where an explicit empty list, which means no flag
// at all, reads back as absent. From then on absent means none.
func resolveSeccompFlags(s *specs.LinuxSeccomp) {
	if s == nil || s.Flags != nil {
		return
	}
	if seccomp.FlagSupported(specs.LinuxSeccompFlagSpecAllow) == nil {
		s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}
	}
}

// loadSeccomp installs the filter on the calling thread, the one that
// execs (never TSYNC: runc's filter flags leave it out). Called as late as
// the rights allow: see init_linux.go. A listener fd goes to the parent.
func loadSeccomp(sock *syncSocket, s *specs.LinuxSeccomp) error {
	cfg, err := seccompConfig(s)
	if err != nil || cfg == nil {
		return err
	}
	fd, err := seccomp.InitSeccomp(cfg)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if fd < 0 {
		return nil
	}
	return handOverListener(sock, fd)
}

// handOverListener sends the listener fd to the parent from another
// thread: this one is filtered now, and a syscall the filter notifies
// (sendmsg, say) would wait for an agent that has no fd yet. The other
// threads are not filtered (the filter is this thread's alone, and Go
// creates threads from its template thread while this one is locked), so
// the send cannot block on the agent; this thread only waits, and what it
// does then the agent sees once rt has passed the fd on.
func handOverListener(sock *syncSocket, fd int) error {
	done := make(chan error, 1)
	go func() {
		err := sock.sendFd(msgSeccomp, nil, fd)
		unix.Close(fd) // the agent must hold the only copy
		done <- err
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("linux.seccomp: hand the listener to rt: %w", err)
	}
	return nil
}

// sendToSeccompAgent passes the listener to the agent at listenerPath with
// the process's state (runtime-spec ContainerProcessState, one message
// with the fd, as runc sends it). rt keeps no copy.
func sendToSeccompAgent(s *specs.LinuxSeccomp, listener *os.File, st *specs.ContainerProcessState) error {
	defer listener.Close()
	conn, err := net.Dial("unix", s.ListenerPath)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: failed to connect with seccomp agent %s: %w", s.ListenerPath, err)
	}
	defer conn.Close()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, _, err = conn.(*net.UnixConn).WriteMsgUnix(b, unix.UnixRights(int(listener.Fd())), nil)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: send the listener to seccomp agent %s: %w", s.ListenerPath, err)
	}
	return nil
}
