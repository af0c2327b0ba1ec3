package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	"github.com/containerd/cgroups/v3/cgroup2"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.cpu, but cpus and mems (res_cpuset.go): the cpu
// controller (shares, cfs and rt bandwidth, burst, idle).
var cpuResource = resource{
	hasLimits:  func(r *specs.LinuxResources) bool { return r.CPU != nil },
	validateV1: validateCPUV1,
	setV1:      func(m *v1Manager, r *specs.LinuxResources) error { return m.setCPU(r.CPU) },
	validateV2: validateCPUV2,
	planV2:     planCPUV2,
	statsV1:    cpuStatsV1,
	statsV2:    cpuStatsV2,
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

func validateCPUV1(v *v1Check, r *specs.LinuxResources) {
	c := r.CPU
	if c == nil {
		return
	}
	if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
		c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
		v.add(v.need("cpu", cgroup1.Cpu))
	}
	if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
		v.add(v.needFile("cpu.realtimeRuntime", cgroup1.Cpu, "cpu.rt_runtime_us", "realtime group scheduling (CONFIG_RT_GROUP_SCHED)"))
	}
	if c.Burst != nil {
		v.add(v.needFile("cpu.burst", cgroup1.Cpu, "cpu.cfs_burst_us", "cfs burst"))
	}
	if c.Idle != nil {
		v.add(v.needFile("cpu.idle", cgroup1.Cpu, "cpu.idle", "SCHED_IDLE for cgroups"))
	}
}

// setCPU writes shares, cfs period, burst and quota, idle, then rt
// period and runtime, as runc's fs driver does; zero shares, period and
// quota mean unset (the kernel rejects a 0 quota). Period and quota limit
// each other (and a pod's parent limits both), so a new period the kernel
// refuses (EINVAL) while a quota comes with it is tried again after the
// quota: `update --cpu-period 10000 --cpu-quota 3000` from 500000/1000000
// under a 50% parent. Burst and rt period/runtime have the same retry.
func (m *v1Manager) setCPU(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	dir := m.dir(cgroup1.Cpu)
	write := func(field, file, value string) error { return writeLimit("cpu."+field, dir, file, value) }
	// retryable: the write failed with EINVAL and a later write may make
	// it valid.
	retryable := func(err error, later bool) bool { return later && errors.Is(err, unix.EINVAL) }
	if s := deref(c.Shares); s != 0 {
		if err := write("shares", "cpu.shares", strconv.FormatUint(s, 10)); err != nil {
			return err
		}
		// The kernel clamps shares to 2..262144 without an error.
		if got, err := readUint(dir, "cpu.shares"); err == nil && got != s {
			return fmt.Errorf("linux.resources.cpu.shares: %d is out of range (the kernel set %d)", s, got)
		}
	}
	quota := deref(c.Quota)
	if quota < 0 {
		quota = -1
	}
	var period, burst string
	if p := deref(c.Period); p != 0 {
		period = strconv.FormatUint(p, 10)
		if err := write("period", "cpu.cfs_period_us", period); err == nil {
			period = ""
		} else if !retryable(err, quota != 0) {
			return err
		}
	}
	if c.Burst != nil {
		burst = strconv.FormatUint(*c.Burst, 10)
		if err := write("burst", "cpu.cfs_burst_us", burst); err == nil {
			burst = ""
		} else if !retryable(err, quota != 0) {
			return err
		}
	}
	if quota != 0 {
		if err := write("quota", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
			return err
		}
		if period != "" {
			if err := write("period", "cpu.cfs_period_us", period); err != nil {
				return err
			}
		}
		if burst != "" {
			if err := write("burst", "cpu.cfs_burst_us", burst); err != nil {
				return err
			}
		}
	}
	if c.Idle != nil {
		if err := write("idle", "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	period = ""
	if p := deref(c.RealtimePeriod); p != 0 {
		period = strconv.FormatUint(p, 10)
		if err := write("realtimePeriod", "cpu.rt_period_us", period); err == nil {
			period = ""
		} else if !retryable(err, c.RealtimeRuntime != nil) {
			return err
		}
	}
	if c.RealtimeRuntime != nil {
		if err := write("realtimeRuntime", "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return err
		}
		if period != "" {
			if err := write("realtimePeriod", "cpu.rt_period_us", period); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateCPUV2(v *v2Check, r *specs.LinuxResources) {
	c := r.CPU
	if c == nil {
		return
	}
	if deref(c.Shares) != 0 || deref(c.Quota) != 0 || deref(c.Period) != 0 || c.Burst != nil || c.Idle != nil {
		v.add(v.need("cpu", "cpu"))
	}
	if c.Burst != nil {
		v.add(v.needFile("cpu.burst", "cpu", "cpu.max.burst", "cpu burst"))
	}
	if c.Idle != nil {
		v.add(v.needFile("cpu.idle", "cpu", "cpu.idle", "SCHED_IDLE for cgroups"))
	}
	if deref(c.RealtimeRuntime) != 0 || deref(c.RealtimePeriod) != 0 {
		v.add(v1only("cpu.realtimeRuntime"))
	}
}

// planCPUV2: containerd writes the weight (from shares, with its v1->v2
// conversion) and cpu.max; burst and idle are plain writes.
func planCPUV2(m *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if s := deref(c.Shares); s != 0 {
		w := cgroup2.ConvertCPUSharesToCgroupV2Value(s)
		p.cpu().Weight = &w
	}
	if max, ok := m.cpuMax(c); ok {
		p.cpu().Max = cgroup2.CPUMax(max)
	}
	if c.Burst != nil {
		p.write("cpu.burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10))
	}
	if c.Idle != nil {
		p.write("cpu.idle", "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	return nil
}

// cpuMax builds the cpu.max line. A zero quota or period means unset (as in
// runc); an unset quota keeps the current one rather than resetting it to
// "max" (so `rt update --cpu-period` alone keeps the quota), and an unset
// period is left out, which keeps the current period.
func (m *v2Manager) cpuMax(c *specs.LinuxCPU) (string, bool) {
	q, p := deref(c.Quota), deref(c.Period)
	if q == 0 && p == 0 {
		return "", false
	}
	quota := "max"
	switch {
	case q > 0:
		quota = strconv.FormatInt(q, 10)
	case q == 0:
		if cur, err := readFile(m.dir, "cpu.max"); err == nil {
			if f := strings.Fields(cur); len(f) > 0 {
				quota = f[0]
			}
		}
	}
	if p != 0 {
		return quota + " " + strconv.FormatUint(p, 10), true
	}
	return quota, true
}

func cpuStatsV1(_ *v1Manager, metrics *v1stats.Metrics, s *Stats) {
	c := metrics.CPU
	if c == nil {
		return
	}
	if u := c.Usage; u != nil {
		s.CPU.Usage = CpuUsage{Total: u.Total, Percpu: u.PerCPU, Kernel: u.Kernel, User: u.User}
	}
	if t := c.Throttling; t != nil {
		s.CPU.Throttling = Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	}
}

// cpuStatsV2 reports times in ns, as on v1 (v2's files count µs).
func cpuStatsV2(_ string, metrics *v2stats.Metrics, s *Stats) {
	c := metrics.CPU
	if c == nil {
		return
	}
	s.CPU.Usage = CpuUsage{Total: c.UsageUsec * 1000, Kernel: c.SystemUsec * 1000, User: c.UserUsec * 1000}
	s.CPU.Throttling = Throttling{Periods: c.NrPeriods, ThrottledPeriods: c.NrThrottled, ThrottledTime: c.ThrottledUsec * 1000}
	s.CPU.PSI = v2PSI(c.PSI)
}
