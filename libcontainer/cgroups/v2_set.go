package cgroups

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
	ocgroups "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if err := m.create(); err != nil {
		return err
	}
	return m.set(r, false)
}

func (m *v2Manager) Update(r *specs.LinuxResources) error {
	// `rt update` must not resurrect a cgroup that is gone.
	if _, err := os.Stat(m.dir); err != nil {
		return fmt.Errorf("update cgroup %s: %w", m.path, err)
	}
	return m.set(r, true)
}

// write is one file write of the v2 plan.
type write struct {
	field, file, value string
}

func (m *v2Manager) set(r *specs.LinuxResources, skipDevices bool) error {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if err := m.validate(r); err != nil {
		return err
	}
	res, writes, err := m.plan(r)
	if err != nil {
		return err
	}
	cg, err := m.cg()
	if err == nil {
		err = cg.Update(res)
	}
	if err != nil {
		return fmt.Errorf("linux.resources: cgroup %s: %w", m.path, err)
	}
	for _, w := range writes {
		if err := writeFile(m.dir, w.file, w.value); err != nil {
			return fmt.Errorf("linux.resources.%s: %w", w.field, err)
		}
	}
	if !skipDevices {
		if err := setDevicesV2(m.dir, r.Devices); err != nil {
			return err
		}
	}
	// unified goes last so its raw values win over the translated ones,
	// as in runc.
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := writeFile(m.dir, k, r.Unified[k]); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
		}
	}
	return nil
}

