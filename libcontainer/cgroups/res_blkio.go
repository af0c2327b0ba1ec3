package cgroups

import (
	"fmt"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	ocgroups "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.blockIO: the blkio controller on v1, io on v2.
var blkioResource = resource{
	hasLimits:  func(r *specs.LinuxResources) bool { return r.BlockIO != nil },
	validateV1: validateBlkioV1,
	setV1:      func(m *v1Manager, r *specs.LinuxResources) error { return m.setBlkio(r.BlockIO) },
	validateV2: validateIOV2,
	planV2:     planIOV2,
	statsV1:    blkioStatsV1,
	statsV2:    ioStatsV2,
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

// blkioWeightFile is blkio.weight on CFQ kernels and blkio.bfq.weight on
// BFQ-only ones (containerd only knows the former; runc picks like this).
func blkioWeightFile(dir, name string) string {
	if exists(dir, "blkio."+name) {
		return "blkio." + name
	}
	return "blkio.bfq." + name
}

func validateBlkioV1(v *v1Check, r *specs.LinuxResources) {
	b := r.BlockIO
	if b == nil {
		return
	}
	if err := v.need("blockIO", cgroup1.Blkio); err != nil {
		v.add(err)
		return
	}
	dir := v.m.dir(cgroup1.Blkio)
	if b.Weight != nil && !exists(dir, blkioWeightFile(dir, "weight")) {
		v.add(unavailable("blockIO.weight", "proportional io weight (CFQ or BFQ scheduler)"))
	}
	if b.LeafWeight != nil && !exists(dir, "blkio.leaf_weight") {
		v.add(unavailable("blockIO.leafWeight", "leaf weight (CFQ scheduler)"))
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil && !exists(dir, blkioWeightFile(dir, "weight_device")) {
			v.add(unavailable("blockIO.weightDevice", "per-device io weight (CFQ or BFQ scheduler)"))
			break
		}
		if wd.LeafWeight != nil && !exists(dir, "blkio.leaf_weight_device") {
			v.add(unavailable("blockIO.weightDevice.leafWeight", "leaf weight (CFQ scheduler)"))
			break
		}
	}
	if len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+
		len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 &&
		!exists(dir, "blkio.throttle.read_bps_device") {
		v.add(unavailable("blockIO.throttle*", "io throttling (CONFIG_BLK_DEV_THROTTLING)"))
	}
}

func (m *v1Manager) setBlkio(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	dir := m.dir(cgroup1.Blkio)
	if b.Weight != nil {
		if err := writeLimit("blockIO.weight", dir, blkioWeightFile(dir, "weight"), strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := writeLimit("blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)
			if err := writeLimit("blockIO.weightDevice", dir, blkioWeightFile(dir, "weight_device"), v); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)
			if err := writeLimit("blockIO.weightDevice", dir, "blkio.leaf_weight_device", v); err != nil {
				return err
			}
		}
	}
	throttles := &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   b.ThrottleReadBpsDevice,
		ThrottleWriteBpsDevice:  b.ThrottleWriteBpsDevice,
		ThrottleReadIOPSDevice:  b.ThrottleReadIOPSDevice,
		ThrottleWriteIOPSDevice: b.ThrottleWriteIOPSDevice,
	}
	return m.update("blockIO", cgroup1.Blkio, &specs.LinuxResources{BlockIO: throttles})
}

func validateIOV2(v *v2Check, r *specs.LinuxResources) {
	b := r.BlockIO
	if b == nil {
		return
	}
	if err := v.need("blockIO", "io"); err != nil {
		v.add(err)
	} else if (b.Weight != nil || len(b.WeightDevice) > 0) && !exists(v.m.dir, "io.weight") && !exists(v.m.dir, "io.bfq.weight") {
		v.add(unavailable("blockIO.weight", "proportional io weight (io.weight or io.bfq.weight)"))
	}
	if b.LeafWeight != nil {
		v.add(v1only("blockIO.leafWeight"))
	}
	for _, wd := range b.WeightDevice {
		if wd.LeafWeight != nil {
			v.add(v1only("blockIO.weightDevice.leafWeight"))
			break
		}
	}
}

// planIOV2: weights go to io.bfq.weight unscaled when BFQ is there (same
// 1..1000 range as blkio), else to io.weight scaled to 1..10000; a zero
// throttle rate means "no limit" as on v1.
func planIOV2(m *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
	b := r.BlockIO
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
	if b.Weight != nil {
		// io.weight takes "default N"; a bare N means the same.
		p.write("blockIO.weight", file, weight(*b.Weight))
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			p.write("blockIO.weightDevice", file, fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, weight(*wd.Weight)))
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
			p.write("blockIO.throttle", "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate))
		}
	}
	return nil
}

func blkioStatsV1(_ *v1Manager, metrics *v1stats.Metrics, s *Stats) {
	b := metrics.Blkio
	if b == nil {
		return
	}
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

func v1Blkio(es []*v1stats.BlkIOEntry) []BlkioEntry {
	out := make([]BlkioEntry, 0, len(es))
	for _, e := range es {
		out = append(out, BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

// ioStatsV2 reports io.stat as v1-style Read/Write entries, as runc's fs2.
func ioStatsV2(_ string, metrics *v2stats.Metrics, s *Stats) {
	io := metrics.Io
	if io == nil {
		return
	}
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
