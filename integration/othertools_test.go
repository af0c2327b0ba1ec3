package integration

// Regression tests for issue 9, "Configs written by other tools": each
// was a failure of rt on a config that runc and crun run.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// runc 1.1's `runc spec` lists ambient capabilities without inheritable
// ones. The kernel cannot raise those; runc and crun leave them out without
// a word, and so does rt, recording it once in its log (--log, at warning
// level; on stderr only with --debug): a bundle from `runc spec` runs with
// clean stderr.
func TestAmbientWithoutInheritable(t *testing.T) {
	e := newEnv(t)
	caps := []any{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	b := e.bundle("b", func(c map[string]any) {
		obj(obj(c, "process"), "capabilities")["ambient"] = caps
	}, "grep", "^CapAmb", "/proc/self/status")
	out, errs, code := e.rtIn(b, nil, "run", tid("amb"))
	if code != 0 || strings.TrimSpace(out) != "CapAmb:\t0000000000000000" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q (want a clean stderr)", code, out, errs)
	}
	msg := "process.capabilities.ambient: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE not in both permitted and inheritable; not raised"
	// With --log it is logged once, at warning level.
	log := filepath.Join(e.dir, "log.json")
	_, errs, code = e.rtIn(b, nil, "--log", log, "--log-format", "json", "run", tid("amb-log"))
	data, _ := os.ReadFile(log)
	if code != 0 || errs != "" || strings.Count(string(data), msg) != 1 || !strings.Contains(string(data), `"level":"warning"`) {
		t.Fatalf("with --log: exit %d, stderr %q, log %s", code, errs, data)
	}
	// With --debug (and no --log) it is on stderr.
	_, errs, code = e.rtIn(b, nil, "--debug", "run", tid("amb-debug"))
	if code != 0 || strings.Count(errs, "rt: warning: "+msg+"\n") != 1 {
		t.Fatalf("with --debug: exit %d, stderr %q", code, errs)
	}
	// create records it (the init is set up there), start does not.
	clog := filepath.Join(e.dir, "create.log")
	if _, errs, code = e.rtIn(b, nil, "--log", clog, "create", tid("amb-c")); code != 0 || errs != "" {
		t.Fatalf("create: exit %d, stderr %q", code, errs)
	}
	if _, errs, code = e.rt("--log", clog, "start", tid("amb-c")); code != 0 || errs != "" {
		t.Fatalf("start: exit %d, stderr %q", code, errs)
	}
	if data, _ := os.ReadFile(clog); strings.Count(string(data), msg) != 1 {
		t.Fatalf("create+start log: %q (want the note once)", data)
	}
	// One in permitted and inheritable is raised, for a non-root user too.
	b2 := e.bundle("b2", func(c map[string]any) {
		p := obj(c, "process")
		p["user"] = map[string]any{"uid": 1000, "gid": 1000}
		cp := obj(p, "capabilities")
		cp["inheritable"] = []any{"CAP_NET_BIND_SERVICE"}
		cp["ambient"] = caps
	}, "grep", "^CapAmb", "/proc/self/status")
	log2 := filepath.Join(e.dir, "log2")
	out, errs, code = e.rtIn(b2, nil, "--log", log2, "run", tid("amb2"))
	data, _ = os.ReadFile(log2)
	if code != 0 || strings.TrimSpace(out) != "CapAmb:\t0000000000000400" || errs != "" || strings.Count(string(data), "CAP_AUDIT_WRITE, CAP_KILL not in") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q, log %q", code, out, errs, data)
	}
}

