package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer/exeseal"
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
	// RootfsMount and Cleanup: what the caller prepared for this container
	// alone (`rt run --image`: an overlay mount and its directory). They
	// are saved in the state before anything runs, and destroy unmounts
	// RootfsMount (lazily) and then removes Cleanup: at delete, at
	// delete --force after a crash, and when Create fails.
	RootfsMount string
	Cleanup     string
	// Stdio of the init when it has no terminal; nil means rt's own.
	Stdin, Stdout, Stderr *os.File
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
	c := &Container{dir: dir, dirf: dirf, locked: true, creating: true, state: State{
		ID: o.ID, Bundle: bundle, Created: time.Now().UTC(), Owner: ownerName(),
		Annotations: o.Spec.Annotations, Config: o.Spec,
		RootfsMount: o.RootfsMount, Cleanup: o.Cleanup,
	}}
	defer c.Unlock()
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
	cgPath, err := cgroups.ResolvePath(o.ID, o.Spec.Linux.CgroupsPath)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	cg, err := cgroups.New(o.ID, cgPath)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	c.state.CgroupPath = cg.Path()
	// Saved before anything runs: `rt delete --force` can then always find
	// the cgroup, even if this process is killed half-way.
	if err := c.saveState(); err != nil {
		return nil, err
	}
	fifoPath := filepath.Join(dir, fifoName)
	if err := makeExecFifo(fifoPath, o.Spec); err != nil {
		return nil, err
	}
	p := &initProcess{c: c, opts: &o, cg: cg}
	console, err := p.start()
	if err != nil {
		return nil, err
	}
	return &CreateResult{Container: c, Console: console}, nil
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

// initProcess is the parent side of one container init's start-up.
type initProcess struct {
	c    *Container
	opts *CreateOpts
	cg   cgroups.Manager // nil: no cgroup (rootless exec)
	cmd  *exec.Cmd
	sock *syncSocket
	pid  int
	// initDied: the init (or the intermediate) died during set-up.
	initDied bool
	// limitsPending: the cgroup is ours and linux.resources is not set yet.
	limitsPending bool
	// joinCgroupLate: `rt exec`'s process joins the cgroup at "ready".
	joinCgroupLate bool
	// joinPid is set for `rt exec`: the new process joins the namespaces
	// of this (the container's init) instead of setting up a container.
	joinPid int
	// joined (exec only) runs once the process is in the container and
	// only waits to execve (ExecOpts.Joined).
	joined func()
}

func (p *initProcess) start() (*os.File, error) {
	// The init runs from a sealed copy of rt, so the container can never
	// overwrite the host binary through /proc/self/exe (CVE-2019-5736).
	exe, err := exeseal.CloneSelfExe(p.c.dir)
	if err != nil {
		return nil, fmt.Errorf("clone rt binary: %w", err)
	}
	defer exe.Close()
	parent, child, err := newSyncPair()
	if err != nil {
		return nil, err
	}
	p.sock = parent
	defer parent.Close()

	// fds 3..3+N-1 are the caller's preserved fds; ours follow them.
	var extra []*os.File
	for i := 0; i < p.opts.PreserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	sockFd := 3 + len(extra)
	extra = append(extra, child.f)
	fifoFd := -1
	if p.joinPid == 0 {
		fifo, err := os.OpenFile(filepath.Join(p.c.dir, fifoName), unix.O_PATH, 0)
		if err != nil {
			child.Close()
			return nil, fmt.Errorf("open exec fifo: %w", err)
		}
		defer fifo.Close()
		fifoFd = 3 + len(extra)
		extra = append(extra, fifo)
	}
	// The init's stderr is a pipe to us until it hands over
	// (initstderr_linux.go); the container's waits at stderrFd.
	relayR, relayW, err := os.Pipe()
	if err != nil {
		child.Close()
		return nil, err
	}
	defer relayW.Close()
	stderrFd := 3 + len(extra)
	extra = append(extra, orDefault(p.opts.Stderr, os.Stderr))
	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args: []string{"rt", "init"},
		Env: []string{
			envInitSock + "=" + strconv.Itoa(sockFd),
			envFifoFd + "=" + strconv.Itoa(fifoFd),
			envPreserveFds + "=" + strconv.Itoa(p.opts.PreserveFds),
			envStderrFd + "=" + strconv.Itoa(stderrFd),
			// A crash of the init (it runs on the container's stderr) is
			// never a goroutine dump; the parent reports it in one line.
			"GOTRACEBACK=none",
		},
		ExtraFiles: extra,
		Stdin:      orDefault(p.opts.Stdin, os.Stdin),
		Stdout:     orDefault(p.opts.Stdout, os.Stdout),
		Stderr:     relayW,
	}
	// The init is re-parented to us when the intermediate exits (see
	// nsenter.c), so we can reap it in the foreground.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		child.Close()
		return nil, fmt.Errorf("set child subreaper: %w", err)
	}
	// fds rt's caller leaked to it (not close-on-exec) must not reach the
	// init: only stdio and the preserved fds are the container's.
	if err := markCloexecFrom(3 + p.opts.PreserveFds); err != nil {
		child.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		child.Close()
		relayR.Close()
		return nil, fmt.Errorf("start init: %w", err)
	}
	child.Close()
	relayW.Close()
	relay := newStderrRelay(relayR)
	p.cmd = cmd
	console, err := p.handshake(fifoFd)
	if err != nil {
		p.kill()
		relay.wait()
		if line := relay.crashLine(); p.initDied && line != "" {
			return nil, fmt.Errorf("%w: %s", err, line)
		}
		relay.flush(os.Stderr)
		return nil, err
	}
	// The init has handed over (its fd 2 is the container's stderr now):
	// every warning is out before rt goes on.
	relay.wait()
	relay.flush(os.Stderr)
	return console, nil
}

