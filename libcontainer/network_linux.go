package libcontainer

import (
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupNetwork brings up the loopback interface of a new network namespace,
// as runc does: a fresh namespace has only `lo`, and it starts down, so even
// 127.0.0.1 is unreachable. A joined namespace (a path) is left as it is.
func setupNetwork(spec *specs.Spec) error {
	if !hasNewNS(spec, specs.NetworkNamespace) {
		return nil
	}
	if err := linkUp("lo"); err != nil {
		return fmt.Errorf("network namespace: bring up lo: %w", err)
	}
	return nil
}

// linkUp sets IFF_UP on an interface with SIOCGIFFLAGS/SIOCSIFFLAGS.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
