package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CVE-2019-5736 class: the container init never runs from the host's rt
// binary, so nothing in the container can reach it through /proc/<pid>/exe.
func TestInitRunsFromSealedCopy(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "true")
	e.mustRT("create", "-b", b, "sealed")
	pid := int(e.state("sealed")["pid"].(float64))
	exe, err := os.Readlink(filepath.Join("/proc", itoa(pid), "exe"))
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := filepath.EvalSymlinks(rtBin(t)); strings.HasPrefix(exe, real) {
		t.Fatalf("init runs from the host binary %s", exe)
	}
	// Writing through the magic link must fail (sealed memfd or read-only overlay).
	f, err := os.OpenFile(filepath.Join("/proc", itoa(pid), "exe"), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatalf("init binary %s is writable", exe)
	}
}

// A device or mount path full of ".." stays inside the rootfs.
func TestDotDotPathsStayInRootfs(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(e.dir, "outside")
	os.MkdirAll(outside, 0o755)
	rel, _ := filepath.Rel("/", outside)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "linux")["devices"] = []any{map[string]any{"path": "/../../../../../../" + rel + "/dev-null", "type": "c", "major": 1, "minor": 3}}
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/../../../../../" + rel + "/mnt", "type": "tmpfs", "source": "tmpfs"})
	}, "true")
	e.runOut(b, "dotdot")
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Fatalf("wrote outside the rootfs: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", rel, "dev-null")); err != nil {
		t.Fatalf("device not created inside the rootfs: %v", err)
	}
}

// /proc and /dev in the image are symlinks to host paths: the mounts land
// inside the rootfs, the host paths are untouched.
func TestHostileRootfsSymlinks(t *testing.T) {
	e := newEnv(t)
	target := filepath.Join(e.dir, "host-target")
	os.MkdirAll(target, 0o755)
	b := e.bundle("b", nil, "sh", "-c", "test -e /proc/self/status && echo proc-ok")
	os.RemoveAll(filepath.Join(b, "rootfs/proc"))
	os.Symlink(target, filepath.Join(b, "rootfs/proc"))
	e.rtIn(b, nil, "run", "hostile") // may fail; it must not escape
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Fatalf("mounted onto the host's %s: %v", target, entries)
	}
	checkNoMounts(t, e.dir)
}

// CVE-2024-21626 class: a cwd through /proc/self/fd never lands outside.
func TestCwdThroughProcFd(t *testing.T) {
	e := newEnv(t)
	for _, fd := range []string{"3", "4", "5", "6", "7", "8"} {
		b := e.bundle("b"+fd, func(c map[string]any) { obj(c, "process")["cwd"] = "/proc/self/fd/" + fd }, "sh", "-c", "pwd; ls -a .. | head -50")
		out, errs, code := e.rtIn(b, nil, "run", "cwd"+fd)
		if code == 0 && !strings.HasPrefix(out, "/") {
			t.Fatalf("fd %s: cwd outside the container: %q %q", fd, out, errs)
		}
		if code == 0 && strings.Contains(out, "rt-test-") {
			t.Fatalf("fd %s: sees the host: %q", fd, out)
		}
	}
}

// Masked paths cannot be unmasked: the container has no CAP_SYS_ADMIN.
func TestMaskedPathsStayMasked(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", "umount /sys/firmware 2>/dev/null && echo unmasked; ls -A /sys/firmware | wc -l; cat /proc/timer_list 2>/dev/null | wc -c")
	out := e.runOut(b, "masked")
	if strings.Contains(out, "unmasked") || strings.Fields(out)[0] != "0" || strings.Fields(out)[1] != "0" {
		t.Fatalf("masked paths visible: %q", out)
	}
}

// A seccomp filter from config.json is in force in the container.
func TestSeccompFilter(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "linux")["seccomp"] = map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW",
			"architectures": []string{"SCMP_ARCH_X86_64"},
			"syscalls": []any{map[string]any{
				"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
			}},
		}
	}, "sh", "-c", "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status")
	out := e.runOut(b, "seccomp")
	if !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "Seccomp:\t2") {
		t.Fatalf("filter not in force: %q", out)
	}
}

