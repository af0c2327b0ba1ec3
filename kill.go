package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/libcontainer"
)

var killCommand = &cli.Command{
	Name:  "kill",
	Usage: "send a signal (default SIGTERM) to a container's init",
	Description: `Sends a signal to the container's init process (its PID 1), or with --all to
every process of the container's cgroup. The signal is a name (TERM, SIGTERM) or
a number (15); the default is SIGTERM. A container that has stopped is "not
running" (except with --all, which then does nothing, as runc).

EXAMPLE:
   rt kill c1            # SIGTERM
   rt kill --all c1 KILL`,
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container's cgroup"},
	},
	Action: func(c *cli.Context) error {
		sig := unix.SIGTERM
		if c.NArg() > 1 {
			var err error
			if sig, err = parseSignal(c.Args().Get(1)); err != nil {
				return err
			}
		}
		return withLocked(c, func(ct *libcontainer.Container) error { return ct.Signal(sig, c.Bool("all")) })
	},
}

// parseSignal accepts "KILL", "SIGKILL" and "9"; 0 sends no signal and
// only checks that the container runs (as kill(2) and runc).
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
