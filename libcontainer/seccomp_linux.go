package libcontainer

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	runcspec "github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Seccomp filters are compiled and loaded by runc's libcontainer/seccomp
// (libseccomp through cgo, build tag "seccomp"): a filter generator is
// security-critical code that runc's is well tested. Without the tag,
// InitSeccomp refuses any config that asks for a filter, so rt never runs a
// container unfiltered by mistake.

// seccompConfig converts and checks the spec's filter; nil when none.
func seccompConfig(s *specs.LinuxSeccomp) (*configs.Seccomp, error) {
	if s == nil {
		return nil, nil
	}
	cfg, err := runcspec.SetupSeccomp(s)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		if cfg.DefaultAction == configs.Notify {
			return nil, errors.New("SCMP_ACT_NOTIFY is not supported")
		}
		for _, sc := range cfg.Syscalls {
			if sc != nil && sc.Action == configs.Notify {
				return nil, fmt.Errorf("syscall %s: SCMP_ACT_NOTIFY is not supported", sc.Name)
			}
		}
	}
	return cfg, nil
}

// loadSeccomp installs the filter on the calling thread (and, with TSYNC,
// the whole process). Called as late as the rights allow: see init_linux.go.
func loadSeccomp(s *specs.LinuxSeccomp) error {
	cfg, err := seccompConfig(s)
	if err != nil || cfg == nil {
		return err
	}
	if _, err := seccomp.InitSeccomp(cfg); err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	return nil
}
