package cgroups

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	// Set runs at create: make the directories if Apply has not yet.
	if err := m.Apply(-1); err != nil {
		return err
	}
	return m.set(r, false)
}

func (m *v1Manager) Update(r *specs.LinuxResources) error {
	// `rt update` must not resurrect a cgroup that is gone.
	if _, err := os.Stat(m.pidsDir()); err != nil {
		return fmt.Errorf("update cgroup %s: %w", m.path, err)
	}
	return m.set(r, true)
}

func (m *v1Manager) set(r *specs.LinuxResources, skipDevices bool) error {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	// Check everything first so a config the host cannot honour changes
	// nothing, and the error names the config.json field.
	if err := m.validate(r, skipDevices); err != nil {
		return err
	}
	// Same order as runc's fs driver.
	if c := r.CPU; c != nil && (c.Cpus != "" || c.Mems != "") {
		cs := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: c.Cpus, Mems: c.Mems}}
		if err := m.sub(cgroup1.Cpuset).(v1Updater).Update(m.path, cs); err != nil {
			return fmt.Errorf("linux.resources.cpu.cpus/mems: %w", err)
		}
	}
	if !skipDevices && m.sub(cgroup1.Devices) != nil {
		if err := setDevicesV1(m.dir(cgroup1.Devices), r.Devices); err != nil {
			return err
		}
	}
	if err := m.setMemory(r.Memory); err != nil {
		return err
	}
	if err := m.setCPU(r.CPU); err != nil {
		return err
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		if err := writeFile(m.dir(cgroup1.Pids), "pids.max", pidsMax(*p.Limit)); err != nil {
			return fmt.Errorf("linux.resources.pids.limit: %w", err)
		}
	}
	if err := m.setBlkio(r.BlockIO); err != nil {
		return err
	}
	if len(r.HugepageLimits) > 0 {
		h := &specs.LinuxResources{HugepageLimits: r.HugepageLimits}
		if err := m.sub(cgroup1.Hugetlb).(v1Updater).Update(m.path, h); err != nil {
			return fmt.Errorf("linux.resources.hugepageLimits: %w", err)
		}
	}
	if n := r.Network; n != nil {
		nr := &specs.LinuxResources{Network: n}
		if n.ClassID != nil {
			if err := m.sub(cgroup1.NetCLS).(v1Creator).Create(m.path, nr); err != nil {
				return fmt.Errorf("linux.resources.network.classID: %w", err)
			}
		}
		if len(n.Priorities) > 0 {
			if err := m.sub(cgroup1.NetPrio).(v1Creator).Create(m.path, nr); err != nil {
				return fmt.Errorf("linux.resources.network.priorities: %w", err)
			}
		}
	}
	if len(r.Rdma) > 0 {
		if err := setRdma(m.dir(cgroup1.Rdma), r.Rdma); err != nil {
			return err
		}
	}
	return nil
}

func pidsMax(limit int64) string {
	// 0 and -1 both mean unlimited (runtime-spec: -1; runc also maps 0).
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// setRdma writes one rdma.max line per device. containerd's cgroup1 stops
// after the first device.
func setRdma(dir string, rdma map[string]specs.LinuxRdma) error {
	devs := make([]string, 0, len(rdma))
	for d := range rdma {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		l := rdma[d]
		line := d
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line == d {
			continue
		}
		if err := writeFile(dir, "rdma.max", line); err != nil {
			return fmt.Errorf("linux.resources.rdma[%s]: %w", d, err)
		}
	}
	return nil
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
		if err := writeFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10)); err != nil {
			return fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		return nil
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
	if err := m.sub(cgroup1.Memory).(v1Updater).Update(m.path, &specs.LinuxResources{Memory: rest}); err != nil {
		return fmt.Errorf("linux.resources.memory: %w", err)
	}
	return nil
}

