package cgroups

import (
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

// IntelRdt is always empty: rt does not manage resctrl. It is kept so the
// JSON has runc's "intel_rdt":{} key.
type IntelRdt struct{}

// NetworkInterface is runc's; rt reports none (no network stats).
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

// v1Stats converts containerd's v1 metrics, each resource its part
// (res_*.go).
func v1Stats(m *v1Manager, metrics *v1stats.Metrics) *Stats {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	for _, res := range resources {
		if res.statsV1 != nil {
			res.statsV1(m, metrics, s)
		}
	}
	return s
}

// v2Stats converts containerd's v2 metrics the way runc's fs2 reports
// them, each resource its part (res_*.go).
func v2Stats(metrics *v2stats.Metrics, dir string) *Stats {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	for _, res := range resources {
		if res.statsV2 != nil {
			res.statsV2(dir, metrics, s)
		}
	}
	return s
}

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
