package cgroups

// The v2 code paths against a fake cgroupfs (a temporary directory laid out
// like /sys/fs/cgroup with the interface files a kernel would show). These
// run anywhere, as any user, and check exactly what would be written.

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const fakeControllers = "cpuset cpu io memory hugetlb pids rdma"

// fakeV2 makes <tmp>/cgroup.*, <tmp>/rt/cgroup.* and the leaf <tmp>/rt/c1
// with its interface files; files overrides them ("-" deletes one).
func fakeV2(t *testing.T, ctrls string, files map[string]string) *v2Manager {
	t.Helper()
	root := t.TempDir()
	leaf := map[string]string{
		"cgroup.controllers":  ctrls,
		"cgroup.procs":        "",
		"cgroup.events":       "populated 1\nfrozen 0\n",
		"cgroup.freeze":       "0\n",
		"cpu.max":             "max 100000\n",
		"cpu.weight":          "100\n",
		"cpu.max.burst":       "0\n",
		"cpu.idle":            "0\n",
		"cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 70\n",
		"cpu.pressure":        "some avg10=1.50 avg60=0.00 avg300=0.00 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
		"cpuset.cpus":         "",
		"cpuset.mems":         "",
		"memory.max":          "max\n",
		"memory.swap.max":     "max\n",
		"memory.low":          "0\n",
		"memory.high":         "max\n",
		"memory.current":      "4096\n",
		"memory.peak":         "8192\n",
		"memory.swap.current": "1024\n",
		"memory.stat":         "anon 4096\nfile 12288\n",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n",
		"pids.max":            "max\n",
		"pids.current":        "2\n",
		"io.max":              "",
		"io.weight":           "default 100\n",
		"io.stat":             "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
		"hugetlb.2MB.max":     "max\n",
		"rdma.max":            "",
	}
	for k, v := range files {
		leaf[k] = v
	}
	for _, d := range []string{"", "rt"} {
		dir := filepath.Join(root, d)
		mustWrite(t, filepath.Join(dir, "cgroup.controllers"), ctrls)
		mustWrite(t, filepath.Join(dir, "cgroup.subtree_control"), "")
	}
	dir := filepath.Join(root, "rt", "c1")
	for k, v := range leaf {
		if v != "-" {
			mustWrite(t, filepath.Join(dir, k), v)
		}
	}
	m, err := newV2(root, "/rt/c1")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (m *v2Manager) fakeFile(t *testing.T, f string) string {
	t.Helper()
	return readTrim(t, filepath.Join(m.dir, f))
}

func TestV2FakeCreateEnablesControllers(t *testing.T) {
	m := fakeV2(t, fakeControllers, nil)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{m.mountpoint, filepath.Join(m.mountpoint, "rt")} {
		got := readTrim(t, filepath.Join(d, "cgroup.subtree_control"))
		if got != "+cpuset +cpu +io +memory +hugetlb +pids +rdma" {
			t.Errorf("%s/cgroup.subtree_control = %q", d, got)
		}
	}
	// The leaf passes nothing down (a leaf with processes must not).
	if _, err := os.Stat(filepath.Join(m.dir, "cgroup.subtree_control")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leaf subtree_control written: %v", err)
	}
}

func TestV2FakeTranslation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // extra/overridden files before
		r     specs.LinuxResources
		want  map[string]string
	}{
		{
			name: "memory and swap",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](96 * mib), Reservation: ptr[int64](16 * mib)}},
			want: map[string]string{"memory.max": "33554432", "memory.swap.max": "67108864", "memory.low": "16777216"},
		},
		{
			name: "swap equal to limit disables swap",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](32 * mib)}},
			want: map[string]string{"memory.max": "33554432", "memory.swap.max": "0"},
		},
		{
			name:  "unlimited is max, not -1",
			files: map[string]string{"memory.max": "1000\n", "memory.swap.max": "0\n"},
			r:     specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:  map[string]string{"memory.max": "max", "memory.swap.max": "max"},
		},
		{
			name: "cpu shares quota period cpus",
			r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](20000),
				Period: ptr[uint64](100000), Cpus: "0", Mems: "0", Burst: ptr[uint64](1000), Idle: ptr[int64](0)}},
			want: map[string]string{"cpu.weight": "100", "cpu.max": "20000 100000", "cpuset.cpus": "0",
				"cpuset.mems": "0", "cpu.max.burst": "1000", "cpu.idle": "0"},
		},
		{
			name:  "quota alone keeps the period",
			files: map[string]string{"cpu.max": "20000 50000\n"},
			r:     specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](30000)}},
			want:  map[string]string{"cpu.max": "30000"},
		},
		{
			name:  "period alone keeps the quota",
			files: map[string]string{"cpu.max": "20000 100000\n"},
			r:     specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}},
			want:  map[string]string{"cpu.max": "20000 50000"},
		},
		{
			name:  "negative quota is max",
			files: map[string]string{"cpu.max": "20000 100000\n"},
			r:     specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Period: ptr[uint64](100000)}},
			want:  map[string]string{"cpu.max": "max 100000"},
		},
		{
			name: "pids",
			r:    specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](16)}},
			want: map[string]string{"pids.max": "16"},
		},
		{
			name:  "pids 0 is 1",
			files: map[string]string{"pids.max": "16\n"},
			r:     specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}},
			want:  map[string]string{"pids.max": "1"},
		},
		{
			name:  "pids -1 is unlimited",
			files: map[string]string{"pids.max": "16\n"},
			r:     specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want:  map[string]string{"pids.max": "max"},
		},
		{
			name: "io weight scaled for io.weight",
			r:    specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			want: map[string]string{"io.weight": "4950"},
		},
		{
			name:  "io weight as is for bfq",
			files: map[string]string{"io.bfq.weight": "default 100\n"},
			r:     specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			want:  map[string]string{"io.bfq.weight": "500", "io.weight": "default 100"},
		},
		{
			name: "io throttle",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: mib}}}},
			want: map[string]string{"io.max": "8:0 rbps=1048576"},
		},
		{
			name: "io throttle 0 lifts the limit",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}}}}},
			want: map[string]string{"io.max": "8:0 wiops=max"},
		},
		{
			name: "hugetlb",
			r:    specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * mib}}},
			want: map[string]string{"hugetlb.2MB.max": "4194304"},
		},
		{
			name: "rdma",
			r:    specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](100)}}},
			want: map[string]string{"rdma.max": "mlx5_0 hca_handle=3 hca_object=100"},
		},
		{
			name: "unified overrides the translated value",
			r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib)},
				Unified: map[string]string{"memory.max": "50000000", "memory.high": "40000000"}},
			want: map[string]string{"memory.max": "50000000", "memory.high": "40000000"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeV2(t, fakeControllers, tc.files)
			// Update: Set would also attach an eBPF device filter, which
			// needs a real cgroup (see v2_real_test.go).
			if err := m.Update(&tc.r); err != nil {
				t.Fatal(err)
			}
			for f, v := range tc.want {
				if got := m.fakeFile(t, f); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
		})
	}
}

