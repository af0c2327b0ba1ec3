package cgroups

import (
	"sort"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.rdma: the rdma controller, one rdma.max line per device
// on both versions (containerd's cgroup1 stops after the first device).
var rdmaResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return len(r.Rdma) > 0 },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		if len(r.Rdma) > 0 {
			v.add(v.need("rdma", cgroup1.Rdma))
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		dir := m.dir(cgroup1.Rdma)
		for _, l := range rdmaLines(r.Rdma) {
			if err := writeLimit(l.field, dir, "rdma.max", l.line); err != nil {
				return err
			}
		}
		return nil
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		if len(r.Rdma) > 0 {
			v.add(v.need("rdma", "rdma"))
		}
	},
	planV2: func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		for _, l := range rdmaLines(r.Rdma) {
			p.write(l.field, "rdma.max", l.line)
		}
		return nil
	},
}

type rdmaLine struct{ field, line string }

// rdmaLines are the rdma.max lines of the limits, by device name; a
// device without a limit has none.
func rdmaLines(rdma map[string]specs.LinuxRdma) []rdmaLine {
	devs := make([]string, 0, len(rdma))
	for d := range rdma {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	var out []rdmaLine
	for _, d := range devs {
		l, line := rdma[d], d
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line != d {
			out = append(out, rdmaLine{"rdma[" + d + "]", line})
		}
	}
	return out
}