// CVE-2025-31133 class: an image whose /dev/null is a symlink (and a config
// that does not mount a fresh /dev) cannot turn a masked path into a bind of
// the symlink's target.
func TestMaskWithSymlinkedDevNull(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		var mounts []any
		for _, m := range c["mounts"].([]any) {
			if m.(map[string]any)["destination"] != "/dev" {
				mounts = append(mounts, m)
			}
		}
		c["mounts"] = mounts
		obj(c, "linux")["maskedPaths"] = []string{"/etc/hostname-masked"}
	}, "cat", "/etc/hostname-masked")
	os.WriteFile(filepath.Join(b, "rootfs/etc/hostname-masked"), []byte("inside"), 0o644)
	os.MkdirAll(filepath.Join(b, "rootfs/dev"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(b, "rootfs/dev/null"))
	// rt replaces the image's /dev/null with the real node (default
	// devices), and checks the node before masking with it: the masked
	// file reads empty, or the run is refused.
	out, errs, code := e.rtIn(b, nil, "run", "devnull")
	if code == 0 && out != "" {
		t.Fatalf("masked path is not masked: %q", out)
	}
	if code != 0 && !strings.Contains(errs, "/dev/null") {
		t.Fatalf("unclear refusal: %q", errs)
	}
}

// Attacks written as an image author would: a rootfs and a config.json
// they control, and a process of theirs in the container. Each asserts on
// the host side that nothing outside changed. SECURITY.md lists them.

// procfs redirected through the image's own /sys tree: /proc ->
// /sys/kernel, and the image's /sys/kernel -> /mydir. The first procfs
// mount (before sysfs) lands on /mydir; the attacker's config mounts a
// second procfs at /proc after sysfs, which now resolves to sysfs's
// kernel directory. The masks then protect the second procfs, and the
// first, at /mydir, has a writable /proc/sys. rt refuses to mount procfs
// or sysfs anywhere but on an ordinary directory reached without symlinks.
func TestAttackProcfsThroughSymlinks(t *testing.T) {
	e := newEnv(t)
	before, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	// test -w uses access(2): it reports, it never writes.
	b := e.bundle("b", func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/proc", "type": "proc", "source": "proc"})
	}, "sh", "-c", "test -w /mydir/sys/kernel/core_pattern && echo WRITABLE; test -r /mydir/kcore && echo KCORE; echo done")
	rootfs := filepath.Join(b, "rootfs")
	os.RemoveAll(filepath.Join(rootfs, "proc"))
	os.MkdirAll(filepath.Join(rootfs, "mydir"), 0o755)
	os.MkdirAll(filepath.Join(rootfs, "sys"), 0o755)
	must(t, os.Symlink("/sys/kernel", filepath.Join(rootfs, "proc")))
	must(t, os.Symlink("/mydir", filepath.Join(rootfs, "sys/kernel")))
	out, errs, code := e.rtIn(b, nil, "run", "procredirect")
	if strings.Contains(out, "WRITABLE") || strings.Contains(out, "KCORE") {
		t.Fatalf("unmasked procfs reachable in the container: %q", out)
	}
	if code == 0 {
		t.Fatalf("procfs on a symlinked /proc was accepted: %q", out)
	}
	if !strings.Contains(errs, "ordinary directory") || !strings.Contains(errs, "/proc") {
		t.Fatalf("unclear refusal: %q", errs)
	}
	after, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	if string(before) != string(after) {
		t.Fatalf("host core_pattern changed: %q -> %q", before, after)
	}
	checkNoMounts(t, e.dir)
}

// A config that covers the procfs it mounted with another mount before the
// masks are applied: the masks must not silently skip.
func TestAttackCoveredProcfsIsAnError(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/proc", "type": "tmpfs", "source": "tmpfs"})
	}, "true")
	_, errs, code := e.rtIn(b, nil, "run", "covered")
	if code == 0 || !strings.Contains(errs, "covered by another mount") {
		t.Fatalf("covered procfs not refused: exit %d %q", code, errs)
	}
}

