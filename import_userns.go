package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer"
	"github.com/rt-project/rt/rootfs"
)

// Rootless `rt import`, as podman unpacks images: the import runs again in
// a new user namespace whose root is the user and whose ids 1..N are the
// user's subordinate ranges (written by newuidmap/newgidmap), so chown in
// the unpacker gives files the mapped ids on disk. The unpacker is the
// same as root's: every archive path is still resolved inside the rootfs;
// the namespace only decides which owners the kernel accepts. Without
// ranges (or helpers) the import runs as the user, with a single-id map,
// and says in one warning what that lost (rootfs/userns.go).

const (
	// envUsernsSync: the fd on which the child waits until its maps are
	// written; it then executes itself again, since capabilities are only
	// granted at execve to a process whose uid is 0 in its namespace.
	envUsernsSync = "_RT_IMPORT_USERNS_SYNC"
	// envUsernsMaps: the maps, as the host sees them, for config.json.
	envUsernsMaps = "_RT_IMPORT_USERNS_MAPS"
)

type usernsMaps struct {
	UIDs []specs.LinuxIDMapping `json:"uids"`
	GIDs []specs.LinuxIDMapping `json:"gids"`
}

func init() {
	if os.Getenv(envUsernsSync) != "" {
		usernsChild()
	}
}

// usernsChild is the child's first stage: wait for the maps, then exec
// again as root of the namespace. It never returns.
func usernsChild() {
	fd, err := strconv.Atoi(os.Getenv(envUsernsSync))
	if err != nil {
		os.Exit(1)
	}
	os.Unsetenv(envUsernsSync)
	f := os.NewFile(uintptr(fd), "userns-sync")
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "ok" {
		os.Exit(1) // the parent failed and says why
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "rt: import: in the user namespace as uid %d, not root\n", os.Geteuid())
		os.Exit(1)
	}
	err = unix.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "rt: import: re-execute in the user namespace: %v\n", err)
	os.Exit(1)
}

// rootlessImport prepares a non-root import. In the user namespace's child
// it sets the maps for config.json and returns; as the user with ranges it
// runs the import in the namespace and exits with its status; without
// ranges it sets single-id maps and returns, to import as the user.
func rootlessImport(opts *rootfs.Options) error {
	if s := os.Getenv(envUsernsMaps); s != "" {
		var m usernsMaps
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return fmt.Errorf("import: %s: %w", envUsernsMaps, err)
		}
		opts.Spec.UIDMappings, opts.Spec.GIDMappings = m.UIDs, m.GIDs
		return nil
	}
	if os.Geteuid() == 0 {
		return nil
	}
	uids, gids, why := libcontainer.RootlessMappings()
	opts.Spec.UIDMappings, opts.Spec.GIDMappings = uids, gids
	if why != "" {
		opts.RootlessWhy = why
		return nil
	}
	status, err := importInUserns(usernsMaps{UIDs: uids, GIDs: gids})
	if err != nil {
		return err
	}
	os.Exit(status)
	return nil
}

// importInUserns runs this command again in a new user namespace mapped
// with m and returns its exit status. The child reports its own errors.
func importInUserns(m usernsMaps) (int, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer w.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = os.Args
	cmd.Env = append(os.Environ(), envUsernsSync+"=3", envUsernsMaps+"="+string(b))
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, Pdeathsig: unix.SIGKILL}
	// Signals sent to rt go to the import, which removes what it half
	// wrote; a terminal's ^C reaches both.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, unix.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		r.Close()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) {
			return 0, fmt.Errorf("import: create a user namespace: %w (unprivileged user namespaces are disabled here: sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone; or run rt import as root)", err)
		}
		return 0, fmt.Errorf("import: start in a user namespace: %w", err)
	}
	r.Close()
	if err := libcontainer.WriteIDMaps(cmd.Process.Pid, m.UIDs, m.GIDs); err != nil {
		w.Close() // the child exits without a word
		_ = cmd.Wait()
		return 0, fmt.Errorf("import: user namespace for the unpack: %w", err)
	}
	if _, err := w.Write([]byte("ok")); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("import: user namespace: %w", err)
	}
	w.Close()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	return 0, nil
}