func TestV2FakeUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name, ctrls string
		files       map[string]string
		r           specs.LinuxResources
		want        string
	}{
		{"memory", "cpu pids", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1)}}, "linux.resources.memory: memory controller not available"},
		{"hugetlb", "memory", nil, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "linux.resources.hugepageLimits: hugetlb controller not available"},
		{"hugetlb size", fakeControllers, nil, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1}}}, `linux.resources.hugepageLimits: huge page size "1GB" not available`},
		{"io", "cpu memory", nil, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}}, "linux.resources.blockIO: io controller not available"},
		{"io weight", fakeControllers, map[string]string{"io.weight": "-"}, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}}, "linux.resources.blockIO.weight: proportional io weight"},
		{"cpuset", "cpu", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, "linux.resources.cpu.cpus: cpuset controller not available"},
		{"realtime", fakeControllers, nil, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}}, "linux.resources.cpu.realtimeRuntime: cgroup v1 only"},
		{"network", fakeControllers, nil, specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, "linux.resources.network: cgroup v1 only"},
		{"swap accounting", fakeControllers, map[string]string{"memory.swap.max": "-"}, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](mib), Swap: ptr[int64](2 * mib)}}, "linux.resources.memory.swap: swap accounting (memory.swap.max) not available"},
		{"disableOOMKiller", fakeControllers, nil, specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}}, "linux.resources.memory.disableOOMKiller: cgroup v1 only"},
		{"unified controller", "cpu", map[string]string{"memory.high": "-"}, specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, `linux.resources.unified["memory.high"]: memory controller not available`},
		{"unified bad name", fakeControllers, nil, specs.LinuxResources{Unified: map[string]string{"../x.y": "1"}}, `not a cgroup interface file name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeV2(t, tc.ctrls, tc.files)
			err := m.Update(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !strings.Contains(tc.want, "interface file name") && !errors.Is(err, ErrUnavailable) {
				t.Errorf("err %v is not ErrUnavailable", err)
			}
		})
	}
	// Unset values are fine even without the controllers, and a failing
	// config writes nothing at all.
	m := fakeV2(t, "", nil)
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, BlockIO: nil,
		Network: &specs.LinuxNetwork{}, Unified: map[string]string{}}); err != nil {
		t.Fatalf("unset values: %v", err)
	}
	m = fakeV2(t, "pids", nil)
	err := m.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}, Memory: &specs.LinuxMemory{Limit: ptr[int64](1)}})
	if err == nil || m.fakeFile(t, "pids.max") != "max" {
		t.Fatalf("partially applied a rejected config: err=%v pids.max=%s", err, m.fakeFile(t, "pids.max"))
	}
}

func TestV2FakeFreeze(t *testing.T) {
	m := fakeV2(t, fakeControllers, nil)
	// The kernel reports "frozen 1" in cgroup.events a moment later.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = os.WriteFile(filepath.Join(m.dir, "cgroup.events"), []byte("populated 1\nfrozen 1\n"), 0o644)
	}()
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("Freeze returned before cgroup.events said frozen")
	}
	if paused, err := m.Paused(); err != nil || !paused {
		t.Fatalf("Paused() = %v, %v", paused, err)
	}
	if err := m.Thaw(); err != nil || m.fakeFile(t, "cgroup.freeze") != "0" {
		t.Fatalf("Thaw: %v, cgroup.freeze=%s", err, m.fakeFile(t, "cgroup.freeze"))
	}

	// Never frozen: bounded wait, then thawed back.
	m = fakeV2(t, fakeControllers, nil)
	old := freezeTimeout
	freezeTimeout = 100 * time.Millisecond
	defer func() { freezeTimeout = old }()
	if err := m.Freeze(); err == nil {
		t.Fatal("Freeze succeeded without the cgroup freezing")
	}
	if got := m.fakeFile(t, "cgroup.freeze"); got != "0" {
		t.Fatalf("left cgroup.freeze = %s after a failed freeze", got)
	}

	// No cgroup.freeze (kernel < 5.2): Freeze is unsupported, Thaw and
	// Paused are harmless.
	m = fakeV2(t, fakeControllers, map[string]string{"cgroup.freeze": "-"})
	if err := m.Freeze(); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Freeze = %v, want ErrNotSupported", err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if paused, err := m.Paused(); err != nil || paused {
		t.Fatalf("Paused() = %v, %v", paused, err)
	}
}

func TestV2FakeOOMEvents(t *testing.T) {
	m := fakeV2(t, fakeControllers, map[string]string{"memory.events": "oom 1\noom_kill 1\n"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, err := m.OOMEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recv := func() bool {
		select {
		case _, ok := <-ev:
			return ok
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
			return false
		}
	}
	// Kills before the call are not reported; two new ones are two events.
	mustWrite(t, filepath.Join(m.dir, "memory.events"), "oom 2\noom_kill 3\n")
	for i := 0; i < 2; i++ {
		if !recv() {
			t.Fatal("channel closed early")
		}
	}
	select {
	case <-ev:
		t.Fatal("a third event for two kills")
	case <-time.After(100 * time.Millisecond):
	}
	// The cgroup emptied: the channel closes.
	mustWrite(t, filepath.Join(m.dir, "cgroup.events"), "populated 0\nfrozen 0\n")
	if recv() {
		t.Fatal("event instead of close")
	}

	// Cancelling closes it too.
	m = fakeV2(t, fakeControllers, nil)
	ctx2, cancel2 := context.WithCancel(context.Background())
	ev, err = m.OOMEvents(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	if recv() {
		t.Fatal("event instead of close")
	}

	// Without the memory controller there is no memory.events.
	m = fakeV2(t, "cpu", map[string]string{"memory.events": "-"})
	if _, err := m.OOMEvents(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OOMEvents = %v, want ErrUnavailable", err)
	}
}

func TestV2FakeStats(t *testing.T) {
	m := fakeV2(t, fakeControllers, map[string]string{"memory.max": "33554432\n", "memory.swap.max": "0\n"})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total != 1500_000 || s.CPU.Usage.User != 1000_000 || s.CPU.Usage.Kernel != 500_000 {
		t.Errorf("cpu usage (ns) = %+v", s.CPU.Usage)
	}
	if s.CPU.Throttling != (Throttling{Periods: 10, ThrottledPeriods: 4, ThrottledTime: 70_000}) {
		t.Errorf("throttling = %+v", s.CPU.Throttling)
	}
	if s.CPU.PSI == nil || s.CPU.PSI.Some.Total != 42 || s.CPU.PSI.Some.Avg10 != 1.5 {
		t.Errorf("cpu psi = %+v", s.CPU.PSI)
	}
	if s.Memory.Usage != (MemoryEntry{Usage: 4096, Limit: 32 * mib, Max: 8192, Failcnt: 3}) {
		t.Errorf("memory usage = %+v", s.Memory.Usage)
	}
	// v1 meaning: memory+swap.
	if s.Memory.Swap.Usage != 4096+1024 || s.Memory.Swap.Limit != 32*mib {
		t.Errorf("memory swap = %+v", s.Memory.Swap)
	}
	if s.Memory.Cache != 12288 || s.Memory.Raw["anon"] != 4096 {
		t.Errorf("memory cache/raw = %d %v", s.Memory.Cache, s.Memory.Raw)
	}
	if s.Pids != (Pids{Current: 2, Limit: 0}) {
		t.Errorf("pids = %+v (\"max\" must read as 0)", s.Pids)
	}
	want := []BlkioEntry{{Major: 8, Op: "Read", Value: 100}, {Major: 8, Op: "Write", Value: 200}}
	if len(s.Blkio.IoServiceBytesRecursive) != 2 || s.Blkio.IoServiceBytesRecursive[0] != want[0] || s.Blkio.IoServiceBytesRecursive[1] != want[1] {
		t.Errorf("blkio = %+v", s.Blkio.IoServiceBytesRecursive)
	}

	// Unlimited memory keeps the swap limit at "max".
	m = fakeV2(t, fakeControllers, nil)
	if s, err = m.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Limit != math.MaxUint64 || s.Memory.Swap.Limit != math.MaxUint64 {
		t.Errorf("unlimited memory stats = %+v", s.Memory)
	}

	// runc's JSON shape.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("stats JSON lacks %q: %s", k, b)
		}
	}
	if !strings.Contains(string(b), `"usage":{"total":1500000,"kernel":500000,"user":1000000}`) ||
		!strings.Contains(string(b), `"throttling":{"periods":10,"throttledPeriods":4,"throttledTime":70000}`) {
		t.Errorf("cpu JSON: %s", b)
	}

	// A gone cgroup is an error, not zeros.
	m = fakeV2(t, fakeControllers, nil)
	if err := os.RemoveAll(m.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stats(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stats of a gone cgroup = %v", err)
	}
}

func TestV2FakeDestroy(t *testing.T) {
	m := fakeV2(t, fakeControllers, map[string]string{"cgroup.procs": "999999\n"})
	old := destroyTimeout
	destroyTimeout = 100 * time.Millisecond
	defer func() { destroyTimeout = old }()
	if err := m.Destroy(); err == nil || !strings.Contains(err.Error(), "999999") {
		t.Fatalf("Destroy with a process = %v", err)
	}
	if _, err := os.Stat(m.dir); err != nil {
		t.Fatal("Destroy removed a cgroup that still had a process")
	}
	mustWrite(t, filepath.Join(m.dir, "cgroup.procs"), "")
	mustWrite(t, filepath.Join(m.dir, "sub", "cgroup.procs"), "")
	mustWrite(t, filepath.Join(m.mountpoint, "rt", "c2", "cgroup.procs"), "")
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leaf left: %v", err)
	}
	// The parent /rt stays while another container uses it.
	if _, err := os.Stat(filepath.Dir(m.dir)); err != nil {
		t.Fatalf("parent removed: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if _, err := m.OpenDir(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenDir of a gone cgroup = %v", err)
	}
}
