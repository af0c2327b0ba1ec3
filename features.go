package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this rt supports, as runtime-spec features JSON",
	Description: `Prints the runtime-spec features document of this rt: the spec versions,
hooks, mount options, namespaces, capabilities, cgroup and seccomp support it
accepts in config.json. Tools such as containerd read it to see what they may
ask for.

EXAMPLE:
   rt features | jq .linux.namespaces`,
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		// runc's shape: 4-space indent.
		b, err := json.MarshalIndent(libcontainer.Features(), "", "    ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	},
}
