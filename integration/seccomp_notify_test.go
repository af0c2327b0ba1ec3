package integration

import (
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccomp_notif and seccomp_notif_resp of <linux/seccomp.h>.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

const notifFlagContinue = 1 // SECCOMP_USER_NOTIF_FLAG_CONTINUE

// agentMsg is what the agent got: the runtime-spec ContainerProcessState.
type agentMsg struct {
	Version  string   `json:"ociVersion"`
	Fds      []string `json:"fds"`
	Pid      int      `json:"pid"`
	Metadata string   `json:"metadata"`
	State    struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Pid    int    `json:"pid"`
		Bundle string `json:"bundle"`
	} `json:"state"`
}

// seccompAgent is a minimal seccomp agent on a unix socket: mkdir and
// mkdirat fail with ENOMEDIUM, every other notified syscall continues.
type seccompAgent struct {
	path string
	l    *net.UnixListener
	mu   sync.Mutex
	msgs []agentMsg
	wg   sync.WaitGroup
}

func startSeccompAgent(t *testing.T, path string) *seccompAgent {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a := &seccompAgent{path: path, l: l}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			a.wg.Add(1)
			go func() { defer a.wg.Done(); a.serve(t, c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); a.wg.Wait() })
	return a
}

func (a *seccompAgent) serve(t *testing.T, c *net.UnixConn) {
	defer c.Close()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Errorf("agent: read: %v", err)
		return
	}
	scms, _ := unix.ParseSocketControlMessage(oob[:oobn])
	if len(scms) != 1 {
		t.Errorf("agent: %d control messages, want one fd", len(scms))
		return
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) != 1 {
		t.Errorf("agent: fds %v: %v", fds, err)
		return
	}
	fd := fds[0]
	defer unix.Close(fd)
	var m agentMsg
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		t.Errorf("agent: state %q: %v", buf[:n], err)
		return
	}
	a.mu.Lock()
	a.msgs = append(a.msgs, m)
	a.mu.Unlock()
	for {
		// POLLHUP: no task uses the filter any more.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 10000); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return
		}
		var req seccompNotif
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); errno != 0 {
			if errno == unix.EINTR || errno == unix.ENOENT {
				continue
			}
			return
		}
		resp := seccompNotifResp{ID: req.ID, Flags: notifFlagContinue}
		if req.Nr == unix.SYS_MKDIR || req.Nr == unix.SYS_MKDIRAT {
			resp = seccompNotifResp{ID: req.ID, Error: -int32(unix.ENOMEDIUM)}
		}
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

func (a *seccompAgent) got() []agentMsg {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]agentMsg(nil), a.msgs...)
}

// SCMP_ACT_NOTIFY: rt passes each process's listener to the agent at
// linux.seccomp.listenerPath with the container's state (creating for the
// init, running for an exec'd process), keeps no copy, and the agent's
// answer is the syscall's result; with no_new_privs (filter loaded last)
// and without (loaded before the user switch).
func TestSeccompNotify(t *testing.T) {
	e := newEnv(t)
	agent := startSeccompAgent(t, filepath.Join(e.dir, "agent.sock"))
	for _, nnp := range []bool{true, false} {
		id := "notify-nnp"
		if !nnp {
			id = "notify-privs"
		}
		b := e.bundle(id, func(c map[string]any) {
			obj(c, "process")["noNewPrivileges"] = nnp
			obj(c, "linux")["seccomp"] = map[string]any{
				"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path, "listenerMetadata": "meta",
				"architectures": []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
				"syscalls":      []any{map[string]any{"names": []string{"mkdir", "mkdirat", "openat", "close", "fcntl", "execve"}, "action": "SCMP_ACT_NOTIFY"}},
			}
		}, "sh", "-c", "mkdir /tmp/x; ls -l /proc/self/fd/; sleep 30")
		e.mustRT("run", "-d", "-b", b, id)
		pid := int(e.state(id)["pid"].(float64))
		out := e.mustRT("exec", id, "sh", "-c", "mkdir /tmp/y || echo exec-refused")
		if !strings.Contains(out, "exec-refused") {
			t.Fatalf("%s: exec's mkdir was not refused by the agent: %q", id, out)
		}
		var init, exec *agentMsg
		for _, m := range agent.got() {
			if m.State.ID == id && m.State.Status == "creating" {
				init = &m
			}
			if m.State.ID == id && m.State.Status == "running" {
				exec = &m
			}
		}
		if init == nil || exec == nil {
			t.Fatalf("%s: the agent got %+v, want the init's (creating) and the exec's (running)", id, agent.got())
		}
		if init.Pid != pid || init.State.Pid != pid || exec.State.Pid != pid || exec.Pid == pid || exec.Pid <= 0 ||
			init.Metadata != "meta" || len(init.Fds) != 1 || init.Fds[0] != "seccompFd" || init.State.Bundle != b {
			t.Fatalf("%s: init pid %d: states %+v and %+v", id, pid, *init, *exec)
		}
		e.mustRT("delete", "--force", id)
	}
}

