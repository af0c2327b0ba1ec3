package cgroups

import (
	"math"
	"strconv"
	"strings"

	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
)

// The types below marshal exactly like runc's types/events.go, so tools
// that read `runc events` read `rt events` too.

// Event is one line of `rt events`: type "stats" (Data: *Stats) or "oom".
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is runc's events.Stats.
type Stats struct {
	CPU               Cpu                 `json:"cpu"`
	CPUSet            CPUSet              `json:"cpuset"`
	Memory            Memory              `json:"memory"`
	Pids              Pids                `json:"pids"`
	Blkio             Blkio               `json:"blkio"`
	Hugetlb           map[string]Hugetlb  `json:"hugetlb"`
	IntelRdt          IntelRdt            `json:"intel_rdt"`
	NetworkInterfaces []*NetworkInterface `json:"network_interfaces"`
}

type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

type PSIStats struct {
	Some PSIData `json:"some,omitzero"`
	Full PSIData `json:"full,omitzero"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CpuUsage is in nanoseconds, on both hierarchies.
type CpuUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type Cpu struct {
	Usage      CpuUsage   `json:"usage,omitzero"`
	Throttling Throttling `json:"throttling,omitzero"`
	PSI        *PSIStats  `json:"psi,omitempty"`
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

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitzero"`
	Swap      MemoryEntry       `json:"swap,omitzero"`
	Kernel    MemoryEntry       `json:"kernel,omitzero"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitzero"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// IntelRdt is always empty: rt does not manage resctrl. It is kept so the
// JSON has runc's "intel_rdt":{} key.
type IntelRdt struct{}

type NetworkInterface struct {
	Name      string
	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}

// v1Stats converts containerd's v1 metrics. Raw memory and cpuset come
// from the files, as runc reports them and containerd does not.
func v1Stats(m *v1stats.Metrics, memDir, cpusetDir string) *Stats {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	if c := m.CPU; c != nil {
		if u := c.Usage; u != nil {
			s.CPU.Usage = CpuUsage{Total: u.Total, Percpu: u.PerCPU, Kernel: u.Kernel, User: u.User}
		}
		if t := c.Throttling; t != nil {
			s.CPU.Throttling = Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
		}
	}
	if mem := m.Memory; mem != nil {
		s.Memory.Cache = mem.Cache
		s.Memory.Usage = v1MemEntry(mem.Usage)
		s.Memory.Swap = v1MemEntry(mem.Swap)
		s.Memory.Kernel = v1MemEntry(mem.Kernel)
		s.Memory.KernelTCP = v1MemEntry(mem.KernelTCP)
	}
	if memDir != "" {
		if raw, err := readKV(memDir, "memory.stat"); err == nil {
			s.Memory.Raw = raw
		}
	}
	if p := m.Pids; p != nil {
		s.Pids = Pids{Current: p.Current, Limit: p.Limit}
	}
	if b := m.Blkio; b != nil {
		s.Blkio = Blkio{
			IoServiceBytesRecursive: v1Blkio(b.IoServiceBytesRecursive),
			IoServicedRecursive:     v1Blkio(b.IoServicedRecursive),
			IoQueuedRecursive:       v1Blkio(b.IoQueuedRecursive),
			IoServiceTimeRecursive:  v1Blkio(b.IoServiceTimeRecursive),
			IoWaitTimeRecursive:     v1Blkio(b.IoWaitTimeRecursive),
			IoMergedRecursive:       v1Blkio(b.IoMergedRecursive),
			IoTimeRecursive:         v1Blkio(b.IoTimeRecursive),
			SectorsRecursive:        v1Blkio(b.SectorsRecursive),
		}
	}
	for _, h := range m.Hugetlb {
		s.Hugetlb[h.Pagesize] = Hugetlb{Usage: h.Usage, Max: h.Max, Failcnt: h.Failcnt}
	}
	if cpusetDir != "" {
		s.CPUSet = readCPUSet(cpusetDir)
	}
	return s
}

func v1MemEntry(e *v1stats.MemoryEntry) MemoryEntry {
	if e == nil {
		return MemoryEntry{}
	}
	return MemoryEntry{Limit: e.Limit, Usage: e.Usage, Max: e.Max, Failcnt: e.Failcnt}
}

func v1Blkio(es []*v1stats.BlkIOEntry) []BlkioEntry {
	out := make([]BlkioEntry, 0, len(es))
	for _, e := range es {
		out = append(out, BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
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

// v2Stats converts containerd's v2 metrics the way runc's fs2 reports
// them: times in ns, swap as memory+swap (v1's meaning), "max" limits of
// pids as 0, io.stat as v1-style Read/Write entries.
func v2Stats(m *v2stats.Metrics, dir string) *Stats {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	if c := m.CPU; c != nil {
		s.CPU.Usage = CpuUsage{Total: c.UsageUsec * 1000, Kernel: c.SystemUsec * 1000, User: c.UserUsec * 1000}
		s.CPU.Throttling = Throttling{Periods: c.NrPeriods, ThrottledPeriods: c.NrThrottled, ThrottledTime: c.ThrottledUsec * 1000}
		s.CPU.PSI = v2PSI(c.PSI)
	}
	if mem := m.Memory; mem != nil {
		s.Memory.Cache = mem.File
		s.Memory.Usage = MemoryEntry{Usage: mem.Usage, Limit: mem.UsageLimit, Max: mem.MaxUsage}
		swap := MemoryEntry{Usage: mem.SwapUsage + mem.Usage, Limit: mem.SwapLimit}
		if swap.Limit != math.MaxUint64 && mem.UsageLimit != math.MaxUint64 {
			swap.Limit += mem.UsageLimit
		} else {
			swap.Limit = math.MaxUint64
		}
		s.Memory.Swap = swap
		s.Memory.PSI = v2PSI(mem.PSI)
	}
	if e := m.MemoryEvents; e != nil {
		s.Memory.Usage.Failcnt = e.Max
	}
	if raw, err := readKV(dir, "memory.stat"); err == nil {
		s.Memory.Raw = raw
	}
	if p := m.Pids; p != nil {
		s.Pids = Pids{Current: p.Current, Limit: p.Limit}
		if p.Limit == math.MaxUint64 {
			s.Pids.Limit = 0 // runc reports "no limit" as 0
		}
	}
	if io := m.Io; io != nil {
		for _, e := range io.Usage {
			s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive,
				BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "Read", Value: e.Rbytes},
				BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "Write", Value: e.Wbytes})
			s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive,
				BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "Read", Value: e.Rios},
				BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "Write", Value: e.Wios})
		}
		s.Blkio.PSI = v2PSI(io.PSI)
	}
	for _, h := range m.Hugetlb {
		s.Hugetlb[h.Pagesize] = Hugetlb{Usage: h.Current, Failcnt: h.Failcnt}
	}
	if exists(dir, "cpuset.cpus.effective") {
		s.CPUSet.CPUs = parseCPUList(strings.TrimSpace(must(readFile(dir, "cpuset.cpus.effective"))))
		s.CPUSet.Mems = parseCPUList(strings.TrimSpace(must(readFile(dir, "cpuset.mems.effective"))))
	}
	return s
}

func must(s string, _ error) string { return s }

func v2PSI(p *v2stats.PSIStats) *PSIStats {
	if p == nil {
		return nil
	}
	out := &PSIStats{}
	if d := p.Some; d != nil {
		out.Some = PSIData{Avg10: d.Avg10, Avg60: d.Avg60, Avg300: d.Avg300, Total: d.Total}
	}
	if d := p.Full; d != nil {
		out.Full = PSIData{Avg10: d.Avg10, Avg60: d.Avg60, Avg300: d.Avg300, Total: d.Total}
	}
	return out
}
