package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CPU affinity of the processes rt starts. rt may itself run pinned (say
// `taskset -c 0 rt run`), and a child inherits that: the container's
// processes get all CPUs back (the kernel keeps them within the cgroup's
// cpuset), unless process.execCPUAffinity says otherwise for `rt exec`
// (runtime-spec: initial, before the process joins the container's cgroup;
// final, after). As runc 1.5.

// execAffinity is a parsed process.execCPUAffinity; nil fields are unset.
type execAffinity struct {
	initial, final *unix.CPUSet
}

// parseExecAffinity checks and parses process.execCPUAffinity; nil when
// neither is set.
func parseExecAffinity(a *specs.CPUAffinity) (*execAffinity, error) {
	if a == nil {
		return nil, nil
	}
	var aff execAffinity
	var err error
	if aff.initial, err = parseCPUList(a.Initial); err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	if aff.final, err = parseCPUList(a.Final); err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity.final: %w", err)
	}
	if aff.initial == nil && aff.final == nil {
		return nil, nil
	}
	return &aff, nil
}

// parseCPUList parses the kernel's list format ("0-3,5,7-9"); "" is nil.
func parseCPUList(s string) (*unix.CPUSet, error) { return parseBitList(s, "CPU") }

// parseBitList parses a list of CPUs or NUMA nodes (what, for errors) in
// the kernel's list format into a bitmap of 1024 (the kernel's usual
// NR_CPUS and MAX_NUMNODES limit); "" is nil.
func parseBitList(s, what string) (*unix.CPUSet, error) {
	if s == "" {
		return nil, nil
	}
	set := new(unix.CPUSet)
	limit := uint64(unsafe.Sizeof(*set) * 8)
	cpu := func(v string) (int, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: not a %s number", v, what)
		}
		if n >= limit {
			return 0, fmt.Errorf("%s %d: above the highest rt supports (%d)", what, n, limit-1)
		}
		return int(n), nil
	}
	for _, r := range strings.Split(s, ",") {
		if strings.TrimSpace(r) == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(r, "-")
		first, err := cpu(lo)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = cpu(hi); err != nil {
				return nil, err
			}
			if first > last {
				return nil, fmt.Errorf("%q: empty range", r)
			}
		}
		for c := first; c <= last; c++ {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return nil, fmt.Errorf("%q: no %s", s, what)
	}
	return set, nil
}

// resetAffinity lets pid's main thread (and what it forks) run on every
// CPU; the kernel clamps the mask to the CPUs that exist and to the
// cgroup's cpuset, and remembers it when the cpuset grows. The mask is
// larger than any kernel's CPU count (runc's 64k), so no CPU is left out.
// Best effort, as runc: a failure leaves rt's own affinity, with a
// warning.
func resetAffinity(pid int) {
	all := bytes.Repeat([]byte{0xff}, 64*1024/8)
	_, _, errno := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(pid), uintptr(len(all)), uintptr(unsafe.Pointer(&all[0])))
	if errno != 0 {
		Warn(fmt.Sprintf("resetting the CPU affinity of pid %d: %v (the container's process keeps rt's)", pid, errno))
	}
}

// setAffinity pins pid's main thread to set (field names it in errors).
func setAffinity(pid int, set *unix.CPUSet, field string) error {
	if err := unix.SchedSetaffinity(pid, set); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%s: none of these CPUs is online and in the container's cpuset: %w", field, err)
		}
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}
