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
	Action: func(c *cli.Context) error {
		// runc's shape: 4-space indent.
		b, err := json.MarshalIndent(libcontainer.Features(), "", "    ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	},
}