// setCPU lets containerd write shares, rt and cfs period/quota (in that
// order: rt period before runtime, period before quota), with unset zeros
// dropped (the kernel rejects a 0 quota), then writes burst and idle,
// which containerd does not know.
func (m *v1Manager) setCPU(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	nz := func(v *uint64) *uint64 {
		if v == nil || *v == 0 {
			return nil
		}
		return v
	}
	cc := &specs.LinuxCPU{
		Shares:          nz(c.Shares),
		Period:          nz(c.Period),
		RealtimePeriod:  nz(c.RealtimePeriod),
		RealtimeRuntime: c.RealtimeRuntime,
	}
	if c.Quota != nil && *c.Quota != 0 {
		q := *c.Quota
		if q < 0 {
			q = -1
		}
		cc.Quota = &q
	}
	if cc.Shares != nil || cc.Period != nil || cc.Quota != nil || cc.RealtimePeriod != nil || cc.RealtimeRuntime != nil {
		if err := m.sub(cgroup1.Cpu).(v1Updater).Update(m.path, &specs.LinuxResources{CPU: cc}); err != nil {
			return fmt.Errorf("linux.resources.cpu: %w", err)
		}
	}
	dir := m.dir(cgroup1.Cpu)
	if c.Burst != nil {
		if err := writeFile(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return fmt.Errorf("linux.resources.cpu.burst: %w", err)
		}
	}
	if c.Idle != nil {
		if err := writeFile(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return fmt.Errorf("linux.resources.cpu.idle: %w", err)
		}
	}
	return nil
}

// blkioWeightFile is blkio.weight on CFQ kernels and blkio.bfq.weight on
// BFQ-only ones (containerd only knows the former; runc picks like this).
func blkioWeightFile(dir, name string) string {
	if exists(dir, "blkio."+name) {
		return "blkio." + name
	}
	return "blkio.bfq." + name
}