// A low pids limit counts the container's processes only: rt's init starts
// its threads before the limit is set, so it does not abort on
// pthread_create, and the shell's children fit in the limit.
func TestSmallPidsLimit(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		obj(obj(c, "linux"), "resources")["pids"] = map[string]any{"limit": 3}
	}, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true || exit 9; done; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; echo loop-ok")
	for i := 0; i < 5; i++ {
		out, errs, code := e.rtIn(b, nil, "run", tid("pids"+strconv.Itoa(i)))
		if code != 0 || out != "3\nloop-ok\n" || errs != "" {
			t.Fatalf("run %d: exit %d, stdout %q, stderr %q", i, code, out, errs)
		}
	}
	// `rt exec` too: its process joins the cgroup once its threads exist.
	b2 := e.bundle("b2", func(c map[string]any) {
		obj(obj(c, "linux"), "resources")["pids"] = map[string]any{"limit": 3}
	}, "sleep", "600")
	id := tid("pids-exec")
	e.mustRT("run", "-d", "-b", b2, id)
	for i := 0; i < 3; i++ {
		out, errs, code := e.rt("exec", id, "sh", "-c", "f=/sys/fs/cgroup/pids/pids.current; [ -e $f ] || f=/sys/fs/cgroup/pids.current; /bin/true && read n <$f && echo exec-ok $n")
		if code != 0 || out != "exec-ok 2\n" || errs != "" {
			t.Fatalf("exec %d: exit %d, stdout %q, stderr %q", i, code, out, errs)
		}
	}
	e.mustRT("delete", "--force", id)
}

// An init that dies during set-up (here SIGABRT, what the Go runtime does
// when it cannot make a thread) reaches the user as one line with the
// reason, never as a goroutine dump on the container's stderr.
func TestInitCrashIsOneLine(t *testing.T) {
	e := newEnv(t)
	// A createRuntime hook runs while the init, in Go, waits for rt; it
	// sends the init (by the pid in the state on its stdin) SIGABRT.
	abort := map[string]any{"path": "/bin/sh", "args": []any{"sh", "-c", `read -r s; p=${s#*'"pid":'}; kill -ABRT "${p%%,*}"`}}
	b := e.bundle("b", addHook("createRuntime", abort), "true")
	_, errs, code := e.rtIn(b, nil, "run", tid("crash"))
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rt: container init exited during set-up") || !strings.Contains(errs, "SIGABRT") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and one line naming SIGABRT", code, errs)
	}
	if out := e.mustRT("list", "-q"); out != "" {
		t.Fatalf("left behind: %q", out)
	}
}

// podman --read-only, --tmpfs /x, --mount type=tmpfs,dst=/x and --tmpfs
// /etc send "tmpcopyup": the tmpfs starts with the image's files there,
// owners, modes and symlinks as they were; a symlink is copied, never
// followed, and a destination is resolved inside the rootfs.
func TestTmpcopyup(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(e.dir, "outside")
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("host\n"), 0o644))
	copyup := []any{"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}
	script := `stat -c '%n %a %u:%g %F' /x/sub /x/sub/f /x/fifo /x/esc
readlink /x/esc; readlink /x/up
cat /x/plain
ls -A /y
ls -A /etc | tr '\n' ' '; echo
echo new >/x/new && echo etc >/etc/new && cat /x/new /etc/new
touch /ro/t 2>/dev/null || echo ro-refused
touch /rootfile 2>/dev/null || echo root-refused
grep -c ' /x tmpfs\| /etc tmpfs\| /ro tmpfs' /proc/self/mounts
`
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "root")["readonly"] = true
		c["mounts"] = append(c["mounts"].([]any),
			map[string]any{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": copyup},
			map[string]any{"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": copyup},
			map[string]any{"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": copyup},
			map[string]any{"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": []any{"ro", "nosuid", "tmpcopyup"}})
	}, "sh", "-c", script)
	rootfs := filepath.Join(b, "rootfs")
	x := filepath.Join(rootfs, "x")
	must(t, os.MkdirAll(filepath.Join(x, "sub"), 0o755))
	must(t, os.Chmod(filepath.Join(x, "sub"), os.ModeSetgid|0o755))
	must(t, os.Chown(filepath.Join(x, "sub"), 1000, 1000))
	must(t, os.WriteFile(filepath.Join(x, "sub/f"), []byte("f\n"), 0o640))
	must(t, os.Chown(filepath.Join(x, "sub/f"), 65534, 65534))
	must(t, os.WriteFile(filepath.Join(x, "plain"), []byte("plain-content\n"), 0o644))
	must(t, syscall.Mkfifo(filepath.Join(x, "fifo"), 0o600))
	must(t, os.Chmod(filepath.Join(x, "fifo"), 0o620))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(x, "esc")))
	must(t, os.Symlink("../../../../../../..", filepath.Join(x, "up")))
	// /y in the image points at the host's directory: the mount and its
	// copy stay inside the rootfs.
	must(t, os.Symlink(outside, filepath.Join(rootfs, "y")))
	must(t, os.MkdirAll(filepath.Join(rootfs, outside), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, outside, "inner"), nil, 0o644))
	must(t, os.MkdirAll(filepath.Join(rootfs, "ro"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "ro/keep"), []byte("k\n"), 0o600))

	out := e.runOut(b, tid("copyup"))
	want := "/x/sub 2755 1000:1000 directory\n" +
		"/x/sub/f 640 65534:65534 regular file\n" +
		"/x/fifo 620 0:0 fifo\n" +
		"/x/esc 777 0:0 symbolic link\n" +
		filepath.Join(outside, "secret") + "\n../../../../../../..\n" +
		"plain-content\n" +
		"inner\n" +
		"group passwd \n" +
		"new\netc\n" +
		"ro-refused\nroot-refused\n3\n"
	if out != want {
		t.Fatalf("container saw:\n%s\nwant:\n%s", out, want)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "secret")); string(data) != "host\n" {
		t.Fatalf("host file changed: %q", data)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("host directory written: %v", ents)
	}
	for _, p := range []string{"x/new", "etc/new"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err == nil {
			t.Fatalf("%s written to the image, not the tmpfs", p)
		}
	}
	// Not a tmpfs: refused before anything is made, naming the field.
	b2 := e.bundle("b2", func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/m", "type": "bind", "source": "/tmp", "options": []any{"rbind", "tmpcopyup"}})
	}, "true")
	_, errs, code := e.rtIn(b2, nil, "run", tid("copyup-bind"))
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, ".options: \"tmpcopyup\": only for a tmpfs mount") {
		t.Fatalf("tmpcopyup on a bind: exit %d, %q", code, errs)
	}
}

