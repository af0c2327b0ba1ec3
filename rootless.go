package main

import (
	"os"

	"github.com/moby/sys/userns"
)

// Who counts as rootless, as runc decides it (runc rootless_linux.go):
// podman rootless runs its runtime as root of a user namespace that an
// ordinary user made, where rt has no more rights than that user outside
// (no /run/rt, no cgroup tree).

// honorXDGRuntimeDir: state goes to $XDG_RUNTIME_DIR/rt for a non-root
// euid, and for root inside a user namespace unless $USER says root.
func honorXDGRuntimeDir() bool {
	if os.Getenv("XDG_RUNTIME_DIR") == "" {
		return false
	}
	if os.Geteuid() != 0 {
		return true
	}
	if !userns.RunningInUserNS() {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}

// rootlessAuto is --rootless=auto: cgroup permission errors are not fatal
// (when no limit is asked for) for a non-root euid or inside a user
// namespace.
func rootlessAuto() bool {
	return os.Geteuid() != 0 || userns.RunningInUserNS()
}
