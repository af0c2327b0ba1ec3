package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Pid         int               `json:"pid"`        // 0 until the init exists
	StartTime   uint64            `json:"start_time"` // of Pid, from /proc/<pid>/stat (pid-reuse guard)
	CgroupPath  string            `json:"cgroup_path"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Config      *specs.Spec       `json:"config"` // the spec as it was at create (hooks, namespaces)
}

var idRegexp = regexp.MustCompile(`^[A-Za-z0-9_+.-]+$`)

// ValidateID follows runc: [A-Za-z0-9_+.-], not "." or "..", at most 1024 bytes.
func ValidateID(id string) error {
	if len(id) == 0 || len(id) > 1024 || !idRegexp.MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (c *Container) saveState() error {
	data, err := json.Marshal(&c.state)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("save state of %s: %w", c.state.ID, err)
	}
	return nil
}

// lockDir takes an exclusive flock on the container's directory. Every
// command that changes a container holds it, so two rt processes never act on
// one container at once; different containers never contend.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
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
