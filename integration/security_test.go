package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
