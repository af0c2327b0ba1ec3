package cgroups

import (
	"os"
	"strings"
	"testing"

	ocgroups "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runc's "slice:prefix:name" rules, without systemd: the unit, its cgroup
// path and the triple state.json keeps.
func TestSystemdUnitPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the default slice differs for rootless callers")
	}
	if _, err := HostMode(); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct{ in, triple, path string }{
		{"", "system.slice:rt:c1", "/system.slice/rt-c1.scope"},
		{"system.slice:docker:c1", "system.slice:docker:c1", "/system.slice/docker-c1.scope"},
		{":crio:c1", "system.slice:crio:c1", "/system.slice/crio-c1.scope"},
		{"kubepods-burstable-pod1.slice:cri-containerd:c1", "kubepods-burstable-pod1.slice:cri-containerd:c1",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-c1.scope"},
		{"-:p:c1", "-.slice:p:c1", "/p-c1.scope"},
	} {
		parts := strings.Split(tc.in, ":")
		cfg := &ocgroups.Cgroup{Resources: &ocgroups.Resources{}, ScopePrefix: DefaultScopePrefix, Name: "c1"}
		if tc.in != "" {
			cfg.Parent, cfg.ScopePrefix, cfg.Name = parts[0], parts[1], parts[2]
		}
		if err := unitDefaults(cfg); err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		m, err := newSystemd(cfg)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if m.triple != tc.triple || m.Path() != tc.path {
			t.Errorf("%q: unit %q at %q, want %q at %q", tc.in, m.triple, m.Path(), tc.triple, tc.path)
		}
	}
}

// Bad paths are refused before systemd is asked anything.
func TestSystemdBadPaths(t *testing.T) {
	for in, want := range map[string]string{
		"/abs/path":         `must be "slice:prefix:name"`,
		"a:b":               `must be "slice:prefix:name"`,
		"a/b.slice:x:y":     `not allowed in a unit name`,
		"system.slice:x:..": `unit name "x-...scope"`,
		"system.slice:x:":   `the name part is empty`,
		"system:x:y":        `invalid slice name`,
		"a--b.slice:x:y":    `invalid slice name`,
	} {
		_, err := NewSystemd("c1", &specs.Spec{Linux: &specs.Linux{CgroupsPath: in}})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "linux.cgroupsPath") {
			t.Errorf("%q: %v, want an error naming linux.cgroupsPath with %q", in, err, want)
		}
	}
}
