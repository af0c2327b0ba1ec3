package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Resource control on the host's cgroups (v1 here; v2 where the host has it).

func writableRoot(c map[string]any) { obj(c, "root")["readonly"] = false }

func resources(c map[string]any) map[string]any { return obj(obj(c, "linux"), "resources") }

func TestMemoryLimitOOM(t *testing.T) {
	e := newEnv(t)
	limit := 32 << 20
	b := e.bundle("b", func(c map[string]any) {
		resources(c)["memory"] = map[string]any{"limit": limit, "swap": limit}
	}, "sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo survived`)
	out, errs, code := e.rtIn(b, nil, "run", "oom")
	if code != 137 || strings.Contains(out, "survived") {
		t.Fatalf("exit %d (want 137), stdout %q, stderr %q", code, out, errs)
	}
}

func TestEventsReportsOOM(t *testing.T) {
	e := newEnv(t)
	limit := 32 << 20
	trigger := "/tmp/go"
	b := e.bundle("b", func(c map[string]any) {
		writableRoot(c)
		resources(c)["memory"] = map[string]any{"limit": limit, "swap": limit}
	}, "sh", "-c", `while [ ! -e `+trigger+` ]; do sleep 0.05; done; exec tail /dev/zero`)
	e.mustRT("run", "-d", "-b", b, "oomev")
	outPath := filepath.Join(e.dir, "events.out")
	outf, _ := os.Create(outPath)
	defer outf.Close()
	ev := exec.Command(rtBin(t), "--root", e.root, "events", "--interval", "200ms", "oomev")
	ev.Stdout = outf
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ev.Process.Kill(); ev.Wait() }()
	waitFor(t, func() bool { b, _ := os.ReadFile(outPath); return strings.Contains(string(b), `"stats"`) })
	os.WriteFile(filepath.Join(b, "rootfs", trigger), nil, 0o644)
	// The init (tail) keeps newline-free /dev/zero in memory until the OOM
	// killer kills it, which also stops the container: the OOM is reported
	// all the same.
	waitFor(t, func() bool { b, _ := os.ReadFile(outPath); return strings.Contains(string(b), `"type":"oom"`) },
		func() string {
			b, _ := os.ReadFile(outPath)
			if len(b) > 600 {
				b = b[len(b)-600:]
			}
			st, errs, _ := e.rt("state", "oomev")
			alive := syscall.Kill(ev.Process.Pid, 0) == nil
			return fmt.Sprintf("events (running: %v) wrote ...%q; state %s%s", alive, b, st, errs)
		})
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, outPath)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["id"] != "oomev" {
			t.Fatalf("bad event line %q: %v", line, err)
		}
	}
}

func TestPidsLimit(t *testing.T) {
	e := newEnv(t)
	// busybox sh exits when fork fails: fork in a child shell, and report
	// with ": > file", a builtin that works even when fork does not.
	b := e.bundle("b", func(c map[string]any) {
		writableRoot(c)
		resources(c)["pids"] = map[string]any{"limit": 16}
	}, "sh", "-c", `sh -c 'for i in $(seq 40); do sleep 30 & done' 2>/dev/null; : > /tmp/done; exec sleep 30`)
	e.mustRT("run", "-d", "-b", b, "pids")
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(b, "rootfs/tmp/done")); return err == nil })
	if n := len(e.pids("pids")); n > 16 || n < 2 {
		t.Fatalf("%d processes in the container, want at most 16", n)
	}
	// The host is unaffected: we can still fork here.
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
}

// pids returns `rt ps --format json ID`.
func (e *env) pids(id string) []int {
	e.t.Helper()
	var pids []int
	if err := json.Unmarshal([]byte(e.mustRT("ps", "--format", "json", id)), &pids); err != nil {
		e.t.Fatal(err)
	}
	return pids
}