func orDefault(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// kill stops a failed start: the intermediate, and the init if it exists
// (destroy then empties the cgroup).
func (p *initProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	if p.pid > 0 {
		_ = unix.Kill(p.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.pid, &ws, 0, nil)
	}
}

// sendConfig hands the init its config in a sealed memfd: a config.json
// of any size (runc runs 60 MB ones) fits, where one packet holds 1 MiB,
// and it is encoded straight into the memfd rather than into a copy.
func (p *initProcess) sendConfig(cfg *initConfig) error {
	fd, err := unix.MemfdCreate("rt-init-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	f := os.NewFile(uintptr(fd), "rt-init-config")
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	if err := json.NewEncoder(w).Encode(cfg); err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("send config: seal: %w", err)
	}
	return p.sock.sendFd(msgConfig, nil, fd)
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
	spec := p.opts.Spec
	// The cgroup holds the intermediate before it reads the bootstrap, so
	// every process it forks, the init included, starts inside it. `rt
	// exec`'s process joins the container's cgroup later, at "ready": its
	// Go runtime's threads must not count against the container's pids
	// limit (a container at its limit still gets an exec, as with runc).
	if p.joinPid != 0 {
		p.joinCgroupLate = p.cg != nil
	} else if err := p.claimCgroup(); err != nil {
		// Rootless: without rights on the cgroup tree the container runs in
		// its caller's cgroup, unless it asks for limits (runc's rule).
		if !p.opts.Rootless || !errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("cgroup %s: %w", p.cg.Path(), err)
		}
		if hasLimits(spec.Linux.Resources) {
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
	boot := bootstrapData(spec)
	if p.joinPid != 0 {
		boot = joinData(spec, p.joinPid)
	}
	if err := p.sock.send("bootstrap", boot); err != nil {
		return nil, err
	}
	for {
		typ, payload, _, err := p.recv()
		if err != nil {
			return nil, p.childError(err)
		}
		switch typ {
		case msgUsermap:
			if err := writeIDMaps(p.cmd.Process.Pid, spec.Linux); err != nil {
				_ = p.sock.send(msgError, []byte(err.Error()))
				return nil, err
			}
			if err := p.sock.send(msgUsermapDone, nil); err != nil {
				return nil, err
			}
			continue
		case msgError:
			return nil, errors.New(string(payload))
		case msgPid:
			p.pid, err = strconv.Atoi(string(payload))
			if err != nil {
				return nil, fmt.Errorf("bad pid from init: %q", payload)
			}
		default:
			return nil, fmt.Errorf("protocol error: unexpected %q", typ)
		}
		break
	}
	if err := p.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("namespace setup: %w", err)
	}
	if err := p.sendConfig(&initConfig{
		Spec: spec, ID: p.c.state.ID, Bundle: p.c.state.Bundle, Rootfs: p.c.state.Rootfs,
		NoPivot: p.opts.NoPivot, CgroupPath: p.c.state.CgroupPath, PreserveFds: p.opts.PreserveFds,
		FifoFd: fifoFd, HostPid: p.pid, Exec: p.joinPid != 0,
	}); err != nil {
		return nil, p.childError(err)
	}
	var console *os.File
	for {
		typ, payload, fd, err := p.recv()
		if err != nil {
			return nil, p.childError(err)
		}
		switch typ {
		case msgHooks:
			// Before the hooks, as runc: a prestart hook may act on them.
			if err := p.setLimits(); err != nil {
				return nil, err
			}
			st := p.c.specState(Creating)
			st.Pid = p.pid
			err := runHooks("prestart", spec.Hooks.Prestart, st) //nolint:staticcheck // deprecated, still honoured
			if err == nil {
				err = runHooks("createRuntime", spec.Hooks.CreateRuntime, st)
			}
			if err != nil {
				_ = p.sock.send(msgError, []byte(err.Error()))
				return nil, err
			}
			if err := p.sock.send(msgHooksDone, nil); err != nil {
				return nil, err
			}
		case msgPty:
			if fd == nil {
				return nil, errors.New("init sent no pty")
			}
			console = fd
		case msgReady:
			if p.joinPid != 0 {
				// Into the container's cgroup before it may exec: the
				// kernel moves every thread and never refuses a move for
				// pids.max; after execve the process is one task.
				if p.joinCgroupLate {
					if err := p.cg.Apply(p.pid); err != nil {
						return nil, fmt.Errorf("join cgroup %s: %w", p.cg.Path(), err)
					}
				}
				// An exec'd process is not the container's state. After the
				// ack, the socket tells whether its execve worked.
				if err := p.sock.send(msgReadyAck, nil); err != nil {
					return nil, err
				}
				if p.joined != nil {
					p.joined()
				}
				return console, p.awaitExec()
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
			if err := p.ackReady(); err != nil {
				return nil, err
			}
			return console, nil
		case msgError, msgExecError:
			return nil, decodeInitError(typ, payload)
		default:
			return nil, fmt.Errorf("protocol error: unexpected %q", typ)
		}
	}
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
	if err := p.cg.Set(p.opts.Spec.Linux.Resources); err != nil {
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

// recv is sock.recv that hands the init's warnings and notes to rt's
// logger.
func (p *initProcess) recv() (string, []byte, *os.File, error) {
	for {
		typ, payload, fd, err := p.sock.recv()
		if hook, ok := logHooks[typ]; ok && err == nil {
			(*hook)(string(payload))
			continue
		}
		return typ, payload, fd, err
	}
}

// childError turns a closed socket into the init's exit status.
func (p *initProcess) childError(err error) error {
	if !errors.Is(err, errPeerClosed) {
		return err
	}
	p.initDied = true
	if p.pid > 0 {
		var ws unix.WaitStatus
		if _, werr := unix.Wait4(p.pid, &ws, 0, nil); werr == nil {
			return fmt.Errorf("container init exited during set-up (%s)", describeWait(ws))
		}
	} else if p.cmd.ProcessState == nil {
		_ = p.cmd.Wait()
		return fmt.Errorf("namespace setup exited: %s", p.cmd.ProcessState)
	}
	return errors.New("container init exited during set-up")
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
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
	for clock, off := range spec.Linux.TimeOffsets {
		fmt.Fprintf(&b, "timens %s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	return []byte(b.String())
}

func writeIDMaps(pid int, l *specs.Linux) error {
	write := func(file string, maps []specs.LinuxIDMapping) error {
		var b strings.Builder
		for _, m := range maps {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, file), []byte(b.String()), 0); err != nil {
			return fmt.Errorf("linux.%s: write %s: %w", map[string]string{"uid_map": "uidMappings", "gid_map": "gidMappings"}[file], file, err)
		}
		return nil
	}
	// More than the caller's own id: through newuidmap/newgidmap
	// (userns_linux.go).
	if needsMapHelper(l.UIDMappings, os.Geteuid()) {
		if err := runMapHelper(0, pid, l.UIDMappings); err != nil {
			return err
		}
	} else if err := write("uid_map", l.UIDMappings); err != nil {
		return err
	}
	if needsMapHelper(l.GIDMappings, os.Getegid()) {
		return runMapHelper(1, pid, l.GIDMappings)
	}
	// An unprivileged caller may map its own gid only with setgroups(2)
	// disabled in the namespace.
	if os.Geteuid() != 0 {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("deny"), 0); err != nil {
			return fmt.Errorf("linux.gidMappings: deny setgroups: %w", err)
		}
	}
	return write("gid_map", l.GIDMappings)
}

// hasLimits reports whether r sets any limit (device rules alone do not
// count: they are only the defaults without a device cgroup).
func hasLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	return r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil ||
		len(r.HugepageLimits) > 0 || r.Network != nil || len(r.Unified) > 0 || len(r.Rdma) > 0
}