// ociVersion must be SemVer with major 1; the error names the field and
// nothing is created.
func TestOCIVersionChecked(t *testing.T) {
	e := newEnv(t)
	for _, v := range []any{"invalid", "2.0.0", "", nil} {
		b := e.bundle("b", func(c map[string]any) {
			if v == nil {
				delete(c, "ociVersion")
			} else {
				c["ociVersion"] = v
			}
		}, "true")
		_, errs, code := e.rtIn(b, nil, "run", tid("ver"))
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "config.json: ociVersion: ") {
			t.Errorf("ociVersion %v: exit %d, stderr %q", v, code, errs)
		}
	}
	if out := e.mustRT("list", "-q"); out != "" {
		t.Fatalf("left behind: %q", out)
	}
	for _, v := range []string{"1.0.2-dev", "1.0.0", "1.2.1"} {
		b := e.bundle("b", func(c map[string]any) { c["ociVersion"] = v }, "true")
		if _, errs, code := e.rtIn(b, nil, "run", tid("ver-ok")); code != 0 {
			t.Errorf("ociVersion %s: exit %d, %q", v, code, errs)
		}
	}
}

// runc's recursive mount options (podman and containerd send "rro", and
// may send the others): set on the bind and on every mount below it.
func TestRecursiveMountOptions(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, syscall.Mount("tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = syscall.Unmount(filepath.Join(src, "sub"), syscall.MNT_DETACH) })
	b := e.bundle("b", func(c map[string]any) {
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/m", "type": "bind", "source": src,
			"options": []any{"rbind", "rro", "rnosuid", "rnodev", "rnosymfollow", "rnoexec", "rexec"}})
	}, "sh", "-c", `awk '$5 == "/m" || $5 == "/m/sub" {print $5, $6}' /proc/self/mountinfo`)
	out := e.runOut(b, tid("recattr"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want /m and /m/sub, got %q", out)
	}
	for _, l := range lines {
		opts := "," + strings.Fields(l)[1] + ","
		for _, want := range []string{",ro,", ",nosuid,", ",nodev,", ",nosymfollow,"} {
			if !strings.Contains(opts, want) {
				t.Errorf("%s: no %s", l, strings.Trim(want, ","))
			}
		}
		if strings.Contains(opts, ",noexec,") {
			t.Errorf("%s: rexec after rnoexec left noexec", l)
		}
	}
}
