package main

import (
	"github.com/urfave/cli/v2"
)

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container; its process waits for `rt start`",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(c *cli.Context) error {
		id, err := idArg(c)
		if err != nil {
			return err
		}
		_, err = createContainer(c, id, true)
		return err
	},
}
