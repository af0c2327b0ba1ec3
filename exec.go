package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

// execExitFailed is runc's exit status when exec itself fails (as opposed
// to the process exiting non-zero): callers such as containerd and podman
// tell the two apart by it.
const execExitFailed = 255

var execCommand = &cli.Command{
	Name:  "exec",
	Usage: "run a process in a running container",
	Description: `Runs another process in a running (or created) container: in all its
namespaces and its cgroup, under its seccomp filter, starting from the
container's own process settings (user, env, cwd, capabilities) with the flags
applied. The exit status is the process's, or 255 when rt exec itself fails,
as runc (the process could not be started, e.g. not found: the reason is on
stderr). -p takes a full runtime-spec process JSON instead.

EXAMPLE:
   rt exec c1 ps
   rt exec -e DEBUG=1 --cwd /tmp -u 1000:1000 c1 sh -c 'id; pwd'
   rt exec -t c1 sh          # interactive, from a terminal`,
	ArgsUsage: "<container-id> <command> [args...] (or -p process.json)",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json `FILE` (a runtime-spec process); other process flags are then ignored"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process has started"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to `FILE`"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket `PATH` that receives the pty master"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket `PATH` that receives a pidfd of the process"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add or replace an environment variable (NAME=value)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid] to run as"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gid"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (CAP_NAME)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privileges"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass `N` extra fds (3..3+N-1)"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label (not supported)"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile (not supported)"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an existing sub-cgroup of the container's: `[CONTROLLER[,CONTROLLER]:]PATH` (v1: one per controller; v2: one path)"},
	},
	Action: func(c *cli.Context) error {
		status, err := execProcess(c)
		if err != nil {
			fatalWithCode(err, execExitFailed)
		}
		os.Exit(status)
		return nil
	},
}

func execProcess(c *cli.Context) (int, error) {
	subCgroups, err := parseSubCgroups(c.StringSlice("cgroup"))
	if err != nil {
		return -1, err
	}
	for _, f := range []string{"process-label", "apparmor"} {
		if c.String(f) != "" {
			return -1, fmt.Errorf("--%s: not supported", f)
		}
	}
	libcontainer.PrimeCgroupAttach() // while the container is looked up
	var sub *signalSub
	if !c.Bool("detach") {
		sub = subscribeSignals() // while the process is set up
	}
	ct, err := loadContainer(c)
	if err != nil {
		return -1, err
	}
	// Lock only while starting: other commands may act on the container
	// while the process runs. Taken before the spec is read: a container
	// being created has none yet, and Lock waits for its creator.
	if err := ct.Lock(); err != nil {
		return -1, err
	}
	res, err := func() (*libcontainer.ExecResult, error) {
		defer ct.Unlock()
		if ct.Spec() == nil {
			// No state.json: a create or delete killed half-way.
			return nil, errors.New("cannot exec in a stopped container")
		}
		p, err := execSpec(c, ct.Spec())
		if err != nil {
			return nil, err
		}
		if err := checkTerminal(p.Terminal, c.Bool("detach"), c.String("console-socket")); err != nil {
			return nil, err
		}
		pidfdSock, err := dialPidfdSocket(c.String("pidfd-socket"))
		if err != nil {
			return nil, err
		}
		if pidfdSock != nil {
			defer pidfdSock.Close()
		}
		return ct.Exec(libcontainer.ExecOpts{Process: p, PreserveFds: c.Int("preserve-fds"), IgnorePaused: c.Bool("ignore-paused"), Joined: ct.Unlock, PidfdSocket: pidfdSock, SubCgroups: subCgroups})
	}()
	if err != nil {
		return -1, err
	}
	detach := c.Bool("detach")
	sock := c.String("console-socket")
	if sock != "" && res.Console != nil {
		err := sendConsole(sock, res.Console)
		res.Console.Close()
		res.Console = nil
		if err != nil {
			return -1, err
		}
	}
	if err := libcontainer.WritePidFile(c.String("pid-file"), res.Pid); err != nil {
		return -1, err
	}
	if detach {
		return 0, nil
	}
	return foreground(ct.ID(), res.Pid, res.Console, nil, sub)
}

// execSpec is the process to run: -p process.json, or the container's own
// process with the command line and the flags applied (as runc does).
func execSpec(c *cli.Context, spec *specs.Spec) (*specs.Process, error) {
	if f := c.String("process"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: invalid JSON: %w", f, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, errors.New("exec: missing command (usage: rt exec <container-id> <command> [args...])")
	}
	if spec == nil || spec.Process == nil {
		return nil, errors.New("exec: the container has no process to start from; use --process")
	}
	p := *spec.Process
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	p.Env = mergeEnv(p.Env, c.StringSlice("env"))
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		var err error
		if p.User, err = parseUser(u, p.User); err != nil {
			return nil, err
		}
	}
	for _, g := range c.StringSlice("additional-gids") {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		cp := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			cp = *p.Capabilities
		}
		// As runc: not inheritable, so a capability given to this process
		// is not passed on across its children's execve; ambient only when
		// the config has inheritable capabilities (which ambient needs).
		cp.Bounding = append(append([]string{}, cp.Bounding...), caps...)
		cp.Effective = append(append([]string{}, cp.Effective...), caps...)
		cp.Permitted = append(append([]string{}, cp.Permitted...), caps...)
		if cp.Inheritable != nil {
			cp.Ambient = append(append([]string{}, cp.Ambient...), caps...)
		}
		p.Capabilities = &cp
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	return &p, nil
}

// parseSubCgroups reads --cgroup as runc does: CONTROLLER[,CONTROLLER]:PATH
// (cgroup v1, once per controller) or one PATH (v2, or every v1
// controller).
func parseSubCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrls, p, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %s: missing CONTROLLER: prefix (only a single --cgroup may omit it)", a)
			}
			paths[""] = a
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %s: empty controller", a)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup: controller %s given more than once", ctrl)
			}
			paths[ctrl] = p
		}
	}
	return paths, nil
}
