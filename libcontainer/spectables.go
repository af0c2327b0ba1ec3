package libcontainer

import (
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The spec's names and what they mean to the kernel, in one place: the
// validation (config.go), `rt features`, the init and the bootstrap that
// nsenter.c reads all use these tables. Adding a namespace type or an
// rlimit is one line here. (Mount options: mountopts.go; capabilities come
// from moby/sys/capability's list.)

// nsInfo is a namespace type's clone(2) flag and its /proc/<pid>/ns name.
type nsInfo struct {
	flag int
	proc string
}

var namespaces = map[specs.LinuxNamespaceType]nsInfo{
	specs.PIDNamespace:     {unix.CLONE_NEWPID, "pid"},
	specs.NetworkNamespace: {unix.CLONE_NEWNET, "net"},
	specs.MountNamespace:   {unix.CLONE_NEWNS, "mnt"},
	specs.IPCNamespace:     {unix.CLONE_NEWIPC, "ipc"},
	specs.UTSNamespace:     {unix.CLONE_NEWUTS, "uts"},
	specs.UserNamespace:    {unix.CLONE_NEWUSER, "user"},
	specs.CgroupNamespace:  {unix.CLONE_NEWCGROUP, "cgroup"},
	specs.TimeNamespace:    {unix.CLONE_NEWTIME, "time"},
}

// rlimitTypes maps the spec's names to resource numbers.
var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// memoryRlimits would starve the Go runtime of the init if lowered before
// its last step (mmap fails: "cannot allocate memory").
var memoryRlimits = map[string]bool{"RLIMIT_AS": true, "RLIMIT_DATA": true}

// personalities maps the spec's execution domains to personality(2) values.
var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

// ioprioClasses maps the spec's classes to the kernel's IOPRIO_CLASS_*.
var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

// mpolModes and mpolFlags map linux.memoryPolicy's names to
// set_mempolicy(2)'s modes and mode flags.
var mpolModes = map[specs.MemoryPolicyModeType]int{
	specs.MpolDefault:            unix.MPOL_DEFAULT,
	specs.MpolPreferred:          unix.MPOL_PREFERRED,
	specs.MpolBind:               unix.MPOL_BIND,
	specs.MpolInterleave:         unix.MPOL_INTERLEAVE,
	specs.MpolLocal:              unix.MPOL_LOCAL,
	specs.MpolPreferredMany:      unix.MPOL_PREFERRED_MANY,
	specs.MpolWeightedInterleave: unix.MPOL_WEIGHTED_INTERLEAVE,
}

var mpolFlags = map[specs.MemoryPolicyFlagType]int{
	specs.MpolFStaticNodes:   unix.MPOL_F_STATIC_NODES,
	specs.MpolFRelativeNodes: unix.MPOL_F_RELATIVE_NODES,
	specs.MpolFNumaBalancing: unix.MPOL_F_NUMA_BALANCING,
}

// names is a table's keys, sorted (for `rt features` and errors).
func names[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

func sortedKeys[K ~string, V any](m map[K]V) string { return strings.Join(names(m), ", ") }
