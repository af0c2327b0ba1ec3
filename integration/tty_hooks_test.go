package integration

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"

	"golang.org/x/sys/unix"
)

// terminal: true in the foreground: rt allocates the pty and copies.
func TestRunTerminalForeground(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["terminal"] = true },
		"sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; tty")
	out, errs, code := e.rtIn(b, ptyStdin(t), "run", "tty")
	if code != 0 || !strings.Contains(out, "tty-ok") || !strings.Contains(out, "/dev/pts/0") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// "terminal": true in the foreground with stdin from a file or pipe: as
// runc, it runs when rt has a terminal somewhere (here only a controlling
// one: a runc test under script(1)), sized from it; the file's bytes reach
// the container's terminal and at their end a process reading lines sees
// end-of-file (runc leaves it waiting), also after a last partial line.
// With no terminal at all it fails at once (an interactive process would
// wait forever), leaving nothing.
func TestRunTerminalStdinNotATerminal(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["terminal"] = true },
		"sh", "-c", "stty size; read l; echo got:$l; cat; echo end")
	in := e.tempFile()
	if _, err := in.WriteString("first\npartial"); err != nil {
		t.Fatal(err)
	}
	run := func(id string, ctty *os.File) (string, string, error) {
		if _, err := in.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, id)
		var out, errs bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &errs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if ctty != nil {
			cmd.ExtraFiles = []*os.File{ctty}
			cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 3
		}
		err := cmd.Run()
		return out.String(), errs.String(), err
	}
	tty := ptyStdin(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	out, errs, err := run("ttyctty", tty)
	if err != nil || !strings.Contains(out, "33 111") || !strings.Contains(out, "got:first") || !strings.Contains(out, "partial") || !strings.Contains(out, "end") {
		t.Fatalf("with a controlling terminal: %v, stdout %q, stderr %q", err, out, errs)
	}
	out, errs, err = run("ttynone", nil)
	if err == nil || !strings.Contains(errs, `set "terminal": false`) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("without a terminal: %v, stdout %q, stderr %q", err, out, errs)
	}
	if _, err := os.Stat(filepath.Join(e.root, "ttynone")); err == nil {
		t.Fatal("state dir left behind")
	}
}

// ptyStdin is the slave of a new pty, for rt's stdin: rt then has a terminal
// to copy to the container's.
func ptyStdin(t *testing.T) *os.File {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave
}

// --console-socket: the pty master arrives over SCM_RIGHTS (containerd, podman).
func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["terminal"] = true },
		"sh", "-c", "echo hello-from-pty; sleep 1")
	sockPath := filepath.Join(e.dir, "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *os.File, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		got <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	// Without --detach semantics the socket is refused, as in runc.
	if _, errs, code := e.rtIn(b, nil, "run", "--console-socket", sockPath, "nodetach"); code == 0 || !strings.Contains(errs, "console socket") {
		t.Fatalf("run --console-socket without -d: exit %d, %q", code, errs)
	}
	e.mustRT("create", "-b", b, "--console-socket", sockPath, "cons")
	var master *os.File
	select {
	case master = <-got:
	case <-time.After(10 * time.Second):
	}
	if master == nil {
		t.Fatal("no pty master received")
	}
	defer master.Close()
	e.mustRT("start", "cons")
	data := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 256)
		for !strings.Contains(sb.String(), "hello-from-pty") {
			n, err := master.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		data <- sb.String()
	}()
	select {
	case s := <-data:
		if !strings.Contains(s, "hello-from-pty") {
			t.Fatalf("pty output %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output on the pty")
	}
}

// Every hook kind runs, in order, with the state on stdin.
func TestHooks(t *testing.T) {
	e := newEnv(t)
	log := filepath.Join(e.dir, "hooks.log")
	hook := func(name string) map[string]any {
		// createContainer and startContainer run in the container: log via
		// a path that is bind-mounted in.
		return map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c", "read s; echo \"" + name + " $s\" >> " + log}}
	}
	b := e.bundle("b", func(c map[string]any) {
		c["hooks"] = map[string]any{
			"prestart":        []any{hook("prestart")},
			"createRuntime":   []any{hook("createRuntime")},
			"createContainer": []any{hook("createContainer")},
			"startContainer":  []any{map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c", "read s; echo \"startContainer $s\" >> /hooklog/hooks.log"}}},
			"poststart":       []any{hook("poststart")},
			"poststop":        []any{hook("poststop")},
		}
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/hooklog", "type": "bind", "source": e.dir, "options": []string{"bind"}})
	}, "true")
	e.runOut(b, "hooks")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var order []string
	for _, l := range lines {
		name, js, _ := strings.Cut(l, " ")
		order = append(order, name)
		var st map[string]any
		if err := json.Unmarshal([]byte(js), &st); err != nil || st["id"] != "hooks" || st["bundle"] != b {
			t.Errorf("%s got state %q (%v)", name, js, err)
		}
	}
	want := "prestart createRuntime createContainer startContainer poststart poststop"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("hook order %q, want %q", got, want)
	}
}

