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
		// runc: delete --force of a missing container succeeds. That
		// includes one deleted (and perhaps re-created under the same ID)
		// by another rt while this one waited for its lock: Lock then
		// says the container looked up does not exist any more.
		gone := func(err error) error {
			if force && errors.Is(err, libcontainer.ErrNotExist) {
				return nil
			}
			return err
		}
		if root, err := rootDir(c); err == nil {
			// Remains of creates killed before their directory had a name.
			libcontainer.RemoveStaleCreating(root)
		}
		ct, err := loadContainer(c)
		if err != nil {
			return gone(err)
		}
		if err := ct.Lock(); err != nil {
			return gone(err)
		}
		defer ct.Unlock()
		return ct.Delete(force)
	},
}
