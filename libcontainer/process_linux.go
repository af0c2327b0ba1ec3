package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/exeseal"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// parentProcess is the parent's side of one `rt init` start-up, shared by
// create (initProcess, create_linux.go) and exec (setnsProcess,
// exec_linux.go): it starts the init from a sealed copy of rt and drives
// the protocol of sync.go up to "ready". What differs (the cgroup, the
// bootstrap, hooks, what "ready" means) is in the two types, as runc's
// initProcess and setnsProcess.
type parentProcess struct {
	c           *Container
	spec        *specs.Spec
	preserveFds int
	// Stdio of the process when it has no terminal; nil means rt's own.
	stdin, stdout, stderr *os.File
	cg                    cgroups.Manager // nil: no cgroup (rootless)
	cmd                   *exec.Cmd
	sock                  *syncSocket
	pid                   int
	// initDied: the init (or the intermediate) died during set-up.
	initDied bool
	// mapsKnown, if set, runs once the maps of a joined user namespace
	// are in spec (create: the exec fifo's owner).
	mapsKnown func() error
	// pidfdSock, if set, gets a pidfd of the process once it is ready
	// (--pidfd-socket).
	pidfdSock *net.UnixConn
}

// start runs `rt init` with the socket, the preserved fds and, for a
// container init, the exec fifo (nil for exec), then runs handshake (which
// gets the fifo's fd number in the init, -1 without). On failure the
// process is killed and the init's stderr relayed.
func (p *parentProcess) start(fifo *os.File, handshake func(fifoFd int) (*os.File, error)) (*os.File, error) {
	// The init runs from a sealed copy of rt, so the container can never
	// overwrite the host binary through /proc/self/exe (CVE-2019-5736).
	exe, err := exeseal.CloneSelfExe(p.c.dir)
	if err != nil {
		return nil, fmt.Errorf("clone rt binary: %w", err)
	}
	defer exe.Close()
	// runc's line, which its tests look for: the sealing is runc's package
	// (which logs how it sealed: overlayfs, or a copy).
	Debug("runc exeseal: using /proc/self/exe clone")
	parent, child, err := newSyncPair()
	if err != nil {
		return nil, err
	}
	p.sock = parent
	defer parent.Close()

	// fds 3..3+N-1 are the caller's preserved fds; ours follow them.
	var extra []*os.File
	for i := 0; i < p.preserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	sockFd := 3 + len(extra)
	extra = append(extra, child.f)
	fifoFd := -1
	if fifo != nil {
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
	extra = append(extra, orDefault(p.stderr, os.Stderr))
	env := []string{
		envInitSock + "=" + strconv.Itoa(sockFd),
		envFifoFd + "=" + strconv.Itoa(fifoFd),
		envPreserveFds + "=" + strconv.Itoa(p.preserveFds),
		envStderrFd + "=" + strconv.Itoa(stderrFd),
		// A crash of the init (it runs on the container's stderr) is
		// never a goroutine dump; the parent reports it in one line.
		"GOTRACEBACK=none",
	}
	if DebugEnabled {
		env = append(env, envDebug+"=1")
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:       []string{"rt", "init"},
		Env:        env,
		ExtraFiles: extra,
		Stdin:      orDefault(p.stdin, os.Stdin),
		Stdout:     orDefault(p.stdout, os.Stdout),
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
	if err := markCloexecFrom(3 + p.preserveFds); err != nil {
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
	console, err := handshake(fifoFd)
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
func (p *parentProcess) kill() {
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

// config is the init's config with what create and exec both send.
func (p *parentProcess) config() *initConfig {
	return &initConfig{
		Spec: p.spec, ID: p.c.state.ID, Bundle: p.c.state.Bundle, Rootfs: p.c.state.Rootfs,
		CgroupPath: p.c.state.CgroupPath, PreserveFds: p.preserveFds, FifoFd: -1,
	}
}

// setUp drives the protocol from the bootstrap to "ready" (sync.go, steps
// 1 to 9): it sends boot, writes the user maps, learns the init's pid,
// sends cfg, answers "hooks" with onHooks (nil: the init may not ask), and
// returns at "ready" with the pty master if the init sent one.
func (p *parentProcess) setUp(boot []byte, cfg *initConfig, onHooks func() error) (*os.File, error) {
	if DebugEnabled {
		debugf("nsexec container setup: %s", describeBoot(boot))
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
			if err := writeIDMaps(p.cmd.Process.Pid, p.spec.Linux); err != nil {
				_ = p.sock.send(msgError, []byte(err.Error()))
				return nil, err
			}
			if err := p.sock.send(msgUsermapDone, nil); err != nil {
				return nil, err
			}
			continue
		case msgIDMap:
			if err := p.joinedUserns(payload); err != nil {
				_ = p.sock.send(msgError, []byte(err.Error()))
				return nil, err
			}
			continue
		case msgTimens:
			if err := writeTimeOffsets(p.cmd.Process.Pid, p.spec.Linux.TimeOffsets); err != nil {
				_ = p.sock.send(msgError, []byte(err.Error()))
				return nil, err
			}
			if err := p.sock.send(msgTimensDone, nil); err != nil {
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
			debugf("nsexec container setup done: container init pid %d", p.pid)
		default:
			return nil, fmt.Errorf("protocol error: unexpected %q", typ)
		}
		break
	}
	if err := p.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("namespace setup: %w", err)
	}
	cfg.HostPid = p.pid
	if err := p.sendConfig(cfg); err != nil {
		return nil, p.childError(err)
	}
	var console *os.File
	for {
		typ, payload, fd, err := p.recv()
		if err != nil {
			return nil, p.childError(err)
		}
		switch {
		case typ == msgHooks && onHooks != nil:
			if err := onHooks(); err != nil {
				return nil, err
			}
		case typ == msgMountSource && !cfg.Exec:
			if err := p.serveMountSource(payload); err != nil {
				return nil, err
			}
		case typ == msgSeccomp:
			if fd == nil {
				return nil, errors.New("init sent no seccomp listener")
			}
			if err := p.toSeccompAgent(fd, cfg); err != nil {
				return nil, err
			}
		case typ == msgPty:
			if fd == nil {
				return nil, errors.New("init sent no pty")
			}
			console = fd
		case typ == msgReady:
			return console, nil
		case typ == msgError, typ == msgExecError:
			return nil, decodeInitError(typ, payload)
		default:
			return nil, fmt.Errorf("protocol error: unexpected %q", typ)
		}
	}
}

// sendConfig hands the init its config in a sealed memfd: a config.json
// of any size (runc runs 60 MB ones) fits, where one packet holds 1 MiB,
// and it is encoded straight into the memfd rather than into a copy.
func (p *parentProcess) sendConfig(cfg *initConfig) error {
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

// recv is sock.recv that hands the init's warnings and notes to rt's
// logger.
func (p *parentProcess) recv() (string, []byte, *os.File, error) {
	for {
		typ, payload, fd, err := p.sock.recv()
		if hook, ok := logHooks[typ]; ok && err == nil {
			(*hook)(string(payload))
			continue
		}
		return typ, payload, fd, err
	}
}

// describeBoot is the bootstrap (bootstrapData, joinData) for a debug line,
// with namespace names for the clone flags.
func describeBoot(boot []byte) string {
	name := func(flag int) string {
		for t, ns := range namespaces {
			if ns.flag == flag {
				return string(t)
			}
		}
		return fmt.Sprintf("%#x", flag)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(boot)), "\n") {
		f := strings.Fields(line)
		n := 0
		if len(f) > 1 {
			n, _ = strconv.Atoi(f[1])
		}
		switch {
		case len(f) == 2 && f[0] == "clone":
			var names []string
			for bit := 1; bit > 0 && bit <= n; bit <<= 1 {
				if n&bit != 0 {
					names = append(names, name(bit))
				}
			}
			slices.Sort(names)
			out = append(out, "new namespaces ["+strings.Join(names, " ")+"]")
		case len(f) == 3 && f[0] == "join":
			out = append(out, "join "+name(n)+" "+f[2])
		default:
			out = append(out, line)
		}
	}
	return strings.Join(out, "; ")
}

// childError turns a closed socket into the init's exit status.
func (p *parentProcess) childError(err error) error {
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

// sendPidfd hands a pidfd of the process to the --pidfd-socket caller
// (SCM_RIGHTS, named "standard" for a container's init and "setns" for an
// exec'd process, as runc). It is opened here, in rt, while the process
// waits for ready-ack, so it cannot be a reused pid's; nothing is passed
// into the container for it.
func (p *parentProcess) sendPidfd(name string) error {
	if p.pidfdSock == nil {
		return nil
	}
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return errors.New("pidfd socket: pidfd_open needs Linux 5.3 or later")
		}
		return fmt.Errorf("pidfd socket: pidfd_open %d: %w", p.pid, err)
	}
	defer unix.Close(fd)
	if _, _, err := p.pidfdSock.WriteMsgUnix([]byte(name), unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("pidfd socket: send the pidfd: %w", err)
	}
	return nil
}

// toSeccompAgent sends the process's seccomp listener to the agent: the
// state is the container's, creating for its init, running for an exec'd
// process (whose own pid is the message's pid).
func (p *parentProcess) toSeccompAgent(listener *os.File, cfg *initConfig) error {
	st := specs.State{
		Version: specs.Version, ID: p.c.state.ID, Status: specs.StateCreating,
		Pid: p.pid, Bundle: p.c.state.Bundle, Annotations: p.c.state.Annotations,
	}
	if cfg.Exec {
		st.Status, st.Pid = specs.StateRunning, p.c.state.Pid
	}
	return sendToSeccompAgent(p.spec.Linux.Seccomp, listener, &specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: p.pid,
		Metadata: p.spec.Linux.Seccomp.ListenerMetadata, State: st,
	})
}

// joinedUserns takes the maps of the user namespace the process joined
// (config.json has none for a joined one), as runc reads them, so the
// container's ids are known on the host.
func (p *parentProcess) joinedUserns(payload []byte) error {
	uids, gids, ok := strings.Cut(string(payload), "--\n")
	if !ok {
		return fmt.Errorf("protocol error: bad idmap %q", payload)
	}
	l := p.spec.Linux
	if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
		return nil
	}
	var err error
	if l.UIDMappings, err = parseIDMap(uids); err != nil {
		return fmt.Errorf("joined user namespace: uid_map: %w", err)
	}
	if l.GIDMappings, err = parseIDMap(gids); err != nil {
		return fmt.Errorf("joined user namespace: gid_map: %w", err)
	}
	if p.mapsKnown != nil {
		return p.mapsKnown()
	}
	return nil
}

// parseIDMap reads /proc/<pid>/uid_map's format: "inside outside size"
// per line.
func parseIDMap(s string) ([]specs.LinuxIDMapping, error) {
	var maps []specs.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m specs.LinuxIDMapping
		if n, err := fmt.Sscanf(line, "%d %d %d", &m.ContainerID, &m.HostID, &m.Size); n != 3 {
			return nil, fmt.Errorf("bad line %q: %v", line, err)
		}
		maps = append(maps, m)
	}
	return maps, nil
}

// writeTimeOffsets sets the offsets of the time namespace pid made (and
// has not entered). rt writes them, not nsenter.c: in a new user namespace
// the process cannot open its own timens_offsets (runc's stage-0 writes
// them too).
func writeTimeOffsets(pid int, offs map[string]specs.LinuxTimeOffset) error {
	var b strings.Builder
	for clock, off := range offs {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/timens_offsets", pid), []byte(b.String()), 0); err != nil {
		return fmt.Errorf("linux.timeOffsets: %w", err)
	}
	return nil
}

// PrimeCgroupAttach starts, in the background, the kernel's wait that the
// first cgroup attach after a quiet spell pays (cgroups.PrimeAttach), so
// that a create or exec the caller is preparing attaches its process
// without it. Call it first thing.
func PrimeCgroupAttach() { cgroups.PrimeAttach() }
