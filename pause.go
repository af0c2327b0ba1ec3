package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:  "pause",
	Usage: "freeze every process of a container",
	Description: `Freezes every process of a running container (cgroup freezer): they stay in
memory and get no CPU until 'rt resume'. 'rt state' then reports "paused".

EXAMPLE:
   rt pause c1 && rt state c1 | jq -r .status   # paused
   rt resume c1`,
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withLocked(c, (*libcontainer.Container).Pause)
	},
}

var resumeCommand = &cli.Command{
	Name:  "resume",
	Usage: "thaw a paused container",
	Description: `Thaws the processes of a container frozen by 'rt pause'; it is "running"
again.

EXAMPLE:
   rt resume c1`,
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withLocked(c, (*libcontainer.Container).Resume)
	},
}
