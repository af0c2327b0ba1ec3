// systemd: the floor plus the systemd cgroup driver's packages
// (opencontainers/cgroups/systemd: godbus, go-systemd).
package main

import (
	"encoding/json"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func main() {
	var s specs.Spec
	if len(os.Args) > 1 {
		b, err := os.ReadFile(os.Args[1])
		if err == nil {
			_ = json.Unmarshal(b, &s)
		}
	}
	_, _ = securejoin.SecureJoin("/", "x")
	_, _, _ = seccomp.GetLibraryVersion()
	_ = unix.Getpid()
	if len(os.Args) > 2 {
		_ = systemd.IsRunningSystemd()
	}
}
