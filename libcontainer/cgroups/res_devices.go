package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ocgroups "github.com/opencontainers/cgroups"
	// Registers ocgroups.DevicesSetV1 (the devices.list emulator, which
	// computes the minimal transition and checks the result) and
	// ocgroups.DevicesSetV2 (eBPF filter that replaces, not stacks, an
	// earlier one). containerd's cgroup1 only appends rules, and its cgroup2
	// attaches one more program on every Set, so a later, wider rule set
	// could never take effect; runc's helpers are the well-kept ones here.
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/moby/sys/userns"
	_ "github.com/opencontainers/cgroups/devices"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.devices: the devices controller on v1, an eBPF filter
// on v2. Set at create only: `rt update` never changes them (runc's
// SkipDevices). Rules alone are not limits (HasLimits).
var devicesResource = resource{
	notOnUpdate: true,
	validateV1: func(v *v1Check, _ *specs.LinuxResources) {
		// Without a devices cgroup (only in a user namespace, where it
		// cannot be written anyway) rules are skipped as runc does;
		// elsewhere its absence would silently give the container every
		// device.
		if v.m.sub(cgroup1.Devices) == nil && !userns.RunningInUserNS() {
			v.add(unavailable("devices", "devices controller"))
		}
	},
	setV1: func(m *v1Manager, r *specs.LinuxResources) error {
		if m.sub(cgroup1.Devices) == nil {
			return nil
		}
		return setDevicesV1(m.dir(cgroup1.Devices), r.Devices)
	},
	planV2: func(m *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		p.steps = append(p.steps, func() error {
			err := setDevicesV2(m.dir, r.Devices)
			// Rootless in a delegated subtree, bpf(2) is refused (it needs
			// CAP_BPF and CAP_SYS_ADMIN on the host). runc ignores the device
			// cgroup there too: such a container cannot mknod a usable node,
			// and the nodes bound in from the host keep the host's
			// permissions, which already bound what the caller may open.
			if err != nil && errors.Is(err, os.ErrPermission) && (os.Geteuid() != 0 || userns.RunningInUserNS()) {
				return nil
			}
			return err
		})
		return nil
	},
}

func devPtr(v int64) *int64 { return &v }

// DefaultAllowedDevices are always allowed after the rules of config.json,
// so no rule set can take them away (runc's specconv.AllowedDevices, plus
// /dev/console which rt's console setup needs): mknod of any node (opening
// it still needs a rule), null, zero, full, random, urandom, tty, console,
// ptmx, /dev/pts/*, and /dev/net/tun which runc keeps for compatibility.
// /dev/fuse is deliberately not here: it needs an explicit rule.
var DefaultAllowedDevices = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},                                          // mknod any char device
	{Allow: true, Type: "b", Access: "m"},                                          // mknod any block device
	{Allow: true, Type: "c", Major: devPtr(1), Minor: devPtr(3), Access: "rwm"},    // /dev/null
	{Allow: true, Type: "c", Major: devPtr(1), Minor: devPtr(8), Access: "rwm"},    // /dev/random
	{Allow: true, Type: "c", Major: devPtr(1), Minor: devPtr(7), Access: "rwm"},    // /dev/full
	{Allow: true, Type: "c", Major: devPtr(5), Minor: devPtr(0), Access: "rwm"},    // /dev/tty
	{Allow: true, Type: "c", Major: devPtr(1), Minor: devPtr(5), Access: "rwm"},    // /dev/zero
	{Allow: true, Type: "c", Major: devPtr(1), Minor: devPtr(9), Access: "rwm"},    // /dev/urandom
	{Allow: true, Type: "c", Major: devPtr(5), Minor: devPtr(1), Access: "rwm"},    // /dev/console
	{Allow: true, Type: "c", Major: devPtr(136), Access: "rwm"},                    // /dev/pts/*
	{Allow: true, Type: "c", Major: devPtr(5), Minor: devPtr(2), Access: "rwm"},    // /dev/ptmx
	{Allow: true, Type: "c", Major: devPtr(10), Minor: devPtr(200), Access: "rwm"}, // /dev/net/tun
}

// deviceRules turns config.json's rules, in order, followed by the default
// allowed devices into the helpers' rule type. As in runc, the starting
// point is "deny everything": a config without any rule gets only the
// defaults.
func deviceRules(rs []specs.LinuxDeviceCgroup) ([]*devconfig.Rule, error) {
	all := make([]specs.LinuxDeviceCgroup, 0, len(rs)+len(DefaultAllowedDevices))
	all = append(all, rs...)
	all = append(all, DefaultAllowedDevices...)
	out := make([]*devconfig.Rule, 0, len(all))
	for i, d := range all {
		r := &devconfig.Rule{
			Allow: d.Allow,
			Major: devconfig.Wildcard,
			Minor: devconfig.Wildcard,
		}
		switch d.Type {
		case "", "a":
			r.Type = devconfig.WildcardDevice
		case "c":
			r.Type = devconfig.CharDevice
		case "b":
			r.Type = devconfig.BlockDevice
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: invalid type %q (want a, b or c)", i, d.Type)
		}
		if d.Major != nil {
			r.Major = *d.Major
		}
		if d.Minor != nil {
			r.Minor = *d.Minor
		}
		access := d.Access
		if access == "" {
			// The spec makes access optional; an access-less rule is
			// about the whole device, as runc's "a" wildcard is.
			access = "rwm"
		}
		if strings.Trim(access, "rwm") != "" {
			return nil, fmt.Errorf("linux.resources.devices[%d]: invalid access %q (want a combination of r, w, m)", i, d.Access)
		}
		r.Permissions = devconfig.Permissions(access)
		out = append(out, r)
	}
	return out, nil
}

// setDevicesV1 brings the v1 devices cgroup at dir to exactly the rules.
func setDevicesV1(dir string, rs []specs.LinuxDeviceCgroup) error {
	rules, err := deviceRules(rs)
	if err != nil {
		return err
	}
	// Set runs on a new cgroup only (Update never touches devices), so
	// write the rules ourselves, in the listed order as runtime-spec asks
	// ("MUST apply entries in the listed order"): deny everything, then
	// each rule. runc's emulator would compute an equivalent set but write
	// it in its own order, which devices.list then shows.
	write := func(file, rule string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(rule), 0); err != nil {
			return fmt.Errorf("linux.resources.devices: %s %q: %w", file, rule, err)
		}
		return nil
	}
	if err := write("devices.deny", "a"); err != nil {
		return err
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := write(file, r.CgroupString()); err != nil {
			return err
		}
	}
	return nil
}

// setDevicesV2 attaches (or replaces) the eBPF device filter of dir.
func setDevicesV2(dir string, rs []specs.LinuxDeviceCgroup) error {
	rules, err := deviceRules(rs)
	if err != nil {
		return err
	}
	if err := ocgroups.DevicesSetV2(dir, &ocgroups.Resources{Devices: rules}); err != nil {
		return fmt.Errorf("linux.resources.devices: eBPF device filter on %s: %w", dir, err)
	}
	return nil
}
