package cgroups

import (
	"math"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	"github.com/containerd/cgroups/v3/cgroup2"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.pids: the pids controller.
var pidsResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return r.Pids != nil },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		if hasPidsLimit(r) {
			v.add(v.need("pids", cgroup1.Pids))
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		if !hasPidsLimit(r) {
			return nil
		}
		return writeLimit("pids.limit", m.dir(cgroup1.Pids), "pids.max", pidsMax(*r.Pids.Limit))
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		if hasPidsLimit(r) {
			v.add(v.need("pids", "pids"))
		}
	},
	planV2: func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		if hasPidsLimit(r) {
			max := *r.Pids.Limit
			switch {
			case max == 0:
				max = 1 // see pidsMax
			case max < 0:
				max = -1 // containerd writes "max" for a negative value
			}
			p.res.Pids = &cgroup2.Pids{Max: max}
		}
		return nil
	},
	statsV1: func(_ *v1Manager, metrics *v1stats.Metrics, s *Stats) {
		if p := metrics.Pids; p != nil {
			s.Pids = Pids{Current: p.Current, Limit: p.Limit}
		}
	},
	statsV2: func(_ string, metrics *v2stats.Metrics, s *Stats) {
		if p := metrics.Pids; p != nil {
			s.Pids = Pids{Current: p.Current, Limit: p.Limit}
			if p.Limit == math.MaxUint64 {
				s.Pids.Limit = 0 // runc reports "no limit" as 0
			}
		}
	},
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

func hasPidsLimit(r *specs.LinuxResources) bool {
	return r.Pids != nil && r.Pids.Limit != nil
}

// pidsMax is the pids.max value of a limit: a negative one is unlimited
// (runtime-spec: -1); 0 is 1, as in runc 1.2 and later: systemd's TasksMax
// cannot be 0, and both drivers must agree. Before that runc took 0 as
// unlimited, which turned the strictest limit into none.
func pidsMax(limit int64) string {
	switch {
	case limit == 0:
		return "1"
	case limit < 0:
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}