func TestCPUQuota(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		resources(c)["cpu"] = map[string]any{"quota": 20000, "period": 100000}
	}, "sh", "-c", "while :; do :; done")
	e.mustRT("run", "-d", "-b", b, "cpu")
	usage := func() float64 {
		var ev struct {
			Data struct {
				CPU struct {
					Usage struct {
						Total uint64 `json:"total"`
					} `json:"usage"`
				} `json:"cpu"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(e.mustRT("events", "--stats", "cpu")), &ev); err != nil {
			t.Fatal(err)
		}
		return float64(ev.Data.CPU.Usage.Total)
	}
	u0, t0 := usage(), time.Now()
	time.Sleep(2 * time.Second)
	u1, t1 := usage(), time.Now()
	share := (u1 - u0) / float64(t1.Sub(t0).Nanoseconds())
	// 20% of one CPU; generous bounds (this is a limit, not a benchmark).
	if share < 0.05 || share > 0.35 {
		t.Fatalf("cpu share %.2f, want about 0.20", share)
	}
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", writableRoot, "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.01; done")
	e.mustRT("run", "-d", "-b", b, "pz")
	count := func() int {
		data, _ := os.ReadFile(filepath.Join(b, "rootfs/tmp/count"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return n
	}
	waitFor(t, func() bool { return count() > 3 })
	e.mustRT("pause", "pz")
	if st := e.state("pz")["status"]; st != "paused" {
		t.Fatalf("status %v, want paused", st)
	}
	checkList(t, e, "pz", "paused")
	c0 := count()
	time.Sleep(300 * time.Millisecond)
	if c1 := count(); c1 != c0 {
		t.Fatalf("counter advanced while paused: %d -> %d", c0, c1)
	}
	if _, errs, code := e.rt("resume", "nonexistent"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("resume of unknown: %d %q", code, errs)
	}
	e.mustRT("resume", "pz")
	if st := e.state("pz")["status"]; st != "running" {
		t.Fatalf("status %v after resume", st)
	}
	waitFor(t, func() bool { return count() > c0+3 })
	if _, errs, code := e.rt("resume", "pz"); code == 0 || !strings.Contains(errs, "not paused") {
		t.Fatalf("resume of a running container: %d %q", code, errs)
	}
}

func TestUpdatePidsLimit(t *testing.T) {
	e := newEnv(t)
	script := `for phase in 1 2; do
  while [ ! -e /tmp/go$phase ]; do :; done
  sh -c 'for i in $(seq 12); do sleep 30 & done' 2>/dev/null
  : > /tmp/done$phase
done; exec sleep 30`
	b := e.bundle("b", func(c map[string]any) {
		writableRoot(c)
		resources(c)["pids"] = map[string]any{"limit": 6}
	}, "sh", "-c", script)
	e.mustRT("run", "-d", "-b", b, "upd")
	phase := func(n string) int {
		os.WriteFile(filepath.Join(b, "rootfs/tmp/go"+n), nil, 0o644)
		waitFor(t, func() bool { _, err := os.Stat(filepath.Join(b, "rootfs/tmp/done"+n)); return err == nil })
		return len(e.pids("upd"))
	}
	if n := phase("1"); n > 6 {
		t.Fatalf("%d processes under a limit of 6", n)
	}
	e.mustRT("update", "--pids-limit", "100", "upd")
	if n := phase("2"); n < 13 {
		t.Fatalf("after update to 100: only %d processes", n)
	}
	// --resources takes a LinuxResources JSON.
	f := filepath.Join(e.dir, "res.json")
	os.WriteFile(f, []byte(`{"pids":{"limit":200}}`), 0o644)
	e.mustRT("update", "--resources", f, "upd")
	if got := cgroupFile(t, "upd", "pids", "pids.max"); got != "200" {
		t.Fatalf("pids.max after update --resources: %q", got)
	}
}

// cgroupFile reads a container's cgroup file on v1 (per controller) or v2.
func cgroupFile(t *testing.T, id, controller, file string) string {
	t.Helper()
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup", controller, "rt", id, file),
		filepath.Join("/sys/fs/cgroup/rt", id, file),
	} {
		if data, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(data))
		}
	}
	t.Fatalf("no cgroup file %s for %s", file, id)
	return ""
}

// A device node that the device cgroup does not allow exists but cannot be
// opened; the default devices stay usable.
func TestDeviceCgroup(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "linux")["devices"] = []any{map[string]any{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}}
	}, "sh", "-c", `test -c /dev/fuse && echo fuse-exists; cat /dev/fuse 2>&1 | head -1; for d in null zero full random urandom; do head -c1 /dev/$d >/dev/null && echo $d-ok; done; echo x > /dev/null && echo write-null-ok`)
	out := e.runOut(b, "dev")
	for _, want := range []string{"fuse-exists", "Operation not permitted", "null-ok", "zero-ok", "full-ok", "random-ok", "urandom-ok", "write-null-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// With a cgroup namespace the container sees its own cgroup as "/" and the
// cgroup mount shows its own hierarchy, read-only.
func TestCgroupNamespaceAndMount(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		dropNamespace(c, "cgroup") // rt spec has one on v2 only, as runc's
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "cgroup"})
	}, "sh", "-c", `cat /proc/self/cgroup; touch /sys/fs/cgroup/x 2>/dev/null || echo cgroupfs=ro`)
	out := e.runOut(b, "cgns")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[2] != "/" {
			t.Errorf("cgroup line %q: want path /", line)
		}
	}
	if !strings.Contains(out, "cgroupfs=ro") {
		t.Errorf("cgroup mount not read-only:\n%s", out)
	}
}

// A relative cgroupsPath goes under /rt; the parents rt made for it are
// removed with the container.
func TestRelativeCgroupsPath(t *testing.T) {
	e := newEnv(t)
	rel := fmt.Sprintf("rt-test-%d/pod/ctr", os.Getpid())
	b := e.bundle("b", func(c map[string]any) { obj(c, "linux")["cgroupsPath"] = rel }, "cat", "/proc/self/cgroup")
	e.editConfig(b, func(c map[string]any) {
		l := obj(c, "linux")
		var ns []any
		for _, n := range l["namespaces"].([]any) {
			if n.(map[string]any)["type"] != "cgroup" {
				ns = append(ns, n)
			}
		}
		l["namespaces"] = ns
	})
	out := e.runOut(b, "relcg")
	if !strings.Contains(out, "/rt/"+rel) {
		t.Fatalf("not in /rt/%s:\n%s", rel, out)
	}
	// Only this test's own parent: other runs' cgroups are not ours to judge.
	top := fmt.Sprintf("rt-test-%d", os.Getpid())
	for _, pat := range []string{"/sys/fs/cgroup/*/rt/" + top, "/sys/fs/cgroup/rt/" + top} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			t.Fatalf("parents left: %v", m)
		}
	}
}

// `rt update --memory` changes the limit in the kernel (v1
// memory.limit_in_bytes, v2 memory.max), and `rt events --stats` reports it
// with the usage and the process count.
func TestUpdateMemoryAndStats(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		resources(c)["memory"] = map[string]any{"limit": 64 << 20}
		resources(c)["pids"] = map[string]any{"limit": 50}
	}, "sleep", "60")
	e.mustRT("run", "-d", "-b", b, "memupd")
	limitFile := func() string {
		t.Helper()
		for _, p := range []string{"/sys/fs/cgroup/rt/memupd/memory.max", "/sys/fs/cgroup/memory/rt/memupd/memory.limit_in_bytes"} {
			if data, err := os.ReadFile(p); err == nil {
				return strings.TrimSpace(string(data))
			}
		}
		t.Fatal("no memory limit file for memupd")
		return ""
	}
	if got := limitFile(); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit %q, want %d", got, 64<<20)
	}
	e.mustRT("update", "--memory", "96m", "memupd")
	if got := limitFile(); got != strconv.Itoa(96<<20) {
		t.Fatalf("memory limit after update %q, want %d", got, 96<<20)
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
					Limit uint64 `json:"limit"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
				Limit   uint64 `json:"limit"`
			} `json:"pids"`
		} `json:"data"`
	}
	out := e.mustRT("events", "--stats", "memupd")
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v\n%s", err, out)
	}
	m, p := ev.Data.Memory.Usage, ev.Data.Pids
	if ev.Type != "stats" || m.Usage == 0 || m.Limit != 96<<20 || p.Current != 1 || p.Limit != 50 {
		t.Fatalf("stats: memory usage %d limit %d, pids %d limit %d, want usage > 0, limit %d, 1 pid of 50:\n%s",
			m.Usage, m.Limit, p.Current, p.Limit, 96<<20, out)
	}
}

