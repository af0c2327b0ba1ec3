package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// CreateOpts are the inputs of Create.
type CreateOpts struct {
	Root        string // --root
	ID          string
	Bundle      string
	Spec        *specs.Spec
	NoPivot     bool
	PreserveFds int
	// Rootless: run without a cgroup when the caller has no rights on the
	// cgroup tree (and asks for no limits), instead of failing.
	Rootless bool
	// SystemdCgroup: the container's cgroup is a systemd scope unit
	// (--systemd-cgroup; linux.cgroupsPath is "slice:prefix:name").
	SystemdCgroup bool
	// RootfsMount and Cleanup: what the caller prepared for this container
	// alone (`rt run --image`: an overlay mount and its directory). They
	// are saved in the state before anything runs, and destroy unmounts
	// RootfsMount (lazily) and then removes Cleanup: at delete, at
	// delete --force after a crash, and when Create fails.
	RootfsMount string
	Cleanup     string
	// Stdio of the init when it has no terminal; nil means rt's own.
	Stdin, Stdout, Stderr *os.File
	// PidfdSocket, if set, receives a pidfd of the container's init once
	// it is set up (--pidfd-socket; the caller dials it and closes it).
	PidfdSocket *net.UnixConn
	// KeepLocked: a successful Create returns the container still locked,
	// so the caller (rt run) starts it without a second lock and a reload
	// of the state it just wrote; the caller unlocks it.
	KeepLocked bool
}

// CreateResult is the result of Create: the container and, with a terminal, the
// pty master the caller must serve or hand over (console socket).
type CreateResult struct {
	*Container
	Console *os.File
}

// Create sets up a container and leaves its init blocked on the exec fifo
// until Start. On any error everything created so far is removed.
func Create(o CreateOpts) (_ *CreateResult, retErr error) {
	if err := ValidateID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, rootlessRootHint(fmt.Errorf("state root %s: %w", o.Root, err))
	}
	// The directory appears locked (see makeContainerDir) and stays open:
	// it is the container's identity for the rest of this command.
	dirf, err := makeContainerDir(o.Root, o.ID)
	if err != nil {
		return nil, rootlessRootHint(err)
	}
	dir := filepath.Join(o.Root, o.ID)
	if o.Spec.Linux != nil {
		resolveSeccompFlags(o.Spec.Linux.Seccomp)
	}
	c := &Container{dir: dir, dirf: dirf, locked: true, creating: true, state: State{
		ID: o.ID, Bundle: bundle, Created: time.Now().UTC(), Owner: ownerName(),
		Annotations: o.Spec.Annotations, Config: o.Spec,
		RootfsMount: o.RootfsMount, Cleanup: o.Cleanup,
	}}
	defer func() {
		if retErr != nil || !o.KeepLocked {
			c.Unlock()
		}
	}()
	defer func() {
		c.creating = false
		if retErr != nil {
			if err := c.destroy(); err != nil {
				retErr = fmt.Errorf("%w (cleanup: %v)", retErr, err)
			}
		}
	}()
	rootfs := o.Spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	c.state.Rootfs = rootfs
	cg, err := newCgroup(o)
	if err != nil {
		return nil, err
	}
	c.state.CgroupPath, c.state.CgroupSystemd = cg.Path(), cgroups.SystemdUnit(cg)
	// Saved before anything runs: `rt delete --force` can then always find
	// the cgroup, even if this process is killed half-way.
	if err := c.saveState(); err != nil {
		return nil, err
	}
	fifoPath := filepath.Join(dir, fifoName)
	if err := makeExecFifo(fifoPath, o.Spec); err != nil {
		return nil, err
	}
	console, err := newInitProcess(c, &o, cg).start()
	if err != nil {
		return nil, err
	}
	return &CreateResult{Container: c, Console: console}, nil
}

// newCgroup picks the cgroup driver: systemd's transient scope with
// --systemd-cgroup, rt's own cgroupfs tree otherwise.
func newCgroup(o CreateOpts) (cgroups.Manager, error) {
	if o.SystemdCgroup {
		return cgroups.NewSystemd(o.ID, o.Spec)
	}
	cgPath, err := cgroups.ResolvePath(o.ID, o.Spec.Linux.CgroupsPath)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	cg, err := cgroups.New(o.ID, cgPath)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	return cg, nil
}

