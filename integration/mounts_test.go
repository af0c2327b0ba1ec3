package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Mount set-up as runc's own suite checks it (mounts.bats, mask.bats,
// run.bats, userns.bats, no_pivot.bats), each with its hostile variant:
// whatever the image or the config points at, mounts land inside the
// rootfs.

func addMount(c map[string]any, m map[string]any) {
	c["mounts"] = append(c["mounts"].([]any), m)
}

// usernsConfig gives the container a user namespace mapping 0 to host
// 100000 (65536 ids), and the rootfs to its root.
func usernsConfig(t *testing.T, e *env, b string) {
	t.Helper()
	e.editConfig(b, func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"})
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
	})
	must(t, filepath.Walk(filepath.Join(b, "rootfs"), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 100000, 100000)
	}))
	os.Chmod(e.dir, 0o755) // the mapped root must reach the bundle
}

// A bind-mount destination that is a dangling symlink in the image (runc
// #4971 follow-ups): rt creates the target where the symlink points,
// inside the rootfs. The same with symlinks aimed at a host directory
// (absolute and with ../): the host directory stays empty.
func TestMountThroughDanglingSymlink(t *testing.T) {
	e := newEnv(t)
	host := filepath.Join(e.dir, "host-target")
	must(t, os.MkdirAll(host, 0o755))
	src := filepath.Join(e.dir, "src-file")
	must(t, os.WriteFile(src, []byte("from-the-bundle\n"), 0o644))
	b := e.bundle("b", func(c map[string]any) {
		for _, d := range []string{"/etc/hosts", "/etc/abs", "/etc/rel"} {
			addMount(c, map[string]any{"source": src, "destination": d, "options": []string{"bind"}})
		}
	}, "sh", "-c", "cat /tmp/foo/bar/hosts; cat "+host+"/abs; cat "+host+"/rel")
	rootfs := filepath.Join(b, "rootfs")
	os.Remove(filepath.Join(rootfs, "etc/hosts"))
	must(t, os.Symlink("/jump/hosts", filepath.Join(rootfs, "etc/hosts")))
	must(t, os.Symlink("/tmp/foo/bar", filepath.Join(rootfs, "jump")))
	must(t, os.Symlink(host+"/abs", filepath.Join(rootfs, "etc/abs")))
	must(t, os.Symlink("../../../../../../../../.."+host+"/rel", filepath.Join(rootfs, "etc/rel")))
	out := e.runOut(b, "dangling")
	if strings.Count(out, "from-the-bundle") != 3 {
		t.Fatalf("bind mounts not at the symlinks' targets: %q", out)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Fatalf("created on the host: %v", entries)
	}
	for _, p := range []string{"tmp/foo/bar/hosts", strings.TrimPrefix(host, "/") + "/abs", strings.TrimPrefix(host, "/") + "/rel"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("mount point not created inside the rootfs: %v", err)
		}
	}
	checkNoMounts(t, e.dir)
}

// A destination written with the rootfs in front of it (runc accepts
// "<rootfs>/mnt") is that path inside the rootfs; a source inside the rootfs
// sees the mounts made before it (mounts.bats "mount order"). A
// destination that only looks like it ("<rootfs>/../x") stays inside.
func TestMountDestinationWithRootfsPrefix(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "sub/file"), []byte("deep\n"), 0o644))
	b := filepath.Join(e.dir, "b")
	rootfs := filepath.Join(b, "rootfs")
	outside := filepath.Join(b, "outside")
	must(t, os.MkdirAll(outside, 0o755))
	e.bundle("b", func(c map[string]any) {
		addMount(c, map[string]any{"source": src, "destination": "/mnt", "options": []string{"rbind"}})
		addMount(c, map[string]any{"source": rootfs + "/mnt/sub", "destination": rootfs + "/final", "options": []string{"rbind"}})
		addMount(c, map[string]any{"source": "tmpfs", "destination": rootfs + "/../outside", "type": "tmpfs"})
	}, "cat", "/final/file")
	if out := e.runOut(b, "prefix"); out != "deep\n" {
		t.Fatalf("got %q, want the file of the earlier mount", out)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("mounted outside the rootfs: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(rootfs, b, "outside")); err != nil {
		t.Fatalf("lookalike destination not made inside the rootfs: %v", err)
	}
	checkNoMounts(t, e.dir)
}

