package cgroups

// Tests against the host's real cgroup hierarchy through New, as rt uses
// it: cgroup v1 on this project's CI machine, v2 on a unified host (where
// the same tests check the v2 files). They need root.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// newReal returns a manager from New for /rt-test-<pid>/<name>.
func newReal(t *testing.T, name string) Manager {
	t.Helper()
	needRoot(t)
	roots := hostRoots(t)
	m, err := New("ignored", testCgroup(t, name, roots...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Kill(unix.SIGKILL)
		if err := m.Destroy(); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return m
}

// cgFile reads one interface file of the container's cgroup: on v1 from
// the hierarchy of v1ctrl, on v2 from its single directory.
func cgFile(t *testing.T, m Manager, v1ctrl, file string) string {
	t.Helper()
	switch mm := m.(type) {
	case *v1Manager:
		return readTrim(t, filepath.Join(mm.dir(cgroup1.Name(v1ctrl)), file))
	case *v2Manager:
		return readTrim(t, filepath.Join(mm.dir, file))
	}
	t.Fatalf("unknown manager %T", m)
	return ""
}

func hasController(m Manager, v2ctrl string) bool {
	v2, ok := m.(*v2Manager)
	if !ok {
		return true
	}
	// The cgroup's own cgroup.controllers: create it first (tests ask
	// before Apply), as Apply would.
	if err := v2.create(); err != nil {
		return false
	}
	s, _ := readFile(v2.dir, "cgroup.controllers")
	return slices.Contains(strings.Fields(s), v2ctrl)
}

func TestRealApplySetReadback(t *testing.T) {
	m := newReal(t, "readback")
	p := startProc(t, "read _; exec sleep 100", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !hasController(m, c) {
			t.Skipf("%s controller not delegated here", c)
		}
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](32 * mib)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](16)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000), Shares: ptr[uint64](512)},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	// The process is in the cgroup, in every hierarchy.
	cg := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", p.pid()))
	for _, line := range strings.Split(cg, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if m.Mode() == ModeV1 && parts[1] == "" {
			continue // the (empty) unified hierarchy of a hybrid host
		}
		if parts[2] != m.Path() {
			t.Errorf("pid %d is in %q, want %s", p.pid(), line, m.Path())
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, p.pid()) {
		t.Fatalf("Pids() = %v, %v; want to contain %d", pids, err, p.pid())
	}

	want := func(ctrl, file, v string) {
		t.Helper()
		if got := cgFile(t, m, ctrl, file); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
	}
	if m.Mode() == ModeV1 {
		want("memory", "memory.limit_in_bytes", strconv.Itoa(32*mib))
		want("memory", "memory.memsw.limit_in_bytes", strconv.Itoa(32*mib))
		want("pids", "pids.max", "16")
		want("cpu", "cpu.cfs_quota_us", "20000")
		want("cpu", "cpu.cfs_period_us", "100000")
		want("cpu", "cpu.shares", "512")
	} else {
		want("", "memory.max", strconv.Itoa(32*mib))
		want("", "pids.max", "16")
		want("", "cpu.max", "20000 100000")
		want("", "cpu.weight", "59") // 512 shares, runc's current (quadratic) mapping
	}

	// Raise both memory and swap: on v1 memsw must go first.
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](128 * mib)}}); err != nil {
		t.Fatalf("raising memory+swap: %v", err)
	}
	// Lower both: on v1 the limit must go first.
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](16 * mib), Swap: ptr[int64](16 * mib)}}); err != nil {
		t.Fatalf("lowering memory+swap: %v", err)
	}
	if m.Mode() == ModeV1 {
		want("memory", "memory.limit_in_bytes", strconv.Itoa(16*mib))
		want("memory", "memory.memsw.limit_in_bytes", strconv.Itoa(16*mib))
	} else {
		want("", "memory.max", strconv.Itoa(16*mib))
	}
	// Unlimited memory with swap unset lifts memsw too.
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatalf("unlimited memory: %v", err)
	}
	if m.Mode() == ModeV1 {
		if got := cgFile(t, m, "memory", "memory.memsw.limit_in_bytes"); got == strconv.Itoa(16*mib) {
			t.Errorf("memsw still %s after limit -1", got)
		}
	} else {
		want("", "memory.max", "max")
	}
	// Pids 0 means 1 (runc 1.2+), -1 unlimited; update of cpu period alone
	// keeps the quota.
	if err := m.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}}); err != nil {
		t.Fatal(err)
	}
	want("pids", "pids.max", "1")
	if err := m.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}, CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}}); err != nil {
		t.Fatal(err)
	}
	want("pids", "pids.max", "max")
	if m.Mode() == ModeV1 {
		want("cpu", "cpu.cfs_quota_us", "20000")
		want("cpu", "cpu.cfs_period_us", "50000")
	} else {
		want("", "cpu.max", "20000 50000")
	}
}

