package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"github.com/moby/sys/userns"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Rootless user namespaces with more than one id. The kernel lets an
// unprivileged process map only its own uid and gid into a user namespace
// it made; the ids it was given in /etc/subuid and /etc/subgid are mapped
// by the setuid helpers newuidmap and newgidmap (package uidmap), as
// podman, runc and crun do.

// SubIDs are the calling user and its subordinate id ranges.
type SubIDs struct {
	Name     string
	UID, GID int
	UIDs     []user.SubID // from /etc/subuid
	GIDs     []user.SubID // from /etc/subgid
}

var (
	subuidFile = "/etc/subuid"
	subgidFile = "/etc/subgid"
)

// CallerSubIDs reads the calling user's ranges. An entry may name the user
// or its uid (shadow's newuidmap accepts both).
func CallerSubIDs() (*SubIDs, error) {
	s := &SubIDs{UID: os.Geteuid(), GID: os.Getegid(), Name: strconv.Itoa(os.Geteuid())}
	if u, err := user.LookupUid(s.UID); err == nil {
		s.Name = u.Name
	}
	match := func(e user.SubID) bool { return e.Name == s.Name || e.Name == strconv.Itoa(s.UID) }
	var err error
	if s.UIDs, err = readSubIDs(subuidFile, match); err != nil {
		return nil, err
	}
	if s.GIDs, err = readSubIDs(subgidFile, match); err != nil {
		return nil, err
	}
	return s, nil
}

func readSubIDs(file string, match func(user.SubID) bool) ([]user.SubID, error) {
	ids, err := user.ParseSubIDFileFilter(file, match)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []user.SubID
	for _, r := range ids {
		if r.SubID >= 0 && r.Count > 0 && r.SubID+r.Count <= 1<<32-1 {
			out = append(out, r)
		}
	}
	return out, nil
}

// MapHelper finds newuidmap or newgidmap: in $PATH, or /usr/bin (a user's
// PATH may lack it).
func MapHelper(name string) (string, error) {
	// RT_TEST_NO_MAP_HELPERS (tests only): act as if uidmap were not
	// installed, to check what a user without it is told.
	noHelpers := os.Getenv("RT_TEST_NO_MAP_HELPERS") != ""
	if p, err := exec.LookPath(name); err == nil && !noHelpers {
		return p, nil
	}
	p := "/usr/bin/" + name
	if _, err := os.Stat(p); err != nil || noHelpers {
		return "", fmt.Errorf("%s not found: install the uidmap package (it provides newuidmap and newgidmap)", name)
	}
	return p, nil
}

// RootlessMappings returns the maps a rootless container of the caller
// gets: its own uid and gid as 0, then its subordinate ranges from 1 on,
// as podman maps them. When that is not possible, it returns the
// single-id maps (0 = the caller) and why not, saying what to do.
func RootlessMappings() (uids, gids []specs.LinuxIDMapping, why string) {
	s, err := CallerSubIDs()
	single := func() ([]specs.LinuxIDMapping, []specs.LinuxIDMapping) {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}},
			[]specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	}
	switch {
	case err != nil:
		why = err.Error()
	case len(s.UIDs) == 0 || len(s.GIDs) == 0:
		file := subuidFile
		if len(s.UIDs) > 0 {
			file = subgidFile
		}
		why = fmt.Sprintf("user %s has no range in %s; %s", s.Name, file, addRangeHint(s.Name))
	default:
		for _, h := range []string{"newuidmap", "newgidmap"} {
			if _, err := MapHelper(h); err != nil {
				why = err.Error()
				break
			}
		}
	}
	if why != "" {
		uids, gids = single()
		return uids, gids, why
	}
	return fullMap(s.UID, s.UIDs), fullMap(s.GID, s.GIDs), ""
}

func addRangeHint(name string) string {
	return fmt.Sprintf("as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (any free range of 65536 ids)", name)
}

func fullMap(own int, ranges []user.SubID) []specs.LinuxIDMapping {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(own), Size: 1}}
	next := uint64(1)
	for _, r := range ranges {
		if next+uint64(r.Count) > 1<<32-1 {
			break
		}
		m = append(m, specs.LinuxIDMapping{ContainerID: uint32(next), HostID: uint32(r.SubID), Size: uint32(r.Count)})
		next += uint64(r.Count)
	}
	return m
}

// needsMapHelper: a non-root caller can write a map itself only if it maps
// its own id alone; anything more goes through newuidmap/newgidmap.
func needsMapHelper(maps []specs.LinuxIDMapping, own int) bool {
	if os.Geteuid() == 0 {
		return false
	}
	return !(len(maps) == 1 && maps[0].Size == 1 && int(maps[0].HostID) == own)
}

// idMapKinds describes the two maps for checks and messages.
var idMapKinds = []struct {
	field, helper, file, proc string
}{
	{"linux.uidMappings", "newuidmap", "/etc/subuid", "uid_map"},
	{"linux.gidMappings", "newgidmap", "/etc/subgid", "gid_map"},
}

