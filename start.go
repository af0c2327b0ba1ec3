package main

import (
	"github.com/urfave/cli/v2"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "start the process of a created container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		if err := ct.Lock(); err != nil {
			return err
		}
		defer ct.Unlock()
		return ct.Start()
	},
}
