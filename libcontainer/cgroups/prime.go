package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PrimeAttach writes, in the background, this process's pid to the cgroup
// it is already in, and so changes nothing. Moving any process into a cgroup
// takes the kernel's global cgroup_threadgroup_rwsem for writing, and the
// first writer after a quiet spell waits for an RCU grace period
// (rcu_sync_enter; 7-13 ms on the cgroup v1 CI machine, unless the hierarchy
// is mounted with favordynmods). A writer that comes within a grace period
// of the last one is fast (0.2 ms). Paid here, while rt reads the config and
// makes the state directory, the container's own attach a few milliseconds
// later (Apply) no longer waits for it. Errors are ignored: without the
// right to write (rootless) nothing is primed and nothing is lost.
func PrimeAttach() {
	go func() {
		p := ownProcsFile()
		if p == "" {
			return
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()))
	}()
}

// ownProcsFile is the cgroup.procs of the cgroup this process is in: on v2
// the unified one, on v1 (and hybrid hosts) that of the first v1 hierarchy
// listed; "" when there is none.
func ownProcsFile() string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	mode, err := HostMode()
	if err != nil {
		return ""
	}
	var hier []Hierarchy
	if mode == ModeV1 {
		if hier, err = V1Hierarchies(); err != nil || len(hier) == 0 {
			return ""
		}
	}
	// Lines are "id:controllers:path"; v2's is "0::path".
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !filepath.IsAbs(parts[2]) {
			continue
		}
		if mode == ModeV2 {
			if parts[1] == "" {
				return filepath.Join(unifiedMountpoint, parts[2], "cgroup.procs")
			}
			continue
		}
		for _, h := range hier {
			if parts[1] == h.Options() {
				return filepath.Join(h.Mountpoint, parts[2], "cgroup.procs")
			}
		}
	}
	return ""
}