// CVE-2016-9962 class. The container's init (fdthief) tries to take every
// fd of every other process in its pid namespace with pidfd_getfd. rt's
// set-up processes must be out of its reach: `rt exec` (the container's
// /etc/passwd is a FIFO, which would stall the user lookup forever, and
// the caller leaked a host directory fd to rt), and the init of a second
// container that joins the pid namespace and waits in "created".
func TestAttackExecTakeover(t *testing.T) {
	e := newEnv(t)
	// HOME is set for the init, so only the exec below looks users up.
	b := e.bundle("b", func(c map[string]any) {
		p := obj(c, "process")
		p["env"] = append(p["env"].([]any), "HOME=/root")
	}, "/fdthief", "60s")
	rootfs := filepath.Join(b, "rootfs")
	if pre := os.Getenv("RT_FDTHIEF"); pre != "" {
		// Built beforehand (the cgroup v2 guest of tests/vm has no go).
		data, err := os.ReadFile(pre)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(rootfs, "fdthief"), data, 0o755))
	} else {
		build := exec.Command("go", "build", "-o", filepath.Join(rootfs, "fdthief"), "./integration/testdata/fdthief")
		build.Dir, build.Env = repoRoot(), append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build fdthief: %v\n%s", err, out)
		}
	}
	os.Remove(filepath.Join(rootfs, "etc/passwd"))
	must(t, unix.Mkfifo(filepath.Join(rootfs, "etc/passwd"), 0o644))
	log := filepath.Join(e.dir, "thief.log")
	logf, err := os.Create(log)
	must(t, err)
	defer logf.Close()
	run := exec.Command(rtBin(t), "--root", e.root, "run", "-d", "-b", b, "thief")
	run.Stdout, run.Stderr = logf, logf
	if err := run.Run(); err != nil {
		t.Fatalf("run thief: %v", err)
	}
	waitFor(t, func() bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), "thief ready") })
	pid := int(e.state("thief")["pid"].(float64))

	hostDir := filepath.Join(e.dir, "hostdir")
	must(t, os.Mkdir(hostDir, 0o755))
	dirf, err := os.Open(hostDir)
	must(t, err)
	defer dirf.Close()
	null, err := os.Open(os.DevNull)
	must(t, err)
	defer null.Close()
	// No HOME: rt looks it up in the container's /etc/passwd.
	proc := filepath.Join(e.dir, "process.json")
	must(t, os.WriteFile(proc, []byte(`{"args":["true"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}`), 0o644))
	hung := false
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ex := exec.CommandContext(ctx, rtBin(t), "--root", e.root, "exec", "-p", proc, "thief")
		// fds 3..6 /dev/null, 7 the host directory: leaked, not preserved.
		ex.ExtraFiles = []*os.File{null, null, null, null, dirf}
		ex.WaitDelay = 2 * time.Second // a hung init would hold the output pipe
		out, err := ex.CombinedOutput()
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if timedOut {
			hung = true
			break
		}
		if err != nil {
			t.Fatalf("rt exec: %v\n%s", err, out)
		}
	}

	if hung {
		got, _ := os.ReadFile(log)
		entries, _ := os.ReadDir(hostDir)
		t.Fatalf("rt exec hung on the container's /etc/passwd FIFO; thief: %q, host dir: %v", got, entries)
	}
	// A second container joins the thief's pid namespace and waits for
	// start: its init sits there, set up, for as long as we like.
	b2 := e.bundle("b2", func(c map[string]any) {
		for _, ns := range obj(c, "linux")["namespaces"].([]any) {
			if n := ns.(map[string]any); n["type"] == "pid" {
				n["path"] = fmt.Sprintf("/proc/%d/ns/pid", pid)
			}
		}
	}, "true")
	e.mustRT("create", "-b", b2, "victim")
	time.Sleep(time.Second) // the thief scans every 20 ms
	e.mustRT("delete", "--force", "victim")

	if entries, _ := os.ReadDir(hostDir); len(entries) != 0 {
		t.Fatalf("the container wrote into a host directory: %v", entries)
	}
	got, _ := os.ReadFile(log)
	if strings.Contains(string(got), "GOT") || strings.Contains(string(got), "STOLE") {
		t.Fatalf("the container took fds of rt's processes:\n%s", got)
	}
}

// A cgroupsPath naming a cgroup that holds someone else's processes is
// refused; the same path edited into state.json later never makes delete
// kill them or remove the cgroup.
func TestAttackForeignCgroup(t *testing.T) {
	e := newEnv(t)
	name := fmt.Sprintf("rt-test-%d-victim", os.Getpid())
	var dirs []string
	for _, d := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			dirs = append(dirs, filepath.Join(d, name))
			break
		}
	}
	if len(dirs) == 0 {
		t.Skip("no writable cgroup hierarchy found")
	}
	victimDir := dirs[0]
	must(t, os.Mkdir(victimDir, 0o755))
	victim := exec.Command("sleep", "300")
	must(t, victim.Start())
	t.Cleanup(func() {
		victim.Process.Kill()
		victim.Wait()
		os.Remove(victimDir)
	})
	must(t, os.WriteFile(filepath.Join(victimDir, "cgroup.procs"), []byte(fmt.Sprint(victim.Process.Pid)), 0))

	b := e.bundle("b", func(c map[string]any) { obj(c, "linux")["cgroupsPath"] = "/" + name }, "sleep", "100")
	_, errs, code := e.rtIn(b, nil, "create", "grab")
	if code == 0 || !strings.Contains(errs, "is not empty") {
		t.Fatalf("populated cgroup accepted: exit %d %q", code, errs)
	}
	assertAlive(t, victim.Process.Pid, victimDir)

	// Now a container of its own, whose state.json is edited to name the
	// victim's cgroup.
	b2 := e.bundle("b2", nil, "sleep", "100")
	e.mustRT("run", "-d", "-b", b2, "edited")
	stPath := filepath.Join(e.root, "edited", "state.json")
	data, err := os.ReadFile(stPath)
	must(t, err)
	var st map[string]any
	must(t, json.Unmarshal(data, &st))
	own, _ := st["cgroup_path"].(string)
	if own == "" {
		t.Fatalf("no cgroup_path in state.json: %s", data)
	}
	st["cgroup_path"] = "/" + name
	data, _ = json.Marshal(st)
	must(t, os.WriteFile(stPath, data, 0o600))
	_, _, _ = e.rt("kill", "--all", "edited", "KILL")
	_, _, _ = e.rt("pause", "edited")
	_, errs, _ = e.rt("delete", "--force", "edited")
	assertAlive(t, victim.Process.Pid, victimDir)
	if !strings.Contains(errs, "not container edited's") {
		t.Errorf("delete did not say why it left the cgroup alone: %q", errs)
	}
	// The container's own cgroup is now orphaned: ours to remove.
	left, _ := filepath.Glob("/sys/fs/cgroup/*" + own)
	for _, d := range append(left, "/sys/fs/cgroup"+own) {
		os.Remove(d)
	}
}

