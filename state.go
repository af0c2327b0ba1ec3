package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print the state of a container as JSON",
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
