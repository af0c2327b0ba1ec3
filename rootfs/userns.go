package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rootless imports. An ordinary user's import runs in one of two ways (the
// caller, rt's import command, picks):
//
//   - inside a user namespace mapped with the user's subordinate ranges
//     (root there is the user, 1..N its /etc/subuid ids): the unpack runs
//     as that namespace's root, so chown gives files the mapped ids on
//     disk and the container sees the owners the image says;
//   - without ranges, as the user itself: every file is the user's on
//     disk, which the container's single-id map shows as root.
//
// Either way some things cannot be kept (owners outside the map, device
// nodes, xattrs only the host's root may set). A LossReport counts them so
// the import says what was lost in one warning, not one per file.

// LossReport is what a rootless unpack could not keep on disk.
type LossReport struct {
	Owners  int    // entries left with another owner than the image's
	OwnerEx string // the first of them
	Devices int    // device nodes not made
	DevEx   string
	Xattrs  map[string]int // xattr name -> entries that lost it
}

// Empty reports whether nothing was lost.
func (l *LossReport) Empty() bool {
	return l.Owners == 0 && l.Devices == 0 && len(l.Xattrs) == 0
}

func (l *LossReport) String() string {
	var parts []string
	if l.Owners > 0 {
		parts = append(parts, fmt.Sprintf("the owner of %d %s (e.g. %s; %s)", l.Owners, plural(l.Owners, "entry", "entries"), l.OwnerEx, "they belong to root in the container"))
	}
	if l.Devices > 0 {
		parts = append(parts, fmt.Sprintf("%d device %s (e.g. %q; the runtime makes /dev)", l.Devices, plural(l.Devices, "node", "nodes"), l.DevEx))
	}
	var names []string
	for n := range l.Xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("xattr %s on %d %s", n, l.Xattrs[n], plural(l.Xattrs[n], "entry", "entries")))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (l *LossReport) owner(hdr *tar.Header) {
	if l.Owners == 0 {
		l.OwnerEx = fmt.Sprintf("%q %d:%d", hdr.Name, hdr.Uid, hdr.Gid)
	}
	l.Owners++
}

// lostOwner notes, when the unpack runs as the user itself (no chown), an
// entry the image gives to another owner than root: on disk it is the
// user's, which the container sees as root.
func (u *Unpacker) lostOwner(hdr *tar.Header) {
	if u.losses != nil && !u.chown && (hdr.Uid != 0 || hdr.Gid != 0) {
		u.losses.owner(hdr)
	}
}

// chownFailed decides what a failed chown means: in a rootless unpack's
// user namespace an id outside the map gives EINVAL, and the entry keeps
// the namespace root's owner; that is a loss to report, not an error.
func (u *Unpacker) chownFailed(hdr *tar.Header, err error) error {
	if u.losses != nil && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM)) {
		u.losses.owner(hdr)
		return nil
	}
	return fmt.Errorf("chown: %w", err)
}

func (u *Unpacker) lostDevice(hdr *tar.Header) {
	if u.losses.Devices == 0 {
		u.losses.DevEx = hdr.Name
	}
	u.losses.Devices++
}

func (u *Unpacker) lostXattr(name string) {
	if u.losses.Xattrs == nil {
		u.losses.Xattrs = map[string]int{}
	}
	u.losses.Xattrs[name]++
}

// rootlessSpec makes config.json run as the user that imported it, without
// editing: a user namespace with the maps given, and mounts a user
// namespace may make. It adds no cgroup limits (the image has none).
func rootlessSpec(s *specs.Spec, opts SpecOptions) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = append([]specs.LinuxIDMapping(nil), opts.UIDMappings...)
	s.Linux.GIDMappings = append([]specs.LinuxIDMapping(nil), opts.GIDMappings...)
	ownNet := false
	for _, n := range s.Linux.Namespaces {
		ownNet = ownNet || n.Type == specs.NetworkNamespace
	}
	for i, m := range s.Mounts {
		switch {
		case m.Destination == "/sys" && !ownNet:
			// sysfs may be mounted only from a user namespace that owns
			// the network namespace: share the host's (runc's ToRootless).
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		case m.Type == "devpts" && !Mapped(5, opts.GIDMappings):
			// gid=5 (tty) must be mapped; without it the kernel refuses the mount.
			var o []string
			for _, opt := range m.Options {
				if !strings.HasPrefix(opt, "gid=") && !strings.HasPrefix(opt, "uid=") {
					o = append(o, opt)
				}
			}
			s.Mounts[i].Options = o
		}
	}
}

// Mapped reports whether the container id is in maps.
func Mapped(id uint32, maps []specs.LinuxIDMapping) bool {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}

// warnRootless says, in one warning, what a rootless import lost, and why
// when it had no subordinate ids.
func warnRootless(warn func(string), l *LossReport, s *specs.Spec, why string) {
	var lost []string
	if !l.Empty() {
		lost = append(lost, l.String())
	}
	u := s.Process.User
	if !Mapped(u.UID, s.Linux.UIDMappings) || !Mapped(u.GID, s.Linux.GIDMappings) {
		lost = append(lost, fmt.Sprintf("the image's user %d:%d, which the container's id map lacks (it cannot start as that user)", u.UID, u.GID))
	}
	if len(lost) == 0 {
		return
	}
	msg := "rootless: lost " + strings.Join(lost, "; ")
	if why != "" {
		msg += "; only your own uid and gid are mapped: " + why
	}
	warn(msg)
}
