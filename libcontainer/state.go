package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/internal/atomicfile"
)

// Error texts callers match on (containerd's shim, podman): keep them as runc's.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container with given ID already exists")
	ErrInvalidID  = errors.New("invalid container ID format")
	ErrNotRunning = errors.New("container not running")
)

// Status is the OCI status, plus runc's "paused".
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// State is what rt stores in <root>/<id>/state.json. Status is never stored:
// it is derived from the kernel each time (pid + start time, the exec fifo,
// the freezer), so a crashed rt can never leave a stale status behind.
type State struct {
	ID        string    `json:"id"`
	Bundle    string    `json:"bundle"`
	Rootfs    string    `json:"rootfs"`
	Created   time.Time `json:"created"`
	Owner     string    `json:"owner"`
	Pid       int       `json:"pid"`        // 0 until the init exists
	StartTime uint64    `json:"start_time"` // of Pid, from /proc/<pid>/stat (pid-reuse guard)
	// InitExe identifies the init's executable while it waits for start
	// (the sealed rt, "dev:ino" of /proc/<pid>/exe): it changes exactly
	// when the user process is exec'd. Empty in states of older rt.
	InitExe    string `json:"init_exe,omitempty"`
	CgroupPath string `json:"cgroup_path"`
	// CgroupSystemd is the unit ("slice:prefix:name") of a container created
	// with --systemd-cgroup; empty for the cgroupfs driver.
	CgroupSystemd string            `json:"cgroup_systemd,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Config        *specs.Spec       `json:"config"` // the spec as it was at create (hooks, namespaces)
	// Set by `rt run --image` (CreateOpts): unmounted, then removed, by destroy.
	RootfsMount string `json:"rootfs_mount,omitempty"`
	Cleanup     string `json:"cleanup,omitempty"`
}

// ValidateID follows runc: [A-Za-z0-9_+.-], not "." or "..", at most 1024 bytes.
func ValidateID(id string) error {
	if len(id) == 0 || len(id) > 1024 || id == "." || id == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '+', c == '.', c == '-':
		default:
			return fmt.Errorf("%w: %q", ErrInvalidID, id)
		}
	}
	return nil
}

func (c *Container) saveState() error {
	data, err := json.Marshal(&c.state)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteVolatile(filepath.Join(c.dir, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("save state of %s: %w", c.state.ID, err)
	}
	return nil
}

// flock applies op to f, retrying on EINTR. Every command that changes a
// container holds LOCK_EX on its directory, so two rt processes never act on
// one container at once; different containers never contend.
func flock(f *os.File, op int) error {
	for {
		err := unix.Flock(int(f.Fd()), op)
		if err != unix.EINTR {
			return err
		}
	}
}

// readStateAt reads state.json from the open container directory. A
// directory without one gives a state with only the ID.
func readStateAt(dir *os.File, id string) (*State, error) {
	st := &State{ID: id}
	fd, err := unix.Openat(int(dir.Fd()), stateFile, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == unix.ENOENT {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	f := os.NewFile(uintptr(fd), stateFile)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("parse state of %s: %w", id, err)
	}
	return st, nil
}

// creatingPrefix names the directory a create makes and locks before it
// renames it to <root>/<id>: "#creating-<pid>-<start time>-<random>". '#'
// is not allowed in IDs, so List and Load never see one; the pid and start
// time tell whether its creator still runs.
const creatingPrefix = "#creating-"

// makeContainerDir makes <root>/<id> and returns it open and locked, so the
// directory never exists unlocked before its creator holds it (a status
// probe would call such a container's creator gone). It fails with
// ErrExist when the ID is taken.
// stateDirMode keeps other users out of a container's state: nothing of
// the protocol needs them there (the init reopens exec.fifo through its own
// fd), and exec.fifo must not be opened by anyone but rt.
const stateDirMode = 0o700

func makeContainerDir(root, id string) (*os.File, error) {
	RemoveStaleCreating(root)
	self := os.Getpid()
	start, _, err := procStartTime(self)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(root, fmt.Sprintf("%s%d-%d-", creatingPrefix, self, start))
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err == nil {
		if err = os.Chmod(tmp, stateDirMode); err == nil {
			err = flock(f, unix.LOCK_EX)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp)
		return nil, fmt.Errorf("state dir: %w", err)
	}
	dir := filepath.Join(root, id)
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		// No RENAME_NOREPLACE on this filesystem: mkdir, then lock.
		f.Close()
		os.Remove(tmp)
		if err = os.Mkdir(dir, stateDirMode); err == nil {
			if f, err = os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
				if err = flock(f, unix.LOCK_EX); err == nil {
					return f, nil
				}
				f.Close()
			}
		}
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		if err == unix.EEXIST {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return f, nil
}

// RemoveStaleCreating removes the directories of creates that were killed
// before they renamed theirs into place: those whose creator (pid and start
// time in the name) is gone. Create and delete call it.
func RemoveStaleCreating(root string) {
	stale, _ := filepath.Glob(filepath.Join(root, creatingPrefix+"*"))
	for _, p := range stale {
		var pid int
		var start uint64
		name := strings.TrimPrefix(filepath.Base(p), creatingPrefix)
		if _, err := fmt.Sscanf(strings.ReplaceAll(name, "-", " "), "%d %d", &pid, &start); err != nil {
			continue
		}
		if now, _, err := procStartTime(pid); err == nil && now == start {
			continue // its create still runs
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p)
		}
		f.Close()
	}
}

// procExe identifies /proc/<pid>/exe as "dev:ino".
func procExe(pid int) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/exe", &st); err != nil {
		return "", err
	}
	return strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10), nil
}

// procStartTime returns field 22 of /proc/<pid>/stat and whether the process
// is a zombie.
func procStartTime(pid int) (start uint64, zombie bool, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// comm may hold spaces and parens: fields start after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, false, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0] == "Z" || fields[0] == "X", err
}

// initAlive reports whether the stored init still runs (not a zombie, and the
// pid was not reused by another process).
func (s *State) initAlive() bool {
	if s.Pid <= 0 {
		return false
	}
	start, zombie, err := procStartTime(s.Pid)
	return err == nil && !zombie && start == s.StartTime
}

// initExiting reports whether the stored init has begun to exit: the kernel
// detaches a task's namespaces early in exit, before it is a zombie, so
// for a moment /proc/<pid>/ns/mnt is gone while initAlive still holds (an
// exec joining it then fails to open a namespace).
func (s *State) initExiting() bool {
	_, err := os.Readlink("/proc/" + strconv.Itoa(s.Pid) + "/ns/mnt")
	return s.Pid > 0 && errors.Is(err, os.ErrNotExist)
}

// OCIState is the JSON `rt state` prints: runtime-spec's state plus runc's
// rootfs/created/owner, in runc's field order.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}
