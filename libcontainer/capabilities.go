package libcontainer

import (
	"fmt"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
)

var (
	capNamesOnce sync.Once
	capNames     map[string]capability.Cap
)

// capFromName maps "CAP_NET_ADMIN" to its number.
func capFromName(name string) (capability.Cap, error) {
	capNamesOnce.Do(func() {
		capNames = map[string]capability.Cap{}
		for _, c := range capability.ListKnown() {
			capNames["CAP_"+strings.ToUpper(c.String())] = c
		}
	})
	c, ok := capNames[name]
	if !ok {
		return 0, fmt.Errorf("unknown capability %q", name)
	}
	return c, nil
}

// capList converts the spec's names, dropping capabilities this kernel does
// not know (as runc does: a newer spec must still run on an older kernel).
//
// A capability outside rt's own bounding set cannot be granted; runtime-spec
// 1.1 says to log it and go on, which runc and crun do.
func capList(names []string) []capability.Cap {
	return capListWarn(names, true)
}

func capListWarn(names []string, warn bool) []capability.Cap {
	last, _ := capability.LastCap()
	var out []capability.Cap
	for _, n := range names {
		c, err := capFromName(n)
		if err != nil || c > last {
			continue
		}
		if ok, err := capability.GetBound(c); err == nil && !ok {
			if warn {
				warnf("capability %s is not in rt's bounding set; skipped", n)
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// threadCaps loads the capability sets of the calling thread.
func threadCaps() (capability.Capabilities, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	if err := caps.Load(); err != nil {
		return nil, err
	}
	return caps, nil
}

// applyBoundingSet drops everything outside the bounding set. It must run
// while the process still has CAP_SETPCAP, i.e. before the user switch.
func applyBoundingSet(c *specs.LinuxCapabilities) error {
	caps, err := threadCaps()
	if err != nil {
		return err
	}
	caps.Clear(capability.BOUNDING)
	caps.Set(capability.BOUNDING, capList(c.Bounding)...)
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("apply bounding set: %w", err)
	}
	return nil
}

// applyCaps sets effective, permitted, inheritable and ambient sets of the
// calling thread, which is the one that will execve (main locks it).
func applyCaps(c *specs.LinuxCapabilities) error {
	caps, err := threadCaps()
	if err != nil {
		return err
	}
	caps.Clear(capability.CAPS | capability.AMBIENT)
	caps.Set(capability.EFFECTIVE, capList(c.Effective)...)
	caps.Set(capability.PERMITTED, capList(c.Permitted)...)
	caps.Set(capability.INHERITABLE, capList(c.Inheritable)...)
	if err := caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	// Ambient needs the cap in permitted and inheritable; set it last.
	amb := raisableAmbient(c)
	caps.Set(capability.AMBIENT, amb...)
	if len(amb) > 0 {
		if err := caps.Apply(capability.AMBS); err != nil {
			return fmt.Errorf("apply ambient capabilities: %w", err)
		}
	}
	return nil
}

// raisableAmbient is the ambient set the kernel accepts: only capabilities
// both permitted and inheritable. runc 1.1's `runc spec` lists ambient
// capabilities without inheritable ones; runc and crun run such a config
// with those left out and say nothing; rt does the same and records it
// once in its log (Note).
func raisableAmbient(c *specs.LinuxCapabilities) []capability.Cap {
	in := func(set []capability.Cap, x capability.Cap) bool {
		for _, y := range set {
			if x == y {
				return true
			}
		}
		return false
	}
	perm, inh := capListWarn(c.Permitted, false), capListWarn(c.Inheritable, false)
	var out []capability.Cap
	var skipped []string
	for _, a := range capListWarn(c.Ambient, false) {
		if in(perm, a) && in(inh, a) {
			out = append(out, a)
		} else {
			skipped = append(skipped, "CAP_"+strings.ToUpper(a.String()))
		}
	}
	if len(skipped) > 0 {
		notef("process.capabilities.ambient: %s not in both permitted and inheritable; not raised", strings.Join(skipped, ", "))
	}
	return out
}