// makeExecFifo makes exec.fifo readable and writable by its owner alone
// (runc: 0622, so any local user could open it and stall `start`). The
// init opens it for writing as the container process's user, so that user
// (as the host sees it) owns it.
func makeExecFifo(path string, spec *specs.Spec) error {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("exec fifo: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // umask-proof
		return fmt.Errorf("exec fifo: %w", err)
	}
	return ownExecFifo(path, spec)
}

// ownExecFifo gives the fifo to the process's user. With a joined user
// namespace it runs again once its maps are known (joinedUserns).
func ownExecFifo(path string, spec *specs.Spec) error {
	if spec.Process == nil {
		return nil
	}
	uid := hostID(spec.Process.User.UID, spec.Linux.UIDMappings)
	gid := hostID(spec.Process.User.GID, spec.Linux.GIDMappings)
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	if os.Geteuid() != 0 {
		// Rootless, the container's user is a subordinate id the caller
		// cannot give files to: it (as other, or through the caller's
		// group) may open the fifo for writing, runc's 0622. Other users
		// still cannot reach it: the container's directory is 0700.
		if err := os.Chmod(path, 0o622); err != nil {
			return fmt.Errorf("exec fifo: %w", err)
		}
		return nil
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("exec fifo: owner %d:%d: %w", uid, gid, err)
	}
	return nil
}

// hostID maps a container uid or gid to the host's through the mappings
// (identity without a user namespace).
func hostID(id uint32, maps []specs.LinuxIDMapping) int {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return int(m.HostID + id - m.ContainerID)
		}
	}
	if len(maps) > 0 {
		return 65534 // unmapped: the kernel's overflow id
	}
	return int(id)
}

// initProcess is the parent side of a container init's start-up
// (create): it claims the container's cgroup, bootstraps new namespaces,
// runs the runtime hooks, sets the limits and records the init in the
// state once it is ready.
type initProcess struct {
	parentProcess
	opts *CreateOpts
	// limitsPending: the cgroup is ours and linux.resources is not set yet.
	limitsPending bool
}

func newInitProcess(c *Container, o *CreateOpts, cg cgroups.Manager) *initProcess {
	return &initProcess{opts: o, parentProcess: parentProcess{
		c: c, spec: o.Spec, preserveFds: o.PreserveFds, cg: cg,
		stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr, pidfdSock: o.PidfdSocket,
	}}
}

