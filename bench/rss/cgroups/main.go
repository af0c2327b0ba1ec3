// cgroups: the floor plus containerd/cgroups/v3 (protobuf stats types,
// cilium/ebpf), linked as rt links it.
package main

import (
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/rt-project/rt/bench/rss/internal/floor"
)

func main() {
	floor.Run(floor.Arg(1))
	if floor.Arg(2) != "" { // never at run time: keeps the packages linked
		_, _ = cgroup1.Load(cgroup1.StaticPath("/x"))
		_, _ = cgroup2.Load("/x")
	}
}
