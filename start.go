package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var startCommand = &cli.Command{
	Name:  "start",
	Usage: "start the process of a created container",
	Description: `Releases the process of a container made by 'rt create': it execs the
program of process.args and 'rt start' returns once it runs (or fails to start:
exit status 126 when it cannot be executed, 127 when it is not found). The
container keeps running after rt exits; follow it with 'rt state', stop it with
'rt kill', clean it up with 'rt delete'.

EXAMPLE:
   rt create -b ./bundle c1
   rt start c1
   rt state c1 | jq -r .status   # running`,
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withLocked(c, (*libcontainer.Container).Start)
	},
}
