package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rt exec joins every namespace and the cgroup of a running container.
func TestExecJoinsTheContainer(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { c["hostname"] = "exec-host" }, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "ex")
	pid := int(e.state("ex")["pid"].(float64))
	out := e.mustRT("exec", "ex", "sh", "-c", `hostname; echo "pid=$$"; cat /proc/1/cmdline | tr '\0' ' '; echo; for n in mnt net pid uts ipc cgroup; do readlink /proc/self/ns/$n; done`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 9 || lines[0] != "exec-host" || lines[1] == "pid=1" || lines[2] != "sleep 30 " {
		t.Fatalf("exec output:\n%s", out)
	}
	for i, n := range []string{"mnt", "net", "pid", "uts", "ipc", "cgroup"} {
		want, _ := os.Readlink(filepath.Join("/proc", itoa(pid), "ns", n))
		if lines[3+i] != want {
			t.Errorf("%s namespace %s, want the init's %s", n, lines[3+i], want)
		}
	}
}

// Exit status passes through; a failure of exec itself is 255 (runc's
// contract, which containerd and podman rely on).
func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "codes")
	if _, _, code := e.rt("exec", "codes", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exit %d, want 7", code)
	}
	_, errs, code := e.rt("exec", "codes", "/no/such/binary")
	if code != 255 || !strings.Contains(errs, "/no/such/binary") {
		t.Fatalf("missing binary: exit %d, %q", code, errs)
	}
	if _, errs, code := e.rt("exec", "nope", "true"); code != 255 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("unknown container: exit %d, %q", code, errs)
	}
	e.mustRT("kill", "codes", "KILL")
	waitStatus(t, e, "codes", "stopped")
	if _, errs, code := e.rt("exec", "codes", "true"); code != 255 || !strings.Contains(errs, "cannot exec in a stopped container") {
		t.Fatalf("stopped container: exit %d, %q", code, errs)
	}
}

// Detached exec with a pid file, as containerd's shim runs it, with a
// process.json; the process is in the container's cgroup.
func TestExecDetachedProcessJSON(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "shim")
	proc := map[string]any{
		"args": []string{"sleep", "20"}, "cwd": "/", "env": []string{"PATH=/bin"},
		"user": map[string]any{"uid": 65534, "gid": 65534},
	}
	data, _ := json.Marshal(proc)
	pf := filepath.Join(e.dir, "process.json")
	os.WriteFile(pf, data, 0o644)
	pidFile := filepath.Join(e.dir, "exec.pid")
	e.mustRT("exec", "--process", pf, "--detach", "--pid-file", pidFile, "shim")
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(raw))
	found := false
	for _, p := range e.pids("shim") {
		found = found || p == pid
	}
	if !found {
		t.Fatalf("exec'd pid %d not in the container's cgroup %v", pid, e.pids("shim"))
	}
	if st := readFile(t, filepath.Join("/proc", itoa(pid), "status")); !strings.Contains(st, "Uid:\t65534") {
		t.Fatalf("not running as 65534:\n%s", st)
	}
}

// The container's seccomp filter and its user namespace apply to exec too.
func TestExecSeccompAndUserNamespace(t *testing.T) {
	e := newEnv(t)
	os.Chmod(e.dir, 0o755)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"})
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 200000, "size": 65536}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 200000, "size": 65536}}
		l["seccomp"] = map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls":      []any{map[string]any{"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}},
		}
	}, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "sc")
	out := e.mustRT("exec", "sc", "sh", "-c", "mkdir /tmp/x 2>&1; id -u; cat /proc/self/uid_map")
	if !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "\n0\n") || !strings.Contains(out, "200000") {
		t.Fatalf("exec output %q", out)
	}
}

// exec -t: the process gets a pty.
func TestExecTTY(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "tty")
	out, errs, code := e.rtIn("", ptyStdin(t), "exec", "-t", "tty", "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok")
	if code != 0 || !strings.Contains(out, "tty-ok") {
		t.Fatalf("exit %d, %q %q", code, out, errs)
	}
}

// `rt exec --ignore-paused` into a paused container waits for the resume,
// and does not hold the container's lock meanwhile (runc's suite,
// cgroups.bats, found `rt resume` and the exec waiting for each other).
func TestExecIgnorePausedThenResume(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "run", "-d", "paused-exec"); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	e.mustRT("pause", "paused-exec")
	ex := e.startRT("", nil, "exec", "--ignore-paused", "paused-exec", "true")
	time.Sleep(time.Second) // let the exec reach the frozen cgroup
	if code, errs := e.startRT("", nil, "resume", "paused-exec").wait(t, 30*time.Second); code != 0 {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	if code, errs := ex.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exec after resume: exit %d %s", code, errs)
	}
}

// exec --cap adds to bounding, effective and permitted only, as runc: not
// inheritable, and ambient only when the config has inheritable ones.
func TestExecCap(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "process")["capabilities"] = map[string]any{} }, "sleep", "30")
	e.mustRT("run", "-d", "-b", b, "execcap")
	// CAP_KILL is bit 5, CAP_AUDIT_WRITE bit 26.
	out := e.mustRT("exec", "--cap", "CAP_KILL", "--cap", "CAP_AUDIT_WRITE", "execcap", "grep", "^Cap", "/proc/self/status")
	want := "CapInh:\t0000000000000000\nCapPrm:\t0000000020000020\nCapEff:\t0000000020000020\nCapBnd:\t0000000020000020\nCapAmb:\t0000000000000000\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// An unknown capability is ignored, with a warning.
	out, errs, code := e.rt("exec", "--cap", "CAP_NOPE", "execcap", "grep", "^CapEff", "/proc/self/status")
	if code != 0 || out != "CapEff:\t0000000000000000\n" || !strings.Contains(errs, `ignoring unknown capabilities "CAP_NOPE"`) {
		t.Fatalf("unknown capability: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