// dropNamespace removes one namespace type from the bundle's config.
func dropNamespace(c map[string]any, typ string) {
	l := obj(c, "linux")
	var ns []any
	for _, n := range l["namespaces"].([]any) {
		if n.(map[string]any)["type"] != typ {
			ns = append(ns, n)
		}
	}
	l["namespaces"] = ns
}

// Without a pid namespace of its own, `kill KILL` kills every process of
// the container's cgroup, as runc does: SIGKILL of the init alone would
// leave the exec'd processes running (only a pid namespace's init takes
// the others with it). Also when the init is already gone: the container
// is stopped, `ps` still lists what is left, and kill KILL clears it
// (runc's kill.bats "kill KILL [host pidns (+ init gone)]").
func TestKillHostPidnsKillsCgroup(t *testing.T) {
	for _, initGone := range []bool{false, true} {
		t.Run(fmt.Sprintf("initGone=%v", initGone), func(t *testing.T) {
			e := newEnv(t)
			id := fmt.Sprintf("rt-test-%d-hostpid", os.Getpid())
			b := e.bundle("b", func(c map[string]any) {
				dropNamespace(c, "pid")
				obj(c, "linux")["cgroupsPath"] = "/" + id
			}, "sleep", "600")
			e.mustRT("run", "-d", "-b", b, id)
			for i := 0; i < 3; i++ {
				e.mustRT("exec", "-d", id, "sleep", "600")
			}
			init := int(e.state(id)["pid"].(float64))
			if initGone {
				if err := syscall.Kill(init, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitStatus(t, e, id, "stopped")
			}
			pids := e.pids(id)
			if want := 4; initGone {
				want = 3
				if len(pids) != want {
					t.Fatalf("ps of the stopped container: %v, want the %d exec'd processes", pids, want)
				}
			} else if len(pids) != want {
				t.Fatalf("ps: %v, want %d processes", pids, want)
			}
			e.mustRT("kill", id, "KILL")
			waitFor(t, func() bool {
				for _, p := range pids {
					if syscall.Kill(p, 0) == nil {
						if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil && !strings.Contains(string(st), ") Z ") {
							return false
						}
					}
				}
				return true
			})
			waitStatus(t, e, id, "stopped")
			if got := e.pids(id); len(got) != 0 {
				t.Fatalf("ps after kill: %v, want none", got)
			}
			// Nothing left to kill: "not running", as for any stopped container.
			if _, errs, code := e.rt("kill", id, "KILL"); code == 0 || !strings.Contains(errs, "not running") {
				t.Fatalf("kill of the emptied container: exit %d, %q", code, errs)
			}
		})
	}
}

// rt exec --cgroup puts the process in an existing sub-cgroup of the
// container's and never anywhere else (runc's exec.bats "--cgroup
// sub-cgroups"); without it, on cgroup v2, a container cgroup that the
// kernel refuses (its init moved to a child with controllers enabled for
// children) gives the init's cgroup instead. On a hybrid v1 host the
// container is also in the cgroup2 hierarchy at the same path (runc's
// cgroups.bats "v1+hybrid joins correct cgroup").
func TestExecSubCgroup(t *testing.T) {
	e := newEnv(t)
	id := fmt.Sprintf("rt-test-%d-subcg", os.Getpid())
	b := e.bundle("b", func(c map[string]any) {
		dropNamespace(c, "cgroup")
		obj(c, "linux")["cgroupsPath"] = "/" + id
	}, "sleep", "600")
	e.mustRT("run", "-d", "-b", b, id)
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	v2 := err == nil
	dirs := []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"}
	if v2 {
		dirs = []string{"/sys/fs/cgroup"}
	}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(d, id, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		sib := filepath.Join(d, id+"-sibling")
		if err := os.Mkdir(sib, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Rmdir(sib) })
	}
	bad := map[string]string{
		"..":                    "bad sub cgroup path",
		"../" + id + "-sibling": "bad sub cgroup path",
		"nonexistent":           "adding pid",
	}
	if !v2 {
		bad["memory:../"+id+"-sibling"] = "bad sub cgroup path"
		bad["whaaat:/"] = "unknown controller whaaat"
	}
	for arg, want := range bad {
		_, stderr, code := e.rt("exec", "--cgroup", arg, id, "true")
		if code == 0 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exec --cgroup %s: exit %d, stderr %q; want one line with %q", arg, code, stderr, want)
		}
	}
	lines := func(args ...string) []string {
		out := e.mustRT(append(append([]string{"exec"}, args...), id, "cat", "/proc/self/cgroup")...)
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	// Default and "/": the container's cgroup in every hierarchy,
	// the unified one of a hybrid host included.
	for _, args := range [][]string{nil, {"--cgroup", "/"}} {
		unified := false
		for _, l := range lines(args...) {
			f := strings.SplitN(l, ":", 3)
			if len(f) == 3 && f[1] != "" && !strings.HasPrefix(f[1], "name=") && f[2] != "/"+id {
				t.Errorf("exec %v: %q, want /%s", args, l, id)
			}
			if strings.HasPrefix(l, "0::") {
				unified = true
				if l != "0::/"+id {
					t.Errorf("exec %v: unified line %q, want 0::/%s", args, l, id)
				}
			}
		}
		if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil && !unified {
			t.Errorf("exec %v: hybrid host but no 0:: line", args)
		}
	}
	if !v2 {
		got := strings.Join(lines("--cgroup", "memory:sub"), "\n")
		if !strings.Contains(got, ":memory:/"+id+"/sub\n") || !strings.Contains(got, ":pids:/"+id+"\n") {
			t.Errorf("exec --cgroup memory:sub:\n%s", got)
		}
		return
	}
	if got := strings.Join(lines("--cgroup", "sub"), "\n"); got != "0::/"+id+"/sub" {
		t.Errorf("exec --cgroup sub: %q", got)
	}
	// The init moves to a child and the container's cgroup enables memory
	// for its children: no process may join it any more.
	cg := filepath.Join("/sys/fs/cgroup", id)
	init := int(e.state(id)["pid"].(float64))
	if err := os.WriteFile(filepath.Join(cg, "sub", "cgroup.procs"), []byte(fmt.Sprint(init)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines(), "\n"); got != "0::/"+id+"/sub" {
		t.Errorf("exec into a cgroup with controllers for its children: %q, want the init's", got)
	}
	if _, stderr, code := e.rt("exec", "--cgroup", "/", id, "true"); code == 0 || !strings.Contains(stderr, "busy") {
		t.Errorf("exec --cgroup / there: exit %d, %q; want the kernel's refusal", code, stderr)
	}
}