// A tmpfs over an existing directory has that directory's mode (set-id
// and sticky bits too); an explicit mode= wins; over a directory rt makes,
// tmpfs's own 1777, and the directories made are 0755 (runc #4971).
func TestTmpfsMode(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		addMount(c, map[string]any{"source": "tmpfs", "destination": "/inherit", "type": "tmpfs", "options": []string{"nosuid"}})
		addMount(c, map[string]any{"source": "tmpfs", "destination": "/explicit", "type": "tmpfs", "options": []string{"mode=1500"}})
		addMount(c, map[string]any{"source": "tmpfs", "destination": "/new/a/b", "type": "tmpfs"})
	}, "stat", "-c", "%a", "/inherit", "/explicit", "/new/a/b")
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"inherit", "explicit"} {
		must(t, os.Mkdir(filepath.Join(rootfs, d), 0o755))
	}
	must(t, os.Chmod(filepath.Join(rootfs, "inherit"), 0o710|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	must(t, os.Chmod(filepath.Join(rootfs, "explicit"), 0o710))
	out := strings.Fields(e.runOut(b, "tmpfsmode"))
	if strings.Join(out, " ") != "7710 1500 1777" {
		t.Fatalf("modes %v, want [7710 1500 1777]", out)
	}
	for _, d := range []string{"new", "new/a", "new/a/b"} {
		if fi, err := os.Stat(filepath.Join(rootfs, d)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v, want 0755", d, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(rootfs, "explicit")); fi.Mode().Perm() != 0o710 {
		t.Errorf("the image's directory was changed: %v", fi.Mode())
	}
}

// A read-only /dev (runc #3248) and a read-only tmpfs with a mount below
// it: both are made read-only only after what goes into them is in place.
func TestReadonlyTmpfsAfterSetup(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	host := filepath.Join(e.dir, "host-target")
	must(t, os.MkdirAll(host, 0o755))
	must(t, os.WriteFile(filepath.Join(host, "keep"), nil, 0o644))
	b := e.bundle("b", func(c map[string]any) {
		for _, m := range c["mounts"].([]any) {
			if mm := m.(map[string]any); mm["destination"] == "/dev" {
				mm["options"] = append(mm["options"].([]any), "ro")
			}
		}
		addMount(c, map[string]any{"source": "tmpfs", "destination": "/ro", "type": "tmpfs", "options": []string{"ro"}})
		addMount(c, map[string]any{"source": src, "destination": "/ro/below", "options": []string{"bind"}})
		addMount(c, map[string]any{"source": "tmpfs", "destination": "/evil", "type": "tmpfs", "options": []string{"ro"}})
	}, "sh", "-c", "grep -E '^tmpfs /(dev|ro) ' /proc/mounts; test -c /dev/null && echo null-ok; touch /dev/x 2>&1; test -d /ro/below && echo below-ok; grep -c '^tmpfs "+host+" tmpfs ro,' /proc/mounts")
	// Hostile: the image's /evil points at a host directory. The tmpfs,
	// and its later remount, stay inside the rootfs.
	must(t, os.Symlink(host, filepath.Join(b, "rootfs/evil")))
	out := e.runOut(b, "rodev")
	for _, want := range []string{"tmpfs /dev tmpfs ro,", "tmpfs /ro tmpfs ro,", "null-ok", "Read-only file system", "below-ok", "\n1\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(host); len(entries) != 1 {
		t.Fatalf("the host directory changed: %v", entries)
	}
	checkNoMounts(t, e.dir)
}

// maskedPaths: a path listed twice is masked once, and every masked
// directory is the same read-only tmpfs (mask.bats).
func TestMaskedPathsDuplicatesAndSharedTmpfs(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["maskedPaths"] = append(l["maskedPaths"].([]any), "/d1", "/d2", "/d3", "/d1", "/secret", "//secret")
	}, "sh", "-c", "grep -c ' /d1 ' /proc/mounts; grep -c ' /secret ' /proc/mounts; stat -c %d /d1 /d2 /d3; cat /secret; touch /d2/x 2>&1; true")
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"d1", "d2", "d3"} {
		must(t, os.MkdirAll(filepath.Join(rootfs, d, "inside"), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(rootfs, "secret"), []byte("SECRET\n"), 0o644))
	out := e.runOut(b, "masks")
	lines := strings.Split(out, "\n")
	if len(lines) < 6 || lines[0] != "1" || lines[1] != "1" {
		t.Fatalf("duplicates mounted twice:\n%s", out)
	}
	if lines[2] != lines[3] || lines[3] != lines[4] {
		t.Fatalf("masked directories on different filesystems:\n%s", out)
	}
	if strings.Contains(out, "SECRET") || !strings.Contains(out, "Read-only file system") {
		t.Fatalf("masks not in force:\n%s", out)
	}
}

// procfs on an image's /proc that is a symlink is refused with runc's
// words, and nothing is mounted where the symlink points.
func TestProcSymlinkRefused(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "true")
	rootfs := filepath.Join(b, "rootfs")
	must(t, os.RemoveAll(filepath.Join(rootfs, "proc")))
	must(t, os.MkdirAll(filepath.Join(rootfs, "bad-proc"), 0o755))
	must(t, os.Symlink("/bad-proc", filepath.Join(rootfs, "proc")))
	_, errs, code := e.rtIn(b, nil, "run", "procsym")
	if code == 0 || !strings.Contains(errs, "must be mounted on ordinary directory") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	checkNoMounts(t, e.dir)
}

