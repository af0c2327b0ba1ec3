package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
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

// process.scheduler (sched_setattr) applies to the init and to exec: the
// config's for `exec CMD`, a process.json's own (SCHED_DEADLINE) for
// `exec -p`. Wrong settings are refused naming the field, and a deadline
// policy with linux.resources.cpu.cpus gets runc's error.
func TestScheduler(t *testing.T) {
	e := newEnv(t)
	// /proc/PID/stat: field 19 is nice, field 41 the policy (3 = batch).
	const stat = `cut -d' ' -f19,41 /proc/self/stat`
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "process")["scheduler"] = map[string]any{"policy": "SCHED_BATCH", "nice": 19}
	}, "sh", "-c", stat+"; exec sleep 30")
	e.mustRT("run", "-d", "-b", b, "sched")
	if out := e.mustRT("exec", "sched", "sh", "-c", stat); out != "19 3\n" {
		t.Errorf("exec from config.json: nice and policy %q, want \"19 3\"", out)
	}
	pid := int(e.state("sched")["pid"].(float64))
	if f := strings.Fields(readFile(t, filepath.Join("/proc", itoa(pid), "stat"))); len(f) < 41 || f[18] != "19" || f[40] != "3" {
		t.Errorf("init: nice %v policy %v, want 19 and 3", f[18], f[40])
	}
	proc := map[string]any{
		"args": []string{"sleep", "20"}, "cwd": "/", "env": []string{"PATH=/bin"},
		"scheduler": map[string]any{"policy": "SCHED_DEADLINE", "flags": []string{"SCHED_FLAG_RESET_ON_FORK"},
			"runtime": 42000, "deadline": 100000, "period": 1000000},
	}
	data, _ := json.Marshal(proc)
	pf := filepath.Join(e.dir, "process.json")
	os.WriteFile(pf, data, 0o644)
	pidFile := filepath.Join(e.dir, "exec.pid")
	e.mustRT("exec", "--process", pf, "--detach", "--pid-file", pidFile, "sched")
	raw, _ := os.ReadFile(pidFile)
	sched := readFile(t, filepath.Join("/proc", strings.TrimSpace(string(raw)), "sched"))
	if !regexp.MustCompile(`(?m)^policy\s+:\s+6$`).MatchString(sched) {
		t.Errorf("exec -p: not SCHED_DEADLINE:\n%s", sched)
	}
	// The parameters and the flag, as util-linux shows them (runc's test).
	if chrt, err := exec.LookPath("chrt"); err == nil {
		out, _ := exec.Command(chrt, "-p", strings.TrimSpace(string(raw))).CombinedOutput()
		if !strings.Contains(string(out), "SCHED_DEADLINE|SCHED_RESET_ON_FORK") || !strings.Contains(string(out), "42000/100000/1000000") {
			t.Errorf("chrt -p of the exec'd process: %s", out)
		}
	}

	for _, c := range []struct {
		sched map[string]any
		cpus  string
		want  string
	}{
		{map[string]any{"policy": "SCHED_OTHER", "priority": 5}, "", "process.scheduler.priority"},
		{map[string]any{"policy": "SCHED_NOPE"}, "", `process.scheduler.policy: unknown policy "SCHED_NOPE"`},
		{map[string]any{"policy": "SCHED_BATCH", "nice": 40}, "", "process.scheduler.nice"},
		{map[string]any{"policy": "SCHED_OTHER", "flags": []string{"SCHED_FLAG_X"}}, "", "process.scheduler.flags[0]"},
		{map[string]any{"policy": "SCHED_OTHER", "runtime": 1}, "", "only for SCHED_DEADLINE"},
		{map[string]any{"policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 1000000, "period": 1000000}, "0",
			"process scheduler can't be used together with AllowedCPUs"},
	} {
		if c.cpus != "" && runtime.NumCPU() < 2 {
			continue
		}
		bad := e.bundle("bad", func(cfg map[string]any) {
			obj(cfg, "process")["scheduler"] = c.sched
			if c.cpus != "" {
				obj(obj(obj(cfg, "linux"), "resources"), "cpu")["cpus"] = c.cpus
			}
		}, "true")
		_, errs, code := e.rtIn(bad, nil, "run", "badsched")
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", c.sched, code, errs, c.want)
		}
		assertGone(t, e, "badsched", 0)
		os.RemoveAll(bad)
	}
}
