package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer/cgroups"
)

// Container is one container's state directory, <root>/<id>.
type Container struct {
	dir   string
	state State
	lock  *os.File
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.state.ID }

// Spec returns the spec the container was created with.
func (c *Container) Spec() *specs.Spec { return c.state.Config }

// Pid returns the host pid of the container init (0 before it exists).
func (c *Container) Pid() int { return c.state.Pid }

// Load opens an existing container. A directory without state.json (a
// create that crashed early) loads as "creating" so delete can remove it.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	} else if err != nil {
		return nil, err
	}
	c := &Container{dir: dir, state: State{ID: id}}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &c.state); err != nil {
		return nil, fmt.Errorf("parse state of %s: %w", id, err)
	}
	return c, nil
}

// List loads every container under root, sorted by ID. A missing root is an
// empty list.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].state.ID < out[j].state.ID })
	return out, nil
}

// Lock serialises commands acting on this container.
func (c *Container) Lock() error {
	l, err := lockDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotExist, c.state.ID) // deleted meanwhile
	}
	if err != nil {
		return err
	}
	c.lock = l
	// Reload: another rt may have changed the state while we waited.
	if fresh, err := Load(filepath.Dir(c.dir), c.state.ID); err == nil {
		c.state = fresh.state
	}
	return nil
}

// Unlock releases Lock.
func (c *Container) Unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

func (c *Container) cgroup() (cgroups.Manager, error) {
	if c.state.CgroupPath == "" {
		return nil, nil
	}
	return cgroups.Load(c.state.CgroupPath)
}

// Status derives the status from the kernel: a live init with the stored
// start time, the exec fifo (still waiting for start) and the freezer.
func (c *Container) Status() Status {
	if c.state.Pid == 0 {
		return Creating
	}
	if !c.state.initAlive() {
		return Stopped
	}
	if _, err := os.Stat(filepath.Join(c.dir, fifoName)); err == nil {
		return Created
	}
	if cg, err := c.cgroup(); err == nil && cg != nil {
		if paused, err := cg.Paused(); err == nil && paused {
			return Paused
		}
	}
	return Running
}

// OCIState is the state as `rt state` prints it.
func (c *Container) OCIState() *OCIState {
	st := c.Status()
	pid := c.state.Pid
	if st == Stopped {
		pid = 0
	}
	return &OCIState{
		OCIVersion: specs.Version, ID: c.state.ID, Pid: pid, Status: st,
		Bundle: c.state.Bundle, Rootfs: c.state.Rootfs, Created: c.state.Created,
		Annotations: c.state.Annotations, Owner: c.state.Owner,
	}
}

func (c *Container) specState(st Status) *specs.State {
	return &specs.State{Version: specs.Version, ID: c.state.ID, Status: specs.ContainerState(st), Pid: c.state.Pid, Bundle: c.state.Bundle, Annotations: c.state.Annotations}
}

