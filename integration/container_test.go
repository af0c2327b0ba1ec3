package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// runOut runs a bundle to completion and returns stdout, failing on a
// non-zero exit.
func (e *env) runOut(bundle, id string) string {
	e.t.Helper()
	out, errs, code := e.rtIn(bundle, nil, "run", id)
	if code != 0 {
		e.t.Fatalf("rt run %s: exit %d\nstdout: %s\nstderr: %s", id, code, out, errs)
	}
	return out
}

// What the process sees inside the container (issue 2, "Inside the container").
func TestInsideContainer(t *testing.T) {
	e := newEnv(t)
	script := `
echo "hostname=$(hostname)"
echo "pid=$$"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
# absent (a kernel without it) or masked (/dev/null over it)
{ test -e /proc/kcore && ! test -c /proc/kcore; } && echo kcore=readable || echo kcore=hidden
echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo procsys=rw || echo procsys=ro
grep CapEff /proc/self/status
echo "id=$(id)"
echo "links=$(ls /sys/class/net | tr '\n' ' ')"
echo "cwd=$(pwd)"
`
	b := e.bundle("b", func(c map[string]any) {
		c["hostname"] = "inside-test"
		p := obj(c, "process")
		p["user"] = map[string]any{"uid": 1000, "gid": 1000, "additionalGids": []int{10, 20}}
		p["cwd"] = "/tmp"
		caps := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
		p["capabilities"] = map[string]any{"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps}
	}, "sh", "-c", script)
	out := e.runOut(b, "inside")
	for _, want := range []string{
		"hostname=inside-test",
		"pid=1\n",
		"firmware=0\n",
		"kcore=hidden",
		"procsys=ro",
		"CapEff:\t0000000000000421", // CHOWN(0) KILL(5) NET_BIND_SERVICE(10)
		"id=uid=1000 gid=1000 groups=10,20",
		"links=lo \n",
		"cwd=/tmp",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// The container's rootfs is read-only when root.readonly is set, and the
// config's mounts (tmpfs /dev, devpts, proc) are in place.
func TestReadonlyRootAndMounts(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) { obj(c, "root")["readonly"] = true },
		"sh", "-c", `touch /x 2>/dev/null && echo root=rw || echo root=ro; touch /dev/shm/ok && echo shm=rw; test -c /dev/null && echo null=ok; ls -l /dev/ptmx; grep -c . /proc/mounts >/dev/null && echo proc=ok`)
	out := e.runOut(b, "ro")
	for _, want := range []string{"root=ro", "shm=rw", "null=ok", "ptmx -> pts/ptmx", "proc=ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// 100 containers at once from a shell loop: all succeed, nothing is left.
func TestParallelRuns(t *testing.T) {
	e := newEnv(t)
	// IDs carry our pid, so their cgroups (/rt/<id>) are ours to check.
	b := e.bundle("b", nil, "true")
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, stderr, code := e.rtIn(b, nil, "run", fmt.Sprintf("par-%d-%d", os.Getpid(), i))
			if code != 0 {
				errs <- fmt.Sprintf("run %d: exit %d: %s%s", i, code, out, stderr)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if ids := e.mustRT("list", "-q"); ids != "" {
		t.Fatalf("containers left: %q", ids)
	}
	for _, ctl := range []string{"memory", "pids", "cpu", ""} { // "": v2
		matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", ctl, "rt", fmt.Sprintf("par-%d-*", os.Getpid())))
		if len(matches) > 0 {
			t.Errorf("cgroups left: %v", matches)
		}
	}
	checkNoMounts(t, e.dir)
}

// A symlink in the rootfs cannot redirect a mount onto the host.
func TestSymlinkMountEscape(t *testing.T) {
	e := newEnv(t)
	hostDir := filepath.Join(e.dir, "hostdir")
	os.MkdirAll(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "marker"), []byte("bound"), 0o644)
	b := e.bundle("b", nil, "sh", "-c", "cat /etc/x/marker")
	// evil -> /etc, and a bind whose destination goes through it.
	if err := os.Symlink("/etc", filepath.Join(b, "rootfs/evil")); err != nil {
		t.Fatal(err)
	}
	e.editConfig(b, func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any), map[string]any{
			"destination": "/evil/x", "type": "bind", "source": hostDir, "options": []string{"bind", "ro"},
		})
	})
	before, _ := os.ReadDir("/etc")
	out := e.runOut(b, "evil")
	if out != "bound" {
		t.Fatalf("bind did not land inside the rootfs: %q", out)
	}
	if _, err := os.Stat("/etc/x"); err == nil {
		t.Fatal("host /etc/x was created")
	}
	after, _ := os.ReadDir("/etc")
	if len(before) != len(after) {
		t.Fatalf("host /etc changed: %d entries before, %d after", len(before), len(after))
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs/etc/x")); err != nil {
		t.Fatalf("mountpoint not made inside rootfs: %v", err)
	}
}

