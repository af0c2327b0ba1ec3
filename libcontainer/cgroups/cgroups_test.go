package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolvePath(t *testing.T) {
	for _, tc := range []struct {
		id, in, want, err string
	}{
		{id: "c1", in: "", want: "/rt/c1"},
		{id: "c1", in: "/machine/c1", want: "/machine/c1"},
		{id: "c1", in: "/a//b/../c/", want: "/a/c"},
		{id: "c1", in: "pod1/c1", want: "/rt/pod1/c1"},
		{id: "c1", in: "../escape", err: "relative path leaves /rt"},
		{id: "c1", in: "/", err: "root cgroup"},
		{id: "c1", in: "/sys/fs/cgroup/memory/x", err: "must not include the mountpoint"},
		{id: "c1", in: "system.slice:rt:c1", err: "--systemd-cgroup"},
		{id: "a/b", in: "", err: "without '/'"},
	} {
		got, err := ResolvePath(tc.id, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolvePath(%q, %q) = %q, %v; want error %q", tc.id, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolvePath(%q, %q) = %q, %v; want %q", tc.id, tc.in, got, err, tc.want)
		}
	}
	if _, err := New("c1", ":rt:c1"); !errors.Is(err, ErrSystemdPath) {
		t.Errorf("New with a systemd path = %v, want ErrSystemdPath", err)
	}
	for _, bad := range []string{"", "/", "rel", "/a/../b"} {
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%q) succeeded", bad)
		}
	}
}

func TestNewDoesNotCreate(t *testing.T) {
	m, err := New("rt-test-never-created", "")
	if err != nil {
		t.Skip(err) // no cgroups at all here
	}
	if m.Path() != "/rt/rt-test-never-created" {
		t.Fatalf("Path() = %s", m.Path())
	}
	mode, _ := HostMode()
	if m.Mode() != mode {
		t.Fatalf("Mode() = %s, host %s", m.Mode(), mode)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/rt/rt-test-never-created"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New created a cgroup: %v", err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/rt/rt-test-never-created"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New created a cgroup: %v", err)
	}
}

func TestV1Hierarchies(t *testing.T) {
	hs, err := V1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	if mode, _ := HostMode(); mode != ModeV1 {
		if len(hs) != 0 {
			t.Fatalf("v1 hierarchies on a %s host: %+v", mode, hs)
		}
		return
	}
	byName := map[string]Hierarchy{}
	for _, h := range hs {
		byName[h.Name] = h
		if h.Options() == "" || strings.Contains(h.Options(), "rw") || h.Mountpoint == "" {
			t.Errorf("bad hierarchy %+v", h)
		}
	}
	var cpu Hierarchy
	for _, h := range hs {
		if slices.Contains(h.Controllers, "cpu") {
			cpu = h
		}
	}
	if cpu.Name == "" || !strings.HasPrefix(cpu.Mountpoint, "/sys/fs/cgroup/") {
		t.Errorf("no cpu hierarchy in %+v", hs)
	}
	if s, ok := byName["systemd"]; ok && s.Options() != "name=systemd" {
		t.Errorf("systemd hierarchy options %q", s.Options())
	}
	if _, ok := byName["unified"]; ok {
		t.Error("the cgroup2 mount listed as a v1 hierarchy")
	}
}

