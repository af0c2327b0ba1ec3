package libcontainer

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy of the
// container's processes, set with set_mempolicy(2) just before execve
// (children inherit it), for the init and for `rt exec` alike. The error
// texts start as runc's ("invalid memory policy ..."), after the field.

// memPolicy is a checked linux.memoryPolicy: set_mempolicy's arguments.
type memPolicy struct {
	mode  int // the mode ORed with its flags
	nodes *unix.CPUSet
}

func parseMemPolicy(mp *specs.LinuxMemoryPolicy) (*memPolicy, error) {
	if mp == nil {
		return nil, nil
	}
	mode, ok := mpolModes[mp.Mode]
	if !ok {
		return nil, fmt.Errorf("linux.memoryPolicy.mode: invalid memory policy mode %q (known: %s)", mp.Mode, sortedKeys(mpolModes))
	}
	nodes, err := parseBitList(mp.Nodes, "node")
	if err != nil {
		return nil, fmt.Errorf("linux.memoryPolicy.nodes: invalid memory policy nodes %q: %w", mp.Nodes, err)
	}
	n := 0
	if nodes != nil {
		n = nodes.Count()
	}
	// What the kernel would refuse with a bare EINVAL, said here.
	switch mp.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if n != 0 {
			return nil, fmt.Errorf("linux.memoryPolicy.nodes: memory policy mode requires 0 nodes but got %d", n)
		}
	case specs.MpolBind, specs.MpolInterleave, specs.MpolPreferredMany, specs.MpolWeightedInterleave:
		if n == 0 {
			return nil, errors.New("linux.memoryPolicy.nodes: memory policy mode requires at least one node but got 0")
		}
	}
	p := &memPolicy{mode: mode, nodes: nodes}
	for i, f := range mp.Flags {
		flag, ok := mpolFlags[f]
		if !ok {
			return nil, fmt.Errorf("linux.memoryPolicy.flags[%d]: invalid memory policy flag %q (known: %s)", i, f, sortedKeys(mpolFlags))
		}
		p.mode |= flag
	}
	return p, nil
}

// apply sets the policy of the calling thread, the one that execs.
func (p *memPolicy) apply() error {
	for {
		err := unix.SetMemPolicy(p.mode, p.nodes)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.memoryPolicy: set_mempolicy: %w", err)
		}
		return nil
	}
}
