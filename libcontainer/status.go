package libcontainer

import (
	"errors"
	"fmt"
)

// The lifecycle rules, one predicate per operation (youki's can_start,
// can_kill, ...): nil when the operation is allowed in status s, else the
// error the user sees. The texts are runc's where callers (containerd,
// podman, scripts) match them.

// CanStart: only a created container starts.
func (s Status) CanStart() error {
	switch s {
	case Created:
		return nil
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running:
		return errors.New("cannot start an already running container")
	}
	return fmt.Errorf("cannot start a container in state %s", s)
}

// CanSignal: a created, running or paused container has an init to signal.
func (s Status) CanSignal() error {
	if s == Stopped || s == Creating {
		return ErrNotRunning
	}
	return nil
}

// CanDelete: a stopped (or never started) container goes away; a running
// or paused one needs force. A created one is killed, as runc does,
// because containerd's shim deletes created containers without force.
func (s Status) CanDelete(id string, force bool) error {
	switch s {
	case Stopped, Creating, Created:
		return nil
	}
	if force {
		return nil
	}
	return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, s)
}

// CanExec: a process can join a created or running container, a paused one
// only when asked (it then waits for resume).
func (s Status) CanExec(ignorePaused bool) error {
	switch s {
	case Running, Created:
		return nil
	case Paused:
		if ignorePaused {
			return nil
		}
		return errors.New("cannot exec in a paused container (use --ignore-paused to override)")
	case Stopped:
		return errors.New("cannot exec in a stopped container")
	}
	return fmt.Errorf("cannot exec in a container in state %s", s)
}

// CanPause: a created or running container can be frozen.
func (s Status) CanPause() error {
	if s == Running || s == Created {
		return nil
	}
	return ErrNotRunning
}

// CanResume: only a paused container thaws.
func (s Status) CanResume() error {
	if s == Paused {
		return nil
	}
	return ErrNotPaused
}

// HasProcesses: ps and stats need a container that is not stopped.
func (s Status) HasProcesses() error {
	if s == Stopped {
		return ErrNotRunning
	}
	return nil
}

// CanUpdate: limits change only while the container exists.
func (s Status) CanUpdate() error {
	if s == Stopped || s == Creating {
		return ErrNotRunning
	}
	return nil
}
