// Package cgroups puts a container into its cgroup and holds it to the
// limits of config.json's linux.resources, on cgroup v1 (legacy and hybrid
// hosts: one directory per controller) and cgroup v2 (unified: one directory).
//
// Creating and joining cgroups, stats, the v1 OOM eventfd, cgroup.kill and
// most per-controller writes go through github.com/containerd/cgroups/v3
// (cgroup1 and cgroup2 packages). This
// package adds what that library leaves to its callers or gets wrong for a
// runtime; each such place says why in a comment:
//   - field-by-field validation, so a resource the host lacks is a clear error
//     naming the config.json field instead of a bare ENOENT (or nothing);
//   - v1 memory limit/memsw ordering (containerd swaps the wrong entries);
//   - v1 pids "max", blkio weight on BFQ-only kernels, cpu burst/idle;
//   - the v2 translation (containerd's ToResources drops a quota without a
//     period, writes "-1" where the kernel wants "max", and puts the v2-scaled
//     io weight into io.bfq.weight which only takes 1..1000);
//   - device rules: runc's default allowed devices, and runc's well-tested
//     v1 emulator / v2 eBPF helpers from github.com/opencontainers/cgroups;
//   - bounded freeze (containerd's loops forever), kill --all, OOM events with
//     cancellation, and Destroy that waits for the cgroup to empty.
package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	cgroupsv3 "github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Manager controls one container's cgroup (v1: one dir per controller; v2: one dir).
type Manager interface {
	// Apply creates the cgroup if needed and moves pid into it. A pid <= 0
	// only creates it (v2: do that before OpenDir and clone).
	Apply(pid int) error
	// Set applies limits; used at create (before user code runs). It always
	// keeps runc's default devices usable in addition to r.Devices.
	Set(r *specs.LinuxResources) error
	// Update is Set for `rt update`: device rules are never touched (runc's
	// SkipDevices), so a running container keeps the devices it started with.
	Update(r *specs.LinuxResources) error
	// Freeze returns once the cgroup is frozen (or fails and thaws it back).
	Freeze() error
	Thaw() error
	// Paused reports whether this cgroup itself is frozen.
	Paused() (bool, error)
	// Pids lists every process of the cgroup, its sub-cgroups included.
	Pids() ([]int, error)
	// Kill signals every process in the cgroup (kill --all, delete --force).
	// It freezes around the signalling so a fork cannot slip through; a
	// paused container stays paused unless the signal is SIGKILL.
	Kill(sig unix.Signal) error
	// Stats returns the numbers `rt events` prints, shaped as runc's.
	Stats() (*Stats, error)
	// OOMEvents delivers one value per OOM event of the cgroup until ctx is
	// done or the cgroup goes away (then the channel is closed).
	OOMEvents(ctx context.Context) (<-chan struct{}, error)
	// Destroy waits (bounded) for the cgroup to have no process, then removes
	// the container's cgroup directory (and sub-cgroups the container made in
	// it) in every hierarchy, and rt's own parent /rt when that is left
	// empty. Never any other parent. A missing directory is success.
	Destroy() error
	// Claim creates the cgroup for a new container, refusing one that
	// already holds processes (ErrInUse), and marks the directories it
	// created as owner's (owner.go).
	Claim(owner string) error
	// Owned reports whether the cgroup was created by Claim(owner): only
	// then may rt kill everything in it and remove it.
	Owned(owner string) bool
	// Unmarked reports whether no directory of the cgroup carries any
	// container's mark (the remains of a create killed before Claim
	// marked what it made, or a cgroup rt did not make).
	Unmarked() bool
	// Path is the cgroup path (e.g. "/rt/<id>") to store in state.json.
	Path() string
	// Mode is "v1" or "v2".
	Mode() string
	// OpenDir opens the v2 cgroup directory for
	// SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}, which places
	// the child in the cgroup at clone time. Call Apply(-1) first. v1 has no
	// such thing (ErrNotSupported): there write the pid with Apply before
	// the child is told to start.
	OpenDir() (*os.File, error)
}

const (
	// ModeV1 is a legacy or hybrid host: the container gets one directory
	// in each mounted v1 controller hierarchy.
	ModeV1 = "v1"
	// ModeV2 is a unified host.
	ModeV2 = "v2"

	// DefaultParent holds containers whose cgroupsPath is empty or relative.
	DefaultParent = "/rt"

	unifiedMountpoint = "/sys/fs/cgroup"
)