// numToStr is runc's v2 number format: 0 unset, -1 "max".
func numToStr(v int64) string {
	switch v {
	case 0:
		return ""
	case -1:
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// plan translates the OCI (v1-shaped) resources. The parts containerd
// writes correctly go into cgroup2.Resources (cpu weight from shares with
// its v1->v2 conversion, cpu.max, cpuset, pids, hugetlb); the rest are
// plain writes because containerd's ToResources gets them wrong for a
// runtime: it drops a quota given without a period, writes "-1" where the
// kernel only takes "max" (memory), computes swap.max as swap-limit even
// for -1, writes a 1..10000-scaled weight into io.bfq.weight (range
// 1..1000), and has no cpu.idle, burst, io weight per device or unified.
func (m *v2Manager) plan(r *specs.LinuxResources) (*cgroup2.Resources, []write, error) {
	res := &cgroup2.Resources{}
	var ws []write
	if c := r.CPU; c != nil {
		cpu := &cgroup2.CPU{Cpus: c.Cpus, Mems: c.Mems}
		if s := deref(c.Shares); s != 0 {
			w := cgroup2.ConvertCPUSharesToCgroupV2Value(s)
			cpu.Weight = &w
		}
		if max, ok := m.cpuMax(c); ok {
			cpu.Max = cgroup2.CPUMax(max)
		}
		if cpu.Weight != nil || cpu.Max != "" || cpu.Cpus != "" || cpu.Mems != "" {
			res.CPU = cpu
		}
		if c.Burst != nil {
			ws = append(ws, write{"cpu.burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)})
		}
		if c.Idle != nil {
			ws = append(ws, write{"cpu.idle", "cpu.idle", strconv.FormatInt(*c.Idle, 10)})
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		max := *p.Limit
		if max <= 0 {
			max = -1 // containerd writes "max" for a negative value
		}
		res.Pids = &cgroup2.Pids{Max: max}
	}
	if len(r.HugepageLimits) > 0 {
		h := cgroup2.HugeTlb{}
		for _, l := range r.HugepageLimits {
			h = append(h, cgroup2.HugeTlbEntry{HugePageSize: l.Pagesize, Limit: l.Limit})
		}
		res.HugeTlb = &h
	}
	mem, err := memoryWrites(r.Memory)
	if err != nil {
		return nil, nil, err
	}
	ws = append(ws, mem...)
	ws = append(ws, m.ioWrites(r.BlockIO)...)
	rdma := make([]string, 0, len(r.Rdma))
	for d := range r.Rdma {
		rdma = append(rdma, d)
	}
	sort.Strings(rdma)
	for _, d := range rdma {
		l, line := r.Rdma[d], d
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line != d {
			ws = append(ws, write{"rdma[" + d + "]", "rdma.max", line})
		}
	}
	return res, ws, nil
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

// memoryWrites follows runc's fs2: swap.max (v2 counts swap alone, the spec
// memory+swap), then max, then low.
func memoryWrites(mem *specs.LinuxMemory) ([]write, error) {
	if mem == nil {
		return nil, nil
	}
	limit, swap := deref(mem.Limit), deref(mem.Swap)
	v2swap, err := ocgroups.ConvertMemorySwapToCgroupV2Value(swap, limit)
	if err != nil {
		return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
	}
	var ws []write
	swapStr := numToStr(v2swap)
	if swapStr == "" && swap > 0 {
		swapStr = "0" // swap == limit: no swap at all
	}
	if swapStr != "" {
		ws = append(ws, write{"memory.swap", "memory.swap.max", swapStr})
	}
	if s := numToStr(limit); s != "" {
		ws = append(ws, write{"memory.limit", "memory.max", s})
	}
	if s := numToStr(deref(mem.Reservation)); s != "" {
		ws = append(ws, write{"memory.reservation", "memory.low", s})
	}
	return ws, nil
}

// ioWrites: weights go to io.bfq.weight unscaled when BFQ is there (same
// 1..1000 range as blkio), else to io.weight scaled to 1..10000; a zero
// throttle rate means "no limit" as on v1.
func (m *v2Manager) ioWrites(b *specs.LinuxBlockIO) []write {
	if b == nil {
		return nil
	}
	bfq := exists(m.dir, "io.bfq.weight")
	weight := func(w uint16) string {
		if bfq {
			return strconv.FormatUint(uint64(w), 10)
		}
		return strconv.FormatUint(ocgroups.ConvertBlkIOToIOWeightValue(w), 10)
	}
	file := "io.weight"
	if bfq {
		file = "io.bfq.weight"
	}
	var ws []write
	if b.Weight != nil {
		// io.weight takes "default N"; a bare N means the same.
		ws = append(ws, write{"blockIO.weight", file, weight(*b.Weight)})
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			ws = append(ws, write{"blockIO.weightDevice", file, fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, weight(*wd.Weight))})
		}
	}
	for _, t := range []struct {
		key string
		ds  []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.ds {
			rate := "max"
			if d.Rate != 0 {
				rate = strconv.FormatUint(d.Rate, 10)
			}
			ws = append(ws, write{"blockIO.throttle", "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)})
		}
	}
	return ws
}

// validate rejects any set value the cgroup cannot hold: a controller not
// enabled for it (cgroup.controllers), a v1-only knob, or a missing file.
func (m *v2Manager) validate(r *specs.LinuxResources) error {
	ctrls, err := readFile(m.dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", m.path, err)
	}
	have := strings.Fields(ctrls)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	need := func(field, ctrl string) error {
		if !slices.Contains(have, ctrl) {
			return unavailable(field, ctrl+" controller")
		}
		return nil
	}
	needFile := func(field, ctrl, file, what string) error {
		if err := need(field, ctrl); err != nil {
			return err
		}
		if !exists(m.dir, file) {
			return unavailable(field, what+" ("+file+")")
		}
		return nil
	}
	v1only := func(field string) error {
		return fmt.Errorf("linux.resources.%s: cgroup v1 only, this host uses cgroup v2: %w", field, ErrUnavailable)
	}
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil {
			add(need("memory", "memory"))
		}
		if s := deref(mem.Swap); s > 0 && s != deref(mem.Limit) && slices.Contains(have, "memory") {
			add(needFile("memory.swap", "memory", "memory.swap.max", "swap accounting"))
		}
		if mem.KernelTCP != nil {
			add(v1only("memory.kernelTCP"))
		}
		if s := mem.Swappiness; s != nil && int64(*s) != -1 {
			add(v1only("memory.swappiness"))
		}
		if deref(mem.DisableOOMKiller) {
			add(v1only("memory.disableOOMKiller"))
		}
	}
	if c := r.CPU; c != nil {
		if deref(c.Shares) != 0 || deref(c.Quota) != 0 || deref(c.Period) != 0 || c.Burst != nil || c.Idle != nil {
			add(need("cpu", "cpu"))
		}
		if c.Burst != nil {
			add(needFile("cpu.burst", "cpu", "cpu.max.burst", "cpu burst"))
		}
		if c.Idle != nil {
			add(needFile("cpu.idle", "cpu", "cpu.idle", "SCHED_IDLE for cgroups"))
		}
		if deref(c.RealtimeRuntime) != 0 || deref(c.RealtimePeriod) != 0 {
			add(v1only("cpu.realtimeRuntime"))
		}
		if c.Cpus != "" || c.Mems != "" {
			add(need("cpu.cpus", "cpuset"))
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		add(need("pids", "pids"))
	}
	if b := r.BlockIO; b != nil {
		if err := need("blockIO", "io"); err != nil {
			add(err)
		} else if (b.Weight != nil || len(b.WeightDevice) > 0) && !exists(m.dir, "io.weight") && !exists(m.dir, "io.bfq.weight") {
			add(unavailable("blockIO.weight", "proportional io weight (io.weight or io.bfq.weight)"))
		}
		if b.LeafWeight != nil {
			add(v1only("blockIO.leafWeight"))
		}
		for _, wd := range b.WeightDevice {
			if wd.LeafWeight != nil {
				add(v1only("blockIO.weightDevice.leafWeight"))
				break
			}
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := need("hugepageLimits", "hugetlb"); err != nil {
			add(err)
		} else {
			for _, h := range r.HugepageLimits {
				if !exists(m.dir, "hugetlb."+h.Pagesize+".max") {
					add(unavailable("hugepageLimits", fmt.Sprintf("huge page size %q", h.Pagesize)))
				}
			}
		}
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		add(v1only("network"))
	}
	if len(r.Rdma) > 0 {
		add(need("rdma", "rdma"))
	}
	for k := range r.Unified {
		add(m.validateUnifiedKey(k, have))
	}
	return errors.Join(errs...)
}

// validateUnifiedKey allows only a plain interface file of this cgroup
// ("<controller>.<knob>"), whose controller is enabled for it.
func (m *v2Manager) validateUnifiedKey(k string, have []string) error {
	ctrl, _, ok := strings.Cut(k, ".")
	if !ok || ctrl == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
		return fmt.Errorf("linux.resources.unified[%q]: not a cgroup interface file name", k)
	}
	if ctrl != "cgroup" && !slices.Contains(have, ctrl) && !exists(m.dir, k) {
		return unavailable(fmt.Sprintf("unified[%q]", k), ctrl+" controller")
	}
	if !exists(m.dir, k) {
		return unavailable(fmt.Sprintf("unified[%q]", k), "interface file")
	}
	return nil
}
