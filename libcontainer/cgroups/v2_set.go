package cgroups

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Set and Update on a v2 host; what each resource writes is in its
// res_*.go (resource.go).

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if err := m.create(); err != nil {
		return err
	}
	return m.set(r, false)
}

func (m *v2Manager) Update(r *specs.LinuxResources) error {
	// `rt update` must not resurrect a cgroup that is gone.
	if _, err := os.Stat(m.dir); err != nil {
		return fmt.Errorf("update cgroup %s: %w", m.path, err)
	}
	return m.set(r, true)
}

// v2Plan is what one Set writes: the parts containerd writes correctly in
// one cgroup2 Update, then plain steps (file writes, the device filter).
// containerd's ToResources gets the rest wrong for a runtime: it drops a
// quota given without a period, writes "-1" where the kernel only takes
// "max" (memory), computes swap.max as swap-limit even for -1, writes a
// 1..10000-scaled weight into io.bfq.weight (range 1..1000), and has no
// cpu.idle, burst, io weight per device or unified.
type v2Plan struct {
	dir   string
	res   cgroup2.Resources
	steps []func() error
}

// write adds the write of value to file, failing as linux.resources.<field>.
func (p *v2Plan) write(field, file, value string) {
	p.steps = append(p.steps, func() error { return writeLimit(field, p.dir, file, value) })
}

// cpu is the plan's cgroup2.CPU, which the cpu and cpuset units share.
func (p *v2Plan) cpu() *cgroup2.CPU {
	if p.res.CPU == nil {
		p.res.CPU = &cgroup2.CPU{}
	}
	return p.res.CPU
}

func (m *v2Manager) set(r *specs.LinuxResources, update bool) error {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if err := m.validate(r, update); err != nil {
		return err
	}
	p := &v2Plan{dir: m.dir}
	for _, res := range resources {
		if res.planV2 == nil || (update && res.notOnUpdate) {
			continue
		}
		if err := res.planV2(m, r, p); err != nil {
			return err
		}
	}
	cg, err := m.cg()
	if err == nil {
		err = cg.Update(&p.res)
	}
	if err != nil {
		return fmt.Errorf("linux.resources: cgroup %s: %w", m.path, err)
	}
	for _, step := range p.steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// validate rejects any set value the cgroup cannot hold: a controller not
// enabled for it (cgroup.controllers), a v1-only knob, or a missing file.
func (m *v2Manager) validate(r *specs.LinuxResources, update bool) error {
	ctrls, err := readFile(m.dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", m.path, err)
	}
	v := &v2Check{m: m, have: strings.Fields(ctrls)}
	for _, res := range resources {
		if res.validateV2 != nil && !(update && res.notOnUpdate) {
			res.validateV2(v, r)
		}
	}
	return errors.Join(v.errs...)
}

// v2Check collects the validation errors of one Set on v2.
type v2Check struct {
	m    *v2Manager
	have []string // the controllers enabled for the cgroup
	errs []error
}

func (v *v2Check) add(err error) {
	if err != nil {
		v.errs = append(v.errs, err)
	}
}

// need: the controller is enabled for the cgroup.
func (v *v2Check) need(field, ctrl string) error {
	if !slices.Contains(v.have, ctrl) {
		return unavailable(field, ctrl+" controller")
	}
	return nil
}

// needFile: the controller is enabled and the cgroup has file (a kernel feature).
func (v *v2Check) needFile(field, ctrl, file, what string) error {
	if err := v.need(field, ctrl); err != nil {
		return err
	}
	if !exists(v.m.dir, file) {
		return unavailable(field, what+" ("+file+")")
	}
	return nil
}

func v1only(field string) error {
	return fmt.Errorf("linux.resources.%s: cgroup v1 only, this host uses cgroup v2: %w", field, ErrUnavailable)
}

// numToStr is runc's v2 number format: 0 unset, -1 "max".
func numToStr(v int64) string {
	switch v {
	case 0:
		return ""
	case -1:
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