// The container's output shows the agent's answer and no listener fd.
func TestSeccompNotifyRun(t *testing.T) {
	e := newEnv(t)
	agent := startSeccompAgent(t, filepath.Join(e.dir, "agent.sock"))
	seccompNotify := func(c map[string]any, names ...string) {
		obj(c, "linux")["seccomp"] = map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path,
			"syscalls": []any{map[string]any{"names": names, "action": "SCMP_ACT_NOTIFY"}},
		}
	}
	b := e.bundle("b", func(c map[string]any) { seccompNotify(c, "mkdir", "mkdirat") },
		"sh", "-c", "mkdir /tmp/x 2>&1; ls -l /proc/self/fd/")
	out := e.runOut(b, "notifyrun")
	if !strings.Contains(out, "No medium found") || strings.Contains(out, "seccomp") {
		t.Fatalf("got %q: want mkdir refused by the agent (ENOMEDIUM) and no seccomp fd in the container", out)
	}
	// Refused before anything runs, naming the field; runc's texts.
	for _, c := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(c map[string]any) { seccompNotify(c, "write") }, "SCMP_ACT_NOTIFY cannot be used for the write syscall"},
		{func(c map[string]any) {
			seccompNotify(c, "mkdir")
			delete(obj(c, "linux")["seccomp"].(map[string]any), "listenerPath")
		}, "linux.seccomp: listenerPath: required with SCMP_ACT_NOTIFY"},
		{func(c map[string]any) {
			seccompNotify(c, "mkdir")
			obj(c, "linux")["seccomp"].(map[string]any)["listenerPath"] = filepath.Join(e.dir, "none.sock")
		}, "failed to connect with seccomp agent"},
	} {
		e.editConfig(b, c.edit)
		_, errs, code := e.rtIn(b, nil, "run", "notifybad")
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Fatalf("exit %d, stderr %q, want %q", code, errs, c.want)
		}
	}
}

// linux.seccomp.flags: absent gets runc's default (SPEC_ALLOW, where the
// kernel has it), an explicit empty list none, also though the spec
// reaches the init as JSON (where [] would read back as absent). rt
// --debug shows the flags the filter was loaded with, as runc does.
func TestSeccompFlags(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "true")
	// What absent means here: SPEC_ALLOW (4) if the kernel has it.
	absent := "seccomp filter flags: 0"
	if strings.Contains(e.mustRT("features"), `"SECCOMP_FILTER_FLAG_SPEC_ALLOW"`) {
		absent = "seccomp filter flags: 4"
	}
	for _, c := range []struct {
		flags any // nil: no "flags" key
		want  string
	}{
		{[]string{}, "seccomp filter flags: 0"},
		{[]string{"SECCOMP_FILTER_FLAG_LOG"}, "seccomp filter flags: 2"},
		{nil, absent},
	} {
		e.editConfig(b, func(cfg map[string]any) {
			sc := map[string]any{"defaultAction": "SCMP_ACT_ALLOW",
				"syscalls": []any{map[string]any{"names": []string{"mkdir"}, "action": "SCMP_ACT_ERRNO"}}}
			if c.flags != nil {
				sc["flags"] = c.flags
			}
			obj(cfg, "linux")["seccomp"] = sc
		})
		_, errs, code := e.rtIn(b, nil, "--debug", "run", "flags")
		if code != 0 || !strings.Contains(errs, c.want) {
			t.Fatalf("flags %v: exit %d, want %q in the debug output:\n%s", c.flags, code, c.want, errs)
		}
	}
}
