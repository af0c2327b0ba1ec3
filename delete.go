package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a container and everything it holds",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first"},
	},
	Action: func(c *cli.Context) error {
		force := c.Bool("force")
		ct, err := loadContainer(c)
		if err != nil {
			if force && errors.Is(err, libcontainer.ErrNotExist) {
				return nil // runc: delete --force of a missing container succeeds
			}
			return err
		}
		if err := ct.Lock(); err != nil {
			return err
		}
		defer ct.Unlock()
		return ct.Delete(force)
	},
}