func TestRealUnavailableResources(t *testing.T) {
	m := newReal(t, "unavailable")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	var r *specs.LinuxResources
	var field string
	switch {
	case m.Mode() == ModeV1 && !exists(filepath.Join(m.(*v1Manager).root, "hugetlb"), ""):
		r, field = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * mib}}},
			"linux.resources.hugepageLimits: hugetlb controller not available"
	case m.Mode() == ModeV1:
		r, field = &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "linux.resources.unified"
	default:
		r, field = &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](7)}}, "linux.resources.network"
	}
	err := m.Set(r)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), field) {
		t.Fatalf("Set(%+v) = %v; want an ErrUnavailable naming %q", r, err, field)
	}
	// Unset values of the same kinds are fine.
	if err := m.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{}, Unified: map[string]string{}}); err != nil {
		t.Fatalf("Set with empty values: %v", err)
	}
}

func TestRealFreezeThaw(t *testing.T) {
	m := newReal(t, "freeze")
	counter := filepath.Join(t.TempDir(), "n")
	p := startProc(t, `read _; i=0; while :; do i=$((i+1)); echo $i > `+counter+`.tmp; mv `+counter+`.tmp `+counter+`; sleep 0.01; done`, nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	read := func() int {
		b, _ := os.ReadFile(counter)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	eventually(t, 5*time.Second, "counter to start", func() bool { return read() > 3 })

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if paused, err := m.Paused(); err != nil || !paused {
		t.Fatalf("Paused() = %v, %v after Freeze", paused, err)
	}
	a := read()
	time.Sleep(300 * time.Millisecond)
	if b := read(); b != a {
		t.Fatalf("counter moved from %d to %d while frozen", a, b)
	}
	// A signal other than SIGKILL leaves a paused container paused.
	if err := m.Kill(unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if paused, _ := m.Paused(); !paused {
		t.Fatal("Kill(SIGCONT) resumed a paused container")
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if paused, err := m.Paused(); err != nil || paused {
		t.Fatalf("Paused() = %v, %v after Thaw", paused, err)
	}
	eventually(t, 5*time.Second, "counter to go on", func() bool { return read() > a+3 })
}

func TestRealPidsKill(t *testing.T) {
	m := newReal(t, "kill")
	p := startProc(t, "read _; sleep 100 & sleep 100 & sleep 100 & wait", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	eventually(t, 5*time.Second, "4 processes", func() bool {
		pids, _ := m.Pids()
		return len(pids) == 4
	})
	if err := m.Kill(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t, 5*time.Second)
	eventually(t, 5*time.Second, "cgroup to empty", func() bool {
		pids, _ := m.Pids()
		return len(pids) == 0
	})
	if paused, _ := m.Paused(); paused {
		t.Fatal("Kill left the cgroup frozen")
	}
}

func TestRealPidsLimitAndUpdate(t *testing.T) {
	m := newReal(t, "pids")
	if !hasController(m, "pids") {
		t.Skip("pids controller not delegated here")
	}
	// Each round tries to start 30 sleepers in a subshell: a failed fork
	// aborts that subshell (sh: Cannot fork), not the test shell.
	round := `(for i in $(seq 1 30); do sleep 60 & done) 2>/dev/null; echo started`
	p := startProc(t, "read _; "+round+"; read _; "+round+"; read _", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](16)}}); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	eventually(t, 10*time.Second, "first round", func() bool { return strings.Count(p.output(), "started") == 1 })
	pids, _ := m.Pids()
	if len(pids) > 16 || len(pids) < 10 {
		t.Fatalf("%d processes with pids.limit 16 (want <= 16, and the loop should have filled it)", len(pids))
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Limit != 16 || st.Pids.Current > 16 {
		t.Fatalf("stats pids = %+v", st.Pids)
	}

	// update raises the limit of the running container; forks succeed.
	if err := m.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](64)}}); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	eventually(t, 10*time.Second, "second round", func() bool { return strings.Count(p.output(), "started") == 2 })
	pids, _ = m.Pids()
	if len(pids) <= 30 {
		t.Fatalf("%d processes after raising pids.limit to 64; want the 30 new sleepers to start", len(pids))
	}
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func TestRealCPUQuota(t *testing.T) {
	m := newReal(t, "cpu")
	if !hasController(m, "cpu") {
		t.Skip("cpu controller not delegated here")
	}
	p := startProc(t, "read _; while :; do :; done", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000)}}); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	time.Sleep(200 * time.Millisecond)
	s1, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	time.Sleep(2 * time.Second)
	s2, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	share := float64(s2.CPU.Usage.Total-s1.CPU.Usage.Total) / float64(time.Since(t1).Nanoseconds())
	t.Logf("cpu share with 20ms/100ms quota: %.3f", share)
	if share < 0.10 || share > 0.30 {
		t.Fatalf("cpu share %.3f, want about 0.20", share)
	}
	if s2.CPU.Throttling.ThrottledPeriods == 0 {
		t.Fatalf("no throttled periods: %+v", s2.CPU.Throttling)
	}
}

