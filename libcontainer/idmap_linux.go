package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Id-mapped bind mounts (mounts[].uidMappings/gidMappings, options "idmap"
// and "ridmap"; kernel 5.12+). Files of the source appear with their ids
// shifted by the mapping, as runc does it:
//
//   - rt (host root) makes the mount, in the thread that joined the init's
//     mount namespace (mountsource_linux.go): open_tree(OPEN_TREE_CLONE)
//     of the source, then mount_setattr(MOUNT_ATTR_IDMAP) with a user
//     namespace that has the mapping. That namespace belongs to a process
//     rt starts only to own it: stopped by ptrace at its execve, so it
//     runs nothing, and killed once its namespace file is open;
//   - the init moves the detached mount onto the destination it opened
//     inside the rootfs (move_mount to the fd, never through a path).

// idMapping is what an id-mapped mount needs: the maps, and whether the
// mapping applies to every mount below the source ("ridmap") or only the
// top one.
type idMapping struct {
	uids, gids []specs.LinuxIDMapping
	recursive  bool
}

// mountIDMapping returns m's id mapping, or nil for an ordinary mount. With
// "idmap"/"ridmap" and no maps of its own, the mount takes the container's.
func mountIDMapping(s *specs.Spec, m *specs.Mount) *idMapping {
	var opt, rec bool
	for _, o := range m.Options {
		switch o {
		case "idmap":
			opt = true
		case "ridmap":
			opt, rec = true, true
		}
	}
	if !opt && len(m.UIDMappings) == 0 && len(m.GIDMappings) == 0 {
		return nil
	}
	idm := &idMapping{uids: m.UIDMappings, gids: m.GIDMappings, recursive: rec}
	if len(idm.uids) == 0 && len(idm.gids) == 0 && s.Linux != nil {
		idm.uids, idm.gids = s.Linux.UIDMappings, s.Linux.GIDMappings
	}
	return idm
}

// checkIDMapMount validates mounts[i] if it is id-mapped.
func checkIDMapMount(s *specs.Spec, i int) error {
	m := &s.Mounts[i]
	idm := mountIDMapping(s, m)
	if idm == nil {
		return nil
	}
	// "idmap" in a container that joins a user namespace: the maps are
	// that namespace's, known once nsenter.c joined it (its idmap message),
	// as runc reads them.
	fromJoined := len(idm.uids) == 0 && len(idm.gids) == 0 && hasNS(s, specs.UserNamespace) && !hasNewNS(s, specs.UserNamespace)
	switch {
	case !isBind(m):
		return fmt.Errorf("mounts[%d]: id-mapped mounts must be bind mounts (type %q)", i, m.Type)
	case (len(idm.uids) == 0 || len(idm.gids) == 0) && !fromJoined:
		return fmt.Errorf("mounts[%d].uidMappings/gidMappings: an id-mapped mount needs both (or \"idmap\" in a container with linux.uidMappings and gidMappings, or one that joins a user namespace)", i)
	case os.Geteuid() != 0:
		return fmt.Errorf("mounts[%d]: id-mapped mounts need rt to run as root", i)
	}
	for _, maps := range [][]specs.LinuxIDMapping{idm.uids, idm.gids} {
		for _, mp := range maps {
			if mp.Size == 0 {
				return fmt.Errorf("mounts[%d].uidMappings/gidMappings: a mapping of size 0", i)
			}
		}
	}
	return nil
}

// openIDMappedTree returns a detached, id-mapped copy of the mount tree at
// src (only its top mount unless rbind). It runs on a thread in the
// container's mount namespace.
func openIDMappedTree(src string, rbind bool, idm *idMapping) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if rbind {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: src, Err: err}
	}
	tree := os.NewFile(uintptr(fd), src)
	ns, err := userNSWithMaps(idm)
	if err != nil {
		tree.Close()
		return nil, err
	}
	defer ns.Close()
	attrFlags := uint(unix.AT_EMPTY_PATH)
	if idm.recursive {
		attrFlags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(fd, "", attrFlags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}); err != nil {
		tree.Close()
		if errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (the filesystem may not support id-mapped mounts on this kernel)", err)
		}
		return nil, fmt.Errorf("id-map %s: mount_setattr: %w", src, err)
	}
	return tree, nil
}

// userNSWithMaps returns a user namespace (its /proc/<pid>/ns/user file)
// with idm's maps. The process that owns it is rt itself, started in a new
// user namespace (Go writes the maps) and stopped by ptrace at its execve,
// before it runs anything; it is killed once the file is open. The calling
// goroutine must be locked to its thread (ptrace).
func userNSWithMaps(idm *idMapping) (*os.File, error) {
	sys := func(maps []specs.LinuxIDMapping) (out []syscall.SysProcIDMap) {
		for _, m := range maps {
			out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		return out
	}
	proc, err := os.StartProcess("/proc/self/exe", []string{"rt-idmap-holder"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sys(idm.uids),
			GidMappings: sys(idm.gids),
			Ptrace:      true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("user namespace for the id mapping: %w", err)
	}
	defer func() {
		_ = proc.Kill()
		_, _ = proc.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", proc.Pid))
	if err != nil {
		return nil, fmt.Errorf("user namespace for the id mapping: %w", err)
	}
	return f, nil
}
