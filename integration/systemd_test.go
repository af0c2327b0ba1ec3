package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The systemd cgroup driver (rt --systemd-cgroup). These need systemd as
// PID 1 on cgroup v2: `make test-systemd` boots such a guest (tests/vm/
// systemd.sh) and runs them there; elsewhere they skip and say so.

func requireSystemd(t *testing.T) {
	t.Helper()
	if fi, err := os.Lstat("/run/systemd/system"); err != nil || !fi.IsDir() {
		t.Skip("systemd is not this host's init: `make test-systemd` runs this test in a systemd-booted cgroup v2 guest")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		t.Skip("not a pure cgroup v2 host: `make test-systemd` runs this test in a systemd-booted cgroup v2 guest")
	}
}

// unitProp is `systemctl show -p prop --value unit`.
func unitProp(t *testing.T, unit, prop string) string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", prop, "--value", unit).Output()
	if err != nil {
		t.Fatalf("systemctl show -p %s %s: %v", prop, unit, err)
	}
	return strings.TrimSpace(string(out))
}

func v2File(t *testing.T, cg, file string) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, filepath.Join("/sys/fs/cgroup", cg, file)))
}

// procCgroup is the v2 cgroup of pid as the host sees it.
func procCgroup(t *testing.T, pid int) string {
	t.Helper()
	return strings.TrimPrefix(strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))), "0::")
}

func TestSystemdScopeUnit(t *testing.T) {
	requireSystemd(t)
	e := newEnv(t)
	id := fmt.Sprintf("sd%d", os.Getpid())
	unit, slice := "rtt-"+id+".scope", "rttest-a.slice"
	cg := "/rttest.slice/rttest-a.slice/" + unit
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "linux")["cgroupsPath"] = slice + ":rtt:" + id
		resources(c)["memory"] = map[string]any{"limit": 64 << 20}
		resources(c)["pids"] = map[string]any{"limit": 50}
		resources(c)["cpu"] = map[string]any{"quota": 50000, "period": 100000}
		c["annotations"] = map[string]any{"org.systemd.property.CollectMode": "'inactive-or-failed'"}
	}, "sleep", "300")
	e.mustRT("--systemd-cgroup", "run", "-d", "-b", b, id)
	pid := int(e.state(id)["pid"].(float64))

	if got := procCgroup(t, pid); got != cg {
		t.Fatalf("init in cgroup %q, want %q", got, cg)
	}
	for prop, want := range map[string]string{
		"ActiveState": "active", "Delegate": "yes", "Slice": slice,
		"MemoryMax": strconv.Itoa(64 << 20), "TasksMax": "50", "CPUQuotaPerSecUSec": "500ms",
		"CollectMode": "inactive-or-failed",
	} {
		if got := unitProp(t, unit, prop); got != want {
			t.Errorf("%s %s = %q, want %q", unit, prop, got, want)
		}
	}
	if got := v2File(t, cg, "memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.max = %s", got)
	}
	// systemd rewrites a unit's cgroup from its properties on reload: the
	// limits must survive because they are properties too.
	if out, err := exec.Command("systemctl", "daemon-reload").CombinedOutput(); err != nil {
		t.Fatalf("daemon-reload: %v %s", err, out)
	}
	if got := v2File(t, cg, "memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.max after daemon-reload = %s", got)
	}
	if got := v2File(t, cg, "pids.max"); got != "50" {
		t.Errorf("pids.max after daemon-reload = %s", got)
	}

	// rt update changes the unit's properties as well as the cgroup.
	e.mustRT("update", "--memory", "128M", "--pids-limit", "60", id)
	if got := unitProp(t, unit, "MemoryMax"); got != strconv.Itoa(128<<20) {
		t.Errorf("MemoryMax after update = %s", got)
	}
	if got := unitProp(t, unit, "TasksMax"); got != "60" {
		t.Errorf("TasksMax after update = %s", got)
	}
	if got := v2File(t, cg, "memory.max"); got != strconv.Itoa(128<<20) {
		t.Errorf("memory.max after update = %s", got)
	}

	// An exec joins the unit's cgroup; pause and resume freeze it.
	e.mustRT("exec", "-d", id, "sleep", "200")
	var pids []int
	if err := json.Unmarshal([]byte(e.mustRT("ps", "--format", "json", id)), &pids); err != nil || len(pids) != 2 {
		t.Fatalf("ps: %v %v", pids, err)
	}
	for _, p := range pids {
		if got := procCgroup(t, p); got != cg {
			t.Errorf("pid %d in %q, want %q", p, got, cg)
		}
	}
	e.mustRT("pause", id)
	if st := e.state(id)["status"]; st != "paused" {
		t.Errorf("status after pause = %v", st)
	}
	e.mustRT("resume", id)

	e.mustRT("delete", "--force", id)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg)); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left after delete: %v", cg, err)
	}
	if got := unitProp(t, unit, "LoadState"); got != "not-found" {
		t.Errorf("%s LoadState after delete = %q, want not-found", unit, got)
	}
}

