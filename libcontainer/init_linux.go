package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initConfig is what the parent sends the init (message "config").
type initConfig struct {
	Spec        *specs.Spec `json:"spec"`
	ID          string      `json:"id"`
	Bundle      string      `json:"bundle"`
	Rootfs      string      `json:"rootfs"`
	NoPivot     bool        `json:"no_pivot"`
	CgroupPath  string      `json:"cgroup_path"`
	PreserveFds int         `json:"preserve_fds"`
	FifoFd      int         `json:"fifo_fd"`
	HostPid     int         `json:"host_pid"` // the init's pid as the host sees it, for hooks' state
	Exec        bool        `json:"exec"`     // `rt exec`: a process joining a running container
}

// Env variables the parent sets for the init.
const (
	envInitSock    = "_RT_INITSOCK"
	envFifoFd      = "_RT_FIFOFD"
	envPreserveFds = "_RT_PRESERVE_FDS"
)

// Init is the container init, entered as `rt init` after nsenter.c has set up
// the namespaces. It never returns: it either execs the user process or
// reports an error to the parent and exits.
func Init() {
	// Capabilities and no_new_privs are per thread: do everything, and the
	// final execve, on this one thread.
	runtime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv(envInitSock))
	if err != nil {
		fmt.Fprintln(os.Stderr, "rt init: not started by rt")
		os.Exit(1)
	}
	// Before anything else, and before any file of the container is read:
	// hold nothing but stdio, the preserved fds, the socket and the fifo.
	fifoFd, ferr := strconv.Atoi(os.Getenv(envFifoFd))
	if ferr != nil {
		fifoFd = -1
	}
	preserved, _ := strconv.Atoi(os.Getenv(envPreserveFds))
	if e, err := strconv.Atoi(os.Getenv(envStderrFd)); err == nil {
		savedStderr = e
		unix.CloseOnExec(e) // hooks the init runs do not get it
	}
	closeFdsExcept(3+preserved, fd, fifoFd, savedStderr)
	sock := &syncSocket{f: os.NewFile(uintptr(fd), "init-sock")}
	initSock = sock
	initLogrus(os.Getenv(envDebug) == "1")
	os.Clearenv()
	err = initContainer(sock)
	// Only reached on failure.
	sendInitError(sock, err)
	os.Exit(1)
}

func initContainer(sock *syncSocket) error {
	_, cfgFile, err := sock.expect(msgConfig)
	if err != nil {
		return err
	}
	if cfgFile == nil {
		return errors.New("protocol error: config without its memfd")
	}
	var cfg initConfig
	// The memfd's offset is where the parent's writing left it.
	if _, err = cfgFile.Seek(0, io.SeekStart); err == nil {
		err = json.NewDecoder(bufio.NewReaderSize(cfgFile, 1<<16)).Decode(&cfg)
	}
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("decode init config: %w", err)
	}
	debugf("child process in init(): %s init of container %s, pid %d on the host", map[bool]string{false: "standard", true: "setns"}[cfg.Exec], cfg.ID, cfg.HostPid)
	// The container gets SIGKILL if rt dies before handing over; reset below.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return err
	}
	// Two kinds of init, as runc's standard_init and setns_init.
	if cfg.Exec {
		return setnsInit(sock, &cfg)
	}
	return standardInit(sock, &cfg)
}

// readyProcess is a process set up and reported ready, one execve away.
type readyProcess struct {
	args, env   []string
	path        string
	lateRlimits []specs.POSIXRlimit
}

// prepareProcess applies everything about the process (rlimits, cwd, user,
// capabilities, seccomp), resolves the executable and hands over to the
// parent ("ready"). Shared by the init and `rt exec` (exec set).
func prepareProcess(sock *syncSocket, spec *specs.Spec, preserveFds int, exec bool) (*readyProcess, error) {
	// Before the seccomp filter, which may refuse personality(2) or
	// set_mempolicy(2) to the container.
	if pers := spec.Linux.Personality; pers != nil {
		if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, personalities[pers.Domain], 0, 0); errno != 0 {
			return nil, fmt.Errorf("linux.personality: %w", errno)
		}
	}
	mp, err := parseMemPolicy(spec.Linux.MemoryPolicy)
	if err == nil && mp != nil {
		err = mp.apply()
	}
	if err != nil {
		return nil, err
	}
	late, err := setupProcess(sock, spec.Process, spec.Linux.Seccomp)
	if err != nil {
		return nil, err
	}
	path, env, err := lookExecutable(spec.Process)
	if err != nil {
		return nil, err
	}
	// With no_new_privs the filter can be loaded without CAP_SYS_ADMIN, so
	// as late as possible: fewer of rt's own syscalls run under it.
	if spec.Process.NoNewPrivileges {
		if err := loadSeccomp(sock, spec.Linux.Seccomp); err != nil {
			return nil, err
		}
	}
	if exec {
		debugf("setns_init: about to exec %s", path)
	} else {
		debugf("init: closing the pipe to signal completion (%s runs at start)", path)
	}
	if err := handOver(sock, preserveFds, exec); err != nil {
		return nil, err
	}
	return &readyProcess{args: spec.Process.Args, env: env, path: path, lateRlimits: late}, nil
}

