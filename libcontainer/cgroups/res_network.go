package cgroups

import (
	"fmt"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.network: the net_cls and net_prio controllers (v1 only).
var networkResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return r.Network != nil },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		n := r.Network
		if n == nil {
			return
		}
		if n.ClassID != nil {
			v.add(v.need("network.classID", cgroup1.NetCLS))
		}
		if len(n.Priorities) > 0 {
			v.add(v.need("network.priorities", cgroup1.NetPrio))
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		n := r.Network
		if n == nil {
			return nil
		}
		nr := &specs.LinuxResources{Network: n}
		// containerd writes these in Create, not in Update.
		if n.ClassID != nil {
			if err := m.sub(cgroup1.NetCLS).(v1Creator).Create(m.path, nr); err != nil {
				return fmt.Errorf("linux.resources.network.classID: %w", err)
			}
		}
		if len(n.Priorities) > 0 {
			if err := m.sub(cgroup1.NetPrio).(v1Creator).Create(m.path, nr); err != nil {
				return fmt.Errorf("linux.resources.network.priorities: %w", err)
			}
		}
		return nil
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
			v.add(v1only("network"))
		}
	},
}
