package cgroups

import (
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// resource is everything rt does with one part of config.json's
// linux.resources, in one file (res_<name>.go): which values count as
// limits, what the host must have for them (both versions), how they are
// written on v1 and on v2, and how the part is read back for `rt events`.
// A nil function has nothing to do. Adding a resource is its res_*.go, one
// line in the resources list below, and its test.
type resource struct {
	// hasLimits reports whether r sets a limit with this resource (HasLimits).
	hasLimits func(r *specs.LinuxResources) bool
	// notOnUpdate: `rt update` never touches it (runc's SkipDevices).
	notOnUpdate bool
	// validateV1/validateV2 add one error per set value the host cannot
	// hold, naming the config.json field. They run for every resource
	// before anything is written, so a refused config changes nothing.
	validateV1 func(v *v1Check, r *specs.LinuxResources)
	validateV2 func(v *v2Check, r *specs.LinuxResources)
	// setV1 writes the resource into the v1 hierarchies.
	setV1 func(m *v1Manager, r *specs.LinuxResources) error
	// planV2 adds to the v2 plan: what containerd writes in one Update,
	// then the plain file writes.
	planV2 func(m *v2Manager, r *specs.LinuxResources, p *v2Plan) error
	// statsV1/statsV2 fill the resource's part of Stats from containerd's
	// metrics and, where containerd lacks them, the cgroup's files.
	statsV1 func(m *v1Manager, metrics *v1stats.Metrics, s *Stats)
	statsV2 func(dir string, metrics *v2stats.Metrics, s *Stats)
}

// resources in the order v1 writes them (runc's fs driver). v2's plain
// writes follow the same order after containerd's; unified is last so its
// raw values win over the translated ones, as in runc.
var resources = []*resource{
	&cpusetResource,
	&devicesResource,
	&memoryResource,
	&cpuResource,
	&pidsResource,
	&blkioResource,
	&hugetlbResource,
	&networkResource,
	&rdmaResource,
	&unifiedResource,
}

// HasLimits reports whether r sets any limit. Device rules alone do not
// count: without a device cgroup they are only the defaults (a rootless
// container without cgroup rights may run without them, as in runc).
func HasLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	for _, res := range resources {
		if res.hasLimits != nil && res.hasLimits(r) {
			return true
		}
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
