package cgroups

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.unified: raw cgroup v2 interface files, written last so
// they win over the translated values (as in runc).
var unifiedResource = resource{
	hasLimits: func(r *specs.LinuxResources) bool { return len(r.Unified) > 0 },
	validateV1: func(v *v1Check, r *specs.LinuxResources) {
		if len(r.Unified) > 0 {
			// runc says "invalid configuration" here, which callers match.
			v.add(fmt.Errorf("linux.resources.unified: invalid configuration: needs cgroup v2, this host uses cgroup v1: %w", ErrUnavailable))
		}
	},
	validateV2: func(v *v2Check, r *specs.LinuxResources) {
		for k := range r.Unified {
			v.add(v.unifiedKey(k))
		}
	},
	planV2: func(_ *v2Manager, r *specs.LinuxResources, p *v2Plan) error {
		keys := make([]string, 0, len(r.Unified))
		for k := range r.Unified {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.write(fmt.Sprintf("unified[%q]", k), k, r.Unified[k])
		}
		return nil
	},
}

// unifiedKey allows only a plain interface file of this cgroup
// ("<controller>.<knob>"), whose controller is enabled for it.
func (v *v2Check) unifiedKey(k string) error {
	ctrl, _, ok := strings.Cut(k, ".")
	if !ok || ctrl == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
		return fmt.Errorf("linux.resources.unified[%q]: not a cgroup interface file name", k)
	}
	if ctrl != "cgroup" && !slices.Contains(v.have, ctrl) && !exists(v.m.dir, k) {
		return unavailable(fmt.Sprintf("unified[%q]", k), ctrl+" controller")
	}
	if !exists(v.m.dir, k) {
		return unavailable(fmt.Sprintf("unified[%q]", k), "interface file")
	}
	return nil
}
