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
	last, _ := capability.LastCap()
	var out []capability.Cap
	for _, n := range names {
		c, err := capFromName(n)
		if err != nil || c > last {
			continue
		}
		if ok, err := capability.GetBound(c); err == nil && !ok {
			warnf("capability %s is not in rt's bounding set; skipped", n)
			continue
		}
		out = append(out, c)
	}
	return out
}

// applyBoundingSet drops everything outside the bounding set. It must run
// while the process still has CAP_SETPCAP, i.e. before the user switch.
func applyBoundingSet(c *specs.LinuxCapabilities) error {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	if err := caps.Load(); err != nil {
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
	caps, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	if err := caps.Load(); err != nil {
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
	caps.Set(capability.AMBIENT, capList(c.Ambient)...)
	if len(c.Ambient) > 0 {
		if err := caps.Apply(capability.AMBS); err != nil {
			return fmt.Errorf("apply ambient capabilities: %w", err)
		}
	}
	return nil
}
