package cgroups

import (
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.cpu.cpus and .mems: the cpuset controller.
var cpusetResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return r.CPU != nil },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		if hasCpuset(r) {
			v.add(v.need("cpu.cpus", cgroup1.Cpuset))
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		if !hasCpuset(r) {
			return nil
		}
		cs := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: r.CPU.Cpus, Mems: r.CPU.Mems}}
		return m.update("cpu.cpus/mems", cgroup1.Cpuset, cs)
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		if hasCpuset(r) {
			v.add(v.need("cpu.cpus", "cpuset"))
		}
	},
	planV2: func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		if hasCpuset(r) {
			p.cpu().Cpus, p.cpu().Mems = r.CPU.Cpus, r.CPU.Mems
		}
		return nil
	},
	statsV1: func(m *v1Manager, _ *v1stats.Metrics, s *Stats) {
		// containerd does not read cpuset; runc reports its files.
		if dir := m.dir(cgroup1.Cpuset); dir != "" {
			s.CPUSet = readCPUSet(dir)
		}
	},
	statsV2: func(dir string, _ *v2stats.Metrics, s *Stats) {
		if exists(dir, "cpuset.cpus.effective") {
			s.CPUSet.CPUs = parseCPUList(strings.TrimSpace(must(readFile(dir, "cpuset.cpus.effective"))))
			s.CPUSet.Mems = parseCPUList(strings.TrimSpace(must(readFile(dir, "cpuset.mems.effective"))))
		}
	},
}

func hasCpuset(r *specs.LinuxResources) bool {
	return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "")
}

type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

func readCPUSet(dir string) CPUSet {
	var c CPUSet
	list := func(file string) []uint16 {
		s, err := readFile(dir, file)
		if err != nil {
			return nil
		}
		return parseCPUList(strings.TrimSpace(s))
	}
	num := func(file string) uint64 {
		v, _ := readUint(dir, file)
		return v
	}
	c.CPUs = list("cpuset.cpus")
	c.Mems = list("cpuset.mems")
	c.CPUExclusive = num("cpuset.cpu_exclusive")
	c.MemHardwall = num("cpuset.mem_hardwall")
	c.MemExclusive = num("cpuset.mem_exclusive")
	c.MemoryMigrate = num("cpuset.memory_migrate")
	c.MemorySpreadPage = num("cpuset.memory_spread_page")
	c.MemorySpreadSlab = num("cpuset.memory_spread_slab")
	c.MemoryPressure = num("cpuset.memory_pressure")
	c.SchedLoadBalance = num("cpuset.sched_load_balance")
	if s, err := readFile(dir, "cpuset.sched_relax_domain_level"); err == nil {
		c.SchedRelaxDomainLevel, _ = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	}
	return c
}

// parseCPUList parses the kernel's list format ("0-3,8,10-11").
func parseCPUList(s string) []uint16 {
	var out []uint16
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, uint16(i))
		}
	}
	return out
}

func must(s string, _ error) string { return s }
