package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// A plain directory under the cgroup root (here net_cls and perf_event on
// the fake root's "tmpfs") is no controller; mounts and links to mounts
// (cpu -> cpu,cpuacct) are.
func TestV1SubsystemsOnlyMounts(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"memory", "cpu,cpuacct", "systemd", "net_cls", "perf_event", "pids"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"cpu", "cpuacct"} {
		if err := os.Symlink("cpu,cpuacct", filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	saved := cgroupMounts
	t.Cleanup(func() { cgroupMounts = saved })
	cgroupMounts = func() ([]*mountinfo.Info, error) {
		return []*mountinfo.Info{
			{Mountpoint: filepath.Join(root, "memory"), FSType: "cgroup", VFSOptions: "rw,memory"},
			{Mountpoint: filepath.Join(root, "cpu,cpuacct"), FSType: "cgroup", VFSOptions: "rw,cpu,cpuacct"},
			{Mountpoint: filepath.Join(root, "systemd"), FSType: "cgroup", VFSOptions: "rw,xattr,name=systemd"},
			// pids mounted elsewhere: root/pids is a plain directory.
			{Mountpoint: "/elsewhere/pids", FSType: "cgroup", VFSOptions: "rw,pids"},
		}, nil
	}
	subs, err := v1Subsystems(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subs {
		names = append(names, string(s.Name()))
	}
	slices.Sort(names)
	if want := []string{"cpu", "cpuacct", "memory", "systemd"}; !slices.Equal(names, want) {
		t.Fatalf("subsystems %v, want %v", names, want)
	}
}
