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

// Time offsets in a new user namespace too: rt writes them from outside,
// since container root cannot open its own timens_offsets (runc's
// timens.bats "simple timens + userns"). An exec joins the time namespace.
func TestTimeNamespaceUserns(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	e := newEnv(t)
	b := e.bundle("b", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"}, map[string]any{"type": "time"})
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		l["timeOffsets"] = map[string]any{
			"monotonic": map[string]any{"secs": 7881, "nanosecs": 2718281},
			"boottime":  map[string]any{"secs": 1337, "nanosecs": 3141519},
		}
	}, "sleep", "30")
	os.Chmod(e.dir, 0o755) // the mapped root must reach the bundle
	e.mustRT("run", "-d", "-b", b, "timens")
	out := e.mustRT("exec", "timens", "cat", "/proc/self/timens_offsets")
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{"monotonic 7881 2718281", "boottime 1337 3141519"} {
		if !got[want] {
			t.Fatalf("timens_offsets %q lacks %q", out, want)
		}
	}
}

// A container joins another's user and time namespaces (runc's run.bats
// "joining existing container namespaces"): rt becomes root of the joined
// user namespace (files it makes in the remapped rootfs get a mapped
// owner), learns its maps (the exec fifo is the container user's on the
// host), and the joiner sees the first one's offsets.
func TestJoinUserAndTimeNamespaces(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	e := newEnv(t)
	const uidBase, gidBase = 100000, 200000
	first := e.bundle("first", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"}, map[string]any{"type": "time"})
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": uidBase, "size": 100}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": gidBase, "size": 200}}
		l["timeOffsets"] = map[string]any{"monotonic": map[string]any{"secs": 7881, "nanosecs": 2718281}}
	}, "sleep", "30")
	// The rootfs belongs to the container's root, as with runc's remap-rootfs.
	err := filepath.Walk(filepath.Join(first, "rootfs"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		return os.Lchown(p, uidBase+int(st.Uid), gidBase+int(st.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(e.dir, 0o755)
	e.mustRT("run", "-d", "-b", first, "target")
	pid := int(e.state("target")["pid"].(float64))
	e.editConfig(first, func(c map[string]any) {
		l := obj(c, "linux")
		var ns []any
		for _, n := range l["namespaces"].([]any) {
			typ := n.(map[string]any)["type"].(string)
			if typ != "mount" {
				proc := map[string]string{"network": "net"}[typ]
				if proc == "" {
					proc = typ
				}
				n = map[string]any{"type": typ, "path": fmt.Sprintf("/proc/%d/ns/%s", pid, proc)}
			}
			ns = append(ns, n)
		}
		l["namespaces"] = ns
		delete(l, "uidMappings")
		delete(l, "gidMappings")
		delete(l, "timeOffsets")
		obj(c, "process")["args"] = []string{"sh", "-c", "cat /proc/self/uid_map /proc/self/timens_offsets; readlink /proc/self/ns/user"}
	})
	out := e.runOut(first, "joiner")
	norm := strings.Join(strings.Fields(out), " ")
	wantUser, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	for _, want := range []string{"0 100000 100", "monotonic 7881 2718281", wantUser} {
		if !strings.Contains(norm, want) {
			t.Fatalf("joiner printed %q, want %q in it", out, want)
		}
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
	// Time offsets, rootless: rt (not root) writes them to its child's
	// timens_offsets, which the child lets it open for that exchange.
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		return
	}
	e.editConfig(b, func(c map[string]any) {
		obj(c, "process")["args"] = []string{"cat", "/proc/self/timens_offsets"}
		l := obj(c, "linux")
		l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "time"})
		l["timeOffsets"] = map[string]any{"boottime": map[string]any{"secs": 1337, "nanosecs": 5}}
	})
	cmd = exec.Command(runuser, "-u", "nobody", "--", rtBin(t), "run", "rootlesstime")
	cmd.Dir = b
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(strings.Join(strings.Fields(string(out)), " "), "boottime 1337 5") {
		t.Fatalf("rootless time offsets: %v\n%s", err, out)
	}
}
