package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/imagestore"
	"github.com/rt-project/rt/libcontainer"
)

// Shared glue of the create/run commands (runc's utils_linux.go).

var createFlags = append([]cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle `DIR` holding config.json and the rootfs"},
	&cli.StringFlag{Name: "image", Usage: "run `IMAGE` of the store (rt load) instead of a bundle: a fresh overlay rootfs, removed at delete"},
	&cli.StringFlag{Name: "console-socket", Usage: "unix socket `PATH` that receives the pty master (terminal: true)"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket `PATH` that receives a pidfd of the container's init"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container init's pid to `FILE`"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE + chroot instead of pivot_root"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted for runc compatibility (rt makes no session keyring)"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass `N` extra fds (3..3+N-1) to the container"},
}, overrideFlags...)

func rootDir(c *cli.Context) (string, error) {
	root, err := filepath.Abs(c.String("root"))
	if err != nil {
		return "", err
	}
	if root == "/" {
		return "", errors.New("--root: must not be /")
	}
	return root, nil
}

// moreArgs is how many arguments after the container ID a command takes
// (-1: any); every other command takes the ID alone, as runc.
var moreArgs = map[string]int{"kill": 1, "exec": -1, "ps": -1}

// idArg returns the container ID argument. An argument the command does not
// take is an error, never silently dropped.
func idArg(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: missing container ID (usage: rt %s %s)", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	if max, ok := moreArgs[c.Command.Name]; (!ok || max >= 0) && c.NArg() > 1+max {
		return "", extraArgError(c, c.Args().Get(1+max))
	}
	return c.Args().First(), nil
}

// noArgs refuses arguments to a command that takes none.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return extraArgError(c, c.Args().First())
	}
	return nil
}

func loadContainer(c *cli.Context) (*libcontainer.Container, error) {
	root, err := rootDir(c)
	if err != nil {
		return nil, err
	}
	id, err := idArg(c)
	if err != nil {
		return nil, err
	}
	return libcontainer.Load(root, id)
}

// withLocked loads the container named on the command line, holds its lock
// while fn runs, and releases it.
func withLocked(c *cli.Context, fn func(*libcontainer.Container) error) error {
	ct, err := loadContainer(c)
	if err != nil {
		return err
	}
	if err := ct.Lock(); err != nil {
		return err
	}
	defer ct.Unlock()
	return fn(ct)
}

// checkTerminal applies runc's rules (and its messages) for tty and detach.
func checkTerminal(terminal, detach bool, consoleSocket string) error {
	if detach && terminal && consoleSocket == "" {
		return errors.New("cannot allocate tty if rt will detach without setting console socket")
	}
	if (!detach || !terminal) && consoleSocket != "" {
		return errors.New("cannot use console socket if rt will not detach or allocate tty")
	}
	// In the foreground the container's terminal is served from rt's, as
	// runc (which fails the same way without one): with none, an
	// interactive process would wait forever on input nobody can type.
	if terminal && !detach {
		f := hostTerminal()
		if f == nil {
			return errors.New(`a terminal was asked for ("terminal": true in config.json, or exec -t) but rt has none (stdin, stdout and stderr are not terminals and there is no controlling terminal): set "terminal": false to run from scripts and pipes`)
		}
		closeHostTerminal(f)
	}
	return nil
}

// hostTerminal is the terminal the container's terminal takes its size
// from, as runc's: stdin, stdout or stderr if one is a terminal, else the
// controlling terminal (/dev/tty: closeHostTerminal closes it). nil when rt
// has none.
func hostTerminal() *os.File {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if isTerminal(f) {
			return f
		}
	}
	f, err := os.OpenFile("/dev/tty", os.O_RDWR|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil
	}
	return f
}

