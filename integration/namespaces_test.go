package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A user namespace with id mappings: root inside, an unprivileged uid outside.
func TestUserNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"})
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
	}, "sh", "-c", "id -u; cat /proc/self/uid_map; sleep 2")
	os.Chmod(e.dir, 0o755) // the mapped root must reach the bundle
	e.mustRT("run", "-d", "-b", b, "userns")
	pid := int(e.state("userns")["pid"].(float64))
	status := readFile(t, filepath.Join("/proc", itoa(pid), "status"))
	if !strings.Contains(status, "Uid:\t100000\t100000") {
		t.Fatalf("container root is not host uid 100000:\n%s", status)
	}
	map_ := readFile(t, filepath.Join("/proc", itoa(pid), "uid_map"))
	if f := strings.Fields(map_); len(f) != 3 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" {
		t.Fatalf("uid_map %q", map_)
	}
}

// A namespace with a path is joined, not created: a second container joins
// the first one's network namespace.
func TestJoinNamespaceByPath(t *testing.T) {
	e := newEnv(t)
	first := e.bundle("first", nil, "sleep", "30")
	e.mustRT("run", "-d", "-b", first, "netowner")
	pid := int(e.state("netowner")["pid"].(float64))
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	want, _ := os.Readlink(nsPath)
	second := e.bundle("second", func(c map[string]any) {
		l := obj(c, "linux")
		var ns []any
		for _, n := range l["namespaces"].([]any) {
			if n.(map[string]any)["type"] == "network" {
				n = map[string]any{"type": "network", "path": nsPath}
			}
			ns = append(ns, n)
		}
		l["namespaces"] = ns
	}, "readlink", "/proc/self/ns/net")
	if out := e.runOut(second, "joiner"); strings.TrimSpace(out) != want {
		t.Fatalf("joined %q, want %q", out, want)
	}
}

// A time namespace with offsets (where the kernel has them).
func TestTimeNamespace(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "time"})
		l["timeOffsets"] = map[string]any{"boottime": map[string]any{"secs": 86400 * 365}}
	}, "cat", "/proc/uptime")
	out := e.runOut(b, "timens")
	var up float64
	fmt.Sscanf(out, "%f", &up)
	if up < 86400*365 {
		t.Fatalf("uptime %q does not carry the boottime offset", out)
	}
}

// Two creates of one ID at the same moment: one container, one clear error.
func TestSameIDRace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "30")
	for round := 0; round < 5; round++ {
		id := fmt.Sprintf("race%d", round)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		errs := make([]string, 2)
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i], codes[i] = e.rtIn(b, nil, "create", id)
			}(i)
		}
		wg.Wait()
		ok := 0
		for i := range codes {
			if codes[i] == 0 {
				ok++
			} else if !strings.Contains(errs[i], "already exists") {
				t.Fatalf("loser's error: %q", errs[i])
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d creates succeeded (%q)", round, ok, errs)
		}
		if st := e.state(id)["status"]; st != "created" {
			t.Fatalf("status %v", st)
		}
	}
}

// --no-pivot: MS_MOVE + chroot instead of pivot_root.
func TestNoPivot(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", "ls /")
	out, errs, code := e.rtIn(b, nil, "run", "--no-pivot", "nopivot")
	if code != 0 || !strings.Contains(out, "bin") {
		t.Fatalf("exit %d: %q %q", code, out, errs)
	}
}

// Rootless: an unprivileged user runs a `spec --rootless` bundle; without
// rights on the cgroup tree the container runs in the caller's cgroup.
func TestRootless(t *testing.T) {
	e := newEnv(t)
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Skip("runuser not installed")
	}
	if out, err := exec.Command(runuser, "-u", "nobody", "--", rtBin(t), "--version").CombinedOutput(); err != nil {
		t.Skipf("the rt binary is not reachable by nobody here: %s", out)
	}
	const nobody = 65534
	b := e.bundle("b", nil, "true")
	os.Remove(filepath.Join(b, "config.json"))
	e.mustRT("spec", "--rootless", "--bundle", b)
	e.editConfig(b, func(c map[string]any) {
		p := obj(c, "process")
		p["terminal"] = false
		p["args"] = []string{"sh", "-c", "id -u; cat /proc/self/uid_map"}
		l := obj(c, "linux")
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": nobody, "size": 1}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": nobody, "size": 1}}
	})
	xdg := filepath.Join(e.dir, "xdg")
	os.MkdirAll(xdg, 0o700)
	for _, p := range []string{e.dir, b, xdg} {
		os.Chmod(p, 0o755)
	}
	os.Chown(xdg, nobody, nobody)
	cmd := exec.Command(runuser, "-u", "nobody", "--", rtBin(t), "run", "rootless")
	cmd.Dir = b
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
	if f := strings.Fields(string(out)); len(f) != 4 || f[0] != "0" || f[2] != itoa(nobody) {
		t.Fatalf("got %q, want root inside mapped to %d", out, nobody)
	}
	if _, err := os.Stat(filepath.Join(xdg, "rt")); err != nil {
		t.Fatalf("state not under $XDG_RUNTIME_DIR/rt: %v", err)
	}
}
