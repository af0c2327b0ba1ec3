// cgroups: the floor plus containerd/cgroups/v3 (protobuf stats types,
// cilium/ebpf), linked as rt links it.
package main

import (
	"encoding/json"
	"os"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	securejoin "github.com/cyphar/filepath-securejoin"
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
	if len(os.Args) > 2 { // never at run time: keeps the packages linked
		_, _ = cgroup1.Load(cgroup1.StaticPath("/x"))
		_, _ = cgroup2.Load("/x")
	}
}