// Start releases a created container's init to exec the user process.
func (c *Container) Start() error {
	switch st := c.Status(); st {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running, Paused:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in state %s", st)
	}
	if c.state.Config.Process == nil {
		return errors.New("cannot start a container without a process")
	}
	fifoPath := filepath.Join(c.dir, fifoName)
	// Non-blocking open: a dead init must not hang us. Once open, read in
	// blocking mode; EOF means the init has not reached the fifo yet (or died).
	fifo, err := os.OpenFile(fifoPath, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	if err := readFifo(fifo, &c.state); err != nil {
		return err
	}
	if err := os.Remove(fifoPath); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	if h := c.state.Config.Hooks; h != nil {
		if err := runHooks("poststart", h.Poststart, c.specState(Running)); err != nil {
			// runtime-spec 1.3: a failed poststart stops the container.
			_ = c.Signal(unix.SIGKILL, true)
			return err
		}
	}
	return nil
}

func readFifo(f *os.File, st *State) error {
	buf := make([]byte, 1)
	// No deadline: the init may be running startContainer hooks (which
	// have their own timeouts); only its death ends the wait.
	for {
		n, err := unix.Read(int(f.Fd()), buf)
		if n == 1 {
			return waitExec(f)
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if !st.initAlive() {
			// It may have written, exec'd and exited between our read
			// and this check: what it wrote is still in the fifo.
			if n, _ := unix.Read(int(f.Fd()), buf); n == 1 {
				return waitExec(f) // what follows is a failed execve's error, if any
			}
			return errors.New("container init exited before start")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// waitExec reads the fifo to EOF: the init's end is close-on-exec, so EOF
// means the user process has replaced the init (or the init died). A failed
// execve is reported in the fifo before the init exits.
func waitExec(f *os.File) error {
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		return err
	}
	buf := make([]byte, 512)
	var msg []byte
	for {
		n, err := unix.Read(int(f.Fd()), buf)
		if n > 0 {
			msg = append(msg, buf[:n]...)
			continue
		}
		if n == 0 && err == nil {
			return fifoExecError(msg)
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("read exec fifo: %w", err)
		}
	}
}

// Signal sends sig to the init, or with all to every process in the
// container's cgroup. Only a created, running or paused container can be
// signalled.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	st := c.Status()
	if st == Stopped || st == Creating {
		if all && st == Stopped {
			return nil // runc: kill --all of a stopped container is not an error
		}
		return ErrNotRunning
	}
	if all {
		cg, err := c.cgroup()
		if err != nil {
			return err
		}
		if cg != nil {
			return cg.Kill(sig)
		}
	}
	if err := unix.Kill(c.state.Pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("kill %d: %w", c.state.Pid, err)
	}
	if st == Paused && sig == unix.SIGKILL {
		// A frozen task only dies once thawed.
		if cg, err := c.cgroup(); err == nil && cg != nil {
			_ = cg.Thaw()
		}
	}
	return nil
}

// Delete removes a container. A running or paused one needs force; a
// created one is killed (runc does the same).
func (c *Container) Delete(force bool) error {
	st := c.Status()
	switch st {
	case Stopped, Creating, Created:
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.state.ID, st)
		}
	}
	return c.destroy()
}

// destroy kills whatever is left, removes the cgroup and the state dir, then
// runs poststop hooks. It is idempotent and works on half-created containers.
func (c *Container) destroy() error {
	var errs []error
	cg, err := c.cgroup()
	if err != nil {
		errs = append(errs, err)
	}
	if cg != nil {
		// A cgroup that was never made (create failed early) is fine.
		if err := cg.Kill(unix.SIGKILL); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("kill processes: %w", err))
		}
	}
	if c.state.initAlive() {
		_ = unix.Kill(c.state.Pid, unix.SIGKILL)
		waitGone(&c.state)
	}
	if cfg := c.state.Config; cfg != nil && cfg.Linux != nil && !hasNS(cfg, specs.MountNamespace) && c.state.Rootfs != "" {
		if err := unmountRootfs(c.state.Rootfs); err != nil {
			errs = append(errs, err)
		}
	}
	if cg != nil {
		if err := cg.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	// A failing poststop hook is only a warning, and the others still run.
	if c.state.Config != nil && c.state.Config.Hooks != nil {
		for i, h := range c.state.Config.Hooks.Poststop {
			if err := runHooks(fmt.Sprintf("poststop #%d", i), []specs.Hook{h}, c.specState(Stopped)); err != nil {
				warnf("%v", err)
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitGone waits up to 10s for a killed init to disappear (or turn zombie).
func waitGone(st *State) {
	for i := 0; i < 1000 && st.initAlive(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func ownerName() string {
	uid := os.Geteuid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(uid)
}

// WritePidFile writes the init pid atomically (temp file + rename), as
// callers like containerd read it as soon as create returns.
func WritePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}