// exec applies the memory rlimits kept for last and replaces this process.
func (r *readyProcess) exec() error {
	if _, err := setRlimits(r.lateRlimits, false); err != nil {
		return err
	}
	resetSignals()
	return newExecError(r.path, syscall.Exec(r.path, r.args, r.env))
}

// handOver ends set-up: nothing but stdio and the preserved fds may reach
// the container, the parent hears "ready" and acknowledges it once the pid
// is saved, and the init outlives rt from then on. The container's init
// then closes the socket (the parent waits for that); `rt exec`'s process
// keeps it, close-on-exec, so `rt exec` reads EOF when execve succeeded, or
// the reason it failed.
func handOver(sock *syncSocket, preserveFds int, keepOpen bool) error {
	if err := markCloexecFrom(3 + preserveFds); err != nil {
		return err
	}
	if err := sock.send(msgReady, nil); err != nil {
		return err
	}
	// Outlive rt only once it has recorded this process (sync.go, step 10).
	if _, _, err := sock.expect(msgReadyAck); err != nil {
		return err
	}
	// Set-up is over: the container's own stderr from here on.
	if err := restoreStderr(true); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return err
	}
	initSock = nil // from here warnings go to stderr
	if keepOpen {
		return nil
	}
	return sock.Close()
}

// setupProcess applies rlimits, oom score, cwd, user and capabilities, in
// the order that keeps the rights each step needs.
func setupProcess(sock *syncSocket, p *specs.Process, sc *specs.LinuxSeccomp) ([]specs.POSIXRlimit, error) {
	late, err := setRlimits(p.Rlimits, true)
	if err != nil {
		return nil, err
	}
	if io := p.IOPriority; io != nil {
		// ioprio_set(IOPRIO_WHO_PROCESS, self, class<<13 | level)
		prio := uintptr(ioprioClasses[io.Class]<<13 | io.Priority)
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, 1, 0, prio); errno != 0 {
			return nil, fmt.Errorf("process.ioPriority: %w", errno)
		}
	}
	if err := setScheduler(p.Scheduler); err != nil {
		return nil, err
	}
	if p.OOMScoreAdj != nil {
		if err := writeProcFile("/proc/self/oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
			return nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		return nil, fmt.Errorf("process.cwd %s: %w", cwd, err)
	}
	// A leaked host fd used as cwd would show as unreachable (CVE-2024-21626).
	if wd, err := os.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return nil, fmt.Errorf("process.cwd %s: not inside the container", cwd)
	}
	if p.Capabilities != nil {
		if err := applyBoundingSet(p.Capabilities); err != nil {
			return nil, err
		}
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
	// before the user switch clears the effective set.
	if !p.NoNewPrivileges {
		if err := loadSeccomp(sock, sc); err != nil {
			return nil, err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	if err := setUser(p.User); err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return nil, err
	}
	if p.Capabilities != nil {
		if err := applyCaps(p.Capabilities); err != nil {
			return nil, err
		}
	} else if err := applyCaps(&specs.LinuxCapabilities{}); err != nil {
		return nil, err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	return late, nil
}

// setRlimits applies the rlimits now, except lowering a memory limit, which
// is returned to be applied just before execve (lowering needs no rights).
// syscall.Setrlimit (not x/sys) so Go does not restore its own RLIMIT_NOFILE
// at exec.
func setRlimits(rls []specs.POSIXRlimit, deferMemory bool) (late []specs.POSIXRlimit, err error) {
	for _, r := range rls {
		res := rlimitTypes[r.Type]
		if deferMemory && memoryRlimits[r.Type] {
			var cur syscall.Rlimit
			if syscall.Getrlimit(res, &cur) == nil && r.Hard <= cur.Max {
				late = append(late, r)
				continue
			}
		}
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return nil, fmt.Errorf("process.rlimits %s: %w", r.Type, err)
		}
	}
	return late, nil
}

func setUser(u specs.User) error {
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	} else {
		unix.Umask(0o022)
	}
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	// setgroups is refused in a user namespace with setgroups=deny.
	if err := syscall.Setgroups(groups); err != nil && !(len(groups) == 0 && errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("process.user.additionalGids: %w", err)
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	return nil
}

// lookExecutable resolves args[0] against the container's PATH now, so a
// missing binary fails `create` with a clear message rather than `start`.
func lookExecutable(p *specs.Process) (string, []string, error) {
	env := processEnv(p.Env, func() string { return homeDir(int(p.User.UID)) })
	path := ""
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", nil, &ExecError{Prog: name, Reason: err.Error(), NotFound: errors.Is(err, os.ErrNotExist)}
		}
		return name, env, nil
	}
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		full := filepath.Join(dir, name)
		if checkExecutable(full) == nil {
			return full, env, nil
		}
	}
	return "", nil, &ExecError{Prog: name, Reason: exec.ErrNotFound.Error(), NotFound: true}
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	// With the effective ids and capabilities, as execve will check:
	// access(2) uses the real ones, and for a non-root user drops the
	// capabilities, so a user with CAP_DAC_OVERRIDE would be refused a
	// program only its owner may run, which execve allows.
	return unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
}
