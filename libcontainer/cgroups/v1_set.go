package cgroups

import (
	"errors"
	"fmt"
	"os"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Set and Update on a v1 host; what each resource writes is in its
// res_*.go (resource.go).

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	// Set runs at create: make the directories if Apply has not yet.
	if err := m.Apply(-1); err != nil {
		return err
	}
	return m.set(r, false)
}

func (m *v1Manager) Update(r *specs.LinuxResources) error {
	// `rt update` must not resurrect a cgroup that is gone.
	if _, err := os.Stat(m.pidsDir()); err != nil {
		return fmt.Errorf("update cgroup %s: %w", m.path, err)
	}
	return m.set(r, true)
}

func (m *v1Manager) set(r *specs.LinuxResources, update bool) error {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	// Check everything first so a config the host cannot honour changes
	// nothing, and the error names the config.json field.
	v := &v1Check{m: m}
	for _, res := range resources {
		if res.validateV1 != nil && !(update && res.notOnUpdate) {
			res.validateV1(v, r)
		}
	}
	if err := errors.Join(v.errs...); err != nil {
		return err
	}
	for _, res := range resources {
		if res.setV1 == nil || (update && res.notOnUpdate) {
			continue
		}
		if err := res.setV1(m, r); err != nil {
			return err
		}
	}
	return nil
}

// v1Check collects the validation errors of one Set on v1.
type v1Check struct {
	m    *v1Manager
	errs []error
}

func (v *v1Check) add(err error) {
	if err != nil {
		v.errs = append(v.errs, err)
	}
}

// need: the controller is mounted.
func (v *v1Check) need(field string, name cgroup1.Name) error {
	if v.m.sub(name) == nil {
		return unavailable(field, string(name)+" controller")
	}
	return nil
}

// needFile: the controller is mounted and has file (a kernel feature).
func (v *v1Check) needFile(field string, name cgroup1.Name, file, what string) error {
	if err := v.need(field, name); err != nil {
		return err
	}
	if !exists(v.m.dir(name), file) {
		return unavailable(field, what+" ("+file+")")
	}
	return nil
}

// update runs containerd's Update of one controller for r; an error
// names linux.resources.<field>.
func (m *v1Manager) update(field string, name cgroup1.Name, r *specs.LinuxResources) error {
	if err := m.sub(name).(v1Updater).Update(m.path, r); err != nil {
		return fmt.Errorf("linux.resources.%s: %w", field, err)
	}
	return nil
}

// writeLimit writes one interface file; an error names
// linux.resources.<field>.
func writeLimit(field, dir, file, value string) error {
	if err := writeFile(dir, file, value); err != nil {
		return fmt.Errorf("linux.resources.%s: %w", field, err)
	}
	return nil
}

// unavailable is the "host lacks it" error: "linux.resources.<field>: <what> not available".
func unavailable(field, what string) error {
	return fmt.Errorf("linux.resources.%s: %s %w", field, what, ErrUnavailable)
}
