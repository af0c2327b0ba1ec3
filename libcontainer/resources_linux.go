package libcontainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// The operations on a container's cgroup: pause, resume, ps, stats, events
// and update.

// ErrNotPaused is returned by Resume of a container that is not paused.
var ErrNotPaused = errors.New("container not paused")

func (c *Container) requireCgroup() (cgroups.Manager, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil {
		// Only a rootless container runs without one (create_linux.go).
		return nil, fmt.Errorf("container %s has no cgroup: it was created rootless where %s", c.state.ID, notDelegatedHint)
	}
	return cg, nil
}

// Pause freezes every process of a created or running container.
func (c *Container) Pause() error {
	if err := c.Status().CanPause(); err != nil {
		return err
	}
	cg, err := c.requireCgroup()
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if err := c.Status().CanResume(); err != nil {
		return err
	}
	cg, err := c.requireCgroup()
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// Processes lists the host pids of every process in the container's
// cgroup. A stopped container has an empty list, or what its cgroup still
// holds (processes left by an init without its own pid namespace), as in
// runc: `ps` of a container that just exited is no error.
func (c *Container) Processes() ([]int, error) {
	cg, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	pids, err := cg.Pids()
	if err != nil && c.Status() == Stopped && errors.Is(err, os.ErrNotExist) {
		return nil, nil // the cgroup is gone with the container's processes
	}
	return pids, err
}

// Stats reads the cgroup's counters (`rt events`).
func (c *Container) Stats() (*cgroups.Stats, error) {
	if err := c.Status().HasProcesses(); err != nil {
		return nil, err
	}
	cg, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// OOMEvents delivers one value per OOM kill in the container until ctx ends.
func (c *Container) OOMEvents(ctx context.Context) (<-chan struct{}, error) {
	cg, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	return cg.OOMEvents(ctx)
}

// Update changes the limits of a live container and records them, so a
// later update starts from what is in force. Devices are never changed.
func (c *Container) Update(r *specs.LinuxResources) error {
	if err := c.Status().CanUpdate(); err != nil {
		return err
	}
	cg, err := c.requireCgroup()
	if err != nil {
		return err
	}
	if err := cg.Update(r); err != nil {
		return err
	}
	if c.state.Config != nil && c.state.Config.Linux != nil {
		c.state.Config.Linux.Resources = mergeResources(c.state.Config.Linux.Resources, r)
	}
	return c.saveState()
}

// Resources returns the limits in force (as created, plus updates).
func (c *Container) Resources() *specs.LinuxResources {
	if c.state.Config == nil || c.state.Config.Linux == nil || c.state.Config.Linux.Resources == nil {
		return &specs.LinuxResources{}
	}
	return c.state.Config.Linux.Resources
}

// mergeResources overlays the set fields of upd onto cur (devices kept).
func mergeResources(cur, upd *specs.LinuxResources) *specs.LinuxResources {
	if cur == nil {
		cur = &specs.LinuxResources{}
	}
	out := *cur
	// Every resource the update sets replaces the recorded one, field by
	// field, so a resource added to the spec cannot be forgotten here (rdma
	// once was). Devices are never updated (runc's SkipDevices).
	o, u := reflect.ValueOf(&out).Elem(), reflect.ValueOf(upd).Elem()
	for i := 0; i < u.NumField(); i++ {
		if u.Type().Field(i).Name == "Devices" || u.Field(i).IsNil() {
			continue
		}
		o.Field(i).Set(u.Field(i))
	}
	return &out
}