var (
	// ErrSystemdPath is returned for a systemd-style cgroupsPath
	// ("slice:prefix:name") given to the cgroupfs driver.
	ErrSystemdPath = errors.New("this is the systemd driver's \"slice:prefix:name\" form: run rt with --systemd-cgroup")
	// ErrNotSupported is returned for an operation the host's cgroup
	// hierarchy cannot do (e.g. OpenDir on v1, Freeze without freezer).
	ErrNotSupported = errors.New("not supported by this cgroup hierarchy")
	// ErrUnavailable wraps every "linux.resources.X: ... not available"
	// error, so callers can tell a host limitation from a write failure.
	ErrUnavailable = errors.New("not available")
	// ErrNoCgroups is returned when no cgroup filesystem is mounted.
	ErrNoCgroups = errors.New("no cgroup filesystem mounted at " + unifiedMountpoint)
)

// New returns the manager for a container. cgroupsPath comes from
// config.json linux.cgroupsPath: absolute -> as given; relative -> under
// DefaultParent ("/rt"); empty -> "/rt/<id>". (runc's cgroupfs driver uses
// "/<id>" for empty and the caller's own cgroup for relative; the spec lets
// the runtime pick, and a fixed parent keeps all of rt's cgroups in one place.)
// Nothing is created until Apply.
func New(id, cgroupsPath string) (Manager, error) {
	p, err := ResolvePath(id, cgroupsPath)
	if err != nil {
		return nil, err
	}
	return newForHost(p)
}

// Load returns the manager of an existing container's cgroup from the path
// stored by an earlier rt invocation (Manager.Path). A cgroup already gone
// is not an error: Destroy on it succeeds, other calls report ENOENT.
func Load(p string) (Manager, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	return newForHost(p)
}

// HostMode says which manager New gives on this host: ModeV1, ModeV2, or
// ErrNoCgroups. Hybrid hosts are v1: their controllers live on v1.
func HostMode() (string, error) {
	switch cgroupsv3.Mode() {
	case cgroupsv3.Unified:
		return ModeV2, nil
	case cgroupsv3.Legacy, cgroupsv3.Hybrid:
		return ModeV1, nil
	default:
		return "", ErrNoCgroups
	}
}

func newForHost(p string) (Manager, error) {
	mode, err := HostMode()
	if err != nil {
		return nil, err
	}
	if mode == ModeV2 {
		return newV2(unifiedMountpoint, p)
	}
	root, err := v1Root()
	if err != nil {
		return nil, err
	}
	return newV1(root, p)
}

// ResolvePath turns config.json's cgroupsPath into the absolute cgroup path
// New uses (see New). Exported so the CLI can print or store it early.
func ResolvePath(id, cgroupsPath string) (string, error) {
	if isSystemdPath(cgroupsPath) {
		return "", fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, ErrSystemdPath)
	}
	var p string
	switch {
	case cgroupsPath == "":
		if id == "" || strings.Contains(id, "/") {
			return "", fmt.Errorf("cgroup path from container id %q: id must be a non-empty name without '/'", id)
		}
		p = path.Join(DefaultParent, id)
	case path.IsAbs(cgroupsPath):
		p = path.Clean(cgroupsPath)
	default:
		p = path.Join(DefaultParent, cgroupsPath)
		// "../x" would leave the parent: a relative path is meant to be
		// inside it, so refuse rather than silently escape.
		if !strings.HasPrefix(p, DefaultParent+"/") {
			return "", fmt.Errorf("linux.cgroupsPath %q: relative path leaves %s", cgroupsPath, DefaultParent)
		}
	}
	if err := checkPath(p); err != nil {
		return "", fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	return p, nil
}

// checkPath refuses paths that would make Destroy or Set act on something
// that is not a container's own cgroup.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("cgroup path %q must be absolute and clean", p)
	}
	if p == "/" {
		// The root cgroup takes no limits and must never be removed.
		return errors.New("cgroup path must not be the root cgroup")
	}
	// cgroup v1 and v2 both refuse these names, and "/sys/fs/cgroup/..."
	// here is a caller bug (cgroup paths are relative to the mount).
	if strings.HasPrefix(p, unifiedMountpoint+"/") {
		return fmt.Errorf("cgroup path %q must not include the mountpoint", p)
	}
	return nil
}

// isSystemdPath recognises runc's systemd syntax "slice:prefix:name".
// A cgroupfs path never legitimately holds two colons.
func isSystemdPath(p string) bool {
	return strings.Count(p, ":") == 2
}