// createContainer hooks run from the container's rootfs, as runc's do
// (before pivot_root, in the container's mount namespace): a relative path
// names a file of the rootfs, and what the hook binds there is in the
// container.
func TestCreateContainerHookCwdIsRootfs(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "lib.so")
	if err := os.WriteFile(src, []byte("bound-by-hook\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := e.bundle("b", func(c map[string]any) {
		c["hooks"] = map[string]any{"createContainer": []any{map[string]any{
			"path": "/bin/sh", "args": []string{"sh", "-c", "touch ./hooked.so && mount --bind " + src + " ./hooked.so"}}}}
		obj(c, "root")["readonly"] = false
	}, "cat", "/hooked.so")
	out := e.runOut(b, "hookcwd")
	if out != "bound-by-hook\n" {
		t.Fatalf("container printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(b, "hooked.so")); err == nil {
		t.Fatal("the hook wrote into the bundle, not the rootfs")
	}
}

// A failing createRuntime hook fails create, and nothing is left.
func TestFailingHook(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		c["hooks"] = map[string]any{"createRuntime": []any{map[string]any{"path": "/bin/false"}}}
	}, "true")
	_, errs, code := e.rtIn(b, nil, "create", "hookfail")
	// runc's wording, which callers and runc's tests match.
	if code == 0 || !strings.Contains(errs, "error running createRuntime hook #0: /bin/false: exit status 1") {
		t.Fatalf("exit %d, %q", code, errs)
	}
	assertGone(t, e, "hookfail", 0)
}

// A failing startContainer hook fails start with its error and output, and
// the process does not run. A hook without env gets the process's (runc).
func TestFailingStartContainerHook(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "process")["env"] = []string{"PATH=/bin", "ONE=two"}
		c["hooks"] = map[string]any{"startContainer": []any{
			map[string]any{"path": "/bin/true"},
			map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c", `echo "ONE=$ONE HOME=$HOME"; exit 3`}},
		}}
	}, "echo", "process-ran")
	out, errs, code := e.rtIn(b, nil, "run", "starthook")
	if code == 0 || strings.Contains(out, "process-ran") ||
		!strings.Contains(errs, "error running startContainer hook #1: /bin/sh: exit status 3: ONE=two HOME=/root") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	assertGone(t, e, "starthook", 0)
}

// A foreground terminal's output to a pipe or file has the program's "\n",
// not the pty's "\r\n" (runc clears ONLCR too).
func TestTerminalOutputToFile(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["terminal"] = true }, "sh", "-c", "echo a; echo b")
	out, errs, code := e.rtIn(b, ptyStdin(t), "run", "ttyfile")
	if code != 0 || out != "a\nb\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// rt on a real terminal: raw mode, the container's pty gets rt's window size
// at start and after SIGWINCH.
func TestTerminalWindowSize(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["terminal"] = true },
		"sh", "-c", `stty size; trap 'stty size; exit 0' WINCH; echo waiting; while :; do sleep 0.05; done`)
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 31, Width: 97}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, "winsz")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var out strings.Builder
	read := func(want string) {
		buf := make([]byte, 512)
		done := make(chan bool, 1)
		go func() {
			for !strings.Contains(out.String(), want) {
				n, err := master.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					break
				}
			}
			done <- true
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q on the terminal; got %q", want, out.String())
		}
	}
	read("waiting")
	if !strings.Contains(out.String(), "31 97") {
		t.Fatalf("initial size not passed: %q", out.String())
	}
	master.Resize(console.WinSize{Height: 40, Width: 120})
	cmd.Process.Signal(syscall.SIGWINCH)
	read("40 120")
}

// The process's user owns its terminal (runc); process.consoleSize sizes it
// when rt's own terminal has no size.
func TestTerminalOwnerAndConsoleSize(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		p := obj(c, "process")
		p["terminal"] = true
		p["user"] = map[string]any{"uid": 1000, "gid": 100}
		p["consoleSize"] = map[string]any{"height": 10, "width": 110}
	}, "sh", "-c", "stat -c %u $(tty); stty size")
	out, errs, code := e.rtIn(b, ptyStdin(t), "run", "ttyowner")
	if code != 0 || out != "1000\n10 110\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
