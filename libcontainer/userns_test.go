package libcontainer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Subordinate ranges: entries by name or uid, several ranges mapped one
// after the other from container id 1, as podman does.
func TestRootlessSubIDsAndFullMap(t *testing.T) {
	dir := t.TempDir()
	oldU, oldG := subuidFile, subgidFile
	subuidFile, subgidFile = filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	t.Cleanup(func() { subuidFile, subgidFile = oldU, oldG })
	name := "0" // the test's own user, by uid when /etc/passwd has no name
	if s, err := CallerSubIDs(); err == nil {
		name = s.Name
	}
	os.WriteFile(subuidFile, []byte("someone:1000:10\n"+name+":200000:65536\n0:400000:100\n"), 0o644)
	s, err := CallerSubIDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.UIDs) != 2 || s.UIDs[0].SubID != 200000 || s.UIDs[1].SubID != 400000 || len(s.GIDs) != 0 {
		t.Fatalf("ranges %+v %+v; want the two entries for %s (name and uid), no gid ones (no file)", s.UIDs, s.GIDs, name)
	}
	m := fullMap(1234, s.UIDs)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1234, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 65536}, {ContainerID: 65537, HostID: 400000, Size: 100}}
	if len(m) != len(want) {
		t.Fatalf("map %v, want %v", m, want)
	}
	for i := range m {
		if m[i] != want[i] {
			t.Errorf("map %v, want %v", m, want)
		}
	}
	if !inRanges(specs.LinuxIDMapping{HostID: 200010, Size: 100}, s.UIDs) || inRanges(specs.LinuxIDMapping{HostID: 265530, Size: 10}, s.UIDs) {
		t.Error("inRanges: want inside and straddling the end told apart")
	}
}

// A process user the namespace's maps lack is refused before anything is
// made, naming the field and what to do, for root as for users.
func TestCheckUserMapped(t *testing.T) {
	one := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	spec := func(u specs.User) *specs.Spec {
		return &specs.Spec{Process: &specs.Process{User: u}, Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.UserNamespace}}, UIDMappings: one, GIDMappings: one,
		}}
	}
	for _, c := range []struct {
		u    specs.User
		want string
	}{
		{specs.User{}, ""},
		{specs.User{UID: 1000}, "process.user.uid 1000 is not mapped by linux.uidMappings"},
		{specs.User{GID: 5}, "process.user.gid 5 is not mapped by linux.gidMappings"},
		{specs.User{AdditionalGids: []uint32{0, 10}}, "process.user.additionalGids: 10 is not mapped"},
	} {
		err := checkRootlessMaps(spec(c.u))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--user 0:0")) {
			t.Errorf("user %+v: %v, want %q", c.u, err, c.want)
		}
	}
	// Joining an existing user namespace: its maps are not the spec's.
	s := spec(specs.User{UID: 1000})
	s.Linux.Namespaces[0].Path = "/proc/1/ns/user"
	if err := checkRootlessMaps(s); err != nil {
		t.Errorf("joined namespace: %v", err)
	}
}

// The maps of a joined user namespace, as nsenter.c reads them from
// /proc/self/uid_map (columns padded by the kernel).
func TestParseIDMap(t *testing.T) {
	got, err := parseIDMap("         0     100000        100\n       100     300000          5\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 100}, {ContainerID: 100, HostID: 300000, Size: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseIDMap("0 1\n"); err == nil {
		t.Fatal("a short line was accepted")
	}
}
