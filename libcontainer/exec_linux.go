package libcontainer

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOpts describe a process to run in an existing container (`rt exec`).
type ExecOpts struct {
	Process     *specs.Process
	PreserveFds int
	// IgnorePaused allows exec into a paused container (it then waits).
	IgnorePaused bool
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
	p := &initProcess{
		c:       c,
		opts:    &CreateOpts{Spec: &spec, PreserveFds: o.PreserveFds},
		cg:      cg,
		joinPid: c.state.Pid,
		joined:  o.Joined,
	}
	console, err := p.start()
	if err != nil {
		if !c.state.initAlive() {
			// The init exited while we joined it (a kill, or its end).
			return nil, fmt.Errorf("cannot exec in a stopped container (%v)", err)
		}
		return nil, err
	}
	return &ExecResult{Pid: p.pid, Console: console}, nil
}
