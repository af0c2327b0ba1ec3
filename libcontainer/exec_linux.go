package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// ExecOpts describe a process to run in an existing container (`rt exec`).
type ExecOpts struct {
	Process     *specs.Process
	PreserveFds int
	// IgnorePaused allows exec into a paused container (it then waits).
	IgnorePaused bool
	// PidfdSocket, if set, receives a pidfd of the process once it is in
	// the container (--pidfd-socket; the caller dials it and closes it).
	PidfdSocket *net.UnixConn
	// SubCgroups puts the process in existing sub-cgroups of the
	// container's (--cgroup; cgroups.JoinExec says how the map reads).
	SubCgroups map[string]string
	// Joined, if set, is called once the process is in the container's
	// namespaces and cgroup and only waits to execve. The CLI releases the
	// container lock there: in a paused container that wait lasts until
	// `rt resume`, which needs the lock.
	Joined func()
}

// ExecResult is the started process: its host pid, and the pty master when
// Process.Terminal is set (the caller serves it or hands it over).
type ExecResult struct {
	Pid     int
	Console *os.File
}

// Exec starts p in the container's namespaces and cgroup, with the
// container's seccomp filter, and returns once it is about to execve. The
// process is a child of the caller (rt is a subreaper while it starts).
func (c *Container) Exec(o ExecOpts) (*ExecResult, error) {
	if err := c.Status().CanExec(o.IgnorePaused); err != nil {
		return nil, err
	}
	if o.Process == nil {
		return nil, errors.New("process: nothing to execute")
	}
	if err := validateProcess(o.Process); err != nil {
		return nil, err
	}
	spec := *c.state.Config
	spec.Process = o.Process
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	// The process's execCPUAffinity, else config.json's (runc's rule).
	affSpec := o.Process.ExecCPUAffinity
	if affSpec == nil && c.state.Config.Process != nil {
		affSpec = c.state.Config.Process.ExecCPUAffinity
	}
	aff, err := parseExecAffinity(affSpec)
	if err != nil {
		return nil, err
	}
	p := &setnsProcess{
		parentProcess: parentProcess{c: c, spec: &spec, preserveFds: o.PreserveFds, cg: cg, pidfdSock: o.PidfdSocket},
		joinPid:       c.state.Pid,
		joined:        o.Joined,
		affinity:      aff,
		subCgroups:    o.SubCgroups,
	}
	console, err := p.start()
	if err != nil {
		if !c.state.initAlive() || c.state.initExiting() {
			// The init exited while we joined it (a kill, or its end).
			return nil, fmt.Errorf("cannot exec in a stopped container (%v)", err)
		}
		return nil, err
	}
	return &ExecResult{Pid: p.pid, Console: console}, nil
}

// setnsProcess is the parent side of `rt exec`'s start-up: the process
// joins the namespaces of the container's init (nsenter.c) and its cgroup,
// and runs no hooks; after "ready" the socket tells whether its execve
// worked.
type setnsProcess struct {
	parentProcess
	// joinPid is the container's init, whose namespaces are joined.
	joinPid int
	// joined runs once the process is in the container and only waits to
	// execve (ExecOpts.Joined).
	joined func()
	// affinity is process.execCPUAffinity (nil: all CPUs).
	affinity *execAffinity
	// subCgroups is ExecOpts.SubCgroups.
	subCgroups map[string]string
}

func (p *setnsProcess) start() (*os.File, error) {
	return p.parentProcess.start(nil, p.handshake)
}

func (p *setnsProcess) handshake(int) (*os.File, error) {
	cfg := p.config()
	cfg.Exec = true
	// The initial affinity before the bootstrap: the set-up, in the
	// container's namespaces, runs there already.
	if a := p.affinity; a != nil && a.initial != nil {
		if err := setAffinity(p.cmd.Process.Pid, a.initial, "process.execCPUAffinity.initial"); err != nil {
			return nil, err
		}
	}
	console, err := p.setUp(joinData(p.spec, p.joinPid), cfg, nil)
	if err != nil {
		return nil, err
	}
	// Into the container's cgroup only now, at "ready", before it may
	// exec: its Go runtime's threads must not count against the
	// container's pids limit (a container at its limit still gets an exec,
	// as with runc). The kernel moves every thread and never refuses a
	// move for pids.max; after execve the process is one task.
	if p.cg != nil {
		if err := cgroups.JoinExec(p.cg, p.pid, p.joinPid, p.subCgroups); err != nil {
			return nil, fmt.Errorf("join cgroup %s: %w", p.cg.Path(), err)
		}
	} else if len(p.subCgroups) > 0 {
		return nil, errors.New("--cgroup: the container has no cgroup")
	}
	// In the cgroup: the final affinity, or all CPUs of its cpuset when
	// none is configured (not rt's own). The main thread is the one that
	// execs.
	switch a := p.affinity; {
	case a == nil:
		resetAffinity(p.pid)
	case a.final != nil:
		if err := setAffinity(p.pid, a.final, "process.execCPUAffinity.final"); err != nil {
			return nil, err
		}
	}
	if err := p.sendPidfd("setns"); err != nil {
		return nil, err
	}
	// An exec'd process is not the container's state. After the ack, the
	// socket tells whether its execve worked.
	if err := p.sock.send(msgReadyAck, nil); err != nil {
		return nil, err
	}
	if p.joined != nil {
		p.joined()
	}
	return console, p.awaitExec()
}

// awaitExec is the parent's side of `rt exec` after "ready": the socket is
// close-on-exec in the process, so EOF means execve succeeded; otherwise the
// process reports why it failed, and is reaped.
func (p *setnsProcess) awaitExec() error {
	typ, payload, _, err := p.recv()
	if errors.Is(err, errPeerClosed) {
		return nil
	}
	if err == nil && (typ == msgError || typ == msgExecError) {
		err = decodeInitError(typ, payload)
	} else if err == nil {
		err = fmt.Errorf("protocol error: unexpected %q", typ)
	}
	return err // the caller kills and reaps the process
}

// joinData is the bootstrap of `rt exec`: join every namespace the
// container has (its init's), create none.
func joinData(spec *specs.Spec, pid int) []byte {
	var b strings.Builder
	for _, ns := range spec.Linux.Namespaces {
		fmt.Fprintf(&b, "join %d /proc/%d/ns/%s\n", namespaces[ns.Type].flag, pid, namespaces[ns.Type].proc)
	}
	b.WriteString("clone 0\n")
	return []byte(b.String())
}