func (m *v1Manager) setBlkio(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	dir := m.dir(cgroup1.Blkio)
	if b.Weight != nil {
		if err := writeFile(dir, blkioWeightFile(dir, "weight"), strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return fmt.Errorf("linux.resources.blockIO.weight: %w", err)
		}
	}
	if b.LeafWeight != nil {
		if err := writeFile(dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return fmt.Errorf("linux.resources.blockIO.leafWeight: %w", err)
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)
			if err := writeFile(dir, blkioWeightFile(dir, "weight_device"), v); err != nil {
				return fmt.Errorf("linux.resources.blockIO.weightDevice: %w", err)
			}
		}
		if wd.LeafWeight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)
			if err := writeFile(dir, "blkio.leaf_weight_device", v); err != nil {
				return fmt.Errorf("linux.resources.blockIO.weightDevice: %w", err)
			}
		}
	}
	throttles := &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   b.ThrottleReadBpsDevice,
		ThrottleWriteBpsDevice:  b.ThrottleWriteBpsDevice,
		ThrottleReadIOPSDevice:  b.ThrottleReadIOPSDevice,
		ThrottleWriteIOPSDevice: b.ThrottleWriteIOPSDevice,
	}
	if err := m.sub(cgroup1.Blkio).(v1Updater).Update(m.path, &specs.LinuxResources{BlockIO: throttles}); err != nil {
		return fmt.Errorf("linux.resources.blockIO: %w", err)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// unavailable is the "host lacks it" error: "linux.resources.<field>: <what> not available".
func unavailable(field, what string) error {
	return fmt.Errorf("linux.resources.%s: %s %w", field, what, ErrUnavailable)
}

// validate rejects any set value the host's v1 hierarchy cannot hold.
func (m *v1Manager) validate(r *specs.LinuxResources, skipDevices bool) error {
	need := func(field string, name cgroup1.Name) error {
		if m.sub(name) == nil {
			return unavailable(field, string(name)+" controller")
		}
		return nil
	}
	needFile := func(field string, name cgroup1.Name, file, what string) error {
		if err := need(field, name); err != nil {
			return err
		}
		if !exists(m.dir(name), file) {
			return unavailable(field, what+" ("+file+")")
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(r.Unified) > 0 {
		add(fmt.Errorf("linux.resources.unified: needs cgroup v2, this host uses cgroup v1: %w", ErrUnavailable))
	}
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil || mem.KernelTCP != nil ||
			mem.Swappiness != nil || mem.DisableOOMKiller != nil {
			add(need("memory", cgroup1.Memory))
		}
		if s := deref(mem.Swap); s > 0 {
			add(needFile("memory.swap", cgroup1.Memory, "memory.memsw.limit_in_bytes", "swap accounting"))
			if l := deref(mem.Limit); l > 0 && s < l {
				add(fmt.Errorf("linux.resources.memory.swap (%d) must be >= memory.limit (%d): it is memory+swap", s, l))
			}
		}
		if mem.KernelTCP != nil {
			add(needFile("memory.kernelTCP", cgroup1.Memory, "memory.kmem.tcp.limit_in_bytes", "kernel TCP memory accounting"))
		}
		if s := mem.Swappiness; s != nil && int64(*s) != -1 && *s > 100 {
			add(fmt.Errorf("linux.resources.memory.swappiness: %d is not in 0..100", *s))
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
			c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
			add(need("cpu", cgroup1.Cpu))
		}
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			add(needFile("cpu.realtimeRuntime", cgroup1.Cpu, "cpu.rt_runtime_us", "realtime group scheduling (CONFIG_RT_GROUP_SCHED)"))
		}
		if c.Burst != nil {
			add(needFile("cpu.burst", cgroup1.Cpu, "cpu.cfs_burst_us", "cfs burst"))
		}
		if c.Idle != nil {
			add(needFile("cpu.idle", cgroup1.Cpu, "cpu.idle", "SCHED_IDLE for cgroups"))
		}
		if c.Cpus != "" || c.Mems != "" {
			add(need("cpu.cpus", cgroup1.Cpuset))
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		add(need("pids", cgroup1.Pids))
	}
	if b := r.BlockIO; b != nil {
		if err := need("blockIO", cgroup1.Blkio); err != nil {
			add(err)
		} else {
			dir := m.dir(cgroup1.Blkio)
			if b.Weight != nil && !exists(dir, blkioWeightFile(dir, "weight")) {
				add(unavailable("blockIO.weight", "proportional io weight (CFQ or BFQ scheduler)"))
			}
			if b.LeafWeight != nil && !exists(dir, "blkio.leaf_weight") {
				add(unavailable("blockIO.leafWeight", "leaf weight (CFQ scheduler)"))
			}
			for _, wd := range b.WeightDevice {
				if wd.Weight != nil && !exists(dir, blkioWeightFile(dir, "weight_device")) {
					add(unavailable("blockIO.weightDevice", "per-device io weight (CFQ or BFQ scheduler)"))
					break
				}
				if wd.LeafWeight != nil && !exists(dir, "blkio.leaf_weight_device") {
					add(unavailable("blockIO.weightDevice.leafWeight", "leaf weight (CFQ scheduler)"))
					break
				}
			}
			if len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+
				len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 &&
				!exists(dir, "blkio.throttle.read_bps_device") {
				add(unavailable("blockIO.throttle*", "io throttling (CONFIG_BLK_DEV_THROTTLING)"))
			}
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := need("hugepageLimits", cgroup1.Hugetlb); err != nil {
			add(err)
		} else {
			for _, h := range r.HugepageLimits {
				if !exists(m.dir(cgroup1.Hugetlb), "hugetlb."+h.Pagesize+".limit_in_bytes") {
					add(unavailable("hugepageLimits", fmt.Sprintf("huge page size %q", h.Pagesize)))
				}
			}
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			add(need("network.classID", cgroup1.NetCLS))
		}
		if len(n.Priorities) > 0 {
			add(need("network.priorities", cgroup1.NetPrio))
		}
	}
	if len(r.Rdma) > 0 {
		add(need("rdma", cgroup1.Rdma))
	}
	// Without a devices cgroup (only in a user namespace, where it cannot
	// be written anyway) rules are skipped as runc does; elsewhere its
	// absence would silently give the container every device.
	if !skipDevices && m.sub(cgroup1.Devices) == nil && !userns.RunningInUserNS() {
		add(unavailable("devices", "devices controller"))
	}
	return errors.Join(errs...)
}