func (p *initProcess) start() (*os.File, error) {
	// The init blocks on the fifo until `rt start`; it gets an O_PATH fd,
	// as the fifo's host path is out of its reach after pivot_root.
	fifo, err := os.OpenFile(filepath.Join(p.c.dir, fifoName), unix.O_PATH, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	p.mapsKnown = func() error { return ownExecFifo(fifo.Name(), p.spec) }
	return p.parentProcess.start(fifo, p.handshake)
}

// claimCgroup creates the container's cgroup (refusing one that holds
// processes already, and marking what it made as this container's) and
// puts the intermediate process in it.
func (p *initProcess) claimCgroup() error {
	if err := p.cg.Claim(p.c.cgroupOwner()); err != nil {
		return err
	}
	return p.cg.Apply(p.cmd.Process.Pid)
}

// handshake drives the protocol in sync.go from the parent's side.
func (p *initProcess) handshake(fifoFd int) (*os.File, error) {
	spec := p.spec
	// The cgroup holds the intermediate before it reads the bootstrap, so
	// every process it forks, the init included, starts inside it.
	if err := p.claimCgroup(); err != nil {
		// Rootless: without rights on the cgroup tree the container runs in
		// its caller's cgroup, unless it asks for limits (runc's rule).
		if !p.opts.Rootless || !errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("cgroup %s: %w", p.cg.Path(), err)
		}
		if cgroups.HasLimits(spec.Linux.Resources) {
			return nil, fmt.Errorf("linux.resources: rootless, these limits cannot be applied (%w), and rt never drops a limit: remove them from config.json (rt import and rt spec --rootless write none), or run rt as root; %s", err, notDelegatedHint)
		}
		if p.cg.Owned(p.c.cgroupOwner()) {
			_ = p.cg.Destroy()
		}
		p.c.state.CgroupPath = ""
		if err := p.c.saveState(); err != nil {
			return nil, err
		}
	} else {
		// Limits are set later (setLimits), once the init's own threads
		// exist, so they count only the container's processes.
		p.limitsPending = true
	}
	// Not rt's affinity (`taskset -c 0 rt run`): all CPUs, within the
	// cgroup's cpuset, for the init and all it forks.
	resetAffinity(p.cmd.Process.Pid)
	cfg := p.config()
	cfg.NoPivot, cfg.FifoFd = p.opts.NoPivot, fifoFd
	console, err := p.setUp(bootstrapData(spec), cfg, p.runtimeHooks)
	if err != nil {
		return nil, err
	}
	if err := p.setLimits(); err != nil {
		return nil, err
	}
	start, _, err := procStartTime(p.pid)
	if err != nil {
		return nil, fmt.Errorf("container init %d: %w", p.pid, err)
	}
	p.c.state.Pid, p.c.state.StartTime = p.pid, start
	p.c.state.InitExe, _ = procExe(p.pid) // tells created from running
	if err := p.c.saveState(); err != nil {
		return nil, err
	}
	if err := p.sendPidfd("standard"); err != nil {
		return nil, err
	}
	if err := p.ackReady(); err != nil {
		return nil, err
	}
	return console, nil
}

// runtimeHooks answers the init's "hooks": prestart and createRuntime run
// here, in the runtime's namespaces, after the limits (as runc: a prestart
// hook may act on them).
func (p *initProcess) runtimeHooks() error {
	if err := p.setLimits(); err != nil {
		return err
	}
	st := p.c.specState(Creating)
	st.Pid = p.pid
	err := runHooks("prestart", p.spec.Hooks.Prestart, st) //nolint:staticcheck // deprecated, still honoured
	if err == nil {
		err = runHooks("createRuntime", p.spec.Hooks.CreateRuntime, st)
	}
	if err != nil {
		_ = p.sock.send(msgError, []byte(err.Error()))
		return err
	}
	return p.sock.send(msgHooksDone, nil)
}

// setLimits applies linux.resources to the container's cgroup, once. It
// runs when the init asks for the runtime hooks or reports ready, as runc
// does (procHooks/procReady), not when the cgroup is made: by then the
// init's Go runtime has started its threads, and a low pids.max (or a
// memory limit) counts the container's processes only. The kernel never
// takes away tasks already there; after execve the init is one task again.
func (p *initProcess) setLimits() error {
	if !p.limitsPending {
		return nil
	}
	p.limitsPending = false
	if err := p.cg.Set(p.spec.Linux.Resources); err != nil {
		return fmt.Errorf("linux.resources: %w", err)
	}
	return nil
}

// ackReady answers "ready" and waits until the init has closed its end:
// by then it no longer dies with rt (sync.go, step 10), so rt may exit.
func (p *initProcess) ackReady() error {
	if err := p.sock.send(msgReadyAck, nil); err != nil {
		return err
	}
	typ, payload, _, err := p.recv()
	switch {
	case errors.Is(err, errPeerClosed):
		return nil
	case err != nil:
		return err
	case typ == msgError:
		return errors.New(string(payload))
	default:
		return fmt.Errorf("protocol error: unexpected %q", typ)
	}
}

// bootstrapData is the message nsenter.c parses.
func bootstrapData(spec *specs.Spec) []byte {
	var b strings.Builder
	flags := 0
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			flags |= namespaces[ns.Type].flag
		} else {
			fmt.Fprintf(&b, "join %d %s\n", namespaces[ns.Type].flag, ns.Path)
		}
	}
	fmt.Fprintf(&b, "clone %d\n", flags)
	if len(spec.Linux.TimeOffsets) > 0 {
		b.WriteString("timens\n") // ask for them: writeTimeOffsets
	}
	return []byte(b.String())
}
