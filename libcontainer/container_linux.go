package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/internal/atomicfile"
	"github.com/rt-project/rt/libcontainer/cgroups"
)

// Container is one container's state directory, <root>/<id>.
//
// The directory, opened once when the container is looked up (Load) or made
// (Create), is the container's identity: Create always makes a new
// directory, so the inode held open can never belong to another container
// with the same ID. Lock takes the flock on that open directory and then
// checks that it is still the one at <root>/<id>; otherwise the container
// the command looked up is gone ("container does not exist").
type Container struct {
	dir   string
	dirf  *os.File // the directory: identity and flock
	state State
	// locked: this process holds the flock; creating: inside Create.
	locked, creating bool
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.state.ID }

// Spec returns the spec the container was created with.
func (c *Container) Spec() *specs.Spec { return c.state.Config }

// Pid returns the host pid of the container init (0 before it exists).
func (c *Container) Pid() int { return c.state.Pid }

// Load opens an existing container. A directory without state.json (a
// create or delete that was killed half-way) loads with an empty state so
// delete can remove it.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	} else if err != nil {
		return nil, err
	}
	st, err := readStateAt(f, id)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Container{dir: dir, dirf: f, state: *st}, nil
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

// Lock serialises commands acting on this container. It fails with
// ErrNotExist when the container that was looked up is gone by the time the
// lock is ours (deleted, and maybe replaced by a new container with the
// same ID); otherwise it reloads the state another rt may have changed.
func (c *Container) Lock() error {
	TestStop("lock")
	if c.locked {
		return nil
	}
	gone := fmt.Errorf("%w: %s", ErrNotExist, c.state.ID)
	if c.dirf == nil {
		return gone
	}
	if err := flock(c.dirf, unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", c.dir, err)
	}
	fresh, err := c.reload()
	if err != nil {
		_ = flock(c.dirf, unix.LOCK_UN)
		if errors.Is(err, ErrNotExist) {
			return gone
		}
		return err
	}
	c.state, c.locked = *fresh, true
	return nil
}

// reload reads the state again through the open directory, after checking
// that the directory is still <root>/<id> and holds the same container.
func (c *Container) reload() (*State, error) {
	var held, now unix.Stat_t
	if err := unix.Fstat(int(c.dirf.Fd()), &held); err != nil {
		return nil, err
	}
	if err := unix.Stat(c.dir, &now); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, ErrNotExist
		}
		return nil, err
	}
	if held.Dev != now.Dev || held.Ino != now.Ino {
		return nil, ErrNotExist
	}
	st, err := readStateAt(c.dirf, c.state.ID)
	if err != nil {
		return nil, err
	}
	if !sameContainer(&c.state, st) {
		return nil, ErrNotExist
	}
	return st, nil
}

// sameContainer checks the identity recorded in two states of one
// directory: creation time, and the init (pid and start time) once it
// exists. A state not written yet (or already removed) matches anything.
func sameContainer(a, b *State) bool {
	if a.Created.IsZero() || b.Created.IsZero() {
		return true
	}
	if !a.Created.Equal(b.Created) {
		return false
	}
	return a.Pid == 0 || (a.Pid == b.Pid && a.StartTime == b.StartTime)
}

// Unlock releases Lock.
func (c *Container) Unlock() {
	if c.locked {
		_ = flock(c.dirf, unix.LOCK_UN)
		c.locked = false
	}
}

// ensureLocked takes the lock unless the caller already holds it; the
// returned func undoes only what it did.
func (c *Container) ensureLocked() (func(), error) {
	if c.locked {
		return func() {}, nil
	}
	if err := c.Lock(); err != nil {
		return nil, err
	}
	return c.Unlock, nil
}