// --no-pivot: the host's /proc stays in the container's mount namespace
// under chroot, and a fully visible procfs lets a process mount a new,
// unmasked one (unshare -mrpf; mount -t proc). rt removes it first.
func TestNoPivotHidesHostProc(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		caps := obj(obj(c, "process"), "capabilities")
		for _, k := range []string{"bounding", "permitted"} {
			caps[k] = append(caps[k].([]any), "CAP_SETFCAP")
		}
	}, "unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo MOUNTED")
	out, errs, code := e.rtIn(b, nil, "run", "--no-pivot", "nopivot")
	if code == 0 || strings.Contains(out, "MOUNTED") || !strings.Contains(out+errs, "permission denied") {
		t.Fatalf("procfs mountable under --no-pivot: exit %d %q %q", code, out, errs)
	}
	// The host's own /proc is untouched.
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Fatal(err)
	}
}

// In a user namespace, a bind source below a directory only the host's
// root may enter: rt opens it for the init (userns.bats). A destination
// that is a symlink to a host path still lands inside the rootfs.
func TestBindSourceOnlyRootCanReach(t *testing.T) {
	e := newEnv(t)
	private := filepath.Join(e.dir, "private")
	must(t, os.MkdirAll(filepath.Join(private, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(private, "dir/foo"), []byte("reached\n"), 0o644))
	must(t, os.Chmod(private, 0o700))
	host := filepath.Join(e.dir, "host-target")
	must(t, os.MkdirAll(host, 0o755))
	b := e.bundle("b", func(c map[string]any) {
		addMount(c, map[string]any{"source": private + "/dir", "destination": "/mnt/one", "options": []string{"bind"}})
		addMount(c, map[string]any{"source": private + "/dir", "destination": "/evil", "options": []string{"bind"}})
	}, "sh", "-c", "cat /mnt/one/foo; cat "+host+"/foo")
	must(t, os.Symlink(host, filepath.Join(b, "rootfs/evil")))
	usernsConfig(t, e, b)
	out := e.runOut(b, "private")
	if out != "reached\nreached\n" {
		t.Fatalf("got %q", out)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Fatalf("mounted onto the host's %s: %v", host, entries)
	}
	checkNoMounts(t, e.dir)
}

// A container that joins another container's user namespace (no maps of
// its own) runs as root of that namespace, with the maps it joined
// (userns.bats "userns join other container userns").
func TestJoinOtherContainersUserNamespace(t *testing.T) {
	e := newEnv(t)
	first := e.bundle("first", nil, "sleep", "30")
	usernsConfig(t, e, first)
	e.mustRT("run", "-d", "-b", first, "owner")
	pid := int(e.state("owner")["pid"].(float64))
	second := e.bundle("second", nil, "sh", "-c", "cat /proc/self/uid_map; id -u; mkdir /tmp/made && echo made")
	usernsConfig(t, e, second)
	e.editConfig(second, func(c map[string]any) {
		l := obj(c, "linux")
		for _, n := range l["namespaces"].([]any) {
			if n.(map[string]any)["type"] == "user" {
				n.(map[string]any)["path"] = fmt.Sprintf("/proc/%d/ns/user", pid)
			}
		}
		delete(l, "uidMappings")
		delete(l, "gidMappings")
		obj(c, "root")["readonly"] = false
	})
	out := e.runOut(second, "joiner")
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" || f[3] != "0" || f[4] != "made" {
		t.Fatalf("got %q", out)
	}

	// And a network namespace the joined user namespace does not own
	// (runc #4390): rt joins it first, while it is still host root.
	netns := filepath.Join(e.dir, "netns")
	must(t, os.WriteFile(netns, nil, 0o644))
	if out, err := exec.Command("unshare", "--net="+netns, "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --net=FILE: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(netns, syscall.MNT_DETACH) })
	want, _ := os.Readlink("/proc/self/ns/net")
	e.editConfig(second, func(c map[string]any) {
		obj(c, "process")["args"] = []any{"readlink", "/proc/self/ns/net"}
		// No sysfs of a network namespace we have no rights in (runc's
		// test binds the host's /sys instead, too).
		for _, m := range c["mounts"].([]any) {
			if mm := m.(map[string]any); mm["type"] == "sysfs" {
				mm["type"], mm["source"], mm["options"] = "bind", "/sys", []any{"rbind", "ro"}
			}
		}
		for _, n := range obj(c, "linux")["namespaces"].([]any) {
			if n.(map[string]any)["type"] == "network" {
				n.(map[string]any)["path"] = netns
			}
		}
	})
	var st syscall.Stat_t
	must(t, syscall.Stat(netns, &st))
	out = e.runOut(second, "foreignnet")
	if strings.TrimSpace(out) != fmt.Sprintf("net:[%d]", st.Ino) || strings.TrimSpace(out) == want {
		t.Fatalf("joined %q, want net:[%d]", out, st.Ino)
	}
}

// An id-mapped bind mount: files owned by host root appear with the ids
// the mapping gives them. Without maps of its own and without a user
// namespace to take them from, "idmap" is refused naming the field.
func TestIDMappedMount(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "file"), nil, 0o644))
	must(t, os.Chown(filepath.Join(src, "file"), 1000, 1000))
	host := filepath.Join(e.dir, "host-target")
	must(t, os.MkdirAll(host, 0o755))
	b := e.bundle("b", func(c map[string]any) {
		addMount(c, map[string]any{"source": src, "destination": "/evil", "options": []string{"bind"},
			"uidMappings": []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}},
			"gidMappings": []any{map[string]any{"containerID": 0, "hostID": 200000, "size": 65536}}})
	}, "stat", "-c", "%u %g", host+"/file")
	must(t, os.Symlink(host, filepath.Join(b, "rootfs/evil")))
	out, errs, code := e.rtIn(b, nil, "run", "idmapped")
	if code != 0 && strings.Contains(errs, "may not support id-mapped mounts") {
		t.Skipf("no id-mapped mounts here: %s", errs)
	}
	if code != 0 || out != "101000 201000\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(filepath.Join(src, "file"), &st))
	if st.Uid != 1000 || st.Gid != 1000 {
		t.Fatalf("the source's owner changed: %d:%d", st.Uid, st.Gid)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Fatalf("created on the host: %v", entries)
	}
	checkNoMounts(t, e.dir)

	bad := e.bundle("bad", func(c map[string]any) {
		addMount(c, map[string]any{"source": src, "destination": "/m", "options": []string{"bind", "idmap"}})
	}, "true")
	_, errs, code = e.rtIn(bad, nil, "run", "badidmap")
	if code == 0 || !strings.Contains(errs, "mounts[") || !strings.Contains(errs, "uidMappings") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("idmap without maps: exit %d, %q", code, errs)
	}
}

