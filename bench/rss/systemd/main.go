// systemd: the floor plus the systemd cgroup driver's packages
// (opencontainers/cgroups/systemd: godbus, go-systemd).
package main

import (
	"github.com/opencontainers/cgroups/systemd"
	"github.com/rt-project/rt/bench/rss/internal/floor"
)

func main() {
	floor.Run(floor.Arg(1))
	if floor.Arg(2) != "" { // never at run time: keeps the package linked
		_ = systemd.IsRunningSystemd()
	}
}
