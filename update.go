package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var updateCommand = &cli.Command{
	Name:  "update",
	Usage: "change the resource limits of a running container",
	Description: `Changes the cgroup limits of a created, running or paused container, from
the flags below (only those given change) or from a runtime-spec
LinuxResources JSON (--resources FILE, or - for stdin). Sizes take k, m and g
suffixes.

EXAMPLE:
   rt update --memory 64m --pids-limit 100 c1
   rt update c1 --cpu-quota 50000       # flags may follow the ID, as in runc
   echo '{"cpu": {"quota": 50000, "period": 100000}}' | rt update -r - c1`,
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "LinuxResources JSON from `FILE` (- for stdin); other flags are then ignored"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or with k/m/g suffix)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory+swap limit (-1 unlimited)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period (µs)"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota (µs, -1 unlimited)"},
		&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst (µs)"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "SCHED_IDLE for the cgroup: 1, or 0 for the default"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period (µs)"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime (µs)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to use (0-3, 0,1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
		&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of pids (-1 unlimited)"},
	},
	Action: func(c *cli.Context) error {
		var r specs.LinuxResources
		if f := c.String("resources"); f != "" {
			var in io.Reader = os.Stdin
			if f != "-" {
				fh, err := os.Open(f)
				if err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
				defer fh.Close()
				in = fh
			}
			if err := json.NewDecoder(in).Decode(&r); err != nil {
				return fmt.Errorf("--resources %s: invalid JSON: %w", f, err)
			}
		} else if err := resourcesFromFlags(c, &r); err != nil {
			return err
		}
		return withLocked(c, func(ct *libcontainer.Container) error { return ct.Update(&r) })
	},
}

// resourcesFromFlags builds the update from the individual flags; only the
// flags given are changed.
func resourcesFromFlags(c *cli.Context, r *specs.LinuxResources) error {
	mem := &specs.LinuxMemory{}
	cpu := &specs.LinuxCPU{}
	setMem, setCPU := false, false
	for _, f := range []struct {
		name string
		dst  **int64
		size bool
	}{
		{"memory", &mem.Limit, true}, {"memory-reservation", &mem.Reservation, true}, {"memory-swap", &mem.Swap, true},
		{"cpu-quota", &cpu.Quota, false}, {"cpu-rt-runtime", &cpu.RealtimeRuntime, false}, {"cpu-idle", &cpu.Idle, false},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := parseInt(c.String(f.name), f.size)
		if err != nil {
			return fmt.Errorf("--%s: %w", f.name, err)
		}
		*f.dst = &v
		setMem = setMem || f.size
		setCPU = setCPU || !f.size
	}
	for _, f := range []struct {
		name string
		dst  **uint64
	}{{"cpu-period", &cpu.Period}, {"cpu-burst", &cpu.Burst}, {"cpu-share", &cpu.Shares}, {"cpu-rt-period", &cpu.RealtimePeriod}} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := strconv.ParseUint(c.String(f.name), 10, 64)
		if err != nil {
			return fmt.Errorf("--%s: %w", f.name, err)
		}
		*f.dst = &v
		setCPU = true
	}
	if c.IsSet("cpuset-cpus") {
		cpu.Cpus, setCPU = c.String("cpuset-cpus"), true
	}
	if c.IsSet("cpuset-mems") {
		cpu.Mems, setCPU = c.String("cpuset-mems"), true
	}
	if setMem {
		r.Memory = mem
	}
	if setCPU {
		r.CPU = cpu
	}
	if c.IsSet("pids-limit") {
		v, err := strconv.ParseInt(c.String("pids-limit"), 10, 64)
		if err != nil {
			return fmt.Errorf("--pids-limit: %w", err)
		}
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if c.IsSet("blkio-weight") {
		v, err := strconv.ParseUint(c.String("blkio-weight"), 10, 16)
		if err != nil {
			return fmt.Errorf("--blkio-weight: %w", err)
		}
		w := uint16(v)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return nil
}

// parseInt reads an integer; sizes accept k/m/g suffixes; -1 is unlimited.
func parseInt(s string, size bool) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	if size {
		return units.RAMInBytes(s)
	}
	return strconv.ParseInt(s, 10, 64)
}
