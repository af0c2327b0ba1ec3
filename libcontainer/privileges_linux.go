package libcontainer

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// CheckPrivileges refuses, before anything is created, a bundle the caller
// cannot run: without a user namespace of its own, creating the other
// namespaces needs CAP_SYS_ADMIN, and the kernel's bare EPERM from
// unshare(2) would not say what to do. With a user namespace, it refuses
// id maps a non-root caller cannot have written (checkRootlessMaps).
func CheckPrivileges(spec *specs.Spec) error {
	if err := checkRootlessMaps(spec); err != nil {
		return err
	}
	if os.Geteuid() == 0 || spec.Linux == nil || hasNS(spec, specs.UserNamespace) || len(spec.Linux.Namespaces) == 0 {
		return nil
	}
	if hasCapSysAdmin() {
		return nil
	}
	return errors.New("config.json: this bundle needs root (linux.namespaces has no user namespace); run rt as root, or make a rootless bundle with 'rt spec --rootless'")
}

// hasCapSysAdmin reads CapEff of this process.
func hasCapSysAdmin() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<21) != 0 // CAP_SYS_ADMIN
		}
	}
	return false
}