// closeHostTerminal closes what hostTerminal opened, never rt's stdio.
func closeHostTerminal(f *os.File) {
	if f != nil && f != os.Stdin && f != os.Stdout && f != os.Stderr {
		f.Close()
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// createContainer runs the create half shared by `create` and `run`: the
// arguments are `ID [-- COMMAND...]`.
// createContainer is create and run's set-up; with keepLocked the container
// comes back locked (CreateOpts.KeepLocked).
func createContainer(c *cli.Context, detach, keepLocked bool) (_ *libcontainer.CreateResult, retErr error) {
	libcontainer.PrimeCgroupAttach() // while the config is read
	id, cmd, err := splitCommand(c)
	if err != nil {
		return nil, err
	}
	root, err := rootDir(c)
	if err != nil {
		return nil, err
	}
	if err := libcontainer.ValidateID(id); err != nil {
		return nil, err
	}
	bundle := c.String("bundle")
	var fromImage *imagestore.Container
	if ref := c.String("image"); ref != "" {
		if c.IsSet("bundle") {
			return nil, errors.New("--image and --bundle: give one")
		}
		if fromImage, err = prepareImage(c, ref, root, id, len(cmd) > 0); err != nil {
			return nil, err
		}
		// Until the state is saved the directory is this process's to
		// remove; after, destroy does it (RootfsMount, Cleanup).
		defer fromImage.Unlock()
		defer func() {
			if retErr != nil {
				_ = fromImage.Remove()
			}
		}()
		bundle = fromImage.Dir
	}
	spec, err := libcontainer.LoadSpecWith(bundle, func(s *specs.Spec) error { return applyOverrides(c, id, s, cmd) })
	if err != nil {
		return nil, err
	}
	if err := libcontainer.CheckPrivileges(spec); err != nil {
		return nil, err
	}
	sock := c.String("console-socket")
	if err := checkTerminal(spec.Process != nil && spec.Process.Terminal, detach, sock); err != nil {
		return nil, err
	}
	pidfdSock, err := dialPidfdSocket(c.String("pidfd-socket"))
	if err != nil {
		return nil, err
	}
	if pidfdSock != nil {
		defer pidfdSock.Close()
	}
	var rootless bool
	switch v := c.String("rootless"); v {
	case "auto":
		rootless = rootlessAuto()
	case "true", "false":
		rootless = v == "true"
	default:
		return nil, fmt.Errorf("--rootless: %q is not true, false or auto", v)
	}
	opts := libcontainer.CreateOpts{
		Root: root, ID: id, Bundle: bundle, Spec: spec,
		NoPivot: c.Bool("no-pivot"), PreserveFds: c.Int("preserve-fds"),
		Rootless: rootless, SystemdCgroup: c.Bool("systemd-cgroup"),
		KeepLocked: keepLocked, PidfdSocket: pidfdSock,
	}
	if fromImage != nil {
		opts.RootfsMount, opts.Cleanup = fromImage.Rootfs, fromImage.Dir
	}
	ct, err := libcontainer.Create(opts)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*libcontainer.CreateResult, error) {
		if ct.Console != nil {
			ct.Console.Close()
		}
		_ = ct.Delete(true)
		return nil, err
	}
	if sock != "" && ct.Console != nil {
		if err := sendConsole(sock, ct.Console); err != nil {
			return fail(err)
		}
		ct.Console.Close()
		ct.Console = nil
	}
	if err := libcontainer.WritePidFile(c.String("pid-file"), ct.Pid()); err != nil {
		return fail(err)
	}
	logf("debug", "created container %s: init pid %d, bundle %s", id, ct.Pid(), bundle)
	return ct, nil
}

// dialPidfdSocket connects to --pidfd-socket before anything is made (as
// runc); nil without the flag. libcontainer sends the pidfd on it.
func dialPidfdSocket(path string) (*net.UnixConn, error) {
	if path == "" {
		return nil, nil
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("--pidfd-socket %s: %w", path, err)
	}
	return conn.(*net.UnixConn), nil
}

// sendConsole hands the pty master to the caller's socket (SCM_RIGHTS), as
// runc does for containerd and conmon.
func sendConsole(path string, master *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("--console-socket %s: %w", path, err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("--console-socket %s: not a unix socket", path)
	}
	name := []byte(master.Name())
	if _, _, err := uc.WriteMsgUnix(name, unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("--console-socket %s: send pty: %w", path, err)
	}
	return nil
}

// runForeground starts a created container and stays with it (see
// foreground).
func runForeground(ct *libcontainer.CreateResult, sub *signalSub) (int, error) {
	start := func() error {
		defer ct.Unlock() // held since Create: others may act once it runs
		return ct.Start()
	}
	return foreground(ct.ID(), ct.Pid(), ct.Console, start, sub)
}

// signalSub is a subscription to every signal, made in the background:
// Notify and Stop enable and disable each of the ~65 signals with a round
// trip to the Go runtime's signal thread, 0.5-2 ms each way on a loaded
// machine, which would otherwise delay the container's start and rt's exit.
// As runc does, rt run subscribes before it creates the container, so a
// signal that arrives meanwhile is forwarded once the process runs.
type signalSub struct {
	ch    chan os.Signal
	ready chan struct{}
}

func subscribeSignals() *signalSub {
	s := &signalSub{ch: make(chan os.Signal, 128), ready: make(chan struct{})}
	go func() {
		signal.Notify(s.ch)
		close(s.ready)
	}()
	return s
}

// wait returns the channel once every signal is subscribed.
func (s *signalSub) wait() chan os.Signal {
	<-s.ready
	return s.ch
}

// stop gives every signal its default action back, in the background: rt
// only cleans up and exits after the foreground process.
func (s *signalSub) stop() {
	go func() {
		<-s.ready
		signal.Stop(s.ch)
	}()
}

// foreground serves a process in the foreground until it exits: runs start
// (nil: already started), forwards signals, serves the terminal, reaps, and
// returns the exit status (128+N for a signal).
func foreground(id string, pid int, console *os.File, start func() error, sub *signalSub) (int, error) {
	// Subscribed before start so no signal is lost in between.
	sigs := sub.wait()
	defer sub.stop()

	var tty *ttyBridge
	if console != nil {
		var err error
		if tty, err = newTTYBridge(console); err != nil {
			return -1, err
		}
		defer tty.Close()
		// Before start: the process may ask for its size at once.
		tty.resize()
	}
	if start != nil {
		if err := start(); err != nil {
			return -1, err
		}
	}
	// The process may have exited before we subscribed to SIGCHLD.
	sigs <- unix.SIGCHLD
	for s := range sigs {
		sig := s.(unix.Signal)
		switch sig {
		case unix.SIGWINCH:
			if tty != nil {
				tty.resize()
			}
		case unix.SIGCHLD:
			// Reap every child; stop when the init is gone.
			for {
				var ws unix.WaitStatus
				wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || wpid <= 0 {
					break
				}
				if wpid == pid {
					if tty != nil {
						tty.drain()
					}
					logf("debug", "container %s: process %d exited (%v)", id, pid, ws)
					return exitStatus(ws), nil
				}
			}
		case unix.SIGURG:
			// Go's runtime preemption signal: never forward.
		default:
			logf("debug", "forwarding %v to the container process %d", sig, pid)
			_ = unix.Kill(pid, sig)
		}
	}
	return -1, errors.New("signal channel closed")
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// ttyBridge copies between rt's terminal and the container's pty.
type ttyBridge struct {
	master  console.Console
	current console.Console // stdin if a terminal, made raw; else nil (see endInput)
	host    *os.File        // the terminal sizes come from (hostTerminal)
	done    chan struct{}
}

func newTTYBridge(master *os.File) (*ttyBridge, error) {
	m, err := console.ConsoleFromFile(master)
	if err != nil {
		return nil, fmt.Errorf("pty master: %w", err)
	}
	// Output copied to a pipe or a file gets the program's "\n", not the
	// pty's "\r\n" (runc clears ONLCR too). On rt's terminal, made raw
	// below (no output processing), the pty's ONLCR is what moves the
	// cursor back to column 0, so it stays.
	if !isTerminal(os.Stdout) {
		if err := console.ClearONLCR(m.Fd()); err != nil {
			return nil, fmt.Errorf("pty master: clear ONLCR: %w", err)
		}
	}
	t := &ttyBridge{master: m, done: make(chan struct{})}
	if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if err := cur.SetRaw(); err == nil {
			t.current = cur
		}
	}
	t.host = hostTerminal()
	go func() {
		w := &lastByte{w: m}
		_, _ = io.Copy(w, os.Stdin)
		if t.current == nil {
			endInput(m, w.last)
		}
	}()
	go func() {
		_, _ = io.Copy(os.Stdout, m)
		close(t.done)
	}()
	return t, nil
}

// lastByte remembers the last byte written through it.
type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// endInput passes on the end of a stdin that is not a terminal (a pipe, a
// file, /dev/null): runc just stops copying, and a process reading the
// terminal waits forever. A terminal has no end-of-file, but in canonical
// mode (a shell's `read`, cat) its VEOF character is one: typed after a
// partial line it only ends that line, so then twice. A process that made
// the terminal raw gets nothing (it would read VEOF as a byte).
func endInput(m console.Console, last byte) {
	tio, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ICANON == 0 {
		return
	}
	eof := []byte{tio.Cc[unix.VEOF]}
	if last != 0 && last != '\n' {
		eof = append(eof, eof[0])
	}
	_, _ = m.Write(eof)
}

// resize gives the container's pty rt's terminal size; a terminal nobody
// sized (0x0) keeps process.consoleSize.
func (t *ttyBridge) resize() {
	if t.host == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(t.host.Fd()), unix.TIOCGWINSZ)
	if err == nil && ws.Row != 0 && ws.Col != 0 {
		_ = t.master.Resize(console.WinSize{Height: ws.Row, Width: ws.Col})
	}
}

// drain waits briefly for the last output after the init exited.
func (t *ttyBridge) drain() {
	select {
	case <-t.done:
	case <-time.After(200 * time.Millisecond):
	}
}

func (t *ttyBridge) Close() {
	closeHostTerminal(t.host)
	if t.current != nil {
		_ = t.current.Reset()
	}
	t.master.Close()
}
