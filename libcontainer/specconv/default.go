// Package specconv holds rt's default OCI spec: the one `rt spec` writes and
// `rt import` starts from.
//
// It reuses runc's libcontainer/specconv example on purpose, so a bundle made
// by rt looks exactly like one made by `runc spec` (same namespaces, mounts,
// masked and read-only paths).
package specconv

import (
	"os"

	runcspec "github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns the example spec. With rootless set it is adjusted for an
// unprivileged user (user namespace, no cgroup, bind-mounted sysfs), as
// `runc spec --rootless` does.
func Default(rootless bool) *specs.Spec {
	s := runcspec.Example()
	s.Hostname = "rt"
	// A private cgroup namespace: the container sees its own cgroup as "/"
	// (Docker's default on cgroup v2, and what nested runtimes expect).
	// runc's example already has one on a cgroup v2 host: never two.
	if _, err := os.Stat("/proc/self/ns/cgroup"); err == nil && !hasNamespace(s, specs.CgroupNamespace) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	if rootless {
		runcspec.ToRootless(s)
	}
	return s
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}
