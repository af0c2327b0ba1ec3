package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	ocgroups "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// linux.resources.memory: the memory controller.
var memoryResource = resource{
	hasLimits:  func(r *specs.LinuxResources) bool { return r.Memory != nil },
	validateV1: validateMemoryV1,
	setV1:      func(m *v1Manager, r *specs.LinuxResources) error { return m.setMemory(r.Memory) },
	validateV2: validateMemoryV2,
	planV2:     func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error { return planMemoryV2(r.Memory, p) },
	statsV1:    memoryStatsV1,
	statsV2:    memoryStatsV2,
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

func validateMemoryV1(v *v1Check, r *specs.LinuxResources) {
	mem := r.Memory
	if mem == nil {
		return
	}
	if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil || mem.KernelTCP != nil ||
		mem.Swappiness != nil || mem.DisableOOMKiller != nil {
		v.add(v.need("memory", cgroup1.Memory))
	}
	if s := deref(mem.Swap); s > 0 {
		v.add(v.needFile("memory.swap", cgroup1.Memory, "memory.memsw.limit_in_bytes", "swap accounting"))
		if l := deref(mem.Limit); l > 0 && s < l {
			v.add(fmt.Errorf("linux.resources.memory.swap (%d) must be >= memory.limit (%d): it is memory+swap", s, l))
		}
	}
	if mem.KernelTCP != nil {
		v.add(v.needFile("memory.kernelTCP", cgroup1.Memory, "memory.kmem.tcp.limit_in_bytes", "kernel TCP memory accounting"))
	}
	if s := mem.Swappiness; s != nil && int64(*s) != -1 && *s > 100 {
		v.add(fmt.Errorf("linux.resources.memory.swappiness: %d is not in 0..100", *s))
	}
}

// setMemory writes limit and memsw in the order the kernel accepts: memsw
// must always stay >= limit, so raising goes memsw first and lowering
// goes limit first (runc's logic; containerd's Update swaps the limit with
// the soft limit instead of memsw, and fails when both are raised). The
// remaining fields go through containerd's memory controller.
func (m *v1Manager) setMemory(mem *specs.LinuxMemory) error {
	if mem == nil {
		return nil
	}
	dir := m.dir(cgroup1.Memory)
	limit, swap := deref(mem.Limit), deref(mem.Swap)
	hasMemsw := exists(dir, "memory.memsw.limit_in_bytes")
	if limit == -1 && swap == 0 && hasMemsw {
		// "unlimited memory" with swap unset means unlimited memsw too,
		// else the old memsw would keep capping memory.
		swap = -1
	}
	if !hasMemsw {
		swap = 0 // only -1 or unset get here (validate), nothing to write
	}
	setLimit := func() error {
		if limit == 0 {
			return nil
		}
		if err := writeFile(dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10)); err != nil {
			if errors.Is(err, unix.EBUSY) {
				usage, _ := readUint(dir, "memory.usage_in_bytes")
				return fmt.Errorf("linux.resources.memory.limit: cannot set %d, below current usage %d: %w", limit, usage, err)
			}
			return fmt.Errorf("linux.resources.memory.limit: %w", err)
		}
		return nil
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		return writeLimit("memory.swap", dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10))
	}
	order := []func() error{setLimit, setSwap}
	if limit != 0 && swap != 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return fmt.Errorf("linux.resources.memory: %w", err)
		}
		if swap == -1 || cur < uint64(swap) {
			order = []func() error{setSwap, setLimit}
		}
	}
	for _, f := range order {
		if err := f(); err != nil {
			return err
		}
	}
	rest := &specs.LinuxMemory{
		Reservation:      mem.Reservation,
		KernelTCP:        mem.KernelTCP,
		DisableOOMKiller: mem.DisableOOMKiller,
		// Kernel (kmem) is deprecated in the spec and ignored, as runc does.
	}
	if s := mem.Swappiness; s != nil && int64(*s) != -1 {
		rest.Swappiness = s
	}
	return m.update("memory", cgroup1.Memory, &specs.LinuxResources{Memory: rest})
}

func validateMemoryV2(v *v2Check, r *specs.LinuxResources) {
	mem := r.Memory
	if mem == nil {
		return
	}
	if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil {
		v.add(v.need("memory", "memory"))
	}
	if s := deref(mem.Swap); s > 0 && s != deref(mem.Limit) && v.need("memory", "memory") == nil {
		v.add(v.needFile("memory.swap", "memory", "memory.swap.max", "swap accounting"))
	}
	if mem.KernelTCP != nil {
		v.add(v1only("memory.kernelTCP"))
	}
	if s := mem.Swappiness; s != nil && int64(*s) != -1 {
		v.add(v1only("memory.swappiness"))
	}
	if deref(mem.DisableOOMKiller) {
		v.add(v1only("memory.disableOOMKiller"))
	}
}

// planMemoryV2 follows runc's fs2: swap.max (v2 counts swap alone, the
// spec memory+swap), then max, then low.
func planMemoryV2(mem *specs.LinuxMemory, p *v2Plan) error {
	if mem == nil {
		return nil
	}
	limit, swap := deref(mem.Limit), deref(mem.Swap)
	v2swap, err := ocgroups.ConvertMemorySwapToCgroupV2Value(swap, limit)
	if err != nil {
		return fmt.Errorf("linux.resources.memory.swap: %w", err)
	}
	swapStr := numToStr(v2swap)
	if swapStr == "" && swap > 0 {
		swapStr = "0" // swap == limit: no swap at all
	}
	if swapStr != "" {
		p.write("memory.swap", "memory.swap.max", swapStr)
	}
	if s := numToStr(limit); s != "" {
		p.write("memory.limit", "memory.max", s)
	}
	if s := numToStr(deref(mem.Reservation)); s != "" {
		p.write("memory.reservation", "memory.low", s)
	}
	return nil
}

// memoryStatsV1 adds memory.stat's raw counters, as runc reports them and
// containerd does not.
func memoryStatsV1(m *v1Manager, metrics *v1stats.Metrics, s *Stats) {
	if mem := metrics.Memory; mem != nil {
		s.Memory.Cache = mem.Cache
		s.Memory.Usage = v1MemEntry(mem.Usage)
		s.Memory.Swap = v1MemEntry(mem.Swap)
		s.Memory.Kernel = v1MemEntry(mem.Kernel)
		s.Memory.KernelTCP = v1MemEntry(mem.KernelTCP)
	}
	if dir := m.dir(cgroup1.Memory); dir != "" {
		if raw, err := readKV(dir, "memory.stat"); err == nil {
			s.Memory.Raw = raw
		}
	}
}

func v1MemEntry(e *v1stats.MemoryEntry) MemoryEntry {
	if e == nil {
		return MemoryEntry{}
	}
	return MemoryEntry{Limit: e.Limit, Usage: e.Usage, Max: e.Max, Failcnt: e.Failcnt}
}

// memoryStatsV2 reports swap as memory+swap (v1's meaning), as runc's fs2.
func memoryStatsV2(dir string, metrics *v2stats.Metrics, s *Stats) {
	if mem := metrics.Memory; mem != nil {
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
	if e := metrics.MemoryEvents; e != nil {
		s.Memory.Usage.Failcnt = e.Max
	}
	if raw, err := readKV(dir, "memory.stat"); err == nil {
		s.Memory.Raw = raw
	}
}