// An empty cgroupsPath is "system.slice:rt:<id>"; a foreground run passes
// the exit status through and leaves no unit.
func TestSystemdDefaultPath(t *testing.T) {
	requireSystemd(t)
	e := newEnv(t)
	id := fmt.Sprintf("sdd%d", os.Getpid())
	b := e.bundle("b", func(c map[string]any) {
		delete(obj(c, "linux"), "cgroupsPath")
		// The host's view of the cgroup, without a cgroup namespace.
		var keep []any
		for _, ns := range obj(c, "linux")["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "cgroup" {
				keep = append(keep, ns)
			}
		}
		obj(c, "linux")["namespaces"] = keep
	}, "sh", "-c", "cat /proc/self/cgroup; exit 3")
	out, errs, code := e.rtIn(b, nil, "--systemd-cgroup", "run", id)
	if code != 3 {
		t.Fatalf("exit %d (want 3): %s %s", code, out, errs)
	}
	want := "0::/system.slice/rt-" + id + ".scope"
	if strings.TrimSpace(out) != want {
		t.Errorf("cgroup %q, want %q", out, want)
	}
	if got := unitProp(t, "rt-"+id+".scope", "LoadState"); got != "not-found" {
		t.Errorf("unit LoadState after run = %q, want not-found", got)
	}
}

// Wrong cgroupsPath forms for each driver are one-line errors naming the
// field, and leave nothing behind. These run on any host.
func TestSystemdPathErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		flags []string
		path  string
		want  string
	}{
		{[]string{"--systemd-cgroup"}, "/rt-test/abs", `linux.cgroupsPath "/rt-test/abs": with --systemd-cgroup it must be "slice:prefix:name"`},
		{[]string{"--systemd-cgroup"}, "a/b.slice:x:y", `linux.cgroupsPath "a/b.slice:x:y"`},
		{[]string{"--systemd-cgroup"}, "system.slice:x:..", `linux.cgroupsPath "system.slice:x:.."`},
		{nil, "system.slice:x:y", "--systemd-cgroup"},
	} {
		b := e.bundle("b", func(c map[string]any) { obj(c, "linux")["cgroupsPath"] = tc.path }, "true")
		args := append(append([]string{}, tc.flags...), "run", "-b", b, "bad")
		_, errs, code := e.rt(args...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("rt %v with %q: exit %d, stderr %q; want one line with %q", args, tc.path, code, errs, tc.want)
		}
		if out := e.mustRT("list", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("left behind: %q", out)
		}
		os.RemoveAll(b)
	}
	if fi, err := os.Lstat("/run/systemd/system"); err != nil || !fi.IsDir() {
		b := e.bundle("b", func(c map[string]any) { obj(c, "linux")["cgroupsPath"] = "system.slice:rt-test:x" }, "true")
		_, errs, code := e.rt("--systemd-cgroup", "run", "-b", b, "nosd")
		if code == 0 || !strings.Contains(errs, "systemd is not running") {
			t.Errorf("--systemd-cgroup without systemd: exit %d, stderr %q", code, errs)
		}
	}
}

// podman, a client that passes --systemd-cgroup itself (its cgroup manager
// on a systemd host), runs a busybox image with rt: the exit status comes
// back and the container is in podman's libpod-<id>.scope.
func TestSystemdPodman(t *testing.T) {
	requireSystemd(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed here (make test-systemd's guest has it)")
	}
	archive := filepath.Join(repoRoot(), "..", "shared", "images", "busybox.tar")
	if _, err := os.Stat(archive); err != nil {
		t.Skipf("no busybox archive: %v", err)
	}
	dir := t.TempDir()
	base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--runtime", rtBin(t), "--cgroup-manager", "systemd", "--events-backend", "file"}
	pm := func(args ...string) (string, int) {
		cmd := exec.Command(podman, append(append([]string{}, base...), args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("podman %v: %v", args, err)
		}
		return string(out), 0
	}
	t.Cleanup(func() { pm("rm", "-af") })
	if out, code := pm("load", "-i", archive); code != 0 {
		t.Fatalf("podman load: exit %d: %s", code, out)
	}
	out, code := pm("run", "--rm", "--network", "none", "--cgroupns", "host", "busybox", "sh", "-c", "cat /proc/self/cgroup; exit 7")
	if code != 7 || !strings.Contains(out, "/libpod-") || !strings.Contains(out, ".scope") {
		t.Fatalf("podman run: exit %d (want 7), output %q (want a libpod-<id>.scope cgroup)", code, out)
	}
	out, code = pm("run", "-d", "--network", "none", "busybox", "sleep", "300")
	id := strings.TrimSpace(out)
	if code != 0 || len(id) != 64 {
		t.Fatalf("podman run -d: exit %d: %s", code, out)
	}
	if got := unitProp(t, "libpod-"+id+".scope", "ActiveState"); got != "active" {
		t.Errorf("libpod-%s.scope ActiveState = %q", id, got)
	}
	if out, code := pm("rm", "-f", id); code != 0 {
		t.Fatalf("podman rm -f: exit %d: %s", code, out)
	}
	if got := unitProp(t, "libpod-"+id+".scope", "LoadState"); got != "not-found" {
		t.Errorf("libpod-%s.scope LoadState after rm = %q, want not-found", id, got)
	}
}
