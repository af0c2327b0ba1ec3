package cgroups

import (
	"fmt"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	"github.com/containerd/cgroups/v3/cgroup2"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.hugepageLimits: the hugetlb controller.
var hugetlbResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return len(r.HugepageLimits) > 0 },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		if len(r.HugepageLimits) == 0 {
			return
		}
		if err := v.need("hugepageLimits", cgroup1.Hugetlb); err != nil {
			v.add(err)
			return
		}
		for _, h := range r.HugepageLimits {
			if !exists(v.m.dir(cgroup1.Hugetlb), "hugetlb."+h.Pagesize+".limit_in_bytes") {
				v.add(unavailable("hugepageLimits", fmt.Sprintf("huge page size %q", h.Pagesize)))
			}
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		if len(r.HugepageLimits) == 0 {
			return nil
		}
		return m.update("hugepageLimits", cgroup1.Hugetlb, &specs.LinuxResources{HugepageLimits: r.HugepageLimits})
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		if len(r.HugepageLimits) == 0 {
			return
		}
		if err := v.need("hugepageLimits", "hugetlb"); err != nil {
			v.add(err)
			return
		}
		for _, h := range r.HugepageLimits {
			if !exists(v.m.dir, "hugetlb."+h.Pagesize+".max") {
				v.add(unavailable("hugepageLimits", fmt.Sprintf("huge page size %q", h.Pagesize)))
			}
		}
	},
	planV2: func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		if len(r.HugepageLimits) == 0 {
			return nil
		}
		h := cgroup2.HugeTlb{}
		for _, l := range r.HugepageLimits {
			h = append(h, cgroup2.HugeTlbEntry{HugePageSize: l.Pagesize, Limit: l.Limit})
		}
		p.res.HugeTlb = &h
		return nil
	},
	statsV1: func(_ *v1Manager, metrics *v1stats.Metrics, s *Stats) {
		for _, h := range metrics.Hugetlb {
			s.Hugetlb[h.Pagesize] = Hugetlb{Usage: h.Usage, Max: h.Max, Failcnt: h.Failcnt}
		}
	},
	statsV2: func(_ string, metrics *v2stats.Metrics, s *Stats) {
		for _, h := range metrics.Hugetlb {
			s.Hugetlb[h.Pagesize] = Hugetlb{Usage: h.Current, Failcnt: h.Failcnt}
		}
	},
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}
