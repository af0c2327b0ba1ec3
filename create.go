package main

import (
	"github.com/urfave/cli/v2"
)

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container; its process waits for `rt start`",
	ArgsUsage: "<container-id> [-- COMMAND [ARG...]]",
	Description: `Sets up a container from the bundle (namespaces, cgroup, mounts, the
process's user and capabilities) and leaves its process waiting, one execve
away, until 'rt start'. This is the half of 'rt run' that containerd and podman
call; 'rt state' then reports "created" and the init's pid. The overrides of
'rt run' (COMMAND after --, --env, --cwd, --user, --hostname) apply the same way.

EXAMPLE:
   rt create -b ./bundle --pid-file c1.pid c1 -- sleep 60
   rt start c1
   rt delete --force c1`,
	Flags: createFlags,
	Action: func(c *cli.Context) error {
		_, err := createContainer(c, true, false)
		return err
	},
}
