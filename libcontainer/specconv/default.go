// Package specconv holds rt's default OCI spec: the one `rt spec` writes and
// `rt import` starts from.
//
// It reuses runc's libcontainer/specconv example on purpose, so a bundle made
// by rt looks exactly like one made by `runc spec` (same namespaces, mounts,
// masked and read-only paths).
package specconv

import (
	runcspec "github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns the example spec. With rootless set it is adjusted for an
// unprivileged user (user namespace, no cgroup, bind-mounted sysfs), as
// `runc spec --rootless` does.
func Default(rootless bool) *specs.Spec {
	s := runcspec.Example()
	s.Hostname = "rt"
	// No cgroup namespace added on a cgroup v1 host: runc's example has
	// one only on v2, and callers (runc's own tests, tools comparing
	// /proc/PID/cgroup inside and out) rely on the host's paths on v1, as
	// Docker's default --cgroupns=host there.
	if rootless {
		runcspec.ToRootless(s)
	}
	return s
}
