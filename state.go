package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

var stateCommand = &cli.Command{
	Name:  "state",
	Usage: "print the state of a container as JSON",
	Description: `Prints the OCI state of a container as runc does (JSON, no trailing newline):
ociVersion, id, pid (0 once stopped), status (creating, created, running,
paused, stopped), bundle, rootfs, created, owner and annotations. The status is
read from the kernel each time, never from a stale file.

EXAMPLE:
   rt state c1 | jq -r .status`,
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		// runc's shape: 2-space indent, no trailing newline.
		b, err := json.MarshalIndent(ct.OCIState(), "", "  ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	},
}