func TestDeviceRules(t *testing.T) {
	rules, err := deviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rw"},
		{Allow: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3+len(DefaultAllowedDevices) {
		t.Fatalf("%d rules", len(rules))
	}
	// The config's rules first, in order; the defaults last, so they win.
	want := []string{"a *:* rwm", "c 10:229 rw", "a *:* rwm"}
	for i, w := range want {
		if got := rules[i].CgroupString(); got != w {
			t.Errorf("rule %d = %q, want %q", i, got, w)
		}
	}
	var tail []string
	for _, r := range rules[3:] {
		if !r.Allow {
			t.Errorf("default rule %v denies", r)
		}
		tail = append(tail, r.CgroupString())
	}
	for _, w := range []string{"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"} {
		if !slices.Contains(tail, w) {
			t.Errorf("default %q missing from %v", w, tail)
		}
	}
	if slices.Contains(tail, "c 10:229 rwm") {
		t.Error("fuse allowed by default")
	}
	if rules[3].Type != devconfig.CharDevice || rules[3].Permissions != "m" {
		t.Errorf("first default = %+v, want mknod of char devices", rules[3])
	}
	for _, bad := range []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}, {Type: "c", Access: "rx"}} {
		if _, err := deviceRules([]specs.LinuxDeviceCgroup{bad}); err == nil || !strings.Contains(err.Error(), "linux.resources.devices[0]") {
			t.Errorf("deviceRules(%+v) = %v", bad, err)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	if got := parseCPUList("0-3,8,10-11"); !slices.Equal(got, []uint16{0, 1, 2, 3, 8, 10, 11}) {
		t.Fatalf("got %v", got)
	}
	if got := parseCPUList(""); got != nil {
		t.Fatalf("got %v", got)
	}
}

// fakeV1 lays out <tmp>/<controller>/rt/c1 with the given files, the way
// /sys/fs/cgroup looks on a v1 host with only those controllers.
func fakeV1(t *testing.T, files map[string]string) *v1Manager {
	t.Helper()
	root := t.TempDir()
	for f, v := range files {
		ctrl, file, _ := strings.Cut(f, "/")
		mustWrite(t, filepath.Join(root, ctrl, "rt", "c1", file), v)
	}
	m, err := newV1(root, "/rt/c1")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestV1FakeValidation(t *testing.T) {
	base := map[string]string{
		"memory/memory.limit_in_bytes":         "9223372036854771712\n",
		"cpu/cpu.shares":                       "1024\n",
		"pids/pids.max":                        "max\n",
		"blkio/blkio.throttle.read_bps_device": "",
		"devices/devices.list":                 "a *:* rwm\n",
	}
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		want string
	}{
		{"hugetlb", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "linux.resources.hugepageLimits: hugetlb controller not available"},
		{"classid", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, "linux.resources.network.classID: net_cls controller not available"},
		{"priorities", specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}}, "linux.resources.network.priorities: net_prio controller not available"},
		{"unified", specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "linux.resources.unified: invalid configuration: needs cgroup v2"},
		{"rdma", specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {}}}, "linux.resources.rdma: rdma controller not available"},
		{"realtime", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1)}}, "linux.resources.cpu.realtimeRuntime: realtime group scheduling"},
		{"cpuset", specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, "linux.resources.cpu.cpus: cpuset controller not available"},
		{"swap", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](mib), Swap: ptr[int64](2 * mib)}}, "linux.resources.memory.swap: swap accounting"},
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 * mib), Swap: ptr[int64](mib)}}, "must be >= memory.limit"},
		{"blkio weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}}, "linux.resources.blockIO.weight: proportional io weight"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, "swappiness: 101 is not in 0..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeV1(t, base)
			err := m.Update(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Swappiness -1 (as uint64) means unset, and empty values are fine.
	m := fakeV1(t, base)
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(^uint64(0))},
		Network: &specs.LinuxNetwork{}, Unified: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
}

func TestV1FakeWrites(t *testing.T) {
	m := fakeV1(t, map[string]string{
		"memory/memory.limit_in_bytes":         "9223372036854771712\n",
		"memory/memory.memsw.limit_in_bytes":   "9223372036854771712\n",
		"memory/memory.soft_limit_in_bytes":    "9223372036854771712\n",
		"memory/memory.oom_control":            "oom_kill_disable 0\n",
		"cpu/cpu.shares":                       "1024\n",
		"cpu/cpu.cfs_quota_us":                 "-1\n",
		"cpu/cpu.cfs_period_us":                "100000\n",
		"cpu/cpu.cfs_burst_us":                 "0\n",
		"cpu/cpu.idle":                         "0\n",
		"pids/pids.max":                        "16\n",
		"blkio/blkio.bfq.weight":               "100\n",
		"blkio/blkio.bfq.weight_device":        "",
		"blkio/blkio.throttle.read_bps_device": "",
		"devices/devices.list":                 "a *:* rwm\n",
	})
	err := m.Update(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](64 * mib), Reservation: ptr[int64](16 * mib), DisableOOMKiller: ptr(true)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0), Period: ptr[uint64](50000), Burst: ptr[uint64](10), Idle: ptr[int64](1)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: mib}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"memory/memory.limit_in_bytes":         "33554432",
		"memory/memory.memsw.limit_in_bytes":   "67108864",
		"memory/memory.soft_limit_in_bytes":    "16777216",
		"memory/memory.oom_control":            "1",
		"cpu/cpu.shares":                       "1024", // 0 = unset, not written
		"cpu/cpu.cfs_quota_us":                 "-1",   // 0 = unset, the kernel would reject it
		"cpu/cpu.cfs_period_us":                "50000",
		"cpu/cpu.cfs_burst_us":                 "10",
		"cpu/cpu.idle":                         "1",
		"pids/pids.max":                        "max",
		"blkio/blkio.bfq.weight":               "500", // no blkio.weight on BFQ-only kernels
		"blkio/blkio.throttle.read_bps_device": "8:0 1048576",
	} {
		ctrl, file, _ := strings.Cut(f, "/")
		if got := readTrim(t, filepath.Join(m.root, ctrl, m.path, file)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if _, err := m.OpenDir(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("OpenDir on v1 = %v", err)
	}
}
