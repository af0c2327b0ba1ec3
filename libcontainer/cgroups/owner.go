package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Ownership. rt kills the processes of a cgroup and removes it only when rt
// created it for that very container: a cgroupsPath naming a cgroup the host
// uses (say /system.slice), given in config.json or edited into state.json
// later, must never make `rt delete` kill host processes or remove host
// cgroups. rt records ownership on the cgroup directory itself, in an
// extended attribute that only root can write (user.* where a rootless
// caller owns a delegated subtree), so the record cannot be edited along
// with state.json.

const (
	ownerXattr     = "trusted.rt.owner"
	userOwnerXattr = "user.rt.owner"
)

// ErrInUse is returned by Claim for a cgroup that already holds processes.
// The words before the colon are runc's, which callers match.
var ErrInUse = errors.New("container's cgroup is not empty: it already holds processes that rt did not start")

// ErrFrozen is returned by Claim for an existing cgroup that is frozen: the
// container's init would hang in it before it could report anything (runc
// refuses it too, with these words).
var ErrFrozen = errors.New("container's cgroup unexpectedly frozen")

// claimDirs refuses a populated existing directory, creates the cgroup
// (create), and marks the directories that did not exist before as owner's.
// An existing empty directory is joined without being owned: rt will not
// remove it.
func claimDirs(dirs []string, owner string, create func() error) error {
	fresh, err := refusePopulated(dirs)
	if err != nil {
		return err
	}
	if err := create(); err != nil {
		return err
	}
	for _, d := range fresh {
		if err := markOwner(d, owner); err != nil {
			return fmt.Errorf("record ownership of cgroup %s: %w", d, err)
		}
	}
	return nil
}

// refusePopulated returns ErrInUse if a dir exists and holds processes,
// and otherwise the dirs that do not exist yet.
func refusePopulated(dirs []string) (fresh []string, _ error) {
	for _, d := range dirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			fresh = append(fresh, d)
			continue
		}
		if pids, err := readPids(d); err == nil && len(pids) > 0 {
			return nil, fmt.Errorf("%s: %w (%d); use a new cgroup path", d, ErrInUse, len(pids))
		}
		if frozen(d) {
			return nil, fmt.Errorf("%s: %w; thaw it or use a new cgroup path", d, ErrFrozen)
		}
	}
	return fresh, nil
}

// frozen reports whether the cgroup directory d is frozen or freezing: v1's
// freezer.state (which counts a frozen ancestor too), v2's cgroup.freeze or
// the "frozen 1" of cgroup.events (an ancestor's freeze).
func frozen(d string) bool {
	if st, err := readFile(d, "freezer.state"); err == nil {
		return strings.TrimSpace(st) != "THAWED"
	}
	if f, err := readFile(d, "cgroup.freeze"); err == nil && strings.TrimSpace(f) == "1" {
		return true
	}
	if ev, err := readFile(d, "cgroup.events"); err == nil {
		for _, l := range strings.Split(ev, "\n") {
			if l == "frozen 1" {
				return true
			}
		}
	}
	return false
}

func markOwner(dir, owner string) error {
	err := unix.Setxattr(dir, ownerXattr, []byte(owner), 0)
	if err == nil {
		return nil
	}
	if uerr := unix.Setxattr(dir, userOwnerXattr, []byte(owner), 0); uerr == nil {
		return nil
	}
	return err
}

// unmarked reports whether no dir carries any rt owner mark.
func unmarked(dirs []string) bool {
	buf := make([]byte, 4096)
	for _, d := range dirs {
		for _, name := range []string{ownerXattr, userOwnerXattr} {
			if _, err := unix.Getxattr(d, name, buf); err == nil || errors.Is(err, unix.ERANGE) {
				return false
			}
		}
	}
	return true
}

// markedBy reports whether dir carries owner's mark.
func markedBy(dir, owner string) bool {
	buf := make([]byte, 4096)
	for _, name := range []string{ownerXattr, userOwnerXattr} {
		if n, err := unix.Getxattr(dir, name, buf); err == nil && string(buf[:n]) == owner {
			return true
		}
	}
	return false
}