func assertAlive(t *testing.T, pid int, dir string) {
	t.Helper()
	if err := unix.Kill(pid, 0); err != nil {
		t.Fatalf("victim process %d was killed", pid)
	}
	if b, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat")); strings.Contains(string(b), ") T ") {
		t.Fatalf("victim process %d was frozen or stopped", pid)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("victim cgroup removed: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// exec.fifo can be opened by nobody but rt and the container's process
// user: another local user cannot stall `start` through it.
func TestExecFifoPrivate(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(obj(c, "process"), "user")["uid"] = 1000
		obj(obj(c, "process"), "user")["gid"] = 1000
	}, "true")
	e.mustRT("create", "-b", b, "fifo")
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(e.root, "fifo", "exec.fifo"), &st))
	if st.Mode&0o777 != 0o600 || st.Uid != 1000 || st.Gid != 1000 {
		t.Fatalf("exec.fifo mode %o owner %d:%d, want 600 1000:1000", st.Mode&0o777, st.Uid, st.Gid)
	}
	must(t, unix.Stat(filepath.Join(e.root, "fifo"), &st))
	if st.Mode&0o077 != 0 {
		t.Fatalf("state dir mode %o: others can reach exec.fifo", st.Mode&0o777)
	}
	e.mustRT("start", "fifo")
}

// A config.json over the 1 MiB of one protocol packet runs (runc runs
// 60 MB ones).
func TestLargeConfig(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		ann := map[string]any{}
		for i := 0; i < 20000; i++ {
			ann[fmt.Sprintf("rt.test/k%05d", i)] = strings.Repeat("v", 100)
		}
		c["annotations"] = ann
	}, "echo", "large-ok")
	if fi, _ := os.Stat(filepath.Join(b, "config.json")); fi.Size() < 2<<20 {
		t.Fatalf("config only %d bytes", fi.Size())
	}
	if out := e.runOut(b, "large"); !strings.Contains(out, "large-ok") {
		t.Fatalf("output %q", out)
	}
}

// A warning of the init's goes through rt's logger (the --log file, JSON
// here), never into the container's own output.
func TestInitWarningsReachTheLog(t *testing.T) {
	e := newEnv(t)
	status, _ := os.ReadFile("/proc/self/status")
	var bnd uint64
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &bnd)
		}
	}
	const capSysResource = 24
	if bnd&(1<<capSysResource) != 0 {
		t.Skip("CAP_SYS_RESOURCE is in this host's bounding set: no capability to warn about")
	}
	b := e.bundle("b", func(c map[string]any) {
		caps := obj(obj(c, "process"), "capabilities")
		caps["bounding"] = []string{"CAP_KILL", "CAP_SYS_RESOURCE"}
		caps["effective"] = []string{"CAP_KILL", "CAP_SYS_RESOURCE"}
		caps["permitted"] = []string{"CAP_KILL", "CAP_SYS_RESOURCE"}
	}, "echo", "container-output")
	log := filepath.Join(e.dir, "log.json")
	out, errs, code := e.rtIn(b, nil, "--log", log, "--log-format", "json", "run", "warned")
	if code != 0 || strings.TrimSpace(out) != "container-output" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), `"level":"warning"`) || !strings.Contains(string(data), "CAP_SYS_RESOURCE") {
		t.Fatalf("no warning in the log: %q (stderr %q)", data, errs)
	}
}