// creatorAlive reports whether the rt that creates this container still
// runs: a create holds the lock from before the directory appears until the
// container is ready (or removed again).
func (c *Container) creatorAlive() bool {
	switch {
	case c.creating:
		return true
	case c.locked || c.dirf == nil:
		return false
	}
	if err := unix.Flock(int(c.dirf.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true // held: a create (or a command acting on its remains)
	}
	_ = unix.Flock(int(c.dirf.Fd()), unix.LOCK_UN)
	return false
}

// cgroup is the container's cgroup manager: nil when it has none, and an
// errNotOurCgroup error when state.json names a cgroup this container
// neither created (cgroups/owner.go) nor has its init in, so that no
// command ever freezes, signals or removes a cgroup of someone else's.
func (c *Container) cgroup() (cgroups.Manager, error) {
	if c.state.CgroupPath == "" {
		return nil, nil
	}
	load := cgroups.Load
	if c.state.CgroupSystemd != "" {
		load = func(p string) (cgroups.Manager, error) { return cgroups.LoadSystemd(c.state.CgroupSystemd, p) }
	}
	cg, err := load(c.state.CgroupPath)
	if err != nil {
		return nil, err
	}
	if cg.Owned(c.cgroupOwner()) {
		return cg, nil
	}
	if c.state.Pid > 0 && c.state.initAlive() {
		if pids, err := cg.Pids(); err == nil && slices.Contains(pids, c.state.Pid) {
			return cg, nil // an existing empty cgroup the container joined
		}
	}
	return nil, fmt.Errorf("%w: %s is not container %s's", errNotOurCgroup, c.state.CgroupPath, c.state.ID)
}

var errNotOurCgroup = errors.New("cgroup not created by rt for this container")

// killedCreateRemains: a create killed after making the container's cgroup
// but before marking it leaves an empty, unmarked cgroup. Under rt's own
// parent (/rt) such a cgroup is removed; never one elsewhere, one holding
// processes, or one carrying any container's mark.
func (c *Container) killedCreateRemains() cgroups.Manager {
	if !strings.HasPrefix(c.state.CgroupPath, cgroups.DefaultParent+"/") {
		return nil
	}
	cg, err := cgroups.Load(c.state.CgroupPath)
	if err != nil || !cg.Unmarked() {
		return nil
	}
	if pids, err := cg.Pids(); (err != nil && !errors.Is(err, os.ErrNotExist)) || len(pids) > 0 {
		return nil
	}
	return cg
}

// cgroupOwner is the mark rt leaves on the cgroups it creates for this
// container: its state dir and creation time.
func (c *Container) cgroupOwner() string {
	return c.dir + "@" + c.state.Created.Format(time.RFC3339Nano)
}

// Status derives the status from the kernel: a live init with the stored
// start time; whether that init is still rt waiting for start (its
// executable) or has exec'd the user process; the freezer. A container
// without an init is "creating" only while its creator runs, and stopped
// once that is gone (killed half-way, or a delete killed half-way).
func (c *Container) Status() Status {
	if c.state.Pid == 0 {
		if c.creatorAlive() {
			return Creating
		}
		return Stopped
	}
	if !c.state.initAlive() {
		return Stopped
	}
	// Frozen first (runc's order): a paused created container is paused,
	// so start refuses it instead of waiting for an init that cannot run.
	if cg, err := c.cgroup(); err == nil && cg != nil {
		if paused, err := cg.Paused(); err == nil && paused {
			return Paused
		}
	}
	if c.waitingForStart() {
		return Created
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

// waitingForStart reports whether the (live) init has not exec'd the user
// process yet: its executable is still the sealed rt it was at create. The
// exec fifo is only a fallback for states saved without that record (or a
// /proc we may not read): a `rt start` killed after the exec but before it
// removed the fifo leaves it behind.
func (c *Container) waitingForStart() bool {
	if c.state.InitExe != "" {
		if exe, err := procExe(c.state.Pid); err == nil {
			return exe == c.state.InitExe
		}
	}
	_, err := os.Stat(filepath.Join(c.dir, fifoName))
	return err == nil
}

// Start releases a created container's init to exec the user process.
func (c *Container) Start() error {
	unlock, err := c.ensureLocked()
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.Status().CanStart(); err != nil {
		return err
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
	if err := c.readFifo(fifo); err != nil {
		return err
	}
	TestStop("start-unlink")
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

func (c *Container) readFifo(f *os.File) error {
	buf := make([]byte, 1)
	fd := int(f.Fd())
	// No deadline: the init may be running startContainer hooks (which
	// have their own timeouts); only its death, or its exec by someone
	// else, ends the wait. Between checks we sleep in poll(2), not spin.
	for {
		n, err := unix.Read(fd, buf)
		if n == 1 {
			return waitExec(f)
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			return fmt.Errorf("read exec fifo: %w", err)
		}
		alive := c.state.initAlive()
		if !alive || (c.state.InitExe != "" && !c.waitingForStart()) {
			// It may have written, exec'd (and exited) between our read
			// and this check: what it wrote is still in the fifo.
			if n, _ := unix.Read(fd, buf); n == 1 {
				return waitExec(f) // what follows is a failed execve's error, if any
			}
			if !alive {
				return errors.New("container init exited before start")
			}
			// Released by an earlier start that died before it read.
			return errors.New("cannot start an already running container")
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 100); n > 0 && fds[0].Revents&unix.POLLIN == 0 {
			time.Sleep(10 * time.Millisecond) // hang-up without data: no busy loop
		}
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
	// SIGKILL of a container without its own pid namespace kills every
	// process of its cgroup, as runc does: only the death of a pid
	// namespace's init takes the rest of the namespace with it, so killing
	// the init alone would leave its exec'd processes running. This holds
	// also once the init is gone (stopped) while others remain.
	if sig == unix.SIGKILL && st != Creating && !c.privatePidNS() {
		if cg, err := c.cgroup(); err == nil && cg != nil {
			if pids, err := cg.Pids(); err == nil && (len(pids) > 0 || st != Stopped) {
				return cg.Kill(sig)
			}
		}
	}
	if err := st.CanSignal(); err != nil {
		if all && st == Stopped {
			return nil // runc: kill --all of a stopped container is not an error
		}
		return err
	}
	// Signal 0 only checks the init: there is nothing to send to the rest.
	if all && sig != 0 {
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

// privatePidNS: the container has a pid namespace of its own (not the
// host's, nor one joined by path).
func (c *Container) privatePidNS() bool {
	cfg := c.state.Config
	if cfg == nil || cfg.Linux == nil {
		return true // unknown: only the init is signalled
	}
	for _, ns := range cfg.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return ns.Path == ""
		}
	}
	return false
}

// Delete removes a container. A running or paused one needs force; a
// created one is killed (runc does the same). It takes the lock unless the
// caller holds it.
func (c *Container) Delete(force bool) error {
	unlock, err := c.ensureLocked()
	if err != nil {
		return err
	}
	defer unlock()
	RemoveStaleCreating(filepath.Dir(c.dir))
	if err := c.Status().CanDelete(c.state.ID, force); err != nil {
		return err
	}
	return c.destroy()
}

// destroy kills whatever is left, removes the cgroup and the state dir, then
// runs poststop hooks. It is idempotent and works on half-created containers.
func (c *Container) destroy() error {
	var errs []error
	cg, err := c.cgroup()
	if errors.Is(err, errNotOurCgroup) {
		// Silent for a create that was refused before its init existed
		// (e.g. a cgroup in use): the user has that error already.
		if r := c.killedCreateRemains(); r != nil {
			if err := r.Destroy(); err != nil {
				errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
			}
		} else if c.state.Pid != 0 {
			warnf("%v: leaving it and its processes alone", err)
		}
	} else if err != nil {
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
	if err := c.cleanupRootfs(); err != nil {
		errs = append(errs, err)
	}
	if cg != nil {
		if err := cg.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	// A failing poststop hook is only a warning, and the others still run.
	if c.state.Config != nil && c.state.Config.Hooks != nil {
		runHooksWarn("poststop", c.state.Config.Hooks.Poststop, c.specState(Stopped), func(err error) { warnf("%v", err) })
	}
	// state.json first: a delete killed half-way leaves a directory
	// without state, which loads as a container whose creator is gone.
	if err := os.Remove(filepath.Join(c.dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	TestStop("delete-rmdir")
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanupRootfs undoes what the caller of Create prepared (CreateOpts
// RootfsMount, Cleanup): a lazy unmount, then the directory, which is
// only removed once nothing is mounted there any more.
//
// Like the cgroup mark, the directory must say it is this container's: it
// holds owner.json naming this state root and ID (imagestore writes it),
// and the mount is inside it; a state.json edited to name anything else
// makes delete warn and leave it alone.
func (c *Container) cleanupRootfs() error {
	if c.state.RootfsMount == "" && c.state.Cleanup == "" {
		return nil
	}
	if !c.ownsCleanupDir() {
		warnf("container %s: %q is not marked as its directory (owner.json): leaving it alone", c.state.ID, c.state.Cleanup)
		return nil
	}
	if m := c.state.RootfsMount; m != "" {
		for {
			err := unix.Unmount(m, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
			if err == nil {
				continue // stacked mounts: until none is left
			}
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				break // not (or no longer) a mount point
			}
			return fmt.Errorf("unmount rootfs %s: %w", m, err)
		}
	}
	if d := c.state.Cleanup; d != "" {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove %s: %w", d, err)
		}
	}
	return nil
}

// ownsCleanupDir checks the mark of CreateOpts.Cleanup: owner.json with
// this container's state root and ID, and RootfsMount inside it.
func (c *Container) ownsCleanupDir() bool {
	d := c.state.Cleanup
	if d == "" || !filepath.IsAbs(d) || filepath.Clean(d) != d {
		return false
	}
	if m := c.state.RootfsMount; m != "" && filepath.Dir(m) != d {
		return false
	}
	b, err := os.ReadFile(filepath.Join(d, "owner.json"))
	if err != nil {
		return errors.Is(err, os.ErrNotExist) && !exists(d) // already gone
	}
	var o struct{ Root, ID string }
	if json.Unmarshal(b, &o) != nil {
		return false
	}
	if o.ID != c.state.ID || o.Root == "" {
		return false
	}
	// The same state root, however it was spelled (symlinks).
	a, err1 := os.Stat(o.Root)
	b2, err2 := os.Stat(filepath.Dir(c.dir))
	return err1 == nil && err2 == nil && os.SameFile(a, b2)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
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
	if err := atomicfile.WriteVolatile(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}
