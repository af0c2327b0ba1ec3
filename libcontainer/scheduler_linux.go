package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// process.scheduler: sched_setattr(2) on the container's process (init
// and exec), before capabilities are dropped (SCHED_FIFO/RR and a
// negative nice need CAP_SYS_NICE). Rules and texts as runc's.

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// checkScheduler validates process.scheduler before anything is created.
func checkScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if s.Policy == "" {
		return errors.New("process.scheduler.policy: required")
	}
	if _, ok := schedPolicies[s.Policy]; !ok {
		return fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	for i, f := range s.Flags {
		if _, ok := schedFlags[f]; !ok {
			return fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
		}
	}
	if (s.Policy == specs.SchedOther || s.Policy == specs.SchedBatch) && (s.Nice < -20 || s.Nice > 19) {
		return fmt.Errorf("process.scheduler.nice: %d is not in -20..19 (policy %s)", s.Nice, s.Policy)
	}
	if s.Priority != 0 && s.Policy != specs.SchedFIFO && s.Policy != specs.SchedRR {
		return fmt.Errorf("process.scheduler.priority: only for SCHED_FIFO or SCHED_RR, not %s", s.Policy)
	}
	if s.Policy != specs.SchedDeadline && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0) {
		return fmt.Errorf("process.scheduler: runtime, deadline and period are only for SCHED_DEADLINE, not %s", s.Policy)
	}
	return nil
}

// setScheduler applies a validated process.scheduler to the calling thread
// (the init is single-threaded here: it runs locked to its OS thread).
func setScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	attr := &unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   schedPolicies[s.Policy],
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		attr.Flags |= schedFlags[f]
	}
	if err := unix.SchedSetAttr(0, attr, 0); err != nil {
		// SCHED_DEADLINE needs an affinity that spans every CPU
		// (sched_setattr(2), EPERM): linux.resources.cpu.cpus narrows it.
		if errors.Is(err, unix.EPERM) && !affinityAllCPUs() {
			return errors.New("process.scheduler: process scheduler can't be used together with AllowedCPUs (linux.resources.cpu.cpus)")
		}
		return fmt.Errorf("process.scheduler: sched_setattr: %w", err)
	}
	return nil
}

// checkSchedulerCPUs refuses, before anything is created, SCHED_DEADLINE
// with linux.resources.cpu.cpus narrower than the online CPUs: the kernel
// refuses a deadline task whose affinity does not span them, and rt sets
// the cpuset only after the init has started, so the error would come
// late, or not at all until the cpuset is written.
func checkSchedulerCPUs(s *specs.Spec) error {
	if s.Process == nil || s.Process.Scheduler == nil || s.Process.Scheduler.Policy != specs.SchedDeadline ||
		s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.CPU == nil || s.Linux.Resources.CPU.Cpus == "" {
		return nil
	}
	want, err := cpuList(s.Linux.Resources.CPU.Cpus)
	if err != nil {
		return fmt.Errorf("linux.resources.cpu.cpus: %w", err)
	}
	if online := onlineCPUs(); online != nil && !subset(online, want) {
		return errors.New("process.scheduler: process scheduler can't be used together with AllowedCPUs (SCHED_DEADLINE needs every CPU; linux.resources.cpu.cpus narrows them)")
	}
	return nil
}

// affinityAllCPUs: the calling thread may run on every online CPU.
func affinityAllCPUs() bool {
	var set unix.CPUSet
	online := onlineCPUs()
	if online == nil || unix.SchedGetaffinity(0, &set) != nil {
		return true
	}
	for c := range online {
		if !set.IsSet(c) {
			return false
		}
	}
	return true
}

func onlineCPUs() map[int]bool {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil
	}
	set, err := cpuList(strings.TrimSpace(string(data)))
	if err != nil {
		return nil
	}
	return set
}

func subset(of, set map[int]bool) bool {
	for c := range of {
		if !set[c] {
			return false
		}
	}
	return true
}

// cpuList parses the kernel's list format ("0-3,8").
func cpuList(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, r := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(strings.TrimSpace(r), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && found {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("%q is not a CPU list", s)
		}
		for c := a; c <= b; c++ {
			set[c] = true
		}
	}
	return set, nil
}