func TestRealStats(t *testing.T) {
	m := newReal(t, "stats")
	p := startProc(t, "read _; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 100", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	eventually(t, 10*time.Second, "cpu usage", func() bool {
		s, err := m.Stats()
		return err == nil && s.CPU.Usage.Total > 50_000_000
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if hasController(m, "memory") && s.Memory.Usage.Usage == 0 {
		t.Errorf("memory usage 0: %+v", s.Memory)
	}
	if hasController(m, "pids") && s.Pids.Current == 0 {
		t.Errorf("pids current 0")
	}
	b, err := json.Marshal(Event{Type: "stats", ID: "x", Data: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"type":"stats"`, `"cpu":{"usage":{"total":`, `"memory":`, `"pids":`, `"blkio":`, `"hugetlb":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("stats JSON lacks %s: %s", k, b)
		}
	}
}

func TestRealOOM(t *testing.T) {
	m := newReal(t, "oom")
	if !hasController(m, "memory") {
		t.Skip("memory controller not delegated here")
	}
	// Swap (if any) is capped too: memsw on v1, swap.max 0 on v2.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](32 * mib)}}); err != nil {
		t.Fatal(err)
	}
	// tail keeps a newline-free 64 MiB input in memory.
	p := startProc(t, "read _; head -c 67108864 /dev/zero | tail > /dev/null", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, err := m.OOMEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.step(t)
	select {
	case _, ok := <-ev:
		if !ok {
			t.Fatal("oom channel closed without an event")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no OOM event; output %q", p.output())
	}
	err = p.wait(t, 20*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 137 {
		t.Fatalf("shell exit = %v, want status 137 (tail killed by SIGKILL)", err)
	}
	cancel()
	eventually(t, 5*time.Second, "channel close after cancel", func() bool {
		select {
		case _, ok := <-ev:
			return !ok
		default:
			return false
		}
	})
}

func TestRealDevices(t *testing.T) {
	m := newReal(t, "devices")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this host")
	}
	open := `read _; for d in /dev/null /dev/zero /dev/urandom /dev/fuse; do if (exec 3<$d) 2>/dev/null; then echo "$d ok"; else echo "$d denied"; fi; done`
	deny := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	if err := m.Set(&specs.LinuxResources{Devices: deny}); err != nil {
		t.Fatal(err)
	}
	if m.Mode() == ModeV1 {
		list := cgFile(t, m, "devices", "devices.list")
		wantList := []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
			"c 1:9 rwm", "c 5:1 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}
		got := strings.Split(list, "\n")
		slices.Sort(got)
		slices.Sort(wantList)
		if !slices.Equal(got, wantList) {
			t.Fatalf("devices.list =\n%s\nwant (any order) %v", list, wantList)
		}
	}
	p := startProc(t, open, nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	_ = p.wait(t, 10*time.Second)
	want := "/dev/null ok\n/dev/zero ok\n/dev/urandom ok\n/dev/fuse denied\n"
	if p.output() != want {
		t.Fatalf("with deny-all: got\n%s\nwant\n%s", p.output(), want)
	}

	// An explicit rule allows it; Update never touches devices.
	allow := append(deny, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rwm"})
	if err := m.Update(&specs.LinuxResources{Devices: allow}); err != nil {
		t.Fatal(err)
	}
	if m.Mode() == ModeV1 && strings.Contains(cgFile(t, m, "devices", "devices.list"), "10:229") {
		t.Fatal("Update changed device rules")
	}
	if err := m.Set(&specs.LinuxResources{Devices: allow}); err != nil {
		t.Fatal(err)
	}
	p2 := startProc(t, open, nil)
	if err := m.Apply(p2.pid()); err != nil {
		t.Fatal(err)
	}
	p2.step(t)
	_ = p2.wait(t, 10*time.Second)
	if !strings.Contains(p2.output(), "/dev/fuse ok") {
		t.Fatalf("with fuse allowed: got\n%s", p2.output())
	}
}

func TestRealDestroyAndLoad(t *testing.T) {
	m := newReal(t, "destroy")
	p := startProc(t, "read _; exec sleep 100", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	// A later rt invocation finds the same cgroup from the stored path.
	l, err := Load(m.Path())
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode() != m.Mode() || l.Path() != m.Path() {
		t.Fatalf("Load = %s %s, want %s %s", l.Mode(), l.Path(), m.Mode(), m.Path())
	}
	if pids, err := l.Pids(); err != nil || !slices.Equal(pids, []int{p.pid()}) {
		t.Fatalf("loaded Pids() = %v, %v", pids, err)
	}
	// Destroy waits (bounded) for the last process.
	old := destroyTimeout
	destroyTimeout = 300 * time.Millisecond
	err = l.Destroy()
	destroyTimeout = old
	if err == nil {
		t.Fatal("Destroy succeeded with a live process")
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = unix.Kill(p.pid(), unix.SIGKILL)
	}()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, root := range hostRoots(t) {
		if _, err := os.Stat(filepath.Join(root, m.Path())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Destroy: %v", filepath.Join(root, m.Path()), err)
		}
	}
	// Idempotent, and a loaded manager of a gone cgroup can destroy too.
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if l, err = Load(m.Path()); err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := l.Update(&specs.LinuxResources{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Update of a gone cgroup = %v, want ErrNotExist", err)
	}
}

// Containers with no cgroupsPath live under /rt, which is removed with the
// last of them: a host that ran rt keeps no cgroup behind.
func TestRealDefaultParent(t *testing.T) {
	needRoot(t)
	roots := hostRoots(t)
	busy := false // another rt (a concurrent test run) has containers there
	for _, root := range roots {
		if es, err := os.ReadDir(filepath.Join(root, DefaultParent)); err == nil {
			for _, e := range es {
				busy = busy || e.IsDir()
			}
		}
	}
	var ms []Manager
	for _, n := range []string{"a", "b"} {
		id := fmt.Sprintf("rt-test-%d-%s", os.Getpid(), n)
		m, err := New(id, "")
		if err != nil {
			t.Fatal(err)
		}
		if m.Path() != "/rt/"+id {
			t.Fatalf("Path() = %s", m.Path())
		}
		t.Cleanup(func() { _ = m.Destroy() })
		if err := m.Apply(-1); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := ms[0].Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, ms[1].Path())); err != nil {
			t.Fatalf("sibling gone with the first container: %v", err)
		}
	}
	if err := ms[1].Destroy(); err != nil {
		t.Fatal(err)
	}
	if busy {
		t.Log("/rt holds other containers; not checking its removal")
		return
	}
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, DefaultParent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after its last container: %v", filepath.Join(root, DefaultParent), err)
		}
	}
}

// A parent with empty cpuset.cpus/mems is what losing the race with
// another container's Destroy of /rt leaves (MkdirAll makes /rt afresh
// after containerd seeded the old one): seedCpuset must fill the parent
// and the leaf top-down, or no task can join (ENOSPC in CI's stress test).
func TestRealCpusetSeededAfterParentRace(t *testing.T) {
	needRoot(t)
	testCgroup(t, "race", hostRoots(t)...) // removes the parent, after the leaf
	m := newReal(t, "race/leaf")
	v1, ok := m.(*v1Manager)
	if !ok || v1.sub(cgroup1.Cpuset) == nil {
		t.Skip("no cgroup v1 cpuset hierarchy")
	}
	root := v1.sub(cgroup1.Cpuset).(v1Pather).Path("/")
	// The state the race leaves: parent and leaf made by mkdir alone.
	for _, d := range []string{filepath.Dir(v1.path), v1.path} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := readTrim(t, filepath.Join(root, filepath.Dir(v1.path), "cpuset.cpus")); got != "" {
		t.Skipf("kernel seeds new cpusets itself (clone_children): %q", got)
	}
	if err := v1.seedCpuset(); err != nil {
		t.Fatal(err)
	}
	want := readTrim(t, filepath.Join(root, "cpuset.mems"))
	for _, d := range []string{filepath.Dir(v1.path), v1.path} {
		if got := readTrim(t, filepath.Join(root, d, "cpuset.mems")); got != want {
			t.Errorf("%s cpuset.mems = %q, want %q", d, got, want)
		}
		if got := readTrim(t, filepath.Join(root, d, "cpuset.cpus")); got == "" {
			t.Errorf("%s cpuset.cpus empty", d)
		}
	}
	p := startProc(t, "read _", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatalf("apply after seeding: %v", err)
	}
	p.step(t)
	_ = p.wait(t, 5*time.Second)
}

// TestRealCPUPeriodUnderParentQuota: a new period the kernel refuses
// with the old quota (old quota/new period over the parent's 50%) is
// written again after the new quota (runc's fs driver does the same);
// update.bats "update cpu period in a pod cgroup with pod limit set".
func TestRealCPUPeriodUnderParentQuota(t *testing.T) {
	needRoot(t)
	if mode, err := HostMode(); err != nil || mode == ModeV2 {
		t.Skip("cgroup v1 only (v2 writes quota and period together in cpu.max)")
	}
	cpuRoot := ""
	hs, err := V1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if slices.Contains(h.Controllers, "cpu") {
			cpuRoot = h.Mountpoint
		}
	}
	if cpuRoot == "" {
		t.Skip("no cpu hierarchy")
	}
	pod := filepath.Join(cpuRoot, testParent, "pod")
	t.Cleanup(func() { // after newReal's cleanup: pod is in every hierarchy
		for _, root := range hostRoots(t) {
			_ = unix.Rmdir(filepath.Join(root, testParent, "pod"))
			_ = unix.Rmdir(filepath.Join(root, testParent))
		}
	})
	m := newReal(t, "pod/c")
	if err := os.MkdirAll(pod, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pod, "cpu.cfs_quota_us"), []byte("50000"), 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](500000), Period: ptr[uint64](1000000)}}); err != nil {
		t.Fatal(err)
	}
	// 60% is over the parent's 50%: refused.
	if err := m.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](600000)}}); err == nil {
		t.Fatal("quota over the parent's limit accepted")
	}
	if err := m.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](3000), Period: ptr[uint64](10000)}}); err != nil {
		t.Fatal(err)
	}
	if q, p := cgFile(t, m, "cpu", "cpu.cfs_quota_us"), cgFile(t, m, "cpu", "cpu.cfs_period_us"); q != "3000" || p != "10000" {
		t.Fatalf("quota/period = %s/%s, want 3000/10000", q, p)
	}
}