// checkRootlessMaps refuses, before anything is created, maps that a
// non-root caller cannot have written: a helper is missing, or a host id
// is neither the caller's own nor in its subordinate ranges. newuidmap
// would refuse them too, with a message that does not name the field.
func checkRootlessMaps(spec *specs.Spec) error {
	if spec.Linux == nil || !createsNS(spec, specs.UserNamespace) {
		return nil
	}
	if err := checkUserMapped(spec); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return nil
	}
	own := []int{os.Geteuid(), os.Getegid()}
	maps := [][]specs.LinuxIDMapping{spec.Linux.UIDMappings, spec.Linux.GIDMappings}
	var s *SubIDs
	for i, k := range idMapKinds {
		if !needsMapHelper(maps[i], own[i]) {
			continue
		}
		if _, err := MapHelper(k.helper); err != nil {
			return fmt.Errorf("%s: mapping more than your own id needs %s: %w; or map only your own id (rt spec --rootless)", k.field, k.helper, err)
		}
		if s == nil {
			var err error
			if s, err = CallerSubIDs(); err != nil {
				return fmt.Errorf("%s: %w", k.field, err)
			}
		}
		ranges := [][]user.SubID{s.UIDs, s.GIDs}[i]
		for j, m := range maps[i] {
			if m.Size == 1 && int(m.HostID) == own[i] || inRanges(m, ranges) {
				continue
			}
			if len(ranges) == 0 {
				return fmt.Errorf("%s[%d]: host ids %d-%d: user %s has no range in %s; %s, or map only your own id (rt spec --rootless)",
					k.field, j, m.HostID, uint64(m.HostID)+uint64(m.Size)-1, s.Name, k.file, addRangeHint(s.Name))
			}
			return fmt.Errorf("%s[%d]: host ids %d-%d are not in user %s's ranges in %s (%s)",
				k.field, j, m.HostID, uint64(m.HostID)+uint64(m.Size)-1, s.Name, k.file, describeRanges(ranges))
		}
	}
	return nil
}

// checkUserMapped refuses a process user the namespace's maps lack: the
// kernel's EINVAL from setresuid would not say which id or why (a rootless
// import without subordinate ids maps only root).
func checkUserMapped(spec *specs.Spec) error {
	if spec.Process == nil {
		return nil
	}
	u, l := spec.Process.User, spec.Linux
	hint := "; map it (rootless: add subordinate ids, then import again) or run as a mapped user (rt run --user 0:0)"
	if !idMapped(u.UID, l.UIDMappings) {
		return fmt.Errorf("process.user.uid %d is not mapped by linux.uidMappings%s", u.UID, hint)
	}
	if !idMapped(u.GID, l.GIDMappings) {
		return fmt.Errorf("process.user.gid %d is not mapped by linux.gidMappings%s", u.GID, hint)
	}
	for _, g := range u.AdditionalGids {
		if !idMapped(g, l.GIDMappings) {
			return fmt.Errorf("process.user.additionalGids: %d is not mapped by linux.gidMappings%s", g, hint)
		}
	}
	return nil
}

func idMapped(id uint32, maps []specs.LinuxIDMapping) bool {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}

func inRanges(m specs.LinuxIDMapping, ranges []user.SubID) bool {
	for _, r := range ranges {
		if int64(m.HostID) >= r.SubID && int64(m.HostID)+int64(m.Size) <= r.SubID+r.Count {
			return true
		}
	}
	return false
}

func describeRanges(ranges []user.SubID) string {
	var b []string
	for _, r := range ranges {
		b = append(b, fmt.Sprintf("%d-%d", r.SubID, r.SubID+r.Count-1))
	}
	return strings.Join(b, ", ")
}

// createsNS: the spec asks for a new namespace of type t (not a path).
func createsNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

// runMapHelper writes the map of pid through newuidmap or newgidmap (kind
// 0 or 1 of idMapKinds). newgidmap leaves setgroups allowed when the map
// holds subordinate gids, so the container may set supplementary groups.
func runMapHelper(kind, pid int, maps []specs.LinuxIDMapping) error {
	k := idMapKinds[kind]
	helper, err := MapHelper(k.helper)
	if err != nil {
		return fmt.Errorf("%s: %w", k.field, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	var out bytes.Buffer
	cmd := exec.Command(helper, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %s %s: %v: %s", k.field, k.helper, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// notDelegatedHint says why a rootless container has no cgroup and what
// would give it one.
const notDelegatedHint = "the cgroup tree is not delegated to you (cgroup v1 never is); on cgroup v2, set linux.cgroupsPath to a cgroup inside a subtree delegated to you (systemd: Delegate=yes)"

// WriteIDMaps writes the maps of pid, a process that has just made a user
// namespace, as a container's are written: directly when the caller may,
// else through newuidmap/newgidmap. rt import uses it for its own namespace.
func WriteIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	return writeIDMaps(pid, &specs.Linux{UIDMappings: uids, GIDMappings: gids})
}

// rootlessRootHint adds to a state root a non-root caller may not write
// (root's /run/rt) where its own is.
func rootlessRootHint(err error) error {
	if os.Geteuid() != 0 && errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (as non-root, rt keeps state in $XDG_RUNTIME_DIR/rt: set XDG_RUNTIME_DIR, or pass --root DIR)", err)
	}
	return err
}

// inUserNS: rt itself runs in a user namespace other than the host's
// (podman rootless runs its runtime as root of its own): mknod is refused
// there as in a container's, so device nodes are bound from the host.
func inUserNS() bool { return userns.RunningInUserNS() }
