package libcontainer

import (
	"fmt"
	"os"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// standardInit sets up a new container (`rt create`): nsenter.c has made
// its namespaces; here come the network, the root filesystem, the hooks
// that run in the container, the hostname and the process, and then the
// wait on the exec fifo until `rt start`.
func standardInit(sock *syncSocket, cfg *initConfig) error {
	spec := cfg.Spec
	if err := setupNetwork(spec); err != nil {
		return err
	}
	rfs, err := prepareRootfs(sock, cfg)
	if err != nil {
		return err
	}
	if hasRuntimeHooks(spec) {
		if err := sock.send(msgHooks, nil); err != nil {
			return err
		}
		if _, _, err := sock.expect(msgHooksDone); err != nil {
			return err
		}
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		// runc runs them from the rootfs: hooks use paths relative to it
		// (runc's hooks_so.bats binds a library at ./lib/...).
		if err := unix.Fchdir(int(rfs.root.Fd())); err != nil {
			return fmt.Errorf("createContainer hooks: chdir to the rootfs: %w", err)
		}
		st := cfg.ociState(Creating)
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, st); err != nil {
			return err
		}
	}
	if err := rfs.protectPaths(); err != nil {
		return err
	}
	if err := pivotRoot(rfs.rootfs, cfg.NoPivot, hasNS(spec, specs.MountNamespace)); err != nil {
		return err
	}
	rfs.root.Close()
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	if err := newSession(); err != nil {
		return err
	}
	if spec.Process != nil && spec.Process.Terminal {
		if err := setupConsole(sock, true, spec.Process); err != nil {
			return err
		}
	}
	if err := finishRootfs(spec, rfs.readonlyLater); err != nil {
		return err
	}
	if spec.Process == nil {
		// Nothing to run: stay created; `rt start` refuses such a container.
		return waitWithoutProcess(sock, cfg.FifoFd)
	}
	ex, err := prepareProcess(sock, spec, cfg.PreserveFds, false)
	if err != nil {
		return err
	}
	// Block until `rt start` opens the fifo. The fifo is reopened through
	// the O_PATH fd: its host path is not reachable from here.
	fifo, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(cfg.FifoFd), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	// The open returned: `rt start` is here. startContainer hooks run
	// before the fifo is written, so start's poststart hooks follow them.
	// A hook without env of its own gets the process's, as in runc (where
	// it inherits the init's environment). A failure goes to `rt start`
	// through the fifo: the parent's sync socket is gone by now.
	if spec.Hooks != nil {
		if err := runHooksEnv("startContainer", spec.Hooks.StartContainer, cfg.ociState(Running), ex.env); err != nil {
			_, _ = fifo.Write([]byte("0" + err.Error()))
			return err
		}
	}
	if _, err := fifo.Write([]byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	// fifo stays open: it is close-on-exec, so `rt start` reads EOF exactly
	// when execve succeeds (or the init dies), and poststart hooks run
	// after the user process is in place.
	unix.Close(cfg.FifoFd)
	return reportExecFailure(fifo, ex.exec())
}

// waitWithoutProcess reports ready and blocks on the exec fifo forever.
func waitWithoutProcess(sock *syncSocket, fifoFd int) error {
	if err := handOver(sock, 0, false); err != nil {
		return err
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fifoFd), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	os.Exit(0)
	return nil
}

func (cfg *initConfig) ociState(st Status) *specs.State {
	return &specs.State{Version: specs.Version, ID: cfg.ID, Status: specs.ContainerState(st), Pid: cfg.HostPid, Bundle: cfg.Bundle, Annotations: cfg.Spec.Annotations}
}

// hasRuntimeHooks: prestart and createRuntime hooks run in the runtime's
// namespaces, so the init asks the parent to run them.
func hasRuntimeHooks(spec *specs.Spec) bool {
	h := spec.Hooks
	return h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) //nolint:staticcheck // prestart is deprecated, still honoured
}
