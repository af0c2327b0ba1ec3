package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// A rootless unpack as the user itself (no chown): the entries the image
// gives to others than root are counted, once each, and reported in one
// line; the unpack does not fail and warns nothing else.
func TestRootlessLossReport(t *testing.T) {
	dir := t.TempDir()
	var warnings []string
	u, err := NewUnpacker(dir, func(m string) { warnings = append(warnings, m) })
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.chown = false // as an ordinary user without subordinate ids
	l := &LossReport{}
	u.losses = l
	layer := layerTar(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n"},
		ent{name: "home/", typ: tar.TypeDir, uid: 1000, gid: 1000},
		ent{name: "home/f", body: "x", uid: 1000, gid: 100},
		ent{name: "var/cache/", typ: tar.TypeDir, gid: 42},
		ent{name: "link", typ: tar.TypeSymlink, link: "home/f", uid: 7},
	)
	if err := u.ApplyLayer(context.Background(), bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	if err := u.Finish(); err != nil {
		t.Fatal(err)
	}
	if l.Owners != 4 || l.OwnerEx != `"home/" 1000:1000` || l.Devices != 0 || len(l.Xattrs) != 0 {
		t.Errorf("report %+v; want 4 owners, the first home/", l)
	}
	if s := l.String(); !strings.HasPrefix(s, `the owner of 4 entries (e.g. "home/" 1000:1000; they belong to root in the container)`) {
		t.Errorf("String() = %q", s)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q; the losses are reported by the import, once", warnings)
	}
	if st := lstat(t, dir+"/home/f"); int(st.Uid) != os.Geteuid() {
		t.Errorf("home/f owner %d, want ours", st.Uid)
	}

	// One warning from the import: the losses, an unmapped image user, why.
	spec := &specs.Spec{Process: &specs.Process{User: specs.User{UID: 1000, GID: 1000}}, Linux: &specs.Linux{
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1234, Size: 1}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1234, Size: 1}},
	}}
	warnings = nil
	warnRootless(func(m string) { warnings = append(warnings, m) }, l, spec, "user u has no range in /etc/subuid")
	if len(warnings) != 1 || !strings.Contains(warnings[0], "the image's user 1000:1000") || !strings.HasSuffix(warnings[0], "only your own uid and gid are mapped: user u has no range in /etc/subuid") {
		t.Errorf("warnings %q", warnings)
	}
	warnings = nil
	spec.Process.User = specs.User{}
	warnRootless(func(m string) { warnings = append(warnings, m) }, &LossReport{}, spec, "why")
	if len(warnings) != 0 {
		t.Errorf("nothing lost, yet %q", warnings)
	}
}

// config.json of a rootless import: a user namespace with the maps given,
// /sys bound from the host without a network namespace of its own, and
// devpts's gid=5 only where gid 5 is mapped.
func TestRootlessSpec(t *testing.T) {
	dir := t.TempDir()
	single := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	full := append(single, specs.LinuxIDMapping{ContainerID: 1, HostID: 100000, Size: 65536})
	img := &ispec.Image{Config: ispec.ImageConfig{Cmd: []string{"sh"}}}
	for _, c := range []struct {
		name    string
		opts    SpecOptions
		sysType string
		gid5    bool
	}{
		{"full", SpecOptions{UIDMappings: full, GIDMappings: full}, "sysfs", true},
		{"single", SpecOptions{UIDMappings: single, GIDMappings: single}, "sysfs", false},
		{"host network", SpecOptions{UIDMappings: full, GIDMappings: full, HostNetwork: true}, "none", true},
	} {
		s, err := RuntimeSpec(dir, img, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		userns := false
		for _, ns := range s.Linux.Namespaces {
			userns = userns || ns.Type == specs.UserNamespace && ns.Path == ""
		}
		if !userns || len(s.Linux.UIDMappings) != len(c.opts.UIDMappings) || s.Linux.GIDMappings[0].HostID != 1000 {
			t.Errorf("%s: namespaces %v, maps %v %v", c.name, s.Linux.Namespaces, s.Linux.UIDMappings, s.Linux.GIDMappings)
		}
		for _, m := range s.Mounts {
			if m.Destination == "/sys" && m.Type != c.sysType {
				t.Errorf("%s: /sys mount %+v, want type %s", c.name, m, c.sysType)
			}
			if m.Type == "devpts" && strings.Contains(strings.Join(m.Options, ","), "gid=5") != c.gid5 {
				t.Errorf("%s: devpts options %v", c.name, m.Options)
			}
		}
	}
	// Without maps, the spec is root's, as before.
	s, err := RuntimeSpec(dir, img, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.UIDMappings) != 0 {
		t.Errorf("a rootful import got maps %v", s.Linux.UIDMappings)
	}
}