// A bind mount with an option that sets or clears a flag gets exactly the
// flags asked for, as runc's (mounts_sshfs.bats): "bind,dev" of a
// read-only, noexec, nosymfollow source is rw and exec. With only "bind"
// the source's flags stay. In a user namespace the kernel locks the
// inherited ro: asking for "rw" fails with the reason, where just "bind,dev"
// keeps it.
func TestBindFlagsAreExact(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, syscall.Mount("tmpfs", src, "tmpfs", 0, "mode=0755"))
	defer syscall.Unmount(src, syscall.MNT_DETACH)
	must(t, syscall.Mount("", src, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOEXEC, ""))
	flagsOf := func(opts ...string) (string, string, int) {
		b := e.bundle("b-"+strings.Join(opts, "-"), func(c map[string]any) {
			addMount(c, map[string]any{"source": src, "destination": "/mnt", "options": opts})
		}, "sh", "-c", `awk '$2 == "/mnt" { print $4 }' /proc/self/mounts`)
		return e.rtIn(b, nil, "run", "bf"+fmt.Sprint(len(opts)))
	}
	has := func(flags, f string) bool { return strings.Contains(","+flags+",", ","+f+",") }
	if out, errs, code := flagsOf("bind"); code != 0 || !has(strings.TrimSpace(out), "ro") || !has(strings.TrimSpace(out), "noexec") {
		t.Errorf("bind: exit %d, flags %q %s; want the source's ro,noexec", code, out, errs)
	}
	if out, errs, code := flagsOf("bind", "dev"); code != 0 || !has(strings.TrimSpace(out), "rw") || has(strings.TrimSpace(out), "noexec") {
		t.Errorf("bind,dev: exit %d, flags %q %s; want rw and exec", code, out, errs)
	}

	// In a user namespace: ro is locked.
	b := e.bundle("bu", func(c map[string]any) {
		addMount(c, map[string]any{"source": src, "destination": "/mnt", "options": []string{"bind", "rw"}})
	}, "true")
	usernsConfig(t, e, b)
	if _, errs, code := e.rtIn(b, nil, "run", "bu"); code == 0 || !strings.Contains(errs, "cannot clear locked mount flags (ro") {
		t.Errorf("bind,rw in a user namespace: exit %d, stderr %q; want the locked ro refused", code, errs)
	}
	checkNoMounts(t, filepath.Join(e.dir, "bu"))
}
