package libcontainer

import (
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// Features describes what this rt build and host support, for `rt
// features` (runtime-spec features.md). It is derived from the same tables
// the validation uses, so it cannot claim more than rt does.
func Features() *features.Features {
	no, yes := false, true
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		Linux: &features.Linux{
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			NetDevices:      &features.NetDevices{Enabled: &no},
		},
	}
	for o := range mountFlags {
		f.MountOptions = append(f.MountOptions, o)
	}
	for o := range propagationFlags {
		f.MountOptions = append(f.MountOptions, o)
	}
	for o := range recAttrFlags {
		f.MountOptions = append(f.MountOptions, o)
	}
	f.MountOptions = append(f.MountOptions, "tmpcopyup", "idmap", "ridmap")
	sort.Strings(f.MountOptions)
	for t := range namespaces {
		f.Linux.Namespaces = append(f.Linux.Namespaces, string(t))
	}
	sort.Strings(f.Linux.Namespaces)
	for _, c := range capability.ListKnown() {
		f.Linux.Capabilities = append(f.Linux.Capabilities, "CAP_"+strings.ToUpper(c.String()))
	}
	mode, _ := cgroups.HostMode()
	v1, v2, sd := mode == cgroups.ModeV1, mode == cgroups.ModeV2, true
	f.Linux.Cgroup = &features.Cgroup{V1: &v1, V2: &v2, Systemd: &sd, SystemdUser: &no}
	f.Linux.MemoryPolicy = &features.MemoryPolicy{Modes: names(mpolModes), Flags: names(mpolFlags)}
	enabled := seccomp.Enabled
	f.Linux.Seccomp = &features.Seccomp{Enabled: &enabled}
	if enabled {
		f.Linux.Seccomp.Actions = seccomp.KnownActions()
		f.Linux.Seccomp.Operators = seccomp.KnownOperators()
		f.Linux.Seccomp.Archs = seccomp.KnownArchs()
		f.Linux.Seccomp.KnownFlags = seccomp.KnownFlags()
		f.Linux.Seccomp.SupportedFlags = seccomp.SupportedFlags()
	}
	return f
}
