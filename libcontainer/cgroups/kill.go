package cgroups

import (
	"fmt"

	"golang.org/x/sys/unix"
)

type freezer interface {
	Freeze() error
	Thaw() error
	Paused() (bool, error)
	Pids() ([]int, error)
	Path() string
}

// killAll signals every process of the cgroup as runc's signalAllProcesses:
// freeze first so nothing forks between listing and signalling, then thaw.
// A container the user paused stays paused, except for SIGKILL: on v1 a
// frozen task cannot die until thawed, and kill -9 means "gone now".
// Without a usable freezer the signals are still sent.
func killAll(m freezer, sig unix.Signal) error {
	// An empty cgroup stays empty (only a member could fork into it), so
	// there is nothing to freeze: the common case of delete after the
	// container exited, which froze and thawed for nothing.
	if pids, err := m.Pids(); err == nil && len(pids) == 0 {
		return nil
	}
	wasPaused, _ := m.Paused()
	frozen := m.Freeze() == nil
	pids, err := m.Pids()
	if err == nil {
		err = signalPids(pids, sig)
	}
	if frozen && (!wasPaused || sig == unix.SIGKILL) {
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return fmt.Errorf("signal %v to cgroup %s: %w", sig, m.Path(), err)
	}
	return nil
}
