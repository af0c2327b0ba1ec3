package libcontainer

import (
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestStripRoot(t *testing.T) {
	for _, c := range []struct{ root, in, want string }{
		{"/b/rootfs", "/b/rootfs/mnt", "/mnt"},
		{"/b/rootfs", "/b/rootfs", "/"},
		{"/b/rootfs/", "/b/rootfs//mnt/../x", "/x"},
		{"/b/rootfs", "/b/rootfs-other/mnt", "/b/rootfs-other/mnt"},
		{"/b/rootfs", "/b/rootfs/../outside", "/b/outside"}, // not inside: a path in the rootfs like any other
		{"/b/rootfs", "/etc/hosts", "/etc/hosts"},
		{"/", "/mnt", "/mnt"},
	} {
		if got := stripRoot(c.root, c.in); got != c.want {
			t.Errorf("stripRoot(%q, %q) = %q, want %q", c.root, c.in, got, c.want)
		}
	}
}

func TestHasDataOption(t *testing.T) {
	for _, c := range []struct {
		data string
		want bool
	}{{"", false}, {"size=1k", false}, {"size=1k,mode=755", true}, {"mode=1777", true}, {"nomode=1", false}, {"mode", true}} {
		if got := hasDataOption(c.data, "mode"); got != c.want {
			t.Errorf("hasDataOption(%q) = %v", c.data, got)
		}
	}
}

func TestUnixMode(t *testing.T) {
	if got := unixMode(0o710 | os.ModeSetuid | os.ModeSetgid | os.ModeSticky | os.ModeDir); got != 0o7710 {
		t.Fatalf("got %o", got)
	}
	if got := unixMode(0o755 | os.ModeDir); got != 0o755 {
		t.Fatalf("got %o", got)
	}
}

func TestMountIDMapping(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec := &specs.Spec{Linux: &specs.Linux{UIDMappings: maps, GIDMappings: maps}}
	if mountIDMapping(spec, &specs.Mount{Type: "bind", Options: []string{"rbind"}}) != nil {
		t.Fatal("plain bind mount taken as id-mapped")
	}
	idm := mountIDMapping(spec, &specs.Mount{Type: "bind", Options: []string{"ridmap"}})
	if idm == nil || !idm.recursive || len(idm.uids) != 1 || len(idm.gids) != 1 {
		t.Fatalf("ridmap without maps should take the container's: %+v", idm)
	}
	own := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 5, Size: 1}}
	idm = mountIDMapping(spec, &specs.Mount{Type: "bind", UIDMappings: own, GIDMappings: own})
	if idm == nil || idm.recursive || idm.uids[0].HostID != 5 {
		t.Fatalf("the mount's own maps: %+v", idm)
	}
}

func TestCheckIDMapMount(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	for _, c := range []struct {
		m    specs.Mount
		want string
	}{
		{specs.Mount{Type: "tmpfs", Destination: "/x", Options: []string{"idmap"}}, "must be bind mounts"},
		{specs.Mount{Type: "bind", Destination: "/x", Options: []string{"idmap"}}, "needs both"},
		{specs.Mount{Type: "bind", Destination: "/x", UIDMappings: maps}, "needs both"},
		{specs.Mount{Type: "bind", Destination: "/x", UIDMappings: maps, GIDMappings: []specs.LinuxIDMapping{{Size: 0}}}, "size 0"},
		{specs.Mount{Type: "bind", Destination: "/x", UIDMappings: maps, GIDMappings: maps}, ""},
		{specs.Mount{Type: "bind", Destination: "/x", Options: []string{"rbind"}}, ""},
	} {
		spec := &specs.Spec{Linux: &specs.Linux{}, Mounts: []specs.Mount{c.m}}
		err := checkIDMapMount(spec, 0)
		if os.Geteuid() != 0 && c.want == "" && err != nil && strings.Contains(err.Error(), "as root") {
			continue
		}
		if (c.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "mounts[0]"))) {
			t.Errorf("%+v: got %v, want %q", c.m, err, c.want)
		}
	}
}