// checkNoMounts fails if any mount below dir is left on the host.
func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			t.Errorf("mount left behind: %s", f[4])
		}
	}
}

// Without namespaces of its own the container shares the host's (runc
// semantics); its mounts land below the rootfs only and delete removes them.
func TestNoNamespaces(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = []any{}
		l["maskedPaths"] = []any{}
		l["readonlyPaths"] = []any{}
		delete(c, "hostname")
	}, "sh", "-c", "readlink /proc/self/ns/mnt; readlink /proc/self/ns/net")
	prop := func() string {
		out, _ := exec.Command("findmnt", "-no", "PROPAGATION", "/").Output()
		return string(out)
	}
	before := prop()
	out := e.runOut(b, "hostns")
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	net, _ := os.Readlink("/proc/self/ns/net")
	if out != mnt+"\n"+net+"\n" {
		t.Fatalf("namespaces %q, want the host's %s %s", out, mnt, net)
	}
	checkNoMounts(t, e.dir)
	if after := prop(); after != before {
		t.Fatalf("host / propagation changed: %q -> %q", before, after)
	}
}

// "rro" makes a bind mount and every mount below it read-only.
func TestRecursiveReadonlyBind(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	sub := filepath.Join(src, "sub")
	os.MkdirAll(sub, 0o755)
	// A submount on the host, which rbind carries along.
	if err := syscall.Mount("tmpfs", sub, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(sub, syscall.MNT_DETACH)
	b := e.bundle("b", func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any),
			map[string]any{"destination": "/data", "type": "bind", "source": src, "options": []string{"rbind", "rro"}})
	}, "sh", "-c", "touch /data/x 2>/dev/null || echo top-ro; touch /data/sub/x 2>/dev/null || echo sub-ro")
	if out := e.runOut(b, "rro"); out != "top-ro\nsub-ro\n" {
		t.Fatalf("got %q, want both read-only", out)
	}
}

// linux.personality and process.ioPriority are applied to the process.
func TestPersonalityAndIOPriority(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "linux")["personality"] = map[string]any{"domain": "LINUX32"}
		obj(c, "process")["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_IDLE", "priority": 0}
	}, "sh", "-c", "uname -m; ionice -p $$")
	out := e.runOut(b, "pers")
	if !strings.HasPrefix(out, "i686\n") || !strings.Contains(out, "idle") {
		t.Fatalf("got %q, want i686 and the idle io class", out)
	}
	// An exec'd process gets the personality too (runc's personality.bats).
	e.editConfig(b, func(c map[string]any) { obj(c, "process")["args"] = []string{"sleep", "30"} })
	e.mustRT("run", "-d", "-b", b, "persexec")
	if out := e.mustRT("exec", "persexec", "uname", "-m"); out != "i686\n" {
		t.Fatalf("exec: uname -m %q, want i686", out)
	}
}

