package cgroups

// The v2 manager on a real cgroup2 filesystem: the (controller-less)
// unified hierarchy of a hybrid host such as this project's CI machine, or
// /sys/fs/cgroup on a unified host. Processes, freeze, kill, clone into
// the cgroup, eBPF device filters, stats and removal all work there even
// without controllers.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cgroupsv3 "github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func newUnified(t *testing.T, name string) *v2Manager {
	t.Helper()
	needRoot(t)
	var mnt string
	switch cgroupsv3.Mode() {
	case cgroupsv3.Hybrid:
		mnt = "/sys/fs/cgroup/unified"
	case cgroupsv3.Unified:
		mnt = unifiedMountpoint
	default:
		t.Skip("no cgroup2 filesystem mounted")
	}
	m, err := newV2(mnt, testCgroup(t, name, mnt))
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

func unifiedCgroupOf(t *testing.T, pid int) string {
	t.Helper()
	for _, line := range strings.Split(readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid)), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	t.Fatalf("pid %d has no cgroup2 membership", pid)
	return ""
}

func TestV2RealProcessesFreezeKill(t *testing.T) {
	m := newUnified(t, "v2procs")
	p := startProc(t, "read _; sleep 100 & sleep 100 & wait", nil)
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	if got := unifiedCgroupOf(t, p.pid()); got != m.Path() {
		t.Fatalf("pid in %s, want %s", got, m.Path())
	}
	p.step(t)
	eventually(t, 5*time.Second, "3 processes", func() bool {
		pids, _ := m.Pids()
		return len(pids) == 3
	})

	if exists(m.dir, "cgroup.freeze") {
		if err := m.Freeze(); err != nil {
			t.Fatal(err)
		}
		if paused, err := m.Paused(); err != nil || !paused {
			t.Fatalf("Paused() = %v, %v", paused, err)
		}
		if ev := readTrim(t, m.dir+"/cgroup.events"); !strings.Contains(ev, "frozen 1") {
			t.Fatalf("cgroup.events after Freeze: %s", ev)
		}
		if err := m.Thaw(); err != nil {
			t.Fatal(err)
		}
		if paused, _ := m.Paused(); paused {
			t.Fatal("still paused after Thaw")
		}
	}
	// SIGTERM goes through freeze/list/signal/thaw.
	if err := m.Kill(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t, 5*time.Second)
	eventually(t, 5*time.Second, "cgroup to empty", func() bool {
		pids, _ := m.Pids()
		return len(pids) == 0
	})

	// SIGKILL uses cgroup.kill.
	p2 := startProc(t, "read _; exec sleep 100", nil)
	if err := m.Apply(p2.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p2.wait(t, 5*time.Second)

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total == 0 {
		t.Errorf("no cpu usage in stats: %+v", st.CPU)
	}
}

// The child is in the cgroup from clone(2) on (UseCgroupFD), and the eBPF
// device filter keeps /dev/fuse closed while the default devices work.
func TestV2RealCloneIntoCgroupAndDeviceFilter(t *testing.T) {
	m := newUnified(t, "v2clone")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this host")
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	dir, err := m.OpenDir()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	p := startProc(t, `read _; for d in /dev/null /dev/zero /dev/fuse; do if (exec 3<$d) 2>/dev/null; then echo "$d ok"; else echo "$d denied"; fi; done`,
		&syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())})
	if got := unifiedCgroupOf(t, p.pid()); got != m.Path() {
		t.Fatalf("child cloned into %s, want %s", got, m.Path())
	}
	p.step(t)
	_ = p.wait(t, 10*time.Second)
	if want := "/dev/null ok\n/dev/zero ok\n/dev/fuse denied\n"; p.output() != want {
		t.Fatalf("got\n%s\nwant\n%s", p.output(), want)
	}
	// A second Set replaces the filter (not stacked): fuse opens now.
	allow := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rwm"}}
	if err := m.Set(&specs.LinuxResources{Devices: allow}); err != nil {
		t.Fatal(err)
	}
	p2 := startProc(t, "read _; (exec 3</dev/fuse) && echo fuse ok", &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())})
	p2.step(t)
	_ = p2.wait(t, 10*time.Second)
	if !strings.Contains(p2.output(), "fuse ok") {
		t.Fatalf("fuse still denied after allowing it: %s", p2.output())
	}
}

// Controllers the hierarchy does not give the cgroup are clear errors.
func TestV2RealMissingControllers(t *testing.T) {
	m := newUnified(t, "v2missing")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	ctrls := strings.Fields(readTrim(t, m.dir+"/cgroup.controllers"))
	if slices.Contains(ctrls, "memory") {
		t.Skip("memory controller is available here")
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib)}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "linux.resources.memory: memory controller not available") {
		t.Fatalf("Set(memory) = %v", err)
	}
	if _, err := m.OOMEvents(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OOMEvents = %v, want ErrUnavailable", err)
	}
}