// linux.memoryPolicy is the NUMA policy of the init and of exec'd
// processes; a bad one is refused naming the field (runc's texts).
func TestMemoryPolicy(t *testing.T) {
	if _, err := os.Stat("/proc/self/numa_maps"); err != nil {
		t.Skip("kernel without NUMA")
	}
	e := newEnv(t)
	policy := func(c map[string]any, mp map[string]any) { obj(c, "linux")["memoryPolicy"] = mp }
	b := e.bundle("b", func(c map[string]any) {
		policy(c, map[string]any{"mode": "MPOL_INTERLEAVE", "nodes": "0"})
	}, "sh", "-c", "head -n 1 /proc/self/numa_maps")
	if f := strings.Fields(e.runOut(b, "mpol")); len(f) < 2 || f[1] != "interleave:0" {
		t.Fatalf("numa_maps %q, want interleave:0", f)
	}
	e.editConfig(b, func(c map[string]any) {
		policy(c, map[string]any{"mode": "MPOL_PREFERRED", "nodes": "0", "flags": []string{"MPOL_F_RELATIVE_NODES"}})
		obj(c, "process")["args"] = []string{"sleep", "30"}
	})
	e.mustRT("run", "-d", "-b", b, "mpolexec")
	out := e.mustRT("exec", "mpolexec", "head", "-n", "1", "/proc/self/numa_maps")
	if f := strings.Fields(out); len(f) < 2 || !strings.HasPrefix(f[1], "prefer") || !strings.Contains(f[1], "relative") {
		t.Fatalf("exec: numa_maps %q, want prefer (relative)", out)
	}
	for _, c := range []struct {
		mp   map[string]any
		want string
	}{
		{map[string]any{}, `linux.memoryPolicy.mode: invalid memory policy mode ""`},
		{map[string]any{"mode": "MPOL_DEFAULT", "nodes": "0-7"}, "linux.memoryPolicy.nodes: memory policy mode requires 0 nodes but got 8"},
		{map[string]any{"mode": "MPOL_BIND", "nodes": "0-9876543210"}, "linux.memoryPolicy.nodes: invalid memory policy nodes"},
		{map[string]any{"mode": "MPOL_BIND", "nodes": "0", "flags": []string{"bad"}}, `linux.memoryPolicy.flags[0]: invalid memory policy flag "bad"`},
	} {
		e.editConfig(b, func(cfg map[string]any) { policy(cfg, c.mp) })
		_, errs, code := e.rtIn(b, nil, "run", "mpolbad")
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("%v: exit %d, stderr %q, want one line with %q", c.mp, code, errs, c.want)
		}
	}
}

// umask, rlimits, oomScoreAdj, noNewPrivileges, env and domainname reach
// the process.
func TestProcessSettings(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		c["domainname"] = "example.test"
		obj(c, "linux")["sysctl"] = map[string]string{"kernel.msgmax": "4096"}
		p := obj(c, "process")
		p["user"] = map[string]any{"uid": 0, "gid": 0, "umask": 0o077}
		p["rlimits"] = []any{map[string]any{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}}
		p["oomScoreAdj"] = 123
		p["noNewPrivileges"] = true
		p["env"] = []string{"PATH=/bin", "FOO=bar baz"}
	}, "sh", "-c", `umask; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status; echo "FOO=$FOO"; cat /proc/sys/kernel/domainname; cat /proc/sys/kernel/msgmax`)
	out := e.runOut(b, "procset")
	want := "0077\n321\n654\n123\nNoNewPrivs:\t1\nFOO=bar baz\nexample.test\n4096\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// The environment as runc makes it (Docker relies on it): the last value of
// a variable set twice wins, once; an empty HOME is the user's home from
// /etc/passwd.
func TestProcessEnvOverrides(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "process")["env"] = []string{"ONE=two", "PATH=/bin", "HOME=/override", "ONE=three", "HOME="}
	}, "env")
	out := e.runOut(b, "envover")
	if want := "PATH=/bin\nONE=three\nHOME=/root\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// A program only its owner may execute runs for another user who has
// CAP_DAC_OVERRIDE, as execve allows (rt checked with access(2), which
// ignores capabilities for a non-root user); without it, 126.
func TestExecWithDACOverride(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		p := obj(c, "process")
		p["user"] = map[string]any{"uid": 1000, "gid": 100}
		p["capabilities"] = map[string]any{}
	}, "/owneronly/echo", "ran") // busybox runs the applet its name says
	data, err := os.ReadFile(filepath.Join(b, "rootfs/bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(b, "rootfs/owneronly/echo")
	os.Mkdir(filepath.Dir(prog), 0o755)
	if err := os.WriteFile(prog, data, 0o744); err != nil {
		t.Fatal(err)
	}
	os.Chmod(prog, 0o744)
	if _, errs, code := e.rtIn(b, nil, "run", "nocap"); code != 126 || !strings.Contains(errs, "permission denied") {
		t.Fatalf("without CAP_DAC_OVERRIDE: exit %d, stderr %q, want 126", code, errs)
	}
	e.editConfig(b, func(c map[string]any) {
		caps := []string{"CAP_DAC_OVERRIDE"}
		obj(c, "process")["capabilities"] = map[string]any{"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps}
	})
	if out := e.runOut(b, "cap"); out != "ran\n" {
		t.Fatalf("with CAP_DAC_OVERRIDE: %q", out)
	}
}
